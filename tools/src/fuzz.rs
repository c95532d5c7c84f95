//! `cargo xtask fuzz`: the libFuzzer targets in `fuzz/` (cargo-fuzz, on the
//! nightly toolchain), each run for a fixed time from a seed corpus of the
//! shipped models, with the execution count and outcome reported. The
//! `model` target runs under AddressSanitizer (it reaches the runtime's
//! `unsafe` AVX2 kernels), the `tokenizer` without a sanitizer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{output, root, run};

/// The fuzz targets (`fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [&str; 2] = ["model", "tokenizer"];

/// The sanitizer `target` runs under (cargo-fuzz's `-s`). `model` reaches
/// unsafe code: on an x86-64 host the runtime's AVX2 kernels (intrinsics
/// with raw-pointer loads; the mode byte picks them or the portable ones,
/// see `fuzz_targets/model.rs`), so AddressSanitizer checks every load of
/// both paths. `tokenizer` reaches only safe Rust, where the bounds checks
/// already catch what AddressSanitizer would, at a third of the cost: no
/// sanitizer.
pub fn sanitizer(target: &str) -> &'static str {
    if target == "model" {
        "address"
    } else {
        "none"
    }
}

/// What one target's run did.
pub struct Outcome {
    /// The target's name.
    pub target: &'static str,
    /// The sanitizer it ran under ([`sanitizer`]).
    pub sanitizer: &'static str,
    /// Inputs executed (libFuzzer's `number_of_executed_units`).
    pub executions: u64,
    /// Seconds the run was given.
    pub seconds: u64,
}

/// `cargo` of the nightly toolchain, whatever toolchain runs the xtask.
pub fn nightly() -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", "nightly", "cargo"]);
    // The outer cargo's choice of toolchain must not leak into the nightly one.
    for v in ["RUSTUP_TOOLCHAIN", "CARGO", "RUSTC", "RUSTDOC", "RUSTC_WRAPPER"] {
        c.env_remove(v);
    }
    c
}

/// Install what fuzzing needs if missing: cargo-fuzz (from crates.io).
fn setup() -> Result<()> {
    if output(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])).is_none() {
        bail!("fuzzing needs the nightly toolchain: `rustup toolchain install nightly`");
    }
    if output(nightly().args(["fuzz", "--version"])).is_none() {
        run(nightly().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// Run each of `targets` for `seconds`, in turn, one process each.
pub fn fuzz(targets: &[&'static str], seconds: u64) -> Result<Vec<Outcome>> {
    setup()?;
    let corpus = root().join("fuzz/corpus");
    run(crate::cargo().args(["run", "-q", "-p", "tests", "--example", "fuzz_seeds", "--"]).arg(&corpus))?;
    let mut outcomes = Vec::new();
    for &target in targets {
        // -O: optimised as shipped; -a: with overflow checks, so that an
        // integer wrap-around is a crash; -s: the target's sanitizer
        // (`sanitizer`: AddressSanitizer where unsafe code runs).
        let sanitizer = sanitizer(target);
        let mut cmd = nightly();
        cmd.current_dir(root())
            .args(["fuzz", "run", "-O", "-a", "-s", sanitizer, target])
            .arg(corpus.join(target))
            .args(["--", &format!("-max_total_time={seconds}"), "-timeout=10", "-rss_limit_mb=2048"])
            .arg("-print_final_stats=1")
            .stderr(Stdio::piped());
        eprintln!("$ {}", crate::show(&cmd));
        let mut child = cmd.spawn().context("could not start cargo fuzz")?;
        let mut executions = None;
        let mut tail = Vec::new();
        for line in BufReader::new(child.stderr.take().expect("piped")).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                executions = n.trim().parse().ok();
            }
            // libFuzzer's progress: every power-of-two pulse and each new
            // coverage point; its dictionary dump is noise.
            if line.starts_with('#') || line.contains("ERROR") || line.contains("panicked") {
                eprintln!("[{target}] {line}");
            }
            tail.push(line);
            if tail.len() > 40 {
                tail.remove(0);
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "fuzz target `{target}` failed ({status}); the input is saved under fuzz/artifacts/{target}/ \
                 (replay with `cargo +nightly fuzz run -O -a -s {sanitizer} {target} <file>`):\n{}",
                tail.join("\n")
            );
        }
        let executions =
            executions.with_context(|| format!("libFuzzer did not report an execution count for `{target}`"))?;
        outcomes.push(Outcome { target, sanitizer, executions, seconds });
    }
    Ok(outcomes)
}
