//! A run: the network, the optimiser and the progress, started fresh,
//! from `--init`'s weights or resumed from its checkpoint; what it writes
//! after each epoch (the best weights, the checkpoint, metrics and curves);
//! weight averaging.

use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{file_identity, remove_stale_temps, write_atomic};
use crate::fit::objective::Objective;
use crate::fit::options::Training;
use crate::fit::stopping::improves;
use crate::metrics::EpochRecord;
use crate::net::{Adam, AdamConfig, Checkpoint, NetConfig, Network, Progress, Task};
use crate::plot::learning_curves;
use crate::rng::mix;

/// The latest checkpoint (weights and optimiser state) in an output dir.
pub const CHECKPOINT: &str = "checkpoint.ckpt";
/// The best weights so far.
pub const BEST: &str = "best.ckpt";
/// Per-epoch metrics.
pub const METRICS: &str = "metrics.json";
/// Learning curves.
pub const CURVES: &str = "curves.png";

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

/// An exponential moving average of the weights (see `--ema`).
pub(crate) struct Ema {
    decay: f32,
    values: Vec<Vec<f32>>,
}

/// The EMA's saved state beside the checkpoint (read on resume).
pub const EMA: &str = "ema.ckpt";

impl Ema {
    /// After step `step` (from 0): `e = d e + (1 - d) w`, with the decay
    /// ramped as `min(decay, (1 + t) / (10 + t))` so the first steps do not
    /// drag the initial weights along.
    pub(crate) fn update(&mut self, net: &Network, step: u64) {
        let t = step as f32;
        let d = self.decay.min((1.0 + t) / (10.0 + t));
        for (e, (_, p)) in self.values.iter_mut().zip(net.params()) {
            for (a, b) in e.iter_mut().zip(p.as_vec()) {
                *a = d * *a + (1.0 - d) * b;
            }
        }
    }
}

/// State shared by both tasks: the network, optimiser and progress, loaded
/// from a checkpoint on resume.
pub struct Run {
    /// Weight averaging: validated and kept instead of the raw weights.
    pub(crate) ema: Option<Ema>,
    /// Save every epoch from this one on as `epoch-N.ckpt` (0: none).
    pub(crate) keep_from: usize,
    /// The averaged weights' validation figures, when they were chosen.
    averaged: Option<(f64, Option<f64>)>,
    pub(crate) net: Network,
    pub(crate) adam: Adam,
    pub(crate) progress: Progress,
    task: Task,
    train_json: serde_json::Value,
    out: PathBuf,
}

impl Run {
    /// Starts a run in `out` (or resumes it from `out/checkpoint.ckpt`):
    /// a new network of `net_cfg` (or `t.init`'s weights), with
    /// DropConnect, LSTM QAT and weight averaging as `t` says.
    pub fn start(
        out: &Path,
        task: Task,
        net_cfg: NetConfig,
        t: &Training,
        train_json: serde_json::Value,
        resume: bool,
    ) -> Result<Self> {
        t.validate()?;
        let mut run = Self::open(out, task, net_cfg, t.lr, t.seed, train_json, resume)?;
        if let Some(path) = &t.init {
            run.init_from(path)?;
        }
        run.net.weight_drop = t.weight_drop;
        run.net.lstm_quant = (t.qat_lstm_bits > 0).then_some(t.qat_lstm_bits);
        run.with_ema(t.ema, resume)
    }

    fn open(
        out: &Path,
        task: Task,
        net_cfg: NetConfig,
        lr: f32,
        seed: u64,
        train_json: serde_json::Value,
        resume: bool,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        remove_stale_temps(out);
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
        ckpt.check_tensors(&self.net.cfg, path).map_err(|e| match e {
            Error::BadCheckpoint { reason, .. } => mismatch(format!("--init needs the same network: {reason}")),
            e => e,
        })?;
        if ckpt.meta.task != self.task {
            return Err(mismatch("--init needs the same task and charset".into()));
        }
        self.net = self.net.with_params(&ckpt.params);
        self.adam = Adam::new(&self.net, AdamConfig { lr: self.adam.cfg.lr, ..Default::default() });
        Ok(())
    }

    /// The weights validation reads and the best checkpoint keeps: the
    /// average's with `--ema`, else the network's own.
    pub(crate) fn kept(&self) -> Option<Network> {
        self.ema.as_ref().map(|e| self.net.with_params(&e.values))
    }

    /// Records an epoch; `better` says whether it beats the best so far.
    /// Writes the best weights, the checkpoint, metrics and curves.
    pub(crate) fn end_epoch(&mut self, record: EpochRecord, better: bool, title: &str) -> Result<()> {
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
        learning_curves(&self.out.join(CURVES), title, &self.progress.history)
    }

    pub(crate) fn best(&self) -> Option<&EpochRecord> {
        self.progress.history.iter().find(|r| r.epoch == self.progress.best_epoch)
    }

    /// Weight averaging (see `--average-last`): the mean of the kept
    /// epochs' weights, validated; saved as the best weights if it beats
    /// the best epoch. Writes `average.json`.
    pub fn average(&mut self, task: &mut impl Objective, qat_embed_bits: u8, quiet: bool) -> Result<()> {
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
        net.set_embed_quant(qat_embed_bits);
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

    /// What the run reports at its end.
    pub fn summary(&self, stopped: &str) -> Summary {
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

/// A configuration as the metrics record it, with the training values it
/// resolved to: the data file by name and SHA-256 (never a path of this
/// machine), the output folder left out.
pub fn train_json(cfg: &impl Serialize, t: &Training) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(cfg).expect("config serializes");
    if let (Some(obj), serde_json::Value::Object(used)) =
        (v.as_object_mut(), serde_json::to_value(t).expect("serializes"))
    {
        // The values used, not the flags as given (absent ones are null).
        obj.extend(used);
        obj.remove("out");
        for key in ["data", "valid", "test", "init"] {
            if let Some(path) = obj.remove(key).and_then(|d| d.as_str().map(PathBuf::from)) {
                obj.insert(key.into(), file_identity(&path)?);
            }
        }
    }
    Ok(v)
}
