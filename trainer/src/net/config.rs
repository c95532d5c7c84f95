//! A network's shape: its configuration and the one definition of its
//! tensors (names, shapes, order), which the parameters, the checkpoint
//! check on load and the conversion to the f32 model all read.

use serde::{Deserialize, Serialize};

use runtime::format::Pooling;

use crate::error::{Error, Result};

/// How the LSTM outputs feed the dense head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Readout {
    /// Many-to-one: the hidden states pooled over time (the model file's
    /// own [`Pooling`]).
    Pooled(Pooling),
    /// Many-to-many: the head is applied at every step (language model).
    EveryStep,
}

/// Shape of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Number of input token ids.
    pub vocab: usize,
    /// Embedding width; 0 means one-hot input (width `vocab`).
    pub embed_dim: usize,
    /// LSTM hidden width H.
    pub hidden: usize,
    /// Number of stacked LSTM layers.
    pub layers: usize,
    /// Dropout probability between layers and on the last LSTM output.
    pub dropout: f32,
    /// Outputs of the dense head (1 for sentiment, vocab for a language model).
    pub outputs: usize,
    /// How LSTM outputs become head features.
    pub readout: Readout,
}

impl NetConfig {
    /// Checks the ranges of every field.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 || self.hidden == 0 || self.layers == 0 || self.outputs == 0 {
            return Err(Error::Config("vocabulary, hidden width, layers and outputs must be positive".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!("dropout {} is not in [0, 1)", self.dropout)));
        }
        Ok(())
    }

    /// Width of the first LSTM layer's input.
    pub fn input_width(&self) -> usize {
        if self.embed_dim == 0 {
            self.vocab
        } else {
            self.embed_dim
        }
    }

    /// Width of the head's features.
    pub fn features(&self) -> usize {
        match self.readout {
            Readout::Pooled(p) => p.features(self.hidden),
            Readout::EveryStep => self.hidden,
        }
    }

    /// Every parameter tensor, in the one order that the network holds,
    /// the optimiser steps, a checkpoint stores and the export reads: the
    /// embedding (absent for one-hot input), each layer's `w_x`, `w_h` and
    /// `bias` (PyTorch layout, gates i, f, g, o), the dense weights and bias.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let h = self.hidden;
        let mut out = Vec::with_capacity(3 * self.layers + 3);
        if self.embed_dim > 0 {
            out.push(TensorSpec { role: Role::Embedding, rows: self.vocab, cols: self.embed_dim });
        }
        for l in 0..self.layers {
            let input = if l == 0 { self.input_width() } else { h };
            out.push(TensorSpec { role: Role::InputWeights(l), rows: 4 * h, cols: input });
            out.push(TensorSpec { role: Role::RecurrentWeights(l), rows: 4 * h, cols: h });
            out.push(TensorSpec { role: Role::Bias(l), rows: 1, cols: 4 * h });
        }
        out.push(TensorSpec { role: Role::HeadWeights, rows: self.features(), cols: self.outputs });
        out.push(TensorSpec { role: Role::HeadBias, rows: 1, cols: self.outputs });
        out
    }

    /// Checks tensors found elsewhere (a checkpoint's, as `(name, rows,
    /// cols)`) against [`NetConfig::tensors`]: the same names, in the same
    /// order, of the same shapes; the error names both.
    pub fn check_tensors<'a>(
        &self,
        found: impl ExactSizeIterator<Item = (&'a str, usize, usize)>,
    ) -> Result<(), String> {
        let want = self.tensors();
        if found.len() != want.len() {
            let names: Vec<String> = want.iter().map(TensorSpec::name).collect();
            return Err(format!(
                "it holds {} tensors; the network needs {} ({})",
                found.len(),
                want.len(),
                names.join(", ")
            ));
        }
        for (spec, (name, rows, cols)) in want.iter().zip(found) {
            if spec.name() != name || (spec.rows, spec.cols) != (rows, cols) {
                return Err(format!(
                    "tensor {name} is {rows} x {cols}; the network's configuration needs {} of {} x {}",
                    spec.name(),
                    spec.rows,
                    spec.cols
                ));
            }
        }
        Ok(())
    }
}

/// What a parameter tensor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The embedding table `(vocab, E)`.
    Embedding,
    /// Layer `l`'s input weights `w_x` `(4H, I)`.
    InputWeights(usize),
    /// Layer `l`'s recurrent weights `w_h` `(4H, H)`.
    RecurrentWeights(usize),
    /// Layer `l`'s bias `(1, 4H)`: `b_ih + b_hh`.
    Bias(usize),
    /// The dense weights `(features, outputs)`.
    HeadWeights,
    /// The dense bias `(1, outputs)`.
    HeadBias,
}

/// One parameter tensor: what it is and its shape (row-major).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// What it is.
    pub role: Role,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

impl TensorSpec {
    /// Its name in checkpoints (`embedding`, `lstm0.w_x`, `head.b`, ...).
    pub fn name(&self) -> String {
        match self.role {
            Role::Embedding => "embedding".to_owned(),
            Role::InputWeights(l) => format!("lstm{l}.w_x"),
            Role::RecurrentWeights(l) => format!("lstm{l}.w_h"),
            Role::Bias(l) => format!("lstm{l}.bias"),
            Role::HeadWeights => "head.w".to_owned(),
            Role::HeadBias => "head.b".to_owned(),
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_orders_and_shapes_every_tensor() {
        let cfg = NetConfig {
            vocab: 7,
            embed_dim: 0,
            hidden: 3,
            layers: 2,
            dropout: 0.0,
            outputs: 7,
            readout: Readout::EveryStep,
        };
        let names: Vec<String> = cfg.tensors().iter().map(TensorSpec::name).collect();
        assert_eq!(
            names,
            ["lstm0.w_x", "lstm0.w_h", "lstm0.bias", "lstm1.w_x", "lstm1.w_h", "lstm1.bias", "head.w", "head.b"]
        );
        let shapes: Vec<(usize, usize)> = cfg.tensors().iter().map(|t| (t.rows, t.cols)).collect();
        assert_eq!(shapes, [(12, 7), (12, 3), (1, 12), (12, 3), (12, 3), (1, 12), (3, 7), (1, 7)]);
        let pooled =
            NetConfig { embed_dim: 4, readout: Readout::Pooled(Pooling::MeanMax), outputs: 1, layers: 1, ..cfg };
        let t = pooled.tensors();
        assert_eq!((t[0].role, t[0].rows, t[0].cols), (Role::Embedding, 7, 4));
        assert_eq!((t[4].rows, t[4].cols), (6, 1));
        let found = |t: &[TensorSpec]| t.iter().map(|s| (s.name(), s.rows, s.cols)).collect::<Vec<_>>();
        let ok = found(&t);
        assert_eq!(pooled.check_tensors(ok.iter().map(|(n, r, c)| (n.as_str(), *r, *c))), Ok(()));
        let mut wide = ok.clone();
        wide[1].2 = 5;
        let err = pooled.check_tensors(wide.iter().map(|(n, r, c)| (n.as_str(), *r, *c))).unwrap_err();
        assert_eq!(err, "tensor lstm0.w_x is 12 x 5; the network's configuration needs lstm0.w_x of 12 x 4");
        assert!(pooled.check_tensors(ok[..3].iter().map(|(n, r, c)| (n.as_str(), *r, *c))).is_err());
    }
}
