//! The integer runtime at host sizes, and the text helpers that the CLI
//! (`trainer sentiment predict`, `trainer charlm generate`) and the QEMU
//! tests print with: the firmware prints the same bytes.

use runtime::{CharLm, CharLmState, Classifier, Error, Probability, Sampler, SentimentState};

/// Capacities of the host's networks: the format's maxima (a device build
/// uses its model's exact sizes instead).
pub const HOST_E: usize = runtime::format::MAX_EMBED;
/// See [`HOST_E`].
pub const HOST_H: usize = runtime::format::MAX_HIDDEN;
/// See [`HOST_E`].
pub const HOST_L: usize = runtime::format::MAX_LAYERS;
/// See [`HOST_E`].
pub const HOST_V: usize = 256;
/// The host's sentiment token window: models may read at most this many
/// last tokens.
pub const HOST_WINDOW: usize = 4096;

/// The host's sentiment classifier type.
pub type HostClassifier<'a> = Classifier<'a, HOST_E, HOST_H, HOST_L>;
/// The host's sentiment state type (box it: it is large).
pub type HostSentimentState = SentimentState<HOST_H, HOST_L, HOST_WINDOW>;
/// The host's language model type.
pub type HostCharLm<'a> = CharLm<'a, HOST_E, HOST_H, HOST_L, HOST_V>;
/// The host's language model state type (box it: it is large).
pub type HostCharLmState = CharLmState<HOST_H, HOST_L, HOST_V>;

/// One line per review of `text` (one review a line), each the
/// [`Probability`] display, `0.8123 positive`.
pub fn predict_lines(model: &[u8], text: &[u8]) -> Result<String, Error> {
    use std::fmt::Write;
    let clf = HostClassifier::from_bytes(model)?;
    let mut state = Box::new(HostSentimentState::new());
    let mut out = String::new();
    let mut line = |p: Probability| {
        let _ = writeln!(out, "{p}");
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
