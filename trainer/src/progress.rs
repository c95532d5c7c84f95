//! The progress bar of every long loop (training epochs, evaluation).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` items named `unit` (e.g. "batches"), labelled `prefix`;
/// hidden unless `show`. Rate with one decimal, then the ETA and the
/// caller's message (for example the running loss).
pub fn bar(show: bool, len: u64, prefix: impl Into<String>, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if !show {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = format!("{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{rate}} ETA {{eta}} {{msg}}");
    pb.set_style(
        ProgressStyle::with_template(&template)
            .expect("valid template")
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", s.per_sec());
            })
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix.into());
    pb
}
