//! The training options both tasks offer, written once: the learning-rate
//! schedule and clipping, the budget (epochs, steps, patience, minutes),
//! weight averaging, quantization-aware training, DropConnect, the
//! starting weights and the seed.
//!
//! On the command line every option is optional ([`TrainOptions`]); a task
//! resolves them against its own defaults ([`Training`]), so a flag the
//! user gives always wins and a run records the values it used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fit::schedule::{LrSchedule, Rate};
use crate::fit::stopping::Stopping;

/// The shared training flags, as given (each absent one takes the task's
/// default; [`Training::with_defaults_shown`] writes them into the help).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct TrainOptions {
    /// Adam learning rate: the peak, with a schedule.
    #[arg(long, help_heading = "Training")]
    pub lr: Option<f32>,
    /// Learning-rate schedule over the whole run.
    #[arg(long, value_enum, help_heading = "Training")]
    pub schedule: Option<LrSchedule>,
    /// Steps of linear warm-up from 0 to --lr before the schedule, at most
    /// a tenth of the run's steps.
    #[arg(long, help_heading = "Training")]
    pub warmup: Option<u64>,
    /// The rate a cosine ends at, at the last step of the last epoch
    ///.
    #[arg(long, help_heading = "Training")]
    pub lr_floor: Option<f32>,
    /// Gradient clipping by global norm, 0 = off.
    #[arg(long, help_heading = "Training")]
    pub clip: Option<f32>,
    /// Maximum epochs (more if --min-steps needs them).
    #[arg(long, help_heading = "Budget")]
    pub epochs: Option<usize>,
    /// Train for at least this many batches before any early stop: a small
    /// data set gets as many epochs as that takes (IMDb's 5 epochs are
    /// 1,760 batches).
    #[arg(long, help_heading = "Budget")]
    pub min_steps: Option<u64>,
    /// Stop after this many epochs without a better validation figure
    /// (accuracy for a classifier, loss for a language model)
    ///.
    #[arg(long, help_heading = "Budget")]
    pub patience: Option<usize>,
    /// Stop after this many minutes of training, checked after each epoch;
    /// 0 = no limit.
    #[arg(long, help_heading = "Budget")]
    pub minutes: Option<f64>,
    /// Weight averaging: an exponential moving average of the weights with
    /// this decay per step (0 = off; 0.999 averages about 1,000 steps),
    /// validated each epoch and kept as the best weights instead of the raw
    /// ones.
    #[arg(long, help_heading = "Weight averaging")]
    pub ema: Option<f32>,
    /// Weight averaging: keep the weights of the last K epochs
    /// (`epoch-N.ckpt`) and, at the end, validate their average; it becomes
    /// `best.ckpt` if it beats the best epoch (`average.json` says); 0 or
    /// 1 = off.
    #[arg(long, help_heading = "Weight averaging")]
    pub average_last: Option<usize>,
    /// Quantization-aware training of the embedding: every forward pass
    /// reads it rounded to the grid of a 4- or 8-bit export (0 = off),
    /// refreshed every 50 batches; the gradient passes straight through
    ///.
    #[arg(long, visible_alias = "qat-bits", help_heading = "Quantization-aware training")]
    pub qat_embed_bits: Option<u8>,
    /// Quantization-aware training of the LSTM: forward passes read `w_x`
    /// and `w_h` rounded to the per-row grid of this many bits (4 or 8;
    /// 0 = off), as `--lstm-bits` exports them. Usually a fine-tuning run
    /// from `--init`.
    #[arg(long, help_heading = "Quantization-aware training")]
    pub qat_lstm_bits: Option<u8>,
    /// DropConnect on the recurrent weights: each weight of every layer's
    /// `w_h` is dropped with this probability, one mask a batch (0 = off)
    ///.
    #[arg(long, help_heading = "Training")]
    pub weight_drop: Option<f32>,
    /// Start from this checkpoint's weights (the same network and
    /// tokenizer): a new run, with a new optimiser and schedule. For
    /// fine-tuning, for example with `--qat-lstm-bits 4`.
    #[arg(long, value_name = "CKPT", help_heading = "Training")]
    pub init: Option<PathBuf>,
    /// Seed of initialisation, shuffling, carves and dropout.
    #[arg(long, help_heading = "Training")]
    pub seed: Option<u64>,
}

