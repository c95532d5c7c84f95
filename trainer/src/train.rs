//! Training loops: IMDb sentiment (many-to-one) and the character language
//! model (many-to-many, truncated BPTT over stateful windows).
//!
//! Both loops evaluate on validation data after every epoch, keep the best
//! weights (`best.ckpt`), stop early after `patience` epochs without
//! improvement, checkpoint every epoch (`checkpoint.ckpt`, with the Adam
//! state) and write `metrics.json` and `curves.png` beside them. All
//! randomness is derived from `seed` and the epoch number, so a run resumed
//! from a checkpoint continues exactly as an uninterrupted one would.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dfdx::losses::{binary_cross_entropy_with_logits_loss, cross_entropy_with_logits_loss};
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use runtime::tokenizer::WordHashing;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{write_atomic, Checkpoint, EpochRecord, Progress, Task};
use crate::data::{self, Example, Split};
use crate::error::{Error, Result};
use crate::model::{NetConfig, Network, Readout, State};
use crate::ops::Seq;
use crate::optim::{Adam, AdamConfig};

/// The latest checkpoint (weights and optimiser state) in an output dir.
pub const CHECKPOINT: &str = "checkpoint.ckpt";
/// The best weights so far.
pub const BEST: &str = "best.ckpt";
/// Per-epoch metrics.
pub const METRICS: &str = "metrics.json";
/// Learning curves.
pub const CURVES: &str = "curves.png";

/// Mixes a seed with a stream tag and an index (SplitMix64 finalizer).
pub fn mix(seed: u64, tag: u64, index: u64) -> u64 {
    let mut z = seed ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Pooling of the sentiment head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum PoolingArg {
    /// The last hidden state.
    Last,
    /// Mean and max of the hidden states over time.
    MeanMax,
}

/// Sentiment training configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct SentimentConfig {
    /// IMDb archive (`.tar.gz`) or its extracted directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (checkpoints, metrics, curves).
    #[arg(long, default_value = "runs/sentiment")]
    pub out: PathBuf,
    /// Hash buckets of the word tokenizer (vocabulary = buckets + 1).
    #[arg(long, default_value_t = 20000)]
    pub buckets: u32,
    /// Seed of the word hash.
    #[arg(long, default_value_t = 0)]
    pub hash_seed: u32,
    /// Read only the last N tokens of each review (0 = all).
    #[arg(long, default_value_t = 200)]
    pub max_tokens: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 64)]
    pub embed_dim: usize,
    /// LSTM hidden width.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Dropout after each LSTM layer.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f32,
    /// How hidden states feed the dense layer.
    #[arg(long, value_enum, default_value_t = PoolingArg::Last)]
    pub pooling: PoolingArg,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Gradient clipping by global norm (0 = off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Reviews per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Maximum epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Fraction of the official train split held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Use only the first N training reviews after the split (0 = all).
    #[arg(long, default_value_t = 0)]
    pub train_limit: usize,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Character language model training configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct CharLmConfig {
    /// Gutenberg text file (Hamlet, pg2265.txt).
    #[arg(long)]
    pub data: PathBuf,
    /// Byte offset where the text starts (default: the first "The Tragedie
    /// of Hamlet").
    #[arg(long)]
    pub start_offset: Option<usize>,
    /// Output directory (checkpoints, metrics, curves).
    #[arg(long, default_value = "runs/charlm")]
    pub out: PathBuf,
    /// Parallel streams (batch rows).
    #[arg(long, default_value_t = 64)]
    pub streams: usize,
    /// Steps per truncated-BPTT window.
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Embedding width (0 = one-hot input).
    #[arg(long, default_value_t = 0)]
    pub embed_dim: usize,
    /// LSTM hidden width.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Dropout after each LSTM layer.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Gradient clipping by global norm (0 = off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Maximum epochs (passes over the training text).
    #[arg(long, default_value_t = 1000)]
    pub epochs: usize,
    /// Stop after this many minutes of training (0 = no limit); checked
    /// after each epoch.
    #[arg(long, default_value_t = 0.0)]
    pub minutes: f64,
    /// Stop after this many epochs without a lower validation loss.
    #[arg(long, default_value_t = 10)]
    pub patience: usize,
    /// Seed of initialisation and dropout.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Options of a run that are not hyper-parameters.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from `out/checkpoint.ckpt` if it exists.
    pub resume: bool,
    /// No progress bar or per-epoch lines.
    pub quiet: bool,
    /// Sentiment: after training, evaluate the best weights on the official
    /// test split (25,000 reviews) and record it in the summary and metrics.
    pub eval_test: bool,
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Epochs completed in total.
    pub epochs_done: usize,
    /// The best epoch.
    pub best_epoch: usize,
    /// Validation loss of the best epoch.
    pub best_val_loss: f64,
    /// Validation accuracy of the best epoch (sentiment).
    pub best_val_accuracy: Option<f64>,
    /// Why training stopped.
    pub stopped: String,
    /// Path of the best weights.
    pub best: PathBuf,
    /// Official test split (loss, accuracy) of the best weights, when asked.
    pub test: Option<(f64, f64)>,
}

fn bar(len: u64, quiet: bool, prefix: String) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if quiet {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches, {rate} ETA {eta} {msg}")
            .expect("valid template")
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", s.per_sec());
            })
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix);
    pb
}

