//! Checkpoints: weights, optimiser state and progress.
//!
//! File layout: the magic `LSTMCKP1`, a little-endian `u32` length and that
//! many bytes of JSON metadata ([`Meta`]), then every tensor as
//! little-endian `f32` in the metadata's order (parameters, then Adam's first
//! and second moments when present), then the CRC-32 of everything before it.

use std::path::Path;

use dfdx::prelude::*;
use host::Words;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::metrics::EpochRecord;
use crate::net::config::NetConfig;
use crate::net::network::Network;
use crate::net::optim::{Adam, AdamConfig, AdamState};

const MAGIC: &[u8; 8] = b"LSTMCKP1";
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
        #[serde(default = "crate::data::labelled::imdb_classes")]
        classes: Vec<String>,
    },
    /// Character language model.
    CharLm {
        /// Id `i` is byte `charset[i]`.
        charset: Vec<u8>,
    },
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
        let tensors =
            net.cfg.tensors().iter().map(|t| TensorMeta { name: t.name(), rows: t.rows, cols: t.cols }).collect();
        Self {
            meta: Meta { task, net: net.cfg.clone(), train, progress, adam: adam.map(|a| (a.cfg, a.state.t)), tensors },
            params: params.iter().map(|(_, t)| t.as_vec()).collect(),
            adam: adam.map(|a| a.state.clone()),
        }
    }

    /// Rebuilds the network on `dev`.
    pub fn network(&self, dev: &Cpu) -> Result<Network> {
        let net = Network::new(dev, self.meta.net.clone(), 0)?;
        Ok(net.with_params(&self.params))
    }

    /// Checks that the stored tensors are those `cfg` defines: the same
    /// names and shapes in the same order (an error naming both shapes).
    pub fn check_tensors(&self, cfg: &NetConfig, path: &Path) -> Result<()> {
        let found = self.meta.tensors.iter().map(|t| (t.name.as_str(), t.rows, t.cols));
        cfg.check_tensors(found).map_err(|reason| Error::BadCheckpoint { path: path.to_owned(), reason })
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
        let ckpt = Self { meta, params, adam };
        // The tensors must be the ones its network's configuration defines.
        ckpt.check_tensors(&ckpt.meta.net, path)?;
        Ok(ckpt)
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
    use crate::net::Readout;

    /// A checkpoint whose tensors are not its configuration's is refused on
    /// load, with both shapes named (it used to panic when rebuilt).
    #[test]
    fn a_checkpoint_of_the_wrong_shape_is_an_error_naming_both_shapes() {
        let cfg = NetConfig {
            vocab: 5,
            embed_dim: 3,
            hidden: 4,
            layers: 1,
            dropout: 0.0,
            outputs: 1,
            readout: Readout::Pooled(runtime::format::Pooling::Last),
        };
        let net = Network::new(&Cpu::default(), cfg, 1).unwrap();
        let task = Task::CharLm { charset: b"abcde".to_vec() };
        let mut ckpt = Checkpoint::new(task, &net, None, serde_json::json!({}), Progress::default());
        let path = Path::new("x.ckpt");
        let back = Checkpoint::from_bytes(&ckpt.to_bytes(), path).unwrap();
        assert_eq!(back, ckpt);
        assert_eq!(back.network(&Cpu::default()).unwrap().params()[0].1.as_vec(), ckpt.params[0]);
        ckpt.meta.net.embed_dim = 2;
        let err = Checkpoint::from_bytes(&ckpt.to_bytes(), path).unwrap_err().to_string();
        assert_eq!(
            err,
            "x.ckpt: bad checkpoint: tensor embedding is 5 x 3; the network's configuration needs embedding of 5 x 2"
        );
    }
}
