//! Training loops: text classifiers such as IMDb sentiment (many-to-one)
//! and the character language model (many-to-many, truncated BPTT over
//! stateful windows).
//!
//! Both loops evaluate on validation data after every epoch, keep the best
//! weights (`best.ckpt`), stop early after `patience` epochs without
//! improvement, checkpoint every epoch (`checkpoint.ckpt`, with the Adam
//! state) and write `metrics.json` and `curves.png` beside them. All
//! randomness is derived from `seed` and the epoch number, so a run resumed
//! from a checkpoint continues exactly as an uninterrupted one would.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use dfdx::losses::binary_cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use runtime::format::Pooling;
use runtime::tokenizer::WordHashing;
use serde::{Deserialize, Serialize};

use host::Words;

use crate::checkpoint::{write_atomic, Checkpoint, EpochRecord, Progress, Task};
use crate::data::{self, CorpusArgs, Example, Split, Text};
use crate::error::{Error, Result};
use crate::labelled::{self, InputArgs, InputFormat};
use crate::metrics::{Classes, Nats};
use crate::model::{NetConfig, Network, Readout, State};
use crate::ops::{self, Seq};
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

/// How the learning rate moves over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum LrSchedule {
    /// The same rate every step.
    Constant,
    /// Half a cosine from the peak down to the floor (`--lr-floor`, 0 for a
    /// classifier) at the last step of the last epoch.
    Cosine,
}

/// The learning rate of each step: warm-up, then the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// The peak rate.
    pub lr: f32,
    /// The schedule after warm-up.
    pub schedule: LrSchedule,
    /// Warm-up steps.
    pub warmup: u64,
    /// Steps of the whole run.
    pub total: u64,
    /// The rate a cosine ends at.
    pub floor: f32,
}

impl Rate {
    /// A constant rate.
    pub fn constant(lr: f32) -> Self {
        Self { lr, schedule: LrSchedule::Constant, warmup: 0, total: 0, floor: 0.0 }
    }

    /// The rate of step `step` (from 0).
    pub fn at(&self, step: u64) -> f32 {
        if step < self.warmup {
            return self.lr * (step + 1) as f32 / self.warmup as f32;
        }
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let span = self.total.saturating_sub(self.warmup).max(1) as f64;
                let t = ((step - self.warmup) as f64 / span).min(1.0);
                let (lr, floor) = (f64::from(self.lr), f64::from(self.floor));
                (floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
            }
        }
    }
}

/// `--pooling last|mean-max`: the model format's own [`Pooling`].
fn pooling_parser() -> impl TypedValueParser<Value = Pooling> {
    PossibleValuesParser::new(["last", "mean-max"])
        .map(|s| if s == "mean-max" { Pooling::MeanMax } else { Pooling::Last })
}

/// Classifier training configuration (the defaults are the IMDb recipe).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct ClassifierConfig {
    /// Labelled training data: a CSV, TSV or JSON Lines file, a directory
    /// of class folders, or the IMDb archive or directory (its official
    /// train split).
    #[arg(long)]
    pub data: PathBuf,
    /// How the data files are laid out.
    #[command(flatten)]
    pub input: InputArgs,
    /// Validation data in the same layout (default: a stratified
    /// --val-fraction of --data).
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Test data in the same layout, for the final figures (default: the
    /// IMDb test split, or a stratified --test-fraction of --data).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Output directory (checkpoints, metrics, curves).
    #[arg(long, default_value = "runs/classify")]
    pub out: PathBuf,
    /// Keep the N most frequent tokens of the training part (counted after
    /// the validation carve) in a vocabulary table; every other token is
    /// one out-of-vocabulary id. 0: hash every word into --buckets instead
    /// (format version 1's tokenizer).
    #[arg(long, default_value_t = 8000)]
    pub vocab: usize,
    /// With --vocab: punctuation marks (`!`, `?`, `:`, `)` ...) are tokens.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub punctuation: bool,
    /// Without --vocab: hash buckets of the word tokenizer (vocabulary =
    /// buckets + 1).
    #[arg(long, default_value_t = 20000)]
    pub buckets: u32,
    /// Without --vocab: seed of the word hash.
    #[arg(long, default_value_t = 0)]
    pub hash_seed: u32,
    /// Read only the last N tokens of each text (0 = all, each token run
    /// as it arrives; a window of N is replayed from a ring when the review
    /// ends).
    #[arg(long, default_value_t = 0)]
    pub max_tokens: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 20)]
    pub embed_dim: usize,
    /// LSTM hidden width.
    #[arg(long, default_value_t = 96)]
    pub hidden: usize,
    /// Stacked LSTM layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Dropout after each LSTM layer.
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f32,
    /// Quantization-aware training of the embedding: every forward pass
    /// (training and validation) reads it rounded to the grid of a
    /// `--qat-bits`-bit export (4 or 8; 0 = off), refreshed every 50
    /// batches; the gradient passes straight through.
    #[arg(long, default_value_t = 0)]
    pub qat_bits: u8,
    /// Weight averaging: keep the weights of the last K epochs
    /// (`epoch-N.ckpt`) and, at the end, validate their average; it becomes
    /// `best.ckpt` if its validation accuracy beats the best epoch's
    /// (`average.json` says). 0 or 1: off.
    #[arg(long, default_value_t = 0)]
    pub average_last: usize,
    /// Word dropout: during training each token becomes the
    /// out-of-vocabulary id 1 with this probability (seeded).
    #[arg(long, default_value_t = 0.0)]
    pub word_dropout: f32,
    /// How hidden states feed the dense layer: the last state, or the mean
    /// and the max over time.
    #[arg(long, value_parser = pooling_parser(), default_value = "mean-max")]
    pub pooling: Pooling,
    /// Adam learning rate (the peak, with a schedule).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f32,
    /// Learning-rate schedule over the whole run.
    #[arg(long, value_enum, default_value_t = LrSchedule::Cosine)]
    pub schedule: LrSchedule,
    /// Steps of linear warm-up from 0 to --lr before the schedule (at most
    /// a tenth of the run's steps).
    #[arg(long, default_value_t = 100)]
    pub warmup: u64,
    /// Gradient clipping by global norm (0 = off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Texts per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Maximum epochs (more if --min-steps needs them).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Train for at least this many batches, before any early stop: a
    /// small data set gets as many epochs as that takes (IMDb's 5 epochs
    /// are 1,760 batches).
    #[arg(long, default_value_t = 600)]
    pub min_steps: u64,
    /// Stop after this many epochs without a better validation accuracy.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Fraction of the training data held out for validation (without
    /// --valid).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Fraction of the training data held out for the test figures
    /// (without --test; not for IMDb, which has its test split).
    #[arg(long, default_value_t = 0.1)]
    pub test_fraction: f64,
    /// Use only the first N training texts after the split (0 = all).
    #[arg(long, default_value_t = 0)]
    pub train_limit: usize,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl ClassifierConfig {
    /// A configuration from `trainer classify train`'s flags (`--data
    /// FILE` and any others), the defaults for the rest.
    pub fn from_flags(flags: &[&str]) -> std::result::Result<Self, clap::Error> {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            cfg: ClassifierConfig,
        }
        <Flags as clap::Parser>::try_parse_from(std::iter::once("train").chain(flags.iter().copied())).map(|f| f.cfg)
    }
}