/// Builds one time-major, right-aligned batch: ids `(T * B)`, its [`Seq`],
/// and the labels.
pub fn sentiment_batch(batch: &[&Example]) -> (Vec<usize>, Seq, Vec<f32>) {
    let steps = batch.iter().map(|e| e.ids.len()).max().unwrap_or(0).max(1);
    let b = batch.len();
    let mut ids = vec![0usize; steps * b];
    let mut starts = Vec::with_capacity(b);
    for (j, e) in batch.iter().enumerate() {
        let start = steps - e.ids.len();
        starts.push(start);
        for (k, &id) in e.ids.iter().enumerate() {
            ids[(start + k) * b + j] = id as usize;
        }
    }
    let labels = batch.iter().map(|e| e.label).collect();
    (ids, Seq { steps, batch: b, starts }, labels)
}

/// Batches for one epoch: a seeded shuffle, then within groups of 50
/// batches the reviews are sorted by length (less padding), and the batch
/// order is shuffled again.
pub fn epoch_batches(examples: &[Example], batch: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..examples.len()).collect();
    idx.shuffle(rng);
    let group = batch * 50;
    let mut batches = Vec::new();
    for chunk in idx.chunks(group) {
        let mut chunk = chunk.to_vec();
        chunk.sort_by_key(|&i| examples[i].ids.len());
        batches.extend(chunk.chunks(batch).map(|c| c.to_vec()));
    }
    batches.shuffle(rng);
    batches
}

