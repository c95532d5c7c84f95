//! The integer runtime at host sizes, and the text helpers that the CLI
//! (`trainer sentiment predict`, `trainer charlm generate`) and the QEMU
//! tests print with: the firmware prints the same bytes.

pub use runtime::Sampler;
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, Error};

/// Capacities of the host's networks: the format's maxima (a device build
/// uses its model's exact sizes instead).
pub const HOST_E: usize = runtime::format::MAX_EMBED;
/// See [`HOST_E`].
pub const HOST_H: usize = runtime::format::MAX_HIDDEN;
/// See [`HOST_E`].
pub const HOST_L: usize = runtime::format::MAX_LAYERS;
/// See [`HOST_E`].
pub const HOST_V: usize = 256;
/// The host's most classes: the format's maximum.
pub const HOST_C: usize = runtime::format::MAX_CLASSES;
/// The host's classifier token window: models may read at most this many
/// last tokens.
pub const HOST_WINDOW: usize = 4096;

/// The host's classifier type.
pub type HostClassifier<'a> = Classifier<'a, HOST_E, HOST_H, HOST_L, HOST_C>;
/// The host's classifier state type (box it: it is large).
pub type HostClassifierState = ClassifierState<HOST_H, HOST_L, HOST_WINDOW>;
/// The host's language model type.
pub type HostCharLm<'a> = CharLm<'a, HOST_E, HOST_H, HOST_L, HOST_V>;
/// The host's language model state type (box it: it is large).
pub type HostCharLmState = CharLmState<HOST_H, HOST_L, HOST_V>;

/// One line per text of `text` (one text a line), each the
/// [`runtime::Prediction`] display, `0.8123 positive`; with `all`, then a
/// tab and every class's `name=probability`, space-separated.
pub fn predict_lines(model: &[u8], text: &[u8], all: bool) -> Result<String, Error> {
    use std::fmt::Write;
    let clf = HostClassifier::from_bytes(model)?;
    let mut state = Box::new(HostClassifierState::new());
    let mut out = String::new();
    // The device's own line splitting (`feed_lines`), so host and firmware
    // cannot cut lines differently.
    let mut line = |scores: runtime::Scores<'_, HOST_C>| {
        let _ = write!(out, "{}", scores.best());
        if all {
            out.push('\t');
            for (i, p) in scores.probabilities().iter().enumerate() {
                let sep = if i == 0 { "" } else { " " };
                let _ = write!(out, "{sep}{}={p}", scores.names().get(i).unwrap_or(""));
            }
        }
        out.push('\n');
    };
    clf.feed_lines(&mut state, text, &mut line)?;
    clf.end_lines(&mut state, &mut line);
    Ok(out)
}

/// The prime, then `len` characters sampled with the runtime's integer
/// sampler.
pub fn generate_text(model: &[u8], prime: &[u8], len: usize, mut sampler: Sampler) -> Result<Vec<u8>, Error> {
    let lm = HostCharLm::from_bytes(model)?;
    let mut state = Box::new(HostCharLmState::new());
    lm.prime(&mut state, prime);
    let mut out = prime.to_vec();
    lm.generate(&mut state, &mut sampler, len, |b| out.push(b));
    Ok(out)
}
