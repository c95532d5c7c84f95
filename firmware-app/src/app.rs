//! The commands, over any [`Source`] and [`Sink`]: each prints exactly what
//! the host prints for it (`host::run::predict_lines`,
//! `host::run::generate_text`, i.e. `trainer classify predict` and
//! `trainer charlm generate`).

use runtime::format::Tokenizer;
use runtime::{CharLm, CharLmState, Classifier, ClassifierState, Model, Rng, Sampler};

use crate::command::Sampling;
use crate::io::{Cycles, Failure, Sink, Source};
use crate::models::{charlm as lm, classifier as cl};

/// The text classifier (2 to 1,024 classes), compiled for the embedded
/// model's sizes.
pub type Clf = Classifier<'static, { cl::E }, { cl::H }, { cl::L }, { cl::C }>;
/// Its streaming state.
pub type ClfRun = ClassifierState<{ cl::H }, { cl::L }, { cl::N }>;
/// The language model, compiled for the embedded model's sizes.
pub type Lm = CharLm<'static, { lm::E }, { lm::H }, { lm::L }, { lm::V }>;
/// Its state.
pub type LmRun = CharLmState<{ lm::H }, { lm::L }, { lm::V }>;

/// Bytes read from a source at a time.
pub const CHUNK: usize = 256;

// Inlined: a frame of their own would sit under `Model::from_bytes` and
// raise the peak stack by its size.
#[inline(always)]
fn classifier_model() -> Result<Clf, Failure> {
    Ok(Clf::from_bytes(cl::MODEL.ok_or(Failure::NoModel("CLASSIFIER_MODEL"))?)?)
}

#[inline(always)]
fn charlm_model() -> Result<Lm, Failure> {
    Ok(Lm::from_bytes(lm::MODEL.ok_or(Failure::NoModel("CHARLM_MODEL"))?)?)
}

/// `info`: the embedded models' dimensions and sizes.
#[inline(never)] // each command's frame on its own: the peak stack is the largest one's
pub fn info(out: &mut impl Sink) -> Result<(), Failure> {
    for (name, bytes) in [("classifier", cl::MODEL), ("charlm", lm::MODEL)] {
        let Some(bytes) = bytes else {
            let _ = writeln!(out, "{name}: none");
            continue;
        };
        let m = Model::from_bytes(bytes)?;
        let h = &m.header;
        let _ = writeln!(
            out,
            "{name}: {} bytes, vocab {}, embed {}, hidden {}, layers {} ({}-bit weights), outputs {}, max tokens {}",
            bytes.len(),
            h.vocab,
            h.embed_dim,
            h.hidden,
            h.layers,
            m.layers.first().map_or(8, |l| l.bits),
            h.outputs,
            m.head.max_tokens
        );
        if m.classes() > 0 {
            let _ = write!(out, "classes:");
            for name in m.class_names().iter() {
                let _ = write!(out, " {name}");
            }
            let _ = writeln!(out);
        }
    }
    Ok(())
}

/// `classify`: stream the source through the classifier in `CHUNK`-byte
/// reads, one output line per text (line), exactly as
/// `host::run::predict_lines`.
#[inline(never)] // each command's frame on its own: the peak stack is the largest one's
pub fn classify(out: &mut impl Sink, texts: &mut impl Source) -> Result<(), Failure> {
    let clf = classifier_model()?;
    let mut state = ClfRun::new();
    let mut buf = [0u8; CHUNK];
    let mut line = |scores: runtime::Scores<'_, { cl::C }>| {
        let _ = writeln!(out, "{}", scores.best());
    };
    loop {
        let n = texts.read(&mut buf).map_err(|e| Failure::Io(e, "texts"))?;
        if n == 0 {
            break;
        }
        clf.feed_lines(&mut state, &buf[..n], &mut line)?;
    }
    clf.end_lines(&mut state, &mut line);
    Ok(())
}

/// `generate`: print the prime (`text`, then what `source` holds), then
/// the sampled characters, exactly as `host::run::generate_text`.
pub fn generate<S: Source>(
    out: &mut impl Sink,
    sampling: Sampling,
    text: &[u8],
    source: Option<&mut S>,
) -> Result<(), Failure> {
    let lm = charlm_model()?;
    let mut state = LmRun::new();
    out.write(text);
    lm.prime(&mut state, text);
    if let Some(source) = source {
        prime_from(out, &lm, &mut state, source)?;
    }
    let mut sampler = Sampler::new(sampling.seed, sampling.temperature, sampling.top_k);
    lm.generate(&mut state, &mut sampler, sampling.len, |b| out.byte(b));
    Ok(())
}

/// Print and prime what `source` holds. A frame of its own: its buffer is
/// not on the stack while the model generates.
#[inline(never)]
fn prime_from(out: &mut impl Sink, lm: &Lm, state: &mut LmRun, source: &mut impl Source) -> Result<(), Failure> {
    let mut buf = [0u8; CHUNK];
    loop {
        let n = source.read(&mut buf).map_err(|e| Failure::Io(e, "prime"))?;
        if n == 0 {
            return Ok(());
        }
        out.write(&buf[..n]);
        lm.prime(state, &buf[..n]);
    }
}