/// Character language model training configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct CharLmConfig {
    /// The corpus: a UTF-8 text file, or a directory of them (Hamlet:
    /// pg2265.txt with --start-marker "The Tragedie of Hamlet").
    #[arg(long)]
    pub data: PathBuf,
    /// How the corpus is read.
    #[command(flatten)]
    pub corpus: CorpusArgs,
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
    /// Adam learning rate (the peak, with a schedule).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Learning-rate schedule over --epochs.
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    pub schedule: LrSchedule,
    /// Steps of linear warm-up from 0 to --lr before the schedule.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// The rate the cosine ends at, at the last step of --epochs.
    #[arg(long, default_value_t = 0.0)]
    pub lr_floor: f32,
    /// Each epoch, start the streams at a seeded random offset in
    /// [0, --window): the windows' boundaries move from epoch to epoch.
    #[arg(long)]
    pub random_offsets: bool,
    /// Weight averaging: an exponential moving average of the weights with
    /// this decay per step (0 = off; 0.999 averages about 1,000 steps),
    /// validated each epoch and kept as the best weights instead of the raw
    /// ones.
    #[arg(long, default_value_t = 0.0)]
    pub ema: f32,
    /// DropConnect on the recurrent weights: each weight of every layer's
    /// `w_h` is dropped with this probability, one mask a batch (0 = off).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub weight_drop: f32,
    /// Quantization-aware training: forward passes read the LSTM weights
    /// rounded to the per-row grid of this many bits (4 or 8; 0 = off), as
    /// `--lstm-bits` exports them. Usually a fine-tuning run from `--init`.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub qat_lstm_bits: u8,
    /// Start from this checkpoint's weights (the same network shape and
    /// charset): a new run, with a new optimiser and schedule. For
    /// fine-tuning, for example with `--qat-lstm-bits 4`.
    #[arg(long, value_name = "CKPT")]
    #[serde(default)]
    pub init: Option<PathBuf>,
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
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Epochs completed in total.
    pub epochs_done: usize,
    /// The best epoch (0: the average of the last epochs' weights won).
    pub best_epoch: usize,
    /// Validation loss of the best epoch.
    pub best_val_loss: f64,
    /// Validation accuracy of the best epoch (sentiment).
    pub best_val_accuracy: Option<f64>,
    /// Why training stopped.
    pub stopped: String,
    /// Path of the best weights.
    pub best: PathBuf,
}

/// Builds one time-major, right-aligned batch: ids `(T * B)`, its [`Seq`],
/// and the classes.
pub fn classifier_batch(batch: &[&Example]) -> (Vec<usize>, Seq, Vec<usize>) {
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
    let classes = batch.iter().map(|e| e.class).collect();
    (ids, Seq { steps, batch: b, starts }, classes)
}

