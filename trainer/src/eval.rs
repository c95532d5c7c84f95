//! Evaluation through the integer runtime, the device's own code: IMDb
//! test accuracy, or the language model's validation loss, with the float
//! checkpoint's figure beside it when one is given.

use std::path::Path;

use host::run::{HostCharLm, HostCharLmState, HostClassifier, HostSentimentState};
use host::FloatModel;
use runtime::Model;

use crate::checkpoint::{Checkpoint, Task};
use crate::data::{self, CharCorpus, Review, Split};
use crate::float::{float_charlm_loss, to_float_model};
use crate::metrics::{Binary, Nats};
use crate::Error;

/// A file's bytes, or an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// A model file decoded in place, or an error naming it.
pub(crate) fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<Model<'a>, Error> {
    Model::from_bytes(bytes).map_err(|source| Error::BadModel { path: path.to_path_buf(), source })
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

impl Evaluation {
    /// The one-line summary `trainer ... eval` prints.
    pub fn line(&self) -> String {
        let both = |int: Option<f64>, float: Option<f64>| match float {
            Some(f) => format!("{:.4} (float checkpoint {f:.4})", int.unwrap_or(f64::NAN)),
            None => format!("{:.4}", int.unwrap_or(f64::NAN)),
        };
        if self.accuracy.is_some() {
            format!(
                "test accuracy, integer model: {} over {} reviews; model {} bytes",
                both(self.accuracy, self.float_accuracy),
                self.n,
                self.model_bytes
            )
        } else {
            format!(
                "validation loss, integer model: {} nats/char ({:.4} bits/char) over {} characters; model {} bytes",
                both(self.val_nats, self.float_val_nats),
                self.val_bits.unwrap_or(f64::NAN),
                self.n,
                self.model_bytes
            )
        }
    }
}

/// A float checkpoint given beside a model file, checked to be of the
/// same task.
fn float_of(ckpt: Option<&Path>, sentiment: bool) -> Result<Option<Checkpoint>, Error> {
    let Some(path) = ckpt else { return Ok(None) };
    let ck = Checkpoint::load(path)?;
    if matches!(ck.meta.task, Task::Sentiment { .. }) != sentiment {
        let what = if sentiment { "not a sentiment model" } else { "not a language model" };
        return Err(Error::BadCheckpoint { path: path.to_path_buf(), reason: what.into() });
    }
    Ok(Some(ck))
}

/// `trainer sentiment eval`: reads the official test split once.
pub fn eval_sentiment(model: &Path, data: &Path, ckpt: Option<&Path>, progress: bool) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    // The model is checked before the data set is read.
    HostClassifier::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let float = float_of(ckpt, true)?;
    let reviews = data::read_imdb(data, Split::Test)?;
    sentiment_on(model, &bytes, &reviews, float.as_ref(), progress)
}

/// Accuracy of the integer model on `reviews`, run through the runtime
/// exactly as on the device (the shared tokenizer, the model's own
/// window), and of the float checkpoint (its network in f32, batched; the
/// f32 reference gives the same figures, `tests/reference.rs`) if given.
pub fn sentiment_on(
    path: &Path,
    bytes: &[u8],
    reviews: &[Review],
    float: Option<&Checkpoint>,
    progress: bool,
) -> Result<Evaluation, Error> {
    let bad = |source| Error::BadModel { path: path.to_path_buf(), source };
    let clf = HostClassifier::from_bytes(bytes).map_err(bad)?;
    let mut state = Box::new(HostSentimentState::new());
    let bar = crate::progress::bar(progress, reviews.len() as u64, "integer model on the test split", "reviews");
    let mut correct = 0usize;
    for r in reviews {
        let p = clf.classify(&mut state, r.text.as_bytes()).map_err(bad)?;
        correct += usize::from(p.is_positive() == r.positive);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let float_accuracy = match float.map(|c| (c, &c.meta.task)) {
        Some((ck, Task::Sentiment { words, max_tokens })) => {
            let net = ck.network(&dfdx::prelude::Cpu::default())?;
            Some(crate::train::evaluate_sentiment(&net, &data::examples(reviews, words, *max_tokens), 100).1)
        }
        _ => None,
    };
    Ok(Evaluation {
        task: "sentiment",
        n: reviews.len(),
        model_bytes: bytes.len(),
        accuracy: Some(Binary::accuracy_of(correct, reviews.len())),
        float_accuracy,
        val_nats: None,
        val_bits: None,
        float_val_nats: None,
    })
}

/// `trainer charlm eval`: reads the text once.
pub fn eval_charlm(model: &Path, data: &Path, ckpt: Option<&Path>) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    HostCharLm::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let float = float_of(ckpt, false)?;
    let corpus = data::read_hamlet(data, None)?;
    charlm_on(model, &bytes, &corpus, float.as_ref().map(to_float_model).as_ref())
}

/// Validation loss of the integer language model on the corpus's
/// validation part (one stream from the zero state; the integer logits'
/// log-softmax in f64), and of the float model if given.
pub fn charlm_on(
    path: &Path,
    bytes: &[u8],
    corpus: &CharCorpus,
    float: Option<&FloatModel>,
) -> Result<Evaluation, Error> {
    let bad = |source| Error::BadModel { path: path.to_path_buf(), source };
    let lm = HostCharLm::from_bytes(bytes).map_err(bad)?;
    if lm.chars().len() != corpus.charset.len()
        || (0..corpus.charset.len()).any(|i| lm.chars().byte(i as u16) != Some(corpus.charset[i]))
    {
        return Err(Error::Config(format!("{}: the model's charset differs from the text's", path.display())));
    }
    let scale = f64::from(1u32 << lm.model().head.out_frac);
    let mut state = Box::new(HostCharLmState::new());
    let mut nats = Nats::default();
    let mut logits = Vec::with_capacity(corpus.charset.len());
    for w in corpus.valid.windows(2) {
        lm.step_id(&mut state, w[0]).map_err(bad)?;
        logits.clear();
        logits.extend(lm.logits(&state).iter().map(|&v| f64::from(v) / scale));
        nats.push(&logits, usize::from(w[1]));
    }
    let n = nats.count();
    let mean = if n == 0 { 0.0 } else { nats.mean() };
    Ok(Evaluation {
        task: "charlm",
        n,
        model_bytes: bytes.len(),
        accuracy: None,
        float_accuracy: None,
        val_nats: Some(mean),
        val_bits: Some(mean / std::f64::consts::LN_2),
        float_val_nats: float.map(|f| float_charlm_loss(f, &corpus.valid)),
    })
}