/// `kernel-check`: the dot-product kernel of this core over a fixed
/// battery (see `runtime::kernel::battery_digest`); the host prints the
/// same.
pub fn kernel_check(out: &mut impl Sink) {
    let _ = writeln!(out, "kernel digest {:#010x}", runtime::kernel::battery_digest());
}

/// Start of a counted region (see `firmware-example/qemu-plugin/insn_count.c`).
#[no_mangle]
#[inline(never)]
pub extern "C" fn lstm_cost_begin() {
    // A barrier for the compiler, and a body that differs from the end's.
    // SAFETY: a no-op.
    unsafe { core::arch::asm!("nop") };
}

/// End of a counted region.
#[no_mangle]
#[inline(never)]
pub extern "C" fn lstm_cost_end() {
    // SAFETY: a no-op.
    unsafe { core::arch::asm!("nop", "nop") };
}

/// Multiply-accumulates of one LSTM step over all layers.
fn lstm_macs(m: &Model<'_>) -> u64 {
    let h = u64::from(m.header.hidden);
    m.layers.iter().map(|l| 4 * h * (u64::from(l.input) + h)).sum()
}

/// One counted region: `f` between the markers, and the cycles it took
/// when the board counts them (` cycles=N` on the line).
fn region<T>(cycles: &impl Cycles, f: impl FnOnce() -> T) -> (T, Option<u32>) {
    let start = cycles.now();
    lstm_cost_begin();
    let r = f();
    lstm_cost_end();
    let took = match (start, cycles.now()) {
        (Some(a), Some(b)) => Some(b.wrapping_sub(a)),
        _ => None,
    };
    (r, took)
}

/// ` cycles=N`, or nothing.
struct Took(Option<u32>);

impl core::fmt::Display for Took {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(c) => write!(f, " cycles={c}"),
            None => Ok(()),
        }
    }
}

/// `cost [tokens=N]`: for each embedded model, one region between
/// `lstm_cost_begin` and `lstm_cost_end` per line printed; each line names
/// the tokens and multiply-accumulates the region holds (and its cycles,
/// on a board with a cycle counter):
///
/// - `classify`: one text of N random token ids (N at most the model's
///   window), LSTM steps plus the head once;
/// - `classify-finish`: the end of such a text alone, the latency from
///   the last token to the probability;
/// - `charlm`: N characters fed (LSTM step plus all logits each);
/// - `charlm-generate`: N characters generated (the same plus sampling).
#[inline(never)] // each command's frame on its own: the peak stack is the largest one's
pub fn cost(out: &mut impl Sink, tokens: usize, cycles: &impl Cycles) -> Result<(), Failure> {
    let mut rng = Rng::new(1);
    if cl::MODEL.is_some() {
        let clf = classifier_model()?;
        let m = clf.model();
        let window = m.head.max_tokens as usize;
        let n = if window == 0 { tokens } else { tokens.min(window) };
        let mut ids = [0u32; 512];
        let n = n.min(ids.len());
        for id in &mut ids[..n] {
            *id = 1 + rng.next_u32() % (m.header.vocab - 1);
        }
        let features = m.head.pooling.features(usize::from(m.header.hidden)) as u64 * u64::from(m.header.outputs);
        let macs = n as u64 * lstm_macs(m) + features;
        let mut state = ClfRun::new();
        let (p, took) = region(cycles, || clf.classify_ids(&mut state, core::hint::black_box(&ids[..n])));
        let _ = writeln!(out, "classify tokens={n} macs={macs}{} ({})", Took(took), p?);
        // The latency after the last token: `finish` alone (with a window,
        // the replay of the window's LSTM steps; without, the pooling and
        // the head).
        let mut review = clf.start(&mut state)?;
        for &id in &ids[..n] {
            review.push_id(id)?;
        }
        let replayed = if window == 0 { 0 } else { n as u64 };
        let macs = replayed * lstm_macs(m) + features;
        let (p, took) = region(cycles, || core::hint::black_box(review).finish());
        let _ = writeln!(out, "classify-finish tokens=1 macs={macs}{} ({p})", Took(took));
    }
    if lm::MODEL.is_some() {
        let lm = charlm_model()?;
        let m = lm.model();
        let head = u64::from(m.header.outputs) * u64::from(m.header.hidden);
        let macs = tokens as u64 * (lstm_macs(m) + head);
        let Tokenizer::Chars(charset) = m.tokenizer else {
            return Err(Failure::Usage("the language model has no charset"));
        };
        let mut text = [0u8; 512];
        let n = tokens.min(text.len());
        for b in &mut text[..n] {
            *b = charset[rng.next_u32() as usize % charset.len()];
        }
        let mut state = LmRun::new();
        let ((), took) = region(cycles, || lm.prime(&mut state, core::hint::black_box(&text[..n])));
        let _ = writeln!(out, "charlm tokens={n} macs={}{}", n as u64 * (lstm_macs(m) + head), Took(took));
        let mut sampler = Sampler::new(1, 256, 0);
        let mut last = 0u8;
        let ((), took) = region(cycles, || lm.generate(&mut state, &mut sampler, tokens, |b| last = b));
        core::hint::black_box(last);
        let _ = writeln!(out, "charlm-generate tokens={tokens} macs={macs}{}", Took(took));
    }
    Ok(())
}
