//! A character language model's configuration: its corpus, windows and
//! network, with the options both tasks share.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::CorpusArgs;
use crate::fit::{LrSchedule, TrainOptions, Training};
use crate::net::{NetConfig, Readout};

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
    /// Parallel streams (batch rows) [default: 32].
    #[arg(long)]
    pub streams: Option<usize>,
    /// Steps per truncated-BPTT window.
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Embedding width, 0 = one-hot input [default: 16].
    #[arg(long)]
    pub embed_dim: Option<usize>,
    /// LSTM hidden width [default: 128].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Stacked LSTM layers [default: from the corpus: 2 from 50,000
    /// characters on, else 1].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Dropout after each LSTM layer [default: 0.25].
    #[arg(long)]
    pub dropout: Option<f32>,
    /// The training options both tasks share.
    #[command(flatten)]
    #[serde(flatten)]
    pub opts: TrainOptions,
    /// Each epoch, start the streams at a seeded random offset in
    /// [0, --window): the windows' boundaries move from epoch to epoch.
    #[arg(long)]
    pub random_offsets: bool,
    /// What the defaults chosen from the corpus were and why (filled by the
    /// run, recorded in `metrics.json`).
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

/// A language model's shape: the flags, each absent one from the corpus
/// ([`crate::tasks::charlm::defaults`]) or, unfitted, these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Embedding width (0: one-hot).
    pub embed_dim: usize,
    /// LSTM width.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Dropout after each layer.
    pub dropout: f32,
    /// Parallel streams.
    pub streams: usize,
}

impl Shape {
    /// The network of this shape over a charset of `chars` bytes.
    pub fn net_config(&self, chars: usize) -> NetConfig {
        NetConfig {
            vocab: chars,
            embed_dim: self.embed_dim,
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            outputs: chars,
            readout: Readout::EveryStep,
        }
    }
}

impl CharLmConfig {
    /// The shape: each flag given, else (for a configuration not fitted to
    /// its corpus by [`crate::tasks::charlm::fit_to_corpus`], as the CLI's
    /// always is) one-hot input, one layer of 128, dropout 0.5, 64 streams.
    pub fn shape(&self) -> Shape {
        Shape {
            embed_dim: self.embed_dim.unwrap_or(0),
            hidden: self.hidden.unwrap_or(128),
            layers: self.layers.unwrap_or(1),
            dropout: self.dropout.unwrap_or(0.5),
            streams: self.streams.unwrap_or(64),
        }
    }

    /// A language model's training values: what an option not given takes.
    pub fn defaults() -> Training {
        Training {
            lr: 1e-3,
            schedule: LrSchedule::Constant,
            warmup: 0,
            epochs: 1000,
            min_steps: 0,
            patience: 10,
            ..Training::default()
        }
    }

    /// The training values this run uses: the options given, the defaults
    /// for the rest.
    pub fn training(&self) -> Training {
        Self::defaults().with(&self.opts)
    }
}
