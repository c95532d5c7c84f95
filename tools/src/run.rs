//! `cargo xtask run classify|charlm --data FILE`: from raw data to the
//! emulated microcontroller in one command.
//!
//! 1. train (and export and evaluate through the integer runtime) with the
//!    trainer in one process, whose progress bars show the epochs;
//! 2. run the model on the host runtime: the test texts (classifier) or a
//!    sample (language model);
//! 3. build the firmware with the model and run the same input on the
//!    board under QEMU (the Cortex-M4 `mps2-an386` unless `--board` says
//!    another), which must print the same bytes;
//! 4. report flash, static RAM and peak stack, and instructions per token.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::firmware::{self, Board, Models};

/// What to run on.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    /// The trainer binary (`target/release/trainer`).
    pub trainer: &'a Path,
    /// The data: labelled texts, or a corpus.
    pub data: &'a Path,
    /// Where the run's files go (checkpoints, the model, the report).
    pub out: &'a Path,
    /// More `trainer ... train` flags.
    pub flags: &'a [String],
    /// The QEMU machine the model runs on.
    pub board: Board,
}

fn step(n: usize, what: &str) {
    eprintln!("\n[{n}/4] {what}");
}

/// A spinner on stderr while `f` runs (QEMU and firmware builds print
/// nothing for tens of seconds).
fn spin<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let bar = indicatif::ProgressBar::new_spinner().with_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    let out = f();
    bar.finish_and_clear();
    out
}

fn train(job: &Job<'_>, task: &str, model: &Path) -> Result<serde_json::Value> {
    let mut cmd = Command::new(job.trainer);
    cmd.args([task, "train", "--data"]).arg(job.data).arg("--out").arg(job.out).arg("--export").arg(model);
    cmd.args(job.flags);
    let status = cmd.status().with_context(|| format!("running {}", job.trainer.display()))?;
    if !status.success() {
        bail!("`trainer {task} train` failed (its message is above)");
    }
    let eval = job.out.join("eval.json");
    let text = std::fs::read_to_string(&eval).with_context(|| format!("reading {}", eval.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// `path` relative to the working directory when it is inside it.
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// Size and cost of a firmware with this one model.
fn size_and_cost(board: Board, models: Models<'_>) -> Result<String> {
    let size = spin("building the firmware and measuring its size", || firmware::size_report(board, models))?;
    let cost = spin("counting instructions under QEMU", || crate::cost::cost_report(board, models, 256, false))?;
    Ok(format!("{size}{cost}"))
}

/// `cargo xtask run classify`: train, evaluate, run the test texts on the
/// host and on QEMU (the same bytes), measure. The report it prints.
pub fn classify(job: &Job<'_>) -> Result<String> {
    let model = job.out.join("model.lstm");
    step(1, "training, exporting and evaluating through the integer runtime");
    let eval = train(job, "classify", &model)?;
    let bytes = std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
    let texts_path = job.out.join("test-texts.txt");
    let texts = std::fs::read(&texts_path).with_context(|| format!("reading {}", texts_path.display()))?;
    let labels = std::fs::read_to_string(job.out.join("test-labels.txt"))?;

    step(2, "the test texts on the host runtime");
    let host =
        host::run::predict_lines(&bytes, &texts, false).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let right = host.lines().zip(labels.lines()).filter(|(p, l)| p.ends_with(&format!(" {l}"))).count();
    let n = labels.lines().count();

    step(3, &format!("the same texts on the device (QEMU {})", job.board.machine()));
    let device =
        spin("building the firmware and running QEMU", || firmware::qemu_classify(job.board, &model, &texts_path))?;
    if device != host {
        bail!("the device printed other bytes than the host:\nhost:\n{host}\ndevice:\n{device}");
    }

    step(4, "flash, RAM and instructions per token");
    let measures = size_and_cost(job.board, Models { classifier: Some(&model), charlm: None })?;
    let classes: Vec<String> = eval["classes"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let b = &eval["baseline"];
    let figure = |v: &serde_json::Value| v.as_f64().map_or("-".to_owned(), |a| format!("{a:.4}"));
    let majority = classes.get(b["majority_class"].as_u64().unwrap_or(0) as usize).cloned().unwrap_or_default();
    Ok(format!(
        "classes: {}\n\
         test accuracy: {:.4} on {n} texts, integer model on the host and the device ({}) alike ({right} right; \
         float checkpoint {:.4}); the device's output is byte-identical to the host's\n\
         baselines (validation, test): LSTM {}, {:.4}; tf-idf + logistic regression {}, {}; majority class \
         ({majority}) {}, {}\n\
         model: {} ({} bytes)\n{measures}",
        classes.join(", "),
        right as f64 / n.max(1) as f64,
        job.board.machine(),
        eval["float_accuracy"].as_f64().unwrap_or(f64::NAN),
        figure(&eval["val_accuracy"]),
        right as f64 / n.max(1) as f64,
        figure(&b["tfidf_val_accuracy"]),
        figure(&b["tfidf_test_accuracy"]),
        figure(&b["majority_val_accuracy"]),
        figure(&b["majority_test_accuracy"]),
        shown(&model),
        bytes.len(),
    ))
}

/// `cargo xtask run charlm`: train, evaluate, generate on the host and
/// on QEMU (the same bytes), measure. The report it prints.
pub fn charlm(job: &Job<'_>, prime: &str, len: usize) -> Result<String> {
    let model = job.out.join("model.lstm");
    step(1, "training, exporting and evaluating through the integer runtime");
    let eval = train(job, "charlm", &model)?;
    let bytes = std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;

    step(2, "a sample on the host runtime");
    let sampler = runtime_sampler();
    let host = host::run::generate_text(&bytes, prime.as_bytes(), len, sampler)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;

    step(3, &format!("the same sample on the device (QEMU {})", job.board.machine()));
    let device = spin("building the firmware and running QEMU", || {
        firmware::qemu_generate(job.board, &model, prime, len, SEED, TEMPERATURE_Q8, TOP_K)
    })?;
    if device.as_bytes() != host.as_slice() {
        bail!(
            "the device printed other bytes than the host:\nhost: {:?}\ndevice: {device:?}",
            String::from_utf8_lossy(&host)
        );
    }

    step(4, "flash, RAM and instructions per character");
    let measures = size_and_cost(job.board, Models { classifier: None, charlm: Some(&model) })?;
    Ok(format!(
        "validation loss: {:.4} nats/char ({:.4} bits/char) over {} characters, integer model (float checkpoint \
         {:.4})\n\
         sample (seed {SEED}, temperature 1, top-k {TOP_K}), byte-identical on the host and the device ({}):\n{}\n\
         model: {} ({} bytes)\n{measures}",
        eval["val_nats"].as_f64().unwrap_or(f64::NAN),
        eval["val_bits"].as_f64().unwrap_or(f64::NAN),
        eval["n"].as_u64().unwrap_or(0),
        eval["float_val_nats"].as_f64().unwrap_or(f64::NAN),
        job.board.machine(),
        String::from_utf8_lossy(&host),
        shown(&model),
        bytes.len(),
    ))
}

const SEED: u64 = 1;
const TEMPERATURE_Q8: u16 = 256;
const TOP_K: u16 = 5;

fn runtime_sampler() -> host::run::Sampler {
    host::run::Sampler::new(SEED, TEMPERATURE_Q8, TOP_K)
}

/// The run's folder: `target/run/<name of the data>`.
pub fn default_out(root: &Path, data: &Path) -> PathBuf {
    let name = data.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    root.join("target").join("run").join(name)
}