/// How many batches [`epoch_batches`] makes of `n` examples.
pub fn batches_per_epoch(n: usize, batch: usize) -> usize {
    let group = batch.max(1) * 50;
    (0..n).step_by(group).map(|start| (n - start).min(group).div_ceil(batch.max(1))).sum()
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

/// Validation figures of a classifier network: mean cross-entropy (binary
/// for one output) and accuracy ([`Classes`]).
pub fn evaluate_classifier(net: &Network, examples: &[Example], batch: usize) -> (f64, f64) {
    let mut order: Vec<&Example> = examples.iter().collect();
    order.sort_by_key(|e| e.ids.len());
    let mut m = Classes::default();
    let outputs = net.cfg.outputs.max(1);
    let mut row = Vec::with_capacity(outputs);
    for chunk in order.chunks(batch.max(1)) {
        let (ids, seq, classes) = classifier_batch(chunk);
        let (logits, _) = net.forward(&ids, &seq, NoneTape, None, None);
        for (z, &y) in logits.as_vec().chunks_exact(outputs).zip(&classes) {
            row.clear();
            row.extend(z.iter().map(|&v| f64::from(v)));
            m.push(&row, y);
        }
    }
    m.figures()
}

/// A classifier's texts, split: the class names, then the training,
/// validation and test texts.
#[derive(Clone, Debug)]
pub struct ClassifierData {
    /// Class names, in class order.
    pub classes: Vec<String>,
    /// Training texts.
    pub train: Vec<Text>,
    /// Validation texts.
    pub valid: Vec<Text>,
    /// Test texts (empty when not asked for).
    pub test: Vec<Text>,
    /// The texts the export calibrates on: the training data in its file
    /// order (IMDb: its train split by name), without a test carve.
    pub calibration: Vec<Text>,
}

/// Reads a classifier's data as `cfg` says: the training file, and the
/// validation and test files or stratified, seeded carves of the training
/// data (IMDb: the official test split, and the validation carve of
/// earlier versions, so the shipped model reproduces). The test part is
/// read only when `with_test`.
pub fn classifier_data(cfg: &ClassifierConfig, with_test: bool) -> Result<ClassifierData> {
    let imdb = labelled::resolve(&cfg.data, cfg.input.format)? == InputFormat::Imdb;
    let (classes, train_all, mut test) = if imdb {
        let (train, test) = if with_test && cfg.test.is_none() {
            data::read_imdb_splits(&cfg.data)?
        } else {
            (data::read_imdb(&cfg.data, Split::Train)?, Vec::new())
        };
        (labelled::imdb_classes(), train, test)
    } else {
        let set = labelled::read(&cfg.data, &cfg.input, None, Split::Train)?;
        (set.classes, set.texts, Vec::new())
    };
    let n = classes.len();
    let read_other =
        |path: &Path| -> Result<Vec<Text>> { Ok(labelled::read(path, &cfg.input, Some(&classes), Split::Test)?.texts) };
    let mut rest = train_all.clone();
    let mut calibration = train_all;
    if let Some(path) = &cfg.test {
        test = if with_test { read_other(path)? } else { Vec::new() };
    } else if !imdb {
        let (kept, held) = labelled::carve_stratified(rest, n, cfg.test_fraction, mix(cfg.seed, 6, 0));
        let held_names: std::collections::HashSet<&str> = held.iter().map(|t| t.name.as_str()).collect();
        calibration.retain(|t| !held_names.contains(t.name.as_str()));
        rest = kept;
        test = if with_test { held } else { Vec::new() };
    }
    let (mut train, valid) = match &cfg.valid {
        Some(path) => (rest, read_other(path)?),
        None if imdb => data::carve_validation(rest, cfg.val_fraction, cfg.seed, 0),
        None => labelled::carve_stratified(rest, n, cfg.val_fraction, cfg.seed),
    };
    if cfg.train_limit > 0 && train.len() > cfg.train_limit {
        train.truncate(cfg.train_limit);
    }
    if train.is_empty() || valid.is_empty() || (with_test && test.is_empty()) {
        return Err(Error::Empty {
            path: cfg.data.clone(),
            what: "the training, validation or test part (check --val-fraction and --test-fraction)".into(),
        });
    }
    Ok(ClassifierData { classes, train, valid, test, calibration })
}

/// The words (a vocabulary counted on the training part only, or the
/// hashing), and the training and validation parts tokenized with them.
pub fn classifier_examples(cfg: &ClassifierConfig, d: &ClassifierData) -> Result<(Words, Vec<Example>, Vec<Example>)> {
    let (train, valid) = (&d.train, &d.valid);
    let words = if cfg.vocab > 0 {
        data::build_vocab(train, cfg.punctuation, cfg.vocab)
    } else {
        Words::Hashed(WordHashing { buckets: cfg.buckets, seed: cfg.hash_seed })
    };
    let train = data::examples(train, &words, cfg.max_tokens);
    let valid = data::examples(valid, &words, cfg.max_tokens);
    Ok((words, train, valid))
}

/// Outputs of a classifier's dense layer: one logit for two classes (a
/// sigmoid), one a class from three on (a softmax).
pub fn class_outputs(classes: usize) -> usize {
    if classes == 2 {
        1
    } else {
        classes
    }
}

fn classifier_net_config(cfg: &ClassifierConfig, words: &Words, classes: usize) -> NetConfig {
    NetConfig {
        vocab: words.vocab_size() as usize,
        embed_dim: cfg.embed_dim,
        hidden: cfg.hidden,
        layers: cfg.layers,
        dropout: cfg.dropout,
        outputs: class_outputs(classes),
        readout: Readout::Pooled(cfg.pooling),
    }
}

/// An exponential moving average of the weights (see `--ema`).
struct Ema {
    decay: f32,
    values: Vec<Vec<f32>>,
}

/// The EMA's saved state beside the checkpoint (read on resume).
pub const EMA: &str = "ema.ckpt";

impl Ema {
    /// After step `step` (from 0): `e = d e + (1 - d) w`, with the decay
    /// ramped as `min(decay, (1 + t) / (10 + t))` so the first steps do not
    /// drag the initial weights along.
    fn update(&mut self, net: &Network, step: u64) {
        let t = step as f32;
        let d = self.decay.min((1.0 + t) / (10.0 + t));
        for (e, (_, p)) in self.values.iter_mut().zip(net.params()) {
            for (a, b) in e.iter_mut().zip(p.as_vec()) {
                *a = d * *a + (1.0 - d) * b;
            }
        }
    }
}

/// State shared by both loops: the network, optimiser and progress, loaded
/// from a checkpoint on resume.
struct Run {
    /// Weight averaging: validated and kept instead of the raw weights.
    ema: Option<Ema>,
    /// Save every epoch from this one on as `epoch-N.ckpt` (0: none).
    keep_from: usize,
    /// The averaged weights' validation figures, when they were chosen.
    averaged: Option<(f64, Option<f64>)>,
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
            return Ok(Self {
                ema: None,
                keep_from: 0,
                averaged: None,
                net,
                adam,
                progress: ckpt.meta.progress.clone(),
                task,
                train_json,
                out: out.to_owned(),
            });
        }
        let net = Network::new(&dev, net_cfg, mix(seed, 1, 0))?;
        let adam = Adam::new(&net, AdamConfig { lr, ..Default::default() });
        Ok(Self {
            ema: None,
            keep_from: 0,
            averaged: None,
            net,
            adam,
            progress: Progress::default(),
            task,
            train_json,
            out: out.to_owned(),
        })
    }

    /// Turn on weight averaging with this decay (0: off). On resume, the
    /// average continues from `ema.ckpt`.
    fn with_ema(mut self, decay: f32, resume: bool) -> Result<Self> {
        if decay <= 0.0 {
            return Ok(self);
        }
        if !(0.0..1.0).contains(&decay) {
            return Err(Error::Config(format!("--ema {decay} is not in [0, 1)")));
        }
        let path = self.out.join(EMA);
        let values = if resume && path.exists() {
            Checkpoint::load(&path)?.params
        } else {
            self.net.params().iter().map(|(_, t)| t.as_vec()).collect()
        };
        self.ema = Some(Ema { decay, values });
        Ok(self)
    }

    /// A new run starts from the weights of the checkpoint at `path`
    /// (`--init`) instead of random ones; a resumed run keeps its own.
    fn init_from(&mut self, path: &Path) -> Result<()> {
        if self.progress.steps > 0 {
            return Ok(());
        }
        let ckpt = Checkpoint::load(path)?;
        let mismatch = |reason: String| Error::BadCheckpoint { path: path.to_owned(), reason };
        let (a, b) = (&ckpt.meta.net, &self.net.cfg);
        let shape = |c: &NetConfig| (c.vocab, c.embed_dim, c.hidden, c.layers, c.outputs, c.readout);
        if shape(a) != shape(b) {
            return Err(mismatch(format!(
                "--init needs the same network: it holds {} x {} embedding, {} x {} LSTM, {} outputs; \
                 this run asks for {} x {}, {} x {}, {}",
                a.vocab,
                a.embed_dim,
                a.layers,
                a.hidden,
                a.outputs,
                b.vocab,
                b.embed_dim,
                b.layers,
                b.hidden,
                b.outputs
            )));
        }
        if ckpt.meta.task != self.task {
            return Err(mismatch("--init needs the same task and charset".into()));
        }
        self.net = self.net.with_params(&ckpt.params);
        self.adam = Adam::new(&self.net, AdamConfig { lr: self.adam.cfg.lr, ..Default::default() });
        Ok(())
    }

    /// The weights validation reads and the best checkpoint keeps: the
    /// average's with `--ema`, else the network's own.
    fn kept(&self) -> Option<Network> {
        self.ema.as_ref().map(|e| self.net.with_params(&e.values))
    }

    /// Records an epoch; `better` says whether it beats the best so far.
    /// Writes the best weights, the checkpoint, metrics and curves.
    fn end_epoch(&mut self, record: EpochRecord, better: bool, title: &str) -> Result<()> {
        let kept = self.kept();
        let kept = kept.as_ref().unwrap_or(&self.net);
        self.progress.epochs_done = record.epoch;
        if better {
            self.progress.best_epoch = record.epoch;
            self.progress.bad_epochs = 0;
        } else {
            self.progress.bad_epochs += 1;
        }
        self.progress.history.push(record);
        if better {
            Checkpoint::new(self.task.clone(), kept, None, self.train_json.clone(), self.progress.clone())
                .save(&self.out.join(BEST))?;
        }
        if self.keep_from > 0 && self.progress.epochs_done >= self.keep_from {
            Checkpoint::new(self.task.clone(), kept, None, self.train_json.clone(), self.progress.clone())
                .save(&self.out.join(format!("epoch-{}.ckpt", self.progress.epochs_done)))?;
        }
        if self.ema.is_some() {
            Checkpoint::new(self.task.clone(), kept, None, self.train_json.clone(), self.progress.clone())
                .save(&self.out.join(EMA))?;
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

    /// Weight averaging (see `--average-last`): the mean of the kept
    /// epochs' weights, validated; saved as the best weights if it beats
    /// the best epoch. Writes `average.json`.
    fn average(&mut self, task: &mut impl Objective, quiet: bool) -> Result<()> {
        let epochs: Vec<usize> = (self.keep_from.max(1)..=self.progress.epochs_done).collect();
        if self.keep_from == 0 || epochs.len() < 2 {
            return Ok(());
        }
        let mut sum: Option<Vec<Vec<f32>>> = None;
        for e in &epochs {
            let ck = Checkpoint::load(&self.out.join(format!("epoch-{e}.ckpt")))?;
            match &mut sum {
                None => sum = Some(ck.params),
                Some(acc) => acc.iter_mut().zip(&ck.params).for_each(|(a, p)| {
                    a.iter_mut().zip(p).for_each(|(x, y)| *x += y);
                }),
            }
        }
        let n = epochs.len() as f32;
        let mut avg =
            Checkpoint::new(self.task.clone(), &self.net, None, self.train_json.clone(), self.progress.clone());
        avg.params = sum.unwrap_or_default().into_iter().map(|p| p.into_iter().map(|x| x / n).collect()).collect();
        let mut net = avg.network(&Cpu::default())?;
        task.prepare(&mut net, usize::MAX);
        let (val_loss, val_accuracy) = task.validate(&net);
        let best = self.best().cloned();
        let record = EpochRecord { epoch: 0, train_loss: f64::NAN, val_loss, val_accuracy, seconds: 0.0 };
        let chosen = best.as_ref().is_none_or(|b| improves(&record, b));
        if chosen {
            avg.save(&self.out.join(BEST))?;
        }
        if !quiet {
            let acc = val_accuracy.map(|a| format!(", val acc {a:.4}")).unwrap_or_default();
            let verdict = if chosen { "chosen as the best weights" } else { "not better than the best epoch" };
            eprintln!("average of epochs {:?}: val loss {val_loss:.4}{acc} ({verdict})", epochs);
        }
        let json = serde_json::json!({
            "epochs": epochs,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "chosen": chosen,
        });
        write_atomic(&self.out.join("average.json"), serde_json::to_string_pretty(&json).expect("json").as_bytes())?;
        if chosen {
            self.averaged = Some((val_loss, val_accuracy));
        }
        Ok(())
    }

    fn summary(&self, stopped: &str) -> Summary {
        let best = self.best();
        let (val_loss, val_accuracy) = match self.averaged {
            Some(figures) => figures,
            None => (best.map_or(f64::NAN, |r| r.val_loss), best.and_then(|r| r.val_accuracy)),
        };
        Summary {
            epochs_done: self.progress.epochs_done,
            best_epoch: if self.averaged.is_some() { 0 } else { self.progress.best_epoch },
            best_val_loss: val_loss,
            best_val_accuracy: val_accuracy,
            stopped: stopped.to_owned(),
            best: self.out.join(BEST),
        }
    }
}

fn clip_of(c: f32) -> Option<f32> {
    (c > 0.0).then_some(c)
}

/// When training stops: the one rule of both tasks.
#[derive(Clone, Copy, Debug)]
pub struct Stopping {
    /// Epochs in all.
    pub epochs: usize,
    /// Epochs without improvement, after a best one.
    pub patience: usize,
    /// Patience applies from this many epochs on (a small data set trains
    /// its --min-steps first).
    pub min_epochs: usize,
    /// Minutes of this process's training (0 = no limit), checked between
    /// epochs.
    pub minutes: f64,
}

impl Stopping {
    /// Why to stop before the next epoch, if at all: patience, then the
    /// epoch count, then the time limit.
    pub fn reason(&self, p: &Progress, elapsed: std::time::Duration) -> Option<&'static str> {
        if p.best_epoch > 0 && p.bad_epochs >= self.patience && p.epochs_done >= self.min_epochs {
            Some("patience")
        } else if p.epochs_done >= self.epochs {
            Some("max epochs")
        } else if self.minutes > 0.0 && elapsed.as_secs_f64() >= self.minutes * 60.0 {
            Some("time limit")
        } else {
            None
        }
    }
}

