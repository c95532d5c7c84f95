//! Host inference through the integer runtime: the same code path as the
//! firmware (`runtime::host`), for `trainer inspect`, `sentiment predict`
//! and `charlm generate`.

use std::fmt::Write as _;
use std::path::Path;

use runtime::format::{ModelKind, Tokenizer, VERSION};
use runtime::host::{quantize, Calibration, HostCharLm, HostCharLmState, HostClassifier, HostSentimentState};
use runtime::{Model, Sampler};

use crate::checkpoint::{write_atomic, Checkpoint, Task};
use crate::data::{self, Split};
use crate::export::{float_charlm_loss, float_sentiment_metrics, to_float_model};
use crate::Error;

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<Model<'a>, Error> {
    Model::from_bytes(bytes).map_err(|source| Error::BadModel { path: path.to_path_buf(), source })
}

/// `trainer inspect FILE`: kind, version, dimensions, sizes by part, CRC.
pub fn inspect(path: &Path) -> Result<String, Error> {
    let bytes = read(path)?;
    let m = decode(path, &bytes)?;
    let h = &m.header;
    let mut s = String::new();
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"));
    let _ = writeln!(
        s,
        "{}: {} ({} bytes), format version {VERSION}, CRC-32 {crc:08x}",
        path.display(),
        h.kind,
        bytes.len()
    );
    let _ = writeln!(
        s,
        "dimensions: vocab {}, embedding {} x {}-bit, {} LSTM layer(s) of {}, {} output(s), {:?} pooling{}",
        h.vocab,
        h.embed_dim,
        m.embedding.bits,
        h.layers,
        h.hidden,
        h.outputs,
        m.head.pooling,
        if m.head.max_tokens > 0 { format!(" over the last {} tokens", m.head.max_tokens) } else { String::new() }
    );
    match m.tokenizer {
        Tokenizer::Words(w) => {
            let _ = writeln!(s, "tokenizer: hashed words, {} buckets, seed {}", w.buckets, w.seed);
        }
        Tokenizer::Chars(c) => {
            let _ = writeln!(s, "tokenizer: {} characters {:?}", c.len(), String::from_utf8_lossy(c));
        }
    }
    let _ = writeln!(s, "sizes: embedding {} B", m.embedding.table.len());
    for (i, l) in m.layers.iter().enumerate() {
        let n = l.w_x.len() + l.w_h.len() + l.bias.0.len() + 2 * (l.scale_x.multipliers.0.len() + l.scale_x.len());
        let _ = writeln!(
            s,
            "       lstm layer {i}: {n} B (w_x {}, w_h {}), cell Q{}.{}",
            l.w_x.len(),
            l.w_h.len(),
            15 - l.cell_frac,
            l.cell_frac
        );
    }
    let head = m.head.w.len() + m.head.bias.0.len() + m.head.scale.multipliers.0.len() + m.head.scale.len();
    let _ = writeln!(s, "       dense: {head} B, logits Q{}.{}", 31 - m.head.out_frac, m.head.out_frac);
    Ok(s)
}

/// `trainer sentiment predict`: one line per review of `reviews`.
pub fn predict(model: &Path, reviews: &Path) -> Result<String, Error> {
    let bytes = read(model)?;
    let text = read(reviews)?;
    runtime::host::predict_lines(&bytes, &text).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}

/// `trainer charlm generate`: the prime and `len` sampled characters.
pub fn generate(model: &Path, prime: &str, len: usize, sampler: Sampler) -> Result<Vec<u8>, Error> {
    let bytes = read(model)?;
    runtime::host::generate_text(&bytes, prime.as_bytes(), len, sampler)
        .map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}

/// Export: quantize a checkpoint into a model file, calibrated on
/// training data. Returns the file's bytes (also written to `out`).
pub fn export(kind: ModelKind, ckpt_path: &Path, data: &Path, out: &Path, embed_bits: u8) -> Result<Vec<u8>, Error> {
    let ckpt = Checkpoint::load(ckpt_path)?;
    let found = match ckpt.meta.task {
        Task::Sentiment { .. } => ModelKind::Sentiment,
        Task::CharLm { .. } => ModelKind::CharLm,
    };
    if found != kind {
        let name = |k| match k {
            ModelKind::Sentiment => "sentiment classifier",
            ModelKind::CharLm => "character language model",
        };
        return Err(Error::BadCheckpoint {
            path: ckpt_path.to_owned(),
            reason: format!("it holds a {}, but a {} is needed", name(found), name(kind)),
        });
    }
    let float = to_float_model(&ckpt);
    let calib: Vec<Vec<u32>> = match &ckpt.meta.task {
        Task::Sentiment { hashing, max_tokens } => {
            let reviews = data::read_imdb(data, Split::Train)?;
            // A fixed, label-balanced spread of training reviews.
            reviews
                .iter()
                .step_by(reviews.len().div_ceil(400).max(1))
                .map(|r| data::tokenize(*hashing, &r.text, *max_tokens))
                .collect()
        }
        Task::CharLm { .. } => {
            let corpus = data::read_hamlet(data, None)?;
            corpus.train.chunks(4000).take(8).map(|c| c.iter().map(|&i| u32::from(i)).collect()).collect()
        }
    };
    if !(embed_bits == 8 || embed_bits == 4) {
        return Err(Error::Config(format!("--embed-bits must be 8 or 4, not {embed_bits}")));
    }
    let q = quantize(&float, &Calibration::run(&float, &calib), embed_bits);
    let bytes = q.to_bytes();
    // The file must decode: the exporter and the runtime share the types.
    decode(out, &bytes)?;
    write_atomic(out, &bytes)?;
    Ok(bytes)
}

