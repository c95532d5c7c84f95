//! A classifier's configuration: its data, tokenizer, network and batches
//! (the defaults are the IMDb recipe), with the options both tasks share.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use runtime::format::Pooling;
use serde::{Deserialize, Serialize};

use crate::data::InputArgs;
use crate::fit::{LrSchedule, TrainOptions, Training};
use crate::net::{NetConfig, Readout};

/// `--pooling last|mean-max`: the model format's own [`Pooling`].
fn pooling_parser() -> impl TypedValueParser<Value = Pooling> {
    PossibleValuesParser::new(["last", "mean-max"])
        .map(|s| if s == "mean-max" { Pooling::MeanMax } else { Pooling::Last })
}

/// Classifier training configuration: the flags of `classify train`. The
/// sizes that are absent are chosen from the data
/// ([`crate::tasks::classify::defaults::fit_to_data`]).
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
    /// (format version 1's tokenizer) [default: from the data; 8000 on
    /// 20,000 texts or more].
    #[arg(long)]
    pub vocab: Option<usize>,
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
    /// Embedding width [default: from the data; 20 on 20,000 texts or
    /// more].
    #[arg(long)]
    pub embed_dim: Option<usize>,
    /// LSTM hidden width [default: from the data; 96 on 20,000 texts or
    /// more].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Stacked LSTM layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Dropout after each LSTM layer [default: from the data; 0.3 on
    /// 20,000 texts or more].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// Word dropout: during training each token becomes the
    /// out-of-vocabulary id 1 with this probability, seeded [default: from
    /// the data; 0 on 20,000 texts or more].
    #[arg(long)]
    pub word_dropout: Option<f32>,
    /// Distillation: the training targets are this share of the
    /// bag-of-words baseline's probabilities (tf-idf + logistic regression,
    /// fitted on the training part, seeing the same word-dropped text) and
    /// the rest the true class [default: from the data; 0 on 20,000 texts
    /// or more].
    #[arg(long)]
    pub distill: Option<f32>,
    /// What the defaults chosen from the data were and why (filled by the
    /// run, recorded in `metrics.json`).
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// How hidden states feed the dense layer: the last state, or the mean
    /// and the max over time.
    #[arg(long, value_parser = pooling_parser(), default_value = "mean-max")]
    pub pooling: Pooling,
    /// Texts per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// The training options both tasks share.
    #[command(flatten)]
    #[serde(flatten)]
    pub opts: TrainOptions,
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
}

/// The sizes and regularisation a classifier trains with: the flags, each
/// absent one from the data ([`crate::tasks::classify::defaults`]) or, for
/// a configuration that was not fitted to its data, the IMDb recipe's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizes {
    /// Vocabulary size (0: hashing).
    pub vocab: usize,
    /// Embedding width.
    pub embed_dim: usize,
    /// LSTM width.
    pub hidden: usize,
    /// Dropout after each LSTM layer.
    pub dropout: f32,
    /// Word dropout.
    pub word_dropout: f32,
    /// Distillation weight.
    pub distill: f32,
}

impl Sizes {
    /// The IMDb recipe's (25,000 long reviews).
    pub const IMDB: Sizes =
        Sizes { vocab: 8000, embed_dim: 20, hidden: 96, dropout: 0.3, word_dropout: 0.0, distill: 0.0 };
}

impl ClassifierConfig {
    /// The network these sizes make, for a vocabulary of `vocab_size` ids
    /// and a head of `outputs`.
    pub fn net_config(&self, vocab_size: usize, outputs: usize) -> NetConfig {
        let s = self.sizes();
        NetConfig {
            vocab: vocab_size,
            embed_dim: s.embed_dim,
            hidden: s.hidden,
            layers: self.layers,
            dropout: s.dropout,
            outputs,
            readout: Readout::Pooled(self.pooling),
        }
    }

    /// The sizes: each flag given, else [`Sizes::IMDB`]'s.
    pub fn sizes(&self) -> Sizes {
        let d = Sizes::IMDB;
        Sizes {
            vocab: self.vocab.unwrap_or(d.vocab),
            embed_dim: self.embed_dim.unwrap_or(d.embed_dim),
            hidden: self.hidden.unwrap_or(d.hidden),
            dropout: self.dropout.unwrap_or(d.dropout),
            word_dropout: self.word_dropout.unwrap_or(d.word_dropout),
            distill: self.distill.unwrap_or(d.distill),
        }
    }

    /// The IMDb recipe's training values: what an option not given takes.
    pub fn defaults() -> Training {
        Training {
            lr: 3e-3,
            schedule: LrSchedule::Cosine,
            warmup: 100,
            epochs: 5,
            min_steps: 600,
            patience: 5,
            ..Training::default()
        }
    }

    /// The training values this run uses: the options given, the defaults
    /// for the rest.
    pub fn training(&self) -> Training {
        Self::defaults().with(&self.opts)
    }

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