/// Whether an epoch beats the best so far: a higher validation accuracy
/// for a classifier (or the same with a lower loss: a small validation set
/// has few distinct accuracies), a lower validation loss for a language
/// model.
pub fn improves(record: &EpochRecord, best: &EpochRecord) -> bool {
    match (record.val_accuracy, best.val_accuracy) {
        (Some(a), Some(b)) => a > b || (a == b && record.val_loss < best.val_loss),
        _ => record.val_loss < best.val_loss,
    }
}

fn epoch_line(r: &EpochRecord, better: bool) -> String {
    let val = match r.val_accuracy {
        Some(a) => format!("val loss {:.4}, val acc {a:.4}", r.val_loss),
        None => format!("val loss {:.4} nats/char ({:.3} bits)", r.val_loss, r.val_loss / std::f64::consts::LN_2),
    };
    let best = if better { " (best)" } else { "" };
    format!("epoch {}: train loss {:.4}, {val}{best} ({:.1} s)", r.epoch, r.train_loss, r.seconds)
}

/// A loss on the tape: a scalar to call `backward` on.
type Loss = Tensor<(), f32, Cpu, OwnedTape<f32, Cpu>>;

/// What one task brings to the shared loop ([`fit`]).
trait Objective {
    /// Prepare epoch `epoch` (its shuffle and dropout are seeded by it);
    /// returns its number of batches.
    fn start_epoch(&mut self, epoch: usize) -> usize;
    /// The loss of batch `k` of the epoch, and its rows (its weight in the
    /// epoch's mean).
    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize);
    /// Before batch `k` of an epoch, and (with `k` = the batch count)
    /// before validation: a change of the network that is not a step.
    fn prepare(&mut self, _net: &mut Network, _k: usize) {}
    /// Validation loss, and accuracy for a classifier.
    fn validate(&self, net: &Network) -> (f64, Option<f64>);
}

