//! Shared fixtures for the integration tests in `tests/tests/`: random float
//! networks (seeded, no files, no network) and helpers.

use host::run::{HostCharLm, HostCharLmState, HostClassifier, HostClassifierState};
use host::Words;
use host::{Calibration, FloatHead, FloatLstmLayer, FloatModel, FloatTokenizer};
use runtime::format::{ModelKind, Pooling};
use runtime::tokenizer::WordHashing;
use runtime::{Error, Model, Rng, Sampler};

/// Dimensions of a random test network.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// Embedding rows (for a language model: the charset size).
    pub vocab: usize,
    /// Embedding width.
    pub embed: usize,
    /// LSTM width.
    pub hidden: usize,
    /// LSTM layers.
    pub layers: usize,
}

/// A uniform f32 in `[-a, a)`.
pub fn uniform(rng: &mut Rng, a: f32) -> f32 {
    (rng.next_u32() as f32 / 4_294_967_296.0 * 2.0 - 1.0) * a
}

fn fill(rng: &mut Rng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| uniform(rng, a)).collect()
}

/// The printable charset of the language-model fixtures (65 bytes, as Hamlet).
pub fn test_charset(n: usize) -> Vec<u8> {
    (0u8..=255).filter(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\n').take(n).collect()
}

/// A random network with weights uniform in `±scale / sqrt(fan_in)` (a
/// classifier of two classes).
pub fn random_model(kind: ModelKind, d: Dims, pooling: Pooling, max_tokens: u32, seed: u64, scale: f32) -> FloatModel {
    random_model_of(kind, d, 2, pooling, max_tokens, seed, scale)
}

/// [`random_model`] with `classes` classes (a classifier: named `c0`,
/// `c1`, ...; 3 and more have one output each).
pub fn random_model_of(
    kind: ModelKind,
    d: Dims,
    classes: usize,
    pooling: Pooling,
    max_tokens: u32,
    seed: u64,
    scale: f32,
) -> FloatModel {
    let mut rng = Rng::new(seed);
    let h = d.hidden;
    let layers = (0..d.layers)
        .map(|l| {
            let input = if l == 0 { d.embed } else { h };
            FloatLstmLayer {
                input,
                hidden: h,
                w_x: fill(&mut rng, 4 * h * input, scale / (input as f32).sqrt()),
                w_h: fill(&mut rng, 4 * h * h, scale / (h as f32).sqrt()),
                bias: fill(&mut rng, 4 * h, 0.5),
            }
        })
        .collect();
    let (tokenizer, outputs) = match kind {
        ModelKind::Classifier => {
            let outputs = if classes == 2 { 1 } else { classes };
            (FloatTokenizer::Words(Words::Hashed(WordHashing { buckets: d.vocab as u32 - 1, seed: 3 })), outputs)
        }
        ModelKind::CharLm => (FloatTokenizer::Chars(test_charset(d.vocab)), d.vocab),
    };
    let features = pooling.features(h);
    FloatModel {
        kind,
        tokenizer,
        embedding: fill(&mut rng, d.vocab * d.embed, 1.0),
        embed_dim: d.embed,
        layers,
        head: FloatHead {
            pooling,
            max_tokens,
            w: fill(&mut rng, outputs * features, 2.0 / (features as f32).sqrt()),
            b: fill(&mut rng, outputs, 0.5),
        },
        classes: match kind {
            ModelKind::Classifier => (0..classes).map(|c| format!("c{c}")).collect(),
            ModelKind::CharLm => Vec::new(),
        },
    }
}

/// Random token ids in `lo..vocab`.
pub fn random_ids(rng: &mut Rng, n: usize, lo: u32, vocab: u32) -> Vec<u32> {
    (0..n).map(|_| lo + rng.next_u32() % (vocab - lo)).collect()
}

fn snap_rows(w: &mut [f32], cols: usize) {
    for row in w.chunks_mut(cols) {
        let s = row.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 127.0;
        if s > 0.0 {
            row.iter_mut().for_each(|v| *v = (*v / s).round() * s);
        }
    }
}

/// Move every weight onto the int8 grid the quantizer will use (per-row
/// scale `max / 127`, one scale for the embedding), so that quantizing the
/// model loses nothing in the weights: what the integer engine then differs
/// by comes from its arithmetic alone.
pub fn snap_to_int8_grid(m: &mut FloatModel) {
    let e = m.embedding.len();
    snap_rows(&mut m.embedding, e);
    for l in &mut m.layers {
        snap_rows(&mut l.w_x, l.input);
        snap_rows(&mut l.w_h, l.hidden);
    }
    let f = m.head.pooling.features(m.hidden());
    snap_rows(&mut m.head.w, f);
}

/// The text whose distinct tokens make the vocabulary of the small
/// vocabulary model.
pub const VOCAB_TEXT: &[u8] = b"a fine film, truly! not bad at all: a great cast.";
/// The vocabulary of every distinct token of `text`, punctuation included.
pub fn vocab_of(text: &[u8]) -> Words {
    let mut hashes = Vec::new();
    runtime::tokenizer::WordTokenizer::for_each_token(true, text, |h| hashes.push(h));
    hashes.sort_unstable();
    hashes.dedup();
    Words::Vocab { punctuation: true, hashes }
}

/// Five small quantized model files (a two-layer language model, a
/// mean+max two-class classifier on hashed words, one on a vocabulary, a
/// four-class one with a softmax head, and a two-layer language model with
/// 4-bit LSTM weights over rows of partial groups), a few hundred bytes
/// each: the mutation tests' subjects and the fuzzers' seeds.
pub fn small_model_files() -> Vec<Vec<u8>> {
    let lm =
        random_model(ModelKind::CharLm, Dims { vocab: 20, embed: 4, hidden: 6, layers: 2 }, Pooling::Last, 0, 1, 1.0);
    let s = random_model(
        ModelKind::Classifier,
        Dims { vocab: 51, embed: 4, hidden: 5, layers: 1 },
        Pooling::MeanMax,
        30,
        2,
        1.0,
    );
    // A vocabulary model (format version 2): the tokens of a short text,
    // punctuation marks included.
    let words = vocab_of(VOCAB_TEXT);
    let mut v = random_model(
        ModelKind::Classifier,
        Dims { vocab: words.vocab_size() as usize, embed: 4, hidden: 5, layers: 1 },
        Pooling::MeanMax,
        30,
        3,
        1.0,
    );
    v.tokenizer = FloatTokenizer::Words(words.clone());
    let mut four = random_model_of(
        ModelKind::Classifier,
        Dims { vocab: words.vocab_size() as usize, embed: 4, hidden: 5, layers: 1 },
        4,
        Pooling::Last,
        0,
        4,
        1.0,
    );
    four.tokenizer = FloatTokenizer::Words(words);
    let lm4 =
        random_model(ModelKind::CharLm, Dims { vocab: 20, embed: 6, hidden: 10, layers: 2 }, Pooling::Last, 0, 5, 1.0);
    let mut rng = Rng::new(1);
    [(lm, 8), (s, 8), (v, 8), (four, 8), (lm4, 4)]
        .iter()
        .map(|(m, lstm)| {
            let cal = Calibration::run(m, &[random_ids(&mut rng, 50, 1, m.vocab().min(20) as u32)]);
            host::quantize_bits(m, &cal, host::Bits { embed: 8, lstm: *lstm }).expect("a small model quantizes")
        })
        .collect()
}

/// What a device does with a model file from anywhere: decode it, and if
/// that works, run a few steps of its task (prime and generate five
/// characters, or classify a short review). Any outcome but a panic, a hang
/// or an out-of-bounds access is acceptable; the error must be specific.
pub fn exercise(bytes: &[u8]) -> Result<(), Error> {
    let model = Model::from_bytes(bytes)?;
    match model.header.kind {
        ModelKind::CharLm => {
            let lm = HostCharLm::new(model)?;
            let mut s = Box::new(HostCharLmState::new());
            lm.prime(&mut s, b"The ");
            lm.generate(&mut s, &mut Sampler::new(1, 256, 5), 5, |_| {});
        }
        ModelKind::Classifier => {
            let clf = HostClassifier::new(model)?;
            let mut s = Box::new(HostClassifierState::new());
            let mut review = clf.start(&mut s)?;
            review.feed(b"a fine film, truly");
            let scores = review.finish_scores();
            let best = scores.best();
            assert!(best.class < scores.probabilities().len() && !best.label.is_empty());
        }
    }
    Ok(())
}

/// A two-class prediction as class 1's probability (the sigmoid's output).
pub fn p_class1(p: runtime::Prediction<'_>) -> f32 {
    let q = p.probability.to_f32();
    if p.class == 1 {
        q
    } else {
        1.0 - q
    }
}
