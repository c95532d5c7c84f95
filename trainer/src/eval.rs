//! Evaluation through the integer runtime, the device's own code: a
//! classifier's test accuracy (IMDb's test split, or any labelled file),
//! or the language model's validation loss, with the float checkpoint's
//! figure beside it when one is given.

use std::path::Path;

use host::run::{HostCharLm, HostCharLmState, HostClassifier, HostClassifierState};
use host::FloatModel;

use crate::baseline::Baseline;
use crate::data::labelled::{self, InputArgs};
use crate::data::{self, CharCorpus, CorpusArgs, Split, Text};
use crate::files::read;
use crate::float::{float_charlm_loss, to_float_model};
use crate::metrics::{Classes, Nats};
use crate::net::{Checkpoint, Task};
use crate::Error;

/// Figures of an integer model on held-out data, and of its float
/// checkpoint when one is given.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    /// Task: "classifier" or "charlm".
    pub task: &'static str,
    /// Examples: texts, or predicted characters.
    pub n: usize,
    /// A classifier's class names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Size of the model file.
    pub model_bytes: usize,
    /// Classifier accuracy of the integer model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Classifier: rows are true classes, columns predicted ones, of the
    /// integer model.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confusion: Vec<Vec<usize>>,
    /// Classifier accuracy of the float checkpoint.
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
    /// Classifier, after training: the baselines on the same split (the
    /// majority class, tf-idf + logistic regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// Classifier, after training: the best float weights' validation
    /// accuracy (beside the baselines').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
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
                "test accuracy, integer model: {} over {} texts; model {} bytes",
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
fn float_of(ckpt: Option<&Path>, classifier: bool) -> Result<Option<Checkpoint>, Error> {
    let Some(path) = ckpt else { return Ok(None) };
    let ck = Checkpoint::load(path)?;
    if matches!(ck.meta.task, Task::Classifier { .. }) != classifier {
        let what = if classifier { "not a classifier" } else { "not a language model" };
        return Err(Error::BadCheckpoint { path: path.to_path_buf(), reason: what.into() });
    }
    Ok(Some(ck))
}

/// `trainer classify eval`: every text of `data` (IMDb: the official test
/// split), read against the model's classes, on `jobs` threads (0 = all).
pub fn eval_classifier(
    model: &Path,
    data: &Path,
    input: &InputArgs,
    ckpt: Option<&Path>,
    progress: bool,
    jobs: usize,
) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    // The model is checked before the data set is read.
    let clf =
        HostClassifier::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let classes: Vec<String> = clf.class_names().iter().map(str::to_owned).collect();
    let float = float_of(ckpt, true)?;
    let texts = labelled::read(data, input, Some(&classes), Split::Test)?.texts;
    classifier_on(model, &bytes, &texts, float.as_ref(), progress, jobs)
}

/// Accuracy of the integer model on `reviews`, run through the runtime
/// exactly as on the device (the shared tokenizer, the model's own
/// window), and of the float checkpoint (its network in f32, batched; the
/// f32 reference gives the same figures, `tests/reference.rs`) if given.
pub fn classifier_on(
    path: &Path,
    bytes: &[u8],
    reviews: &[Text],
    float: Option<&Checkpoint>,
    progress: bool,
    jobs: usize,
) -> Result<Evaluation, Error> {
    use rayon::prelude::*;
    let bad = |source| Error::BadModel { path: path.to_path_buf(), source };
    let clf = HostClassifier::from_bytes(bytes).map_err(bad)?;
    let classes: Vec<String> = clf.class_names().iter().map(str::to_owned).collect();
    let bar = crate::progress::bar(progress, reviews.len() as u64, "integer model on the test texts", "texts");
    // The texts are independent: `jobs` threads (0 = all the machine has),
    // each with its own state; the predictions come back in order.
    let jobs = if jobs == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { jobs };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Config(format!("cannot start {jobs} evaluation threads: {e}")))?;
    let predicted: Vec<Result<usize, runtime::Error>> = pool.install(|| {
        reviews
            .par_iter()
            .map_init(
                || Box::new(HostClassifierState::new()),
                |state, r| {
                    let p = clf.classify(state, r.text.as_bytes()).map(|p| p.class);
                    bar.inc(1);
                    p
                },
            )
            .collect()
    });
    bar.finish_and_clear();
    let mut correct = 0usize;
    let mut confusion = vec![vec![0usize; classes.len()]; classes.len()];
    for (r, p) in reviews.iter().zip(predicted) {
        let p = p.map_err(bad)?;
        correct += usize::from(p == r.class);
        if let Some(cell) = confusion.get_mut(r.class).and_then(|row| row.get_mut(p)) {
            *cell += 1;
        }
    }
    let float_accuracy = match float.map(|c| (c, &c.meta.task)) {
        Some((ck, Task::Classifier { words, max_tokens, .. })) => {
            let net = ck.network(&dfdx::prelude::Cpu::default())?;
            Some(crate::tasks::classify::evaluate_classifier(&net, &data::examples(reviews, words, *max_tokens), 100).1)
        }
        _ => None,
    };
    Ok(Evaluation {
        task: "classifier",
        n: reviews.len(),
        classes,
        model_bytes: bytes.len(),
        accuracy: Some(Classes::accuracy_of(correct, reviews.len())),
        confusion,
        float_accuracy,
        val_nats: None,
        val_bits: None,
        float_val_nats: None,
        baseline: None,
        val_accuracy: None,
    })
}

/// `trainer charlm eval`: reads the text once, as training read it.
pub fn eval_charlm(model: &Path, data: &Path, corpus: &CorpusArgs, ckpt: Option<&Path>) -> Result<Evaluation, Error> {
    let bytes = read(model)?;
    HostCharLm::from_bytes(&bytes).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })?;
    let float = float_of(ckpt, false)?;
    let corpus = data::read_corpus(data, corpus)?;
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
        return Err(Error::Config(format!(
            "{}: the model's charset differs from the text's (read the text with the training's --gutenberg, \
             --start-marker, --start-offset and --max-chars)",
            path.display()
        )));
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
        classes: Vec::new(),
        model_bytes: bytes.len(),
        accuracy: None,
        confusion: Vec::new(),
        float_accuracy: None,
        val_nats: Some(mean),
        val_bits: Some(mean / std::f64::consts::LN_2),
        float_val_nats: float.map(|f| float_charlm_loss(f, &corpus.valid)),
        baseline: None,
        val_accuracy: None,
    })
}