/// The training loop of both tasks: epochs of Adam steps with clipping,
/// validation after each, the best weights kept, checkpoints, metrics and
/// curves written, until [`Stopping`] says why not to go on.
fn fit(
    run: &mut Run,
    task: &mut impl Objective,
    stop: Stopping,
    rate: Rate,
    clip: f32,
    quiet: bool,
    title: &str,
) -> Result<String> {
    let started = Instant::now();
    loop {
        if let Some(reason) = stop.reason(&run.progress, started.elapsed()) {
            return Ok(reason.to_owned());
        }
        let epoch = run.progress.epochs_done + 1;
        let t0 = Instant::now();
        let n = task.start_epoch(epoch);
        let pb = crate::progress::bar(!quiet, n as u64, format!("epoch {epoch}/{}", stop.epochs), "batches");
        let (mut sum, mut count) = (0.0f64, 0usize);
        for k in 0..n {
            task.prepare(&mut run.net, k);
            let (loss, rows) = task.loss(&run.net, k);
            let l = f64::from(loss.array());
            let mut grads = loss.backward();
            run.adam.cfg.lr = rate.at(run.progress.steps);
            run.adam.step(&mut run.net, &mut grads, clip_of(clip));
            if let Some(ema) = &mut run.ema {
                ema.update(&run.net, run.progress.steps);
            }
            run.progress.steps += 1;
            sum += l * rows as f64;
            count += rows;
            pb.set_message(format!("loss {:.4}", sum / count.max(1) as f64));
            pb.inc(1);
        }
        pb.finish_and_clear();
        task.prepare(&mut run.net, n);
        let kept = run.kept();
        let (val_loss, val_accuracy) = task.validate(kept.as_ref().unwrap_or(&run.net));
        let record = EpochRecord {
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_loss,
            val_accuracy,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let better = run.best().is_none_or(|b| improves(&record, b));
        if !quiet {
            eprintln!("{}", epoch_line(&record, better));
        }
        run.end_epoch(record, better, title)?;
    }
}

/// A classifier: shuffled, length-grouped batches of texts; binary
/// cross-entropy for two classes, cross-entropy for more.
struct ClassifierObjective<'a> {
    outputs: usize,
    train: &'a [Example],
    valid: &'a [Example],
    batch: usize,
    seed: u64,
    batches: Vec<Vec<usize>>,
    dropout: StdRng,
    word_dropout: f32,
    words: StdRng,
    qat_bits: u8,
}