/// Validation figures of a sentiment network: mean binary cross-entropy
/// and accuracy at threshold 0.5.
pub fn evaluate_sentiment(net: &Network, examples: &[Example], batch: usize) -> (f64, f64) {
    let mut order: Vec<&Example> = examples.iter().collect();
    order.sort_by_key(|e| e.ids.len());
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for chunk in order.chunks(batch.max(1)) {
        let (ids, seq, labels) = sentiment_batch(chunk);
        let (logits, _) = net.forward(&ids, &seq, NoneTape, None, None);
        for (z, y) in logits.as_vec().iter().zip(&labels) {
            let z = *z as f64;
            let y = *y as f64;
            // Stable BCE with logits.
            loss += z.max(0.0) - z * y + (-z.abs()).exp().ln_1p();
            if (z > 0.0) == (y > 0.5) {
                correct += 1;
            }
        }
    }
    let n = examples.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

/// Loads the IMDb train split, tokenized and split into (train, validation).
pub fn sentiment_data(cfg: &SentimentConfig) -> Result<(Vec<Example>, Vec<Example>)> {
    let hashing = WordHashing { buckets: cfg.buckets, seed: cfg.hash_seed };
    let reviews = data::read_imdb(&cfg.data, Split::Train)?;
    let examples = data::examples(&reviews, hashing, cfg.max_tokens);
    let (train, valid) = data::carve_validation(examples, cfg.val_fraction, cfg.seed, cfg.train_limit);
    if train.is_empty() || valid.is_empty() {
        return Err(Error::Empty {
            path: cfg.data.clone(),
            what: "the training or validation part (check --val-fraction)".into(),
        });
    }
    Ok((train, valid))
}

fn sentiment_net_config(cfg: &SentimentConfig) -> NetConfig {
    NetConfig {
        vocab: cfg.buckets as usize + 1,
        embed_dim: cfg.embed_dim,
        hidden: cfg.hidden,
        layers: cfg.layers,
        dropout: cfg.dropout,
        outputs: 1,
        readout: match cfg.pooling {
            PoolingArg::Last => Readout::Last,
            PoolingArg::MeanMax => Readout::MeanMax,
        },
    }
}

/// State shared by both loops: the network, optimiser and progress, loaded
/// from a checkpoint on resume.
struct Run {
    net: Network,
    adam: Adam,
    progress: Progress,
    task: Task,
    train_json: serde_json::Value,
    out: PathBuf,
}

impl Run {
    fn start(
        out: &Path,
        task: Task,
        net_cfg: NetConfig,
        lr: f32,
        seed: u64,
        train_json: serde_json::Value,
        resume: bool,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        crate::checkpoint::remove_stale_temps(out);
        let dev = Cpu::seed_from_u64(seed);
        let ckpt_path = out.join(CHECKPOINT);
        if resume && ckpt_path.exists() {
            let ckpt = Checkpoint::load(&ckpt_path)?;
            let mismatch = |reason: String| Error::ResumeMismatch { path: ckpt_path.clone(), reason };
            if ckpt.meta.net != net_cfg {
                return Err(mismatch(format!("network {:?} differs from the requested {:?}", ckpt.meta.net, net_cfg)));
            }
            if ckpt.meta.task != task {
                return Err(mismatch("the task or tokenizer differs".into()));
            }
            let net = ckpt.network(&dev)?;
            let mut adam = ckpt.optimizer().ok_or_else(|| mismatch("it holds no optimiser state".into()))?;
            adam.cfg.lr = lr;
            return Ok(Self { net, adam, progress: ckpt.meta.progress.clone(), task, train_json, out: out.to_owned() });
        }
        let net = Network::new(&dev, net_cfg, mix(seed, 1, 0))?;
        let adam = Adam::new(&net, AdamConfig { lr, ..Default::default() });
        Ok(Self { net, adam, progress: Progress::default(), task, train_json, out: out.to_owned() })
    }

    /// Records an epoch; `better` says whether it beats the best so far.
    /// Writes the best weights, the checkpoint, metrics and curves.
    fn end_epoch(&mut self, record: EpochRecord, better: bool, title: &str) -> Result<()> {
        self.progress.epochs_done = record.epoch;
        if better {
            self.progress.best_epoch = record.epoch;
            self.progress.bad_epochs = 0;
        } else {
            self.progress.bad_epochs += 1;
        }
        self.progress.history.push(record);
        if better {
            Checkpoint::new(self.task.clone(), &self.net, None, self.train_json.clone(), self.progress.clone())
                .save(&self.out.join(BEST))?;
        }
        Checkpoint::new(self.task.clone(), &self.net, Some(&self.adam), self.train_json.clone(), self.progress.clone())
            .save(&self.out.join(CHECKPOINT))?;
        let metrics = serde_json::json!({
            "task": title,
            "network": self.net.cfg,
            "parameters": self.net.num_params(),
            "config": self.train_json,
            "best_epoch": self.progress.best_epoch,
            "best": self.progress.history.iter().find(|r| r.epoch == self.progress.best_epoch),
            "history": self.progress.history,
        });
        write_atomic(
            &self.out.join(METRICS),
            serde_json::to_string_pretty(&metrics).expect("metrics serialize").as_bytes(),
        )?;
        crate::plot::learning_curves(&self.out.join(CURVES), title, &self.progress.history)
    }

    fn best(&self) -> Option<&EpochRecord> {
        self.progress.history.iter().find(|r| r.epoch == self.progress.best_epoch)
    }

    fn summary(&self, stopped: &str) -> Summary {
        let best = self.best();
        Summary {
            epochs_done: self.progress.epochs_done,
            best_epoch: self.progress.best_epoch,
            best_val_loss: best.map_or(f64::NAN, |r| r.val_loss),
            best_val_accuracy: best.and_then(|r| r.val_accuracy),
            stopped: stopped.to_owned(),
            best: self.out.join(BEST),
            test: None,
        }
    }
}

fn clip_of(c: f32) -> Option<f32> {
    (c > 0.0).then_some(c)
}

/// Trains the sentiment classifier.
pub fn train_sentiment(cfg: &SentimentConfig, opts: &RunOptions) -> Result<Summary> {
    let (train, valid) = sentiment_data(cfg)?;
    train_sentiment_on(cfg, opts, &train, &valid)
}

/// Trains the sentiment classifier on already tokenized data (tokenized
/// with `cfg.buckets`, `cfg.hash_seed`, `cfg.max_tokens`).
pub fn train_sentiment_on(
    cfg: &SentimentConfig,
    opts: &RunOptions,
    train: &[Example],
    valid: &[Example],
) -> Result<Summary> {
    if cfg.batch == 0 {
        return Err(Error::Config("--batch must be positive".into()));
    }
    let task = Task::Sentiment {
        hashing: WordHashing { buckets: cfg.buckets, seed: cfg.hash_seed },
        max_tokens: cfg.max_tokens,
    };
    let train_json = serde_json::to_value(cfg).expect("config serializes");
    let mut run = Run::start(&cfg.out, task, sentiment_net_config(cfg), cfg.lr, cfg.seed, train_json, opts.resume)?;
    let mut stopped = "max epochs";
    for epoch in run.progress.epochs_done + 1..=cfg.epochs {
        if run.progress.best_epoch > 0 && run.progress.bad_epochs >= cfg.patience {
            stopped = "patience";
            break;
        }
        let t0 = Instant::now();
        let mut rng = StdRng::seed_from_u64(mix(cfg.seed, 2, epoch as u64));
        let mut drop_rng = StdRng::seed_from_u64(mix(cfg.seed, 3, epoch as u64));
        let batches = epoch_batches(train, cfg.batch, &mut rng);
        let pb = bar(batches.len() as u64, opts.quiet, format!("epoch {epoch}/{}", cfg.epochs));
        let (mut sum, mut count) = (0.0f64, 0usize);
        for b in &batches {
            let exs: Vec<&Example> = b.iter().map(|&i| &train[i]).collect();
            let (ids, seq, labels) = sentiment_batch(&exs);
            let tape = OwnedTape::<f32, Cpu>::default();
            let (logits, _) = run.net.forward(&ids, &seq, tape, Some(&mut drop_rng), None);
            let dev = logits.device().clone();
            let targets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(labels, (exs.len(), 1));
            let loss = binary_cross_entropy_with_logits_loss(logits, targets);
            let l = loss.array() as f64;
            let mut grads = loss.backward();
            run.adam.step(&mut run.net, &mut grads, clip_of(cfg.clip));
            run.progress.steps += 1;
            sum += l * exs.len() as f64;
            count += exs.len();
            pb.set_message(format!("loss {:.4}", sum / count as f64));
            pb.inc(1);
        }
        pb.finish_and_clear();
        let (val_loss, val_acc) = evaluate_sentiment(&run.net, valid, cfg.batch);
        let better = run.best().is_none_or(|b| val_acc > b.val_accuracy.unwrap_or(0.0));
        let record = EpochRecord {
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_loss,
            val_accuracy: Some(val_acc),
            seconds: t0.elapsed().as_secs_f64(),
        };
        if !opts.quiet {
            eprintln!(
                "epoch {epoch}: train loss {:.4}, val loss {val_loss:.4}, val acc {val_acc:.4}{} ({:.0} s)",
                record.train_loss,
                if better { " (best)" } else { "" },
                record.seconds
            );
        }
        run.end_epoch(record, better, "IMDb sentiment")?;
    }
    if run.progress.best_epoch > 0 && run.progress.bad_epochs >= cfg.patience {
        stopped = "patience";
    }
    let mut summary = run.summary(stopped);
    if opts.eval_test {
        summary.test = Some(evaluate_sentiment_test(cfg, &summary.best)?);
    }
    Ok(summary)
}

/// Evaluates a sentiment checkpoint on the official IMDb test split, with
/// the checkpoint's own tokenizer settings; writes `test.json` beside it.
pub fn evaluate_sentiment_test(cfg: &SentimentConfig, ckpt_path: &Path) -> Result<(f64, f64)> {
    let ckpt = Checkpoint::load(ckpt_path)?;
    let Task::Sentiment { hashing, max_tokens } = ckpt.meta.task else {
        return Err(Error::BadCheckpoint { path: ckpt_path.to_owned(), reason: "not a sentiment model".into() });
    };
    let reviews = data::read_imdb(&cfg.data, Split::Test)?;
    let examples = data::examples(&reviews, hashing, max_tokens);
    let net = ckpt.network(&Cpu::default())?;
    let (loss, acc) = evaluate_sentiment(&net, &examples, 250);
    let json = serde_json::json!({
        "checkpoint": ckpt_path,
        "split": "test",
        "reviews": examples.len(),
        "loss": loss,
        "accuracy": acc,
    });
    let out = ckpt_path.with_file_name("test.json");
    write_atomic(&out, serde_json::to_string_pretty(&json).expect("serializes").as_bytes())?;
    Ok((loss, acc))
}

/// Mean cross-entropy (nats/char) of a language model predicting
/// `ids[1..]` from `ids[..n-1]`, one stream from a zero state, run in
/// chunks of `chunk` steps with the state carried over.
pub fn evaluate_charlm(net: &Network, ids: &[u16], chunk: usize) -> f64 {
    if ids.len() < 2 {
        return f64::NAN;
    }
    let v = net.cfg.outputs;
    let mut state: Option<State> = None;
    let (mut total, mut count) = (0.0f64, 0usize);
    let inputs = &ids[..ids.len() - 1];
    let targets = &ids[1..];
    for (xs, ys) in inputs.chunks(chunk.max(1)).zip(targets.chunks(chunk.max(1))) {
        let x: Vec<usize> = xs.iter().map(|&i| i as usize).collect();
        let seq = Seq::dense(x.len(), 1);
        let (logits, s) = net.forward(&x, &seq, NoneTape, None, state.as_ref());
        state = Some(s);
        let l = logits.as_vec();
        for (row, &y) in l.chunks_exact(v).zip(ys) {
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let lse = m as f64 + row.iter().map(|&z| ((z - m) as f64).exp()).sum::<f64>().ln();
            total += lse - row[y as usize] as f64;
            count += 1;
        }
    }
    total / count as f64
}

/// The training windows of one epoch: the text is cut into `streams`
/// contiguous parts read in parallel; window `w` holds steps
/// `w*window..` of every part. Returns `(inputs, targets)` per window,
/// time-major.
pub fn charlm_windows(ids: &[u16], streams: usize, window: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let per = (ids.len().saturating_sub(1)) / streams.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < per {
        let len = window.min(per - start);
        let mut x = vec![0usize; len * streams];
        let mut y = vec![0usize; len * streams];
        for t in 0..len {
            for s in 0..streams {
                let k = s * per + start + t;
                x[t * streams + s] = ids[k] as usize;
                y[t * streams + s] = ids[k + 1] as usize;
            }
        }
        out.push((x, y));
        start += len;
    }
    out
}

/// Trains the character language model.
pub fn train_charlm(cfg: &CharLmConfig, opts: &RunOptions) -> Result<Summary> {
    let corpus = data::read_hamlet(&cfg.data, cfg.start_offset)?;
    train_charlm_on(cfg, opts, &corpus)
}

/// Trains the character language model on a prepared corpus.
pub fn train_charlm_on(cfg: &CharLmConfig, opts: &RunOptions, corpus: &data::CharCorpus) -> Result<Summary> {
    if cfg.streams == 0 || cfg.window == 0 {
        return Err(Error::Config("--streams and --window must be positive".into()));
    }
    if corpus.train.len() < cfg.streams + 1 {
        return Err(Error::Empty {
            path: cfg.data.clone(),
            what: format!("a training text for {} streams", cfg.streams),
        });
    }
    let v = corpus.charset.len();
    let net_cfg = NetConfig {
        vocab: v,
        embed_dim: cfg.embed_dim,
        hidden: cfg.hidden,
        layers: cfg.layers,
        dropout: cfg.dropout,
        outputs: v,
        readout: Readout::EveryStep,
    };
    let task = Task::CharLm { charset: corpus.charset.clone() };
    let train_json = serde_json::to_value(cfg).expect("config serializes");
    let mut run = Run::start(&cfg.out, task, net_cfg, cfg.lr, cfg.seed, train_json, opts.resume)?;
    let windows = charlm_windows(&corpus.train, cfg.streams, cfg.window);
    let started = Instant::now();
    let mut stopped = "max epochs";
    for epoch in run.progress.epochs_done + 1..=cfg.epochs {
        if run.progress.best_epoch > 0 && run.progress.bad_epochs >= cfg.patience {
            stopped = "patience";
            break;
        }
        if cfg.minutes > 0.0 && started.elapsed().as_secs_f64() >= cfg.minutes * 60.0 {
            stopped = "time limit";
            break;
        }
        let t0 = Instant::now();
        let mut drop_rng = StdRng::seed_from_u64(mix(cfg.seed, 3, epoch as u64));
        let pb = bar(windows.len() as u64, opts.quiet, format!("epoch {epoch}/{}", cfg.epochs));
        let mut state: Option<State> = None;
        let (mut sum, mut count) = (0.0f64, 0usize);
        for (x, y) in &windows {
            let seq = Seq::dense(x.len() / cfg.streams, cfg.streams);
            let tape = OwnedTape::<f32, Cpu>::default();
            let (logits, s) = run.net.forward(x, &seq, tape, Some(&mut drop_rng), state.as_ref());
            state = Some(s);
            let dev = logits.device().clone();
            let mut onehot = vec![0.0f32; y.len() * v];
            for (r, &t) in y.iter().enumerate() {
                onehot[r * v + t] = 1.0;
            }
            let targets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(onehot, (y.len(), v));
            let loss = cross_entropy_with_logits_loss(logits, targets);
            let l = loss.array() as f64;
            let mut grads = loss.backward();
            run.adam.step(&mut run.net, &mut grads, clip_of(cfg.clip));
            run.progress.steps += 1;
            sum += l * y.len() as f64;
            count += y.len();
            pb.set_message(format!("loss {:.4}", sum / count as f64));
            pb.inc(1);
        }
        pb.finish_and_clear();
        let val_loss = evaluate_charlm(&run.net, &corpus.valid, 2000);
        let better = run.best().is_none_or(|b| val_loss < b.val_loss);
        let record = EpochRecord {
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_loss,
            val_accuracy: None,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if !opts.quiet {
            eprintln!(
                "epoch {epoch}: train loss {:.4}, val loss {val_loss:.4} nats/char ({:.3} bits){} ({:.1} s)",
                record.train_loss,
                val_loss / std::f64::consts::LN_2,
                if better { " (best)" } else { "" },
                record.seconds
            );
        }
        run.end_epoch(record, better, "Hamlet char LM")?;
    }
    if run.progress.best_epoch > 0 && run.progress.bad_epochs >= cfg.patience {
        stopped = "patience";
    }
    Ok(run.summary(stopped))
}