/// The training values a run uses: [`TrainOptions`] resolved against a
/// task's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Adam's peak learning rate.
    pub lr: f32,
    /// The schedule after warm-up.
    pub schedule: LrSchedule,
    /// Warm-up steps (capped at a tenth of the run).
    pub warmup: u64,
    /// The rate a cosine ends at.
    pub lr_floor: f32,
    /// Global-norm clipping (0 = off).
    pub clip: f32,
    /// Maximum epochs.
    pub epochs: usize,
    /// Minimum batches before an early stop.
    pub min_steps: u64,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Minutes of training (0 = no limit).
    pub minutes: f64,
    /// EMA decay per step (0 = off).
    pub ema: f32,
    /// Epochs whose average is validated at the end (0 or 1 = off).
    pub average_last: usize,
    /// Embedding QAT bits (0 = off).
    pub qat_embed_bits: u8,
    /// LSTM QAT bits (0 = off).
    pub qat_lstm_bits: u8,
    /// DropConnect probability on `w_h`.
    pub weight_drop: f32,
    /// Starting weights.
    pub init: Option<PathBuf>,
    /// The run's seed.
    pub seed: u64,
}

impl Default for Training {
    /// What both tasks default to (each sets its own rate, schedule and
    /// budget).
    fn default() -> Self {
        Training {
            lr: 1e-3,
            schedule: LrSchedule::Constant,
            warmup: 0,
            lr_floor: 0.0,
            clip: 5.0,
            epochs: 10,
            min_steps: 0,
            patience: 5,
            minutes: 0.0,
            ema: 0.0,
            average_last: 0,
            qat_embed_bits: 0,
            qat_lstm_bits: 0,
            weight_drop: 0.0,
            init: None,
            seed: 1,
        }
    }
}

impl Training {
    /// The given options, each absent one from `self` (a task's defaults).
    pub fn with(&self, o: &TrainOptions) -> Training {
        Training {
            lr: o.lr.unwrap_or(self.lr),
            schedule: o.schedule.unwrap_or(self.schedule),
            warmup: o.warmup.unwrap_or(self.warmup),
            lr_floor: o.lr_floor.unwrap_or(self.lr_floor),
            clip: o.clip.unwrap_or(self.clip),
            epochs: o.epochs.unwrap_or(self.epochs),
            min_steps: o.min_steps.unwrap_or(self.min_steps),
            patience: o.patience.unwrap_or(self.patience),
            minutes: o.minutes.unwrap_or(self.minutes),
            ema: o.ema.unwrap_or(self.ema),
            average_last: o.average_last.unwrap_or(self.average_last),
            qat_embed_bits: o.qat_embed_bits.unwrap_or(self.qat_embed_bits),
            qat_lstm_bits: o.qat_lstm_bits.unwrap_or(self.qat_lstm_bits),
            weight_drop: o.weight_drop.unwrap_or(self.weight_drop),
            init: o.init.clone().or_else(|| self.init.clone()),
            seed: o.seed.unwrap_or(self.seed),
        }
    }

