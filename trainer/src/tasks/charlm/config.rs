//! A character language model's configuration: its corpus, windows and
//! network, with the options both tasks share.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::CorpusArgs;
use crate::fit::{LrSchedule, TrainOptions, Training};

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
    /// The training options both tasks share.
    #[command(flatten)]
    #[serde(flatten)]
    pub opts: TrainOptions,
    /// Each epoch, start the streams at a seeded random offset in
    /// [0, --window): the windows' boundaries move from epoch to epoch.
    #[arg(long)]
    pub random_offsets: bool,
}

impl CharLmConfig {
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