impl Objective for ClassifierObjective<'_> {
    fn start_epoch(&mut self, epoch: usize) -> usize {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, 2, epoch as u64));
        self.dropout = StdRng::seed_from_u64(mix(self.seed, 3, epoch as u64));
        self.words = StdRng::seed_from_u64(mix(self.seed, 4, epoch as u64));
        self.batches = epoch_batches(self.train, self.batch, &mut rng);
        self.batches.len()
    }

    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize) {
        let exs: Vec<&Example> = self.batches[k].iter().map(|&i| &self.train[i]).collect();
        let (mut ids, seq, classes) = classifier_batch(&exs);
        if self.word_dropout > 0.0 {
            for id in ids.iter_mut().filter(|id| **id != 0) {
                if self.words.gen::<f32>() < self.word_dropout {
                    *id = runtime::tokenizer::OOV as usize;
                }
            }
        }
        let (logits, _) = net.forward(&ids, &seq, OwnedTape::default(), Some(&mut self.dropout), None);
        let n = exs.len();
        if self.outputs == 1 {
            let targets = logits.device().tensor_from_vec(classes.iter().map(|&c| c as f32).collect(), (n, 1));
            return (binary_cross_entropy_with_logits_loss(logits, targets), n);
        }
        let mut onehot = vec![0.0f32; n * self.outputs];
        for (r, &c) in classes.iter().enumerate() {
            onehot[r * self.outputs + c] = 1.0;
        }
        (ops::cross_entropy(logits, onehot), n)
    }

    fn prepare(&mut self, net: &mut Network, k: usize) {
        if self.qat_bits > 0 && (k.is_multiple_of(50) || k >= self.batches.len()) {
            net.set_embed_quant(self.qat_bits);
        }
    }

    fn validate(&self, net: &Network) -> (f64, Option<f64>) {
        let (loss, acc) = evaluate_classifier(net, self.valid, self.batch);
        (loss, Some(acc))
    }
}

/// Trains a classifier on `cfg.data` (validation carved out of it unless
/// given).
pub fn train_classifier(cfg: &ClassifierConfig, opts: &RunOptions) -> Result<Summary> {
    let d = classifier_data(cfg, false)?;
    let (words, train, valid) = classifier_examples(cfg, &d)?;
    train_classifier_on(cfg, opts, &words, &d.classes, &train, &valid)
}

