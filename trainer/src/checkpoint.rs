//! Checkpoints (weights, optimiser state, progress) and atomic file writes.
//!
//! File layout: the magic `LSTMCKP1`, a little-endian `u32` length and that
//! many bytes of JSON metadata ([`Meta`]), then every tensor as
//! little-endian `f32` in the metadata's order (parameters, then Adam's first
//! and second moments when present), then the CRC-32 of everything before it.

use std::io::Write;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use host::Words;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{LstmParams, NetConfig, Network};
use crate::optim::{Adam, AdamConfig, AdamState};

const MAGIC: &[u8; 8] = b"LSTMCKP1";

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    commit_temp(&tmp, path)
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The temporary file [`write_atomic`] uses for `path`: same directory,
/// hidden, tagged with the process id.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir_of(path).join(format!(".tmp-{}-{name}", std::process::id()))
}

/// Removes the temporary files a killed run left in `dir` (names
/// `.tmp-<pid>-<name>`, see [`temp_path`]) whose process is gone; returns
/// how many. A run calls it on start, before it writes anything. Where
/// processes cannot be looked up (no `/proc`), nothing is removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(".tmp-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|pid| pid != std::process::id() && !proc.join(pid.to_string()).exists())
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Finishes an atomic write: fsync `tmp`, rename it over `path`, fsync the
/// directory. Removes `tmp` on failure.
pub fn commit_temp(tmp: &Path, path: &Path) -> Result<()> {
    let result = (|| {
        std::fs::OpenOptions::new().write(true).open(tmp)?.sync_all()?;
        std::fs::rename(tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir_of(path)) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(path, e)
    })
}

/// What the network is for, with what its export needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// A text classifier (IMDb sentiment is one of two classes).
    #[serde(alias = "Sentiment")]
    Classifier {
        /// How word tokens become ids.
        words: Words,
        /// Only the last `max_tokens` tokens are read (0 = all).
        max_tokens: usize,
        /// Class names, in class order (checkpoints before them: IMDb's).
        #[serde(default = "crate::labelled::imdb_classes")]
        classes: Vec<String>,
    },
    /// Character language model.
    CharLm {
        /// Id `i` is byte `charset[i]`.
        charset: Vec<u8>,
    },
}

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss (BCE, or nats/char).
    pub val_loss: f64,
    /// Validation accuracy (sentiment only).
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// Where a run stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Completed epochs.
    pub epochs_done: usize,
    /// Epoch of the best validation score so far (0 = none).
    pub best_epoch: usize,
    /// Epochs since the best one (for patience).
    pub bad_epochs: usize,
    /// Training steps taken.
    pub steps: u64,
    /// Per-epoch figures.
    pub history: Vec<EpochRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TensorMeta {
    name: String,
    rows: usize,
    cols: usize,
}

/// A checkpoint's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Task and tokenizer.
    pub task: Task,
    /// Network shape.
    pub net: NetConfig,
    /// The training configuration the run was started with (compared on
    /// resume).
    pub train: serde_json::Value,
    /// Progress of the run.
    pub progress: Progress,
    /// Adam's hyper-parameters and step count, when its state is stored.
    pub adam: Option<(AdamConfig, u64)>,
    tensors: Vec<TensorMeta>,
}

/// A network's weights with everything needed to export it or resume it.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Metadata.
    pub meta: Meta,
    /// Parameters in [`Network::params`] order.
    pub params: Vec<Vec<f32>>,
    /// Optimiser state (absent in a "best weights" file).
    pub adam: Option<AdamState>,
}

impl Checkpoint {
    /// Captures `net` (and `adam`, if given).
    pub fn new(task: Task, net: &Network, adam: Option<&Adam>, train: serde_json::Value, progress: Progress) -> Self {
        let params = net.params();
        let tensors = params
            .iter()
            .map(|(name, t)| TensorMeta { name: name.clone(), rows: t.shape().0, cols: t.shape().1 })
            .collect();
        Self {
            meta: Meta { task, net: net.cfg.clone(), train, progress, adam: adam.map(|a| (a.cfg, a.state.t)), tensors },
            params: params.iter().map(|(_, t)| t.as_vec()).collect(),
            adam: adam.map(|a| a.state.clone()),
        }
    }

    /// Rebuilds the network on `dev`.
    pub fn network(&self, dev: &Cpu) -> Result<Network> {
        let mut net = Network::new(dev, self.meta.net.clone(), 0)?;
        let mut i = 0;
        let mut take = |t: &mut crate::ops::T2| {
            t.copy_from(&self.params[i]);
            i += 1;
        };
        if let Some(e) = &mut net.embedding {
            take(e);
        }
        for LstmParams { w_x, w_h, bias } in &mut net.layers {
            take(w_x);
            take(w_h);
            take(bias);
        }
        take(&mut net.head_w);
        take(&mut net.head_b);
        Ok(net)
    }

    /// Rebuilds the optimiser, if its state is stored.
    pub fn optimizer(&self) -> Option<Adam> {
        let (cfg, _) = self.meta.adam?;
        Some(Adam { cfg, state: self.adam.clone()? })
    }

    /// Serializes to bytes (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(&self.meta).expect("metadata serializes");
        let mut out = Vec::with_capacity(16 + json.len() + 12 * self.params.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        let mut put = |v: &[f32]| {
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
        self.params.iter().for_each(|p| put(p));
        if let Some(a) = &self.adam {
            a.m.iter().for_each(|p| put(p));
            a.v.iter().for_each(|p| put(p));
        }
        let crc = runtime::format::crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses bytes written by [`Checkpoint::to_bytes`]; `path` only names
    /// the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::BadCheckpoint { path: path.to_owned(), reason: reason.to_owned() };
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("not a trainer checkpoint (bad magic)"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if runtime::format::crc32(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("CRC mismatch (truncated or corrupted)"));
        }
        let len = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes")) as usize;
        let json = body.get(12..12 + len).ok_or_else(|| bad("truncated header"))?;
        let meta: Meta = serde_json::from_slice(json).map_err(|e| bad(&format!("bad metadata: {e}")))?;
        let mut floats = body[12 + len..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")));
        let sizes: Vec<usize> = meta.tensors.iter().map(|t| t.rows * t.cols).collect();
        let total: usize = sizes.iter().sum::<usize>() * if meta.adam.is_some() { 3 } else { 1 };
        if body.len() - 12 - len != total * 4 {
            return Err(bad("tensor data size does not match the metadata"));
        }
        let mut read = |n: usize| -> Vec<f32> { floats.by_ref().take(n).collect() };
        let params: Vec<Vec<f32>> = sizes.iter().map(|&n| read(n)).collect();
        let adam = meta.adam.map(|(_, t)| {
            let m = sizes.iter().map(|&n| read(n)).collect();
            let v = sizes.iter().map(|&n| read(n)).collect();
            AdamState { t, m, v }
        });
        Ok(Self { meta, params, adam })
    }

    /// Writes atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes())
    }

    /// Reads from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporaries_of_dead_processes_are_removed() {
        let dir = std::env::temp_dir().join(format!("trainer-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ours = temp_path(&dir.join("checkpoint.ckpt"));
        let dead = dir.join(".tmp-4000000000-checkpoint.ckpt"); // above any pid_max
        let other = dir.join(".tmp-notapid-x");
        let keep = dir.join("metrics.json");
        for p in [&ours, &dead, &other, &keep] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_temps(&dir);
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, 1);
            assert!(!dead.exists());
        } else {
            assert_eq!(removed, 0);
        }
        assert!(ours.exists() && other.exists() && keep.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