    /// The help of the shared flags with these values as their defaults
    /// (`[default: X]` after each, as clap shows a default): a
    /// subcommand's `mut_args` takes it.
    /// The flags in `chosen` show their text instead (a default the run
    /// chooses from the data).
    pub fn with_defaults_shown(
        &self,
        chosen: &'static [(&'static str, &'static str)],
    ) -> impl FnMut(clap::Arg) -> clap::Arg {
        // Each field by its flag's id (the field's name), as its flag shows it.
        let values = serde_json::to_value(self).expect("serializes");
        move |arg| {
            let id = arg.get_id().as_str();
            let shown = match (chosen.iter().find(|(c, _)| *c == id), values.get(id)) {
                (Some((_, text)), _) => (*text).to_owned(),
                (None, Some(serde_json::Value::String(s))) => s.to_lowercase(),
                (None, Some(v)) if v.is_u64() => v.to_string(),
                // An f32 field: shown as the f32 it is (0.003, not 0.0030000000260770321).
                (None, Some(v)) if v.is_f64() => (v.as_f64().unwrap_or_default() as f32).to_string(),
                _ => return arg,
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{} [default: {shown}]", help.trim_end()))
        }
    }

    /// Checks every range; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr {} is not a positive rate", self.lr));
        }
        for (flag, bits) in [("--qat-embed-bits", self.qat_embed_bits), ("--qat-lstm-bits", self.qat_lstm_bits)] {
            if ![0, 4, 8].contains(&bits) {
                return bad(format!("{flag} must be 0, 4 or 8, not {bits}"));
            }
        }
        for (flag, p) in [("--weight-drop", self.weight_drop), ("--ema", self.ema)] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{flag} {p} is not in [0, 1)"));
            }
        }
        if !(self.clip >= 0.0 && self.minutes >= 0.0 && self.lr_floor >= 0.0) {
            return bad("--clip, --minutes and --lr-floor must not be negative".into());
        }
        Ok(())
    }

    /// The plan of a run of `per_epoch` batches an epoch: when it stops,
    /// the rate of each step, the clipping.
    pub fn plan(&self, per_epoch: u64) -> Plan {
        let min_epochs = self.min_steps.div_ceil(per_epoch.max(1)) as usize;
        let epochs = self.epochs.max(min_epochs);
        let total = per_epoch * epochs as u64;
        Plan {
            stop: Stopping { epochs, patience: self.patience, min_epochs, minutes: self.minutes },
            // At most a tenth of the run warms up (a small data set has few steps).
            rate: Rate {
                lr: self.lr,
                schedule: self.schedule,
                warmup: self.warmup.min(total / 10),
                total,
                floor: self.lr_floor,
            },
            clip: (self.clip > 0.0).then_some(self.clip),
            qat_embed_bits: self.qat_embed_bits,
            keep_from: if self.average_last > 1 { epochs.saturating_sub(self.average_last - 1).max(1) } else { 0 },
        }
    }
}

/// How one run goes, from [`Training::plan`].
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// When it stops.
    pub stop: Stopping,
    /// The learning rate of each step.
    pub rate: Rate,
    /// Global-norm clipping.
    pub clip: Option<f32>,
    /// Embedding QAT bits (0 = off), refreshed every 50 batches.
    pub qat_embed_bits: u8,
    /// Keep every epoch's weights from this one on for the average (0 =
    /// none).
    pub keep_from: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Training {
        Training { warmup: 100, epochs: 5, min_steps: 600, average_last: 3, ..Training::default() }
    }

    #[test]
    fn a_given_flag_wins_and_the_rest_are_the_tasks() {
        let t = defaults().with(&TrainOptions { lr: Some(0.5), epochs: Some(9), ..TrainOptions::default() });
        assert_eq!((t.lr, t.epochs, t.patience, t.warmup), (0.5, 9, 5, 100));
        assert_eq!(defaults().with(&TrainOptions::default()), defaults());
        assert!(defaults().validate().is_ok());
        let e = defaults().with(&TrainOptions { qat_lstm_bits: Some(3), ..TrainOptions::default() }).validate();
        assert!(e.unwrap_err().to_string().contains("--qat-lstm-bits must be 0, 4 or 8, not 3"));
        assert!(Training { ema: 1.0, ..defaults() }.validate().is_err());
        assert!(Training { weight_drop: -0.1, ..defaults() }.validate().is_err());
    }

    #[test]
    fn a_small_data_set_trains_its_min_steps_and_warms_up_a_tenth() {
        // 600 steps of 50 batches: 12 epochs, patience from the 12th on.
        let p = defaults().plan(50);
        assert_eq!((p.stop.epochs, p.stop.min_epochs), (12, 12));
        assert_eq!((p.rate.total, p.rate.warmup), (600, 60));
        assert_eq!(p.keep_from, 10);
        // A large one: its own epochs, the whole warm-up.
        let p = defaults().plan(2000);
        assert_eq!((p.stop.epochs, p.stop.min_epochs, p.rate.warmup), (5, 1, 100));
        assert_eq!(Training { clip: 0.0, ..defaults() }.plan(10).clip, None);
    }
}