/// Trains a classifier of `classes` on already tokenized data (tokenized
/// with `words` and `cfg.max_tokens`).
pub fn train_classifier_on(
    cfg: &ClassifierConfig,
    opts: &RunOptions,
    words: &Words,
    classes: &[String],
    train: &[Example],
    valid: &[Example],
) -> Result<Summary> {
    if cfg.batch == 0 {
        return Err(Error::Config("--batch must be positive".into()));
    }
    if ![0, 4, 8].contains(&cfg.qat_bits) {
        return Err(Error::Config(format!("--qat-bits must be 0, 4 or 8, not {}", cfg.qat_bits)));
    }
    if !(0.0..1.0).contains(&cfg.word_dropout) {
        return Err(Error::Config(format!("--word-dropout {} is not in [0, 1)", cfg.word_dropout)));
    }
    let task = Task::Classifier { words: words.clone(), max_tokens: cfg.max_tokens, classes: classes.to_vec() };
    let net_cfg = classifier_net_config(cfg, words, classes.len());
    let mut run = Run::start(&cfg.out, task, net_cfg, cfg.lr, cfg.seed, train_json(cfg)?, opts.resume)?;
    let mut objective = ClassifierObjective {
        outputs: class_outputs(classes.len()),
        train,
        valid,
        batch: cfg.batch,
        seed: cfg.seed,
        batches: Vec::new(),
        dropout: StdRng::seed_from_u64(0),
        word_dropout: cfg.word_dropout,
        words: StdRng::seed_from_u64(0),
        qat_bits: cfg.qat_bits,
    };
    let per_epoch = batches_per_epoch(train.len(), cfg.batch) as u64;
    let min_epochs = cfg.min_steps.div_ceil(per_epoch.max(1)) as usize;
    let epochs = cfg.epochs.max(min_epochs);
    if cfg.average_last > 1 {
        run.keep_from = epochs.saturating_sub(cfg.average_last - 1).max(1);
    }
    let stop = Stopping { epochs, patience: cfg.patience, min_epochs, minutes: 0.0 };
    let total = per_epoch * epochs as u64;
    // At most a tenth of the run warms up (a small data set has few steps).
    let rate = Rate { lr: cfg.lr, schedule: cfg.schedule, warmup: cfg.warmup.min(total / 10), total, floor: 0.0 };
    let title = if labelled::resolve(&cfg.data, cfg.input.format)? == InputFormat::Imdb {
        "IMDb sentiment".to_owned()
    } else {
        format!("{}-class text classifier", classes.len())
    };
    let stopped = fit(&mut run, &mut objective, stop, rate, cfg.clip, opts.quiet, &title)?;
    run.average(&mut objective, opts.quiet)?;
    Ok(run.summary(&stopped))
}

/// A configuration as the metrics record it: the data file by name and
/// SHA-256 (never a path of this machine), the output folder left out.
fn train_json(cfg: &impl Serialize) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(cfg).expect("config serializes");
    if let Some(obj) = v.as_object_mut() {
        obj.remove("out");
        for key in ["data", "valid", "test", "init"] {
            if let Some(path) = obj.remove(key).and_then(|d| d.as_str().map(PathBuf::from)) {
                obj.insert(key.into(), crate::data::file_identity(&path)?);
            }
        }
    }
    Ok(v)
}

/// Evaluates a classifier checkpoint on `reviews` (the test part) with the
/// checkpoint's own tokenizer settings; writes `test.json` beside it.
/// Returns (loss, accuracy).
pub fn evaluate_classifier_test(ckpt_path: &Path, reviews: &[Text]) -> Result<(f64, f64)> {
    let ckpt = Checkpoint::load(ckpt_path)?;
    let Task::Classifier { words, max_tokens, .. } = ckpt.meta.task.clone() else {
        return Err(Error::BadCheckpoint { path: ckpt_path.to_owned(), reason: "not a sentiment model".into() });
    };
    let examples = data::examples(reviews, &words, max_tokens);
    let net = ckpt.network(&Cpu::default())?;
    let (loss, acc) = evaluate_classifier(&net, &examples, 250);
    let json = serde_json::json!({
        "checkpoint": ckpt_path.file_name().map(|n| n.to_string_lossy().into_owned()),
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
    let mut nats = Nats::default();
    let mut row64 = vec![0.0f64; v];
    let inputs = &ids[..ids.len() - 1];
    let targets = &ids[1..];
    for (xs, ys) in inputs.chunks(chunk.max(1)).zip(targets.chunks(chunk.max(1))) {
        let x: Vec<usize> = xs.iter().map(|&i| i as usize).collect();
        let seq = Seq::dense(x.len(), 1);
        let (logits, s) = net.forward(&x, &seq, NoneTape, None, state.as_ref());
        state = Some(s);
        for (row, &y) in logits.as_vec().chunks_exact(v).zip(ys) {
            row64.iter_mut().zip(row).for_each(|(d, &z)| *d = f64::from(z));
            nats.push(&row64, usize::from(y));
        }
    }
    nats.mean()
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

/// Language model: stateful windows of truncated BPTT; cross-entropy.
struct CharLmObjective<'a> {
    train: &'a [u16],
    window: usize,
    random_offsets: bool,
    windows: Vec<(Vec<usize>, Vec<usize>)>,
    valid: &'a [u16],
    streams: usize,
    vocab: usize,
    seed: u64,
    state: Option<State>,
    dropout: StdRng,
}

impl Objective for CharLmObjective<'_> {
    fn start_epoch(&mut self, epoch: usize) -> usize {
        self.dropout = StdRng::seed_from_u64(mix(self.seed, 3, epoch as u64));
        self.state = None;
        if self.random_offsets || self.windows.is_empty() {
            let offset =
                if self.random_offsets { (mix(self.seed, 7, epoch as u64) % self.window as u64) as usize } else { 0 };
            self.windows = charlm_windows(&self.train[offset.min(self.train.len())..], self.streams, self.window);
        }
        self.windows.len()
    }

    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize) {
        let (x, y) = &self.windows[k];
        let seq = Seq::dense(x.len() / self.streams, self.streams);
        let (logits, s) = net.forward(x, &seq, OwnedTape::default(), Some(&mut self.dropout), self.state.as_ref());
        self.state = Some(s);
        let v = self.vocab;
        let mut onehot = vec![0.0f32; y.len() * v];
        for (r, &t) in y.iter().enumerate() {
            onehot[r * v + t] = 1.0;
        }
        (ops::cross_entropy(logits, onehot), y.len())
    }

    fn validate(&self, net: &Network) -> (f64, Option<f64>) {
        (evaluate_charlm(net, self.valid, 2000), None)
    }
}