/// Figures of an integer model on held-out data, and of its float
/// checkpoint when one is given.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    /// Task: "sentiment" or "charlm".
    pub task: &'static str,
    /// Examples: reviews, or predicted characters.
    pub n: usize,
    /// Size of the model file.
    pub model_bytes: usize,
    /// Sentiment accuracy of the integer model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Sentiment accuracy of the float checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub float_accuracy: Option<f64>,
    /// Language model: integer validation loss, nats/char.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_nats: Option<f64>,
    /// Language model: integer validation loss, bits/char.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_bits: Option<f64>,
    /// Language model: float validation loss, nats/char.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub float_val_nats: Option<f64>,
}

/// `trainer sentiment eval`: accuracy of the integer model on the official
/// IMDb test split, run through the runtime exactly as on the device
/// (shared tokenizer, the model's own window), and of the float checkpoint.
pub fn eval_sentiment(model: &Path, data: &Path, ckpt: Option<&Path>, progress: bool) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    let clf =
        HostClassifier::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let reviews = data::read_imdb(data, Split::Test)?;
    let mut state = Box::new(HostSentimentState::new());
    let bar = progress_bar(progress, reviews.len() as u64, "integer model on the test split");
    let mut correct = 0usize;
    for r in &reviews {
        let p = clf
            .classify(&mut state, r.text.as_bytes())
            .map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
        correct += usize::from(p.is_positive() == r.positive);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let float_accuracy = match ckpt {
        Some(c) => {
            let ck = Checkpoint::load(c)?;
            let Task::Sentiment { hashing, max_tokens } = ck.meta.task else {
                return Err(Error::BadCheckpoint { path: c.to_path_buf(), reason: "not a sentiment model".into() });
            };
            let float = to_float_model(&ck);
            Some(float_sentiment_metrics(&float, &data::examples(&reviews, hashing, max_tokens)).1)
        }
        None => None,
    };
    Ok(Evaluation {
        task: "sentiment",
        n: reviews.len(),
        model_bytes: bytes.len(),
        accuracy: Some(correct as f64 / reviews.len().max(1) as f64),
        float_accuracy,
        val_nats: None,
        val_bits: None,
        float_val_nats: None,
    })
}

/// `trainer charlm eval`: validation loss of the integer model on the last
/// 10% of the play (one stream from the zero state; the integer logits'
/// log-softmax in f64), and of the float checkpoint.
pub fn eval_charlm(model: &Path, data: &Path, ckpt: Option<&Path>) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    let lm = HostCharLm::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let corpus = data::read_hamlet(data, None)?;
    if lm.chars().len() != corpus.charset.len()
        || (0..corpus.charset.len()).any(|i| lm.chars().byte(i as u16) != Some(corpus.charset[i]))
    {
        return Err(Error::Config(format!("{}: the model's charset differs from the text's", model.display())));
    }
    let scale = f64::from(1u32 << lm.model().head.out_frac);
    let mut state = Box::new(HostCharLmState::new());
    let mut total = 0.0f64;
    for w in corpus.valid.windows(2) {
        lm.step_id(&mut state, w[0]).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
        let z = lm.logits(&state);
        let m = z.iter().copied().max().unwrap_or(0);
        let lse = f64::from(m) / scale + z.iter().map(|&v| (f64::from(v - m) / scale).exp()).sum::<f64>().ln();
        total += lse - f64::from(z[usize::from(w[1])]) / scale;
    }
    let n = corpus.valid.len().saturating_sub(1);
    let nats = total / n.max(1) as f64;
    let float_val_nats = match ckpt {
        Some(c) => Some(float_charlm_loss(&to_float_model(&Checkpoint::load(c)?), &corpus.valid)),
        None => None,
    };
    Ok(Evaluation {
        task: "charlm",
        n,
        model_bytes: bytes.len(),
        accuracy: None,
        float_accuracy: None,
        val_nats: Some(nats),
        val_bits: Some(nats / std::f64::consts::LN_2),
        float_val_nats,
    })
}

fn progress_bar(show: bool, len: u64, msg: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed} < {eta}, {per_sec}]")
            .expect("valid template"),
    );
    bar.set_message(msg);
    bar
}