/// Trains the character language model.
pub fn train_charlm(cfg: &CharLmConfig, opts: &RunOptions) -> Result<Summary> {
    let corpus = data::read_corpus(&cfg.data, &cfg.corpus)?;
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
    if !(0.0..1.0).contains(&cfg.weight_drop) {
        return Err(Error::Config(format!("--weight-drop {} is not in [0, 1)", cfg.weight_drop)));
    }
    if ![0, 4, 8].contains(&cfg.qat_lstm_bits) {
        return Err(Error::Config(format!("--qat-lstm-bits must be 0, 4 or 8, not {}", cfg.qat_lstm_bits)));
    }
    let mut run = Run::start(&cfg.out, task, net_cfg, cfg.lr, cfg.seed, train_json(cfg)?, opts.resume)?;
    if let Some(path) = &cfg.init {
        run.init_from(path)?;
    }
    run.net.weight_drop = cfg.weight_drop;
    run.net.lstm_quant = (cfg.qat_lstm_bits > 0).then_some(cfg.qat_lstm_bits);
    let mut run = run.with_ema(cfg.ema, opts.resume)?;
    let mut objective = CharLmObjective {
        train: &corpus.train,
        window: cfg.window,
        random_offsets: cfg.random_offsets,
        windows: Vec::new(),
        valid: &corpus.valid,
        streams: cfg.streams,
        vocab: v,
        seed: cfg.seed,
        state: None,
        dropout: StdRng::seed_from_u64(0),
    };
    let stop = Stopping { epochs: cfg.epochs, patience: cfg.patience, min_epochs: 0, minutes: cfg.minutes };
    let title =
        if cfg.corpus.start_marker.as_deref() == Some(data::HAMLET_MARKER) { "Hamlet char LM" } else { "char LM" };
    let per_epoch = charlm_windows(&corpus.train, cfg.streams, cfg.window).len() as u64;
    let total = per_epoch * cfg.epochs as u64;
    let rate = Rate { lr: cfg.lr, schedule: cfg.schedule, warmup: cfg.warmup, total, floor: cfg.lr_floor };
    let stopped = fit(&mut run, &mut objective, stop, rate, cfg.clip, opts.quiet, title)?;
    Ok(run.summary(&stopped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(epochs_done: usize, best_epoch: usize, bad_epochs: usize) -> Progress {
        Progress { epochs_done, best_epoch, bad_epochs, ..Progress::default() }
    }

    #[test]
    fn one_stopping_rule() {
        let s = Stopping { epochs: 5, patience: 2, min_epochs: 0, minutes: 1.0 };
        let zero = std::time::Duration::ZERO;
        assert_eq!(s.reason(&progress(0, 0, 0), zero), None);
        assert_eq!(s.reason(&progress(3, 1, 2), zero), Some("patience"));
        assert_eq!(s.reason(&progress(3, 2, 1), zero), None);
        assert_eq!(s.reason(&progress(5, 5, 0), zero), Some("max epochs"));
        assert_eq!(s.reason(&progress(5, 3, 2), zero), Some("patience"));
        assert_eq!(s.reason(&progress(1, 1, 0), std::time::Duration::from_secs(60)), Some("time limit"));
        let late = Stopping { min_epochs: 4, ..s };
        assert_eq!(late.reason(&progress(3, 1, 2), zero), None);
        assert_eq!(late.reason(&progress(4, 1, 3), zero), Some("patience"));
        let unlimited = Stopping { minutes: 0.0, ..s };
        assert_eq!(unlimited.reason(&progress(1, 1, 0), std::time::Duration::from_secs(1 << 20)), None);
    }

    #[test]
    fn schedule_warms_up_then_follows_a_cosine() {
        let r = Rate { lr: 1.0, schedule: LrSchedule::Cosine, warmup: 10, total: 110, floor: 0.0 };
        let floored = Rate { floor: 0.1, ..r };
        assert!((floored.at(60) - 0.55).abs() < 1e-6 && (floored.at(500) - 0.1).abs() < 1e-6);
        assert!((r.at(0) - 0.1).abs() < 1e-6);
        assert!((r.at(9) - 1.0).abs() < 1e-6);
        assert!((r.at(10) - 1.0).abs() < 1e-6);
        assert!((r.at(60) - 0.5).abs() < 1e-6);
        assert!(r.at(109) < 0.01 && r.at(200) == 0.0);
        assert_eq!(Rate::constant(0.5).at(1_000), 0.5);
        let mut rng = StdRng::seed_from_u64(1);
        let examples: Vec<Example> = (0..1234).map(|i| Example { ids: vec![1; i % 7], class: 0 }).collect();
        assert_eq!(batches_per_epoch(1234, 10), epoch_batches(&examples, 10, &mut rng).len());
    }

    #[test]
    fn improvement_is_accuracy_for_a_classifier_and_loss_otherwise() {
        let r =
            |val_loss, val_accuracy| EpochRecord { epoch: 1, train_loss: 0.0, val_loss, val_accuracy, seconds: 0.0 };
        assert!(improves(&r(0.9, Some(0.8)), &r(0.5, Some(0.7))));
        assert!(improves(&r(0.1, Some(0.7)), &r(0.5, Some(0.7))));
        assert!(!improves(&r(0.6, Some(0.7)), &r(0.5, Some(0.7))));
        assert!(improves(&r(1.5, None), &r(1.6, None)));
        assert!(!improves(&r(1.6, None), &r(1.6, None)));
    }
}
