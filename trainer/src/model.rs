//! The network: embedding (or one-hot input), stacked LSTM layers, dropout,
//! and a dense head, with parameters held as dfdx tensors.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use runtime::format::Pooling;

use crate::ops::{self, LstmInput, LstmWeights, Seq, T2};

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
}

/// One LSTM layer's parameters (PyTorch layout, gates i, f, g, o).
#[derive(Clone, Debug)]
pub struct LstmParams {
    /// `(4H, I)`.
    pub w_x: T2,
    /// `(4H, H)`.
    pub w_h: T2,
    /// `(1, 4H)`.
    pub bias: T2,
}

/// The trainable network.
#[derive(Clone, Debug)]
pub struct Network {
    /// Its shape.
    pub cfg: NetConfig,
    /// `(vocab, E)`, absent for one-hot input.
    pub embedding: Option<T2>,
    /// LSTM layers, input first.
    pub layers: Vec<LstmParams>,
    /// Dense weights `(features, outputs)`.
    pub head_w: T2,
    /// Dense bias `(1, outputs)`.
    pub head_b: T2,
    /// Quantization-aware training: the embedding's `(scale, qmax)` grid
    /// that forward passes round to (not saved: the exporter computes the
    /// same grid from the trained table).
    pub embed_quant: Option<(f32, f32)>,
    /// Quantization-aware training of the LSTM weights: the bits (4 or 8)
    /// whose per-row grid forward passes round `w_x` and `w_h` to (not
    /// saved).
    pub lstm_quant: Option<u8>,
    /// DropConnect on the recurrent weights `w_h` in training mode: the
    /// probability of dropping each weight, one mask a batch and layer
    /// (not saved; the training configuration records it).
    pub weight_drop: f32,
}

/// Recurrent state carried between windows: per layer `(h, c)`, each
/// `(batch, H)`.
pub type State = Vec<(Vec<f32>, Vec<f32>)>;

fn uniform(dev: &Cpu, rng: &mut StdRng, rows: usize, cols: usize, k: f32) -> T2 {
    let data: Vec<f32> = (0..rows * cols).map(|_| rng.gen_range(-k..k)).collect();
    dev.tensor_from_vec(data, (rows, cols))
}

impl Network {
    /// A freshly initialised network: embedding N(0, 1) (PyTorch's default,
    /// scaled by 0.1 here for hashed vocabularies), LSTM and dense weights
    /// uniform in `±1/sqrt(fan)`, forget-gate bias 1.
    pub fn new(dev: &Cpu, cfg: NetConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let embedding = (cfg.embed_dim > 0).then(|| {
            let data: Vec<f32> = (0..cfg.vocab * cfg.embed_dim)
                .map(|_| {
                    // Sum of uniforms: cheap, seeded, roughly normal with std 0.1.
                    let s: f32 = (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum();
                    s * 0.1 * (3.0f32 / 4.0).sqrt()
                })
                .collect();
            dev.tensor_from_vec(data, (cfg.vocab, cfg.embed_dim))
        });
        let h = cfg.hidden;
        let k = 1.0 / (h as f32).sqrt();
        let mut layers = Vec::new();
        for l in 0..cfg.layers {
            let input = if l == 0 { cfg.input_width() } else { h };
            let w_x = uniform(dev, &mut rng, 4 * h, input, k);
            let w_h = uniform(dev, &mut rng, 4 * h, h, k);
            let mut b: Vec<f32> = (0..4 * h).map(|_| rng.gen_range(-k..k)).collect();
            b[h..2 * h].iter_mut().for_each(|x| *x = 1.0);
            let bias = dev.tensor_from_vec(b, (1, 4 * h));
            layers.push(LstmParams { w_x, w_h, bias });
        }
        let f = cfg.features();
        let kf = 1.0 / (f as f32).sqrt();
        let head_w = uniform(dev, &mut rng, f, cfg.outputs, kf);
        let head_b = uniform(dev, &mut rng, 1, cfg.outputs, kf);
        Ok(Self { cfg, embedding, layers, head_w, head_b, embed_quant: None, lstm_quant: None, weight_drop: 0.0 })
    }

    /// Names and tensors of every parameter, in a fixed order.
    pub fn params(&self) -> Vec<(String, &T2)> {
        let mut out = Vec::new();
        if let Some(e) = &self.embedding {
            out.push(("embedding".to_owned(), e));
        }
        for (l, p) in self.layers.iter().enumerate() {
            out.push((format!("lstm{l}.w_x"), &p.w_x));
            out.push((format!("lstm{l}.w_h"), &p.w_h));
            out.push((format!("lstm{l}.bias"), &p.bias));
        }
        out.push(("head.w".to_owned(), &self.head_w));
        out.push(("head.b".to_owned(), &self.head_b));
        out
    }

    /// Mutable parameters, same order as [`Network::params`].
    pub fn params_mut(&mut self) -> Vec<&mut T2> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.embedding {
            out.push(e);
        }
        for p in &mut self.layers {
            out.push(&mut p.w_x);
            out.push(&mut p.w_h);
            out.push(&mut p.bias);
        }
        out.push(&mut self.head_w);
        out.push(&mut self.head_b);
        out
    }

    /// Set the embedding's fake-quantization grid for `bits` (4 or 8) from
    /// its current values, with the exporter's own scale
    /// ([`host::quantize::clipped_scale`]); `bits` 0 turns it off.
    pub fn set_embed_quant(&mut self, bits: u8) {
        self.embed_quant = match (&self.embedding, bits) {
            (Some(table), 4 | 8) => {
                let qmax = if bits == 4 { 7.0 } else { 127.0 };
                let s = host::quantize::clipped_scale(&table.as_vec(), qmax) as f32;
                Some((s, qmax as f32))
            }
            _ => None,
        };
    }

    /// The same network with these parameter values (in [`Network::params`]
    /// order).
    pub fn with_params(&self, values: &[Vec<f32>]) -> Network {
        let mut net = self.clone();
        for (t, v) in net.params_mut().into_iter().zip(values) {
            t.copy_from(v);
        }
        net
    }

    /// Number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.params().iter().map(|(_, t)| t.shape().num_elements()).sum()
    }

    /// Forward pass over a time-major batch of token ids (`ids.len() ==
    /// seq.rows()`). With `dropout_rng` the network is in training mode
    /// (dropout on). `state` is the initial state per layer (None = zeros).
    /// Returns the head's logits — `(batch, outputs)` for pooled readouts,
    /// `(rows, outputs)` for `EveryStep` — and the final state.
    pub fn forward<T: Tape<f32, Cpu>>(
        &self,
        ids: &[usize],
        seq: &Seq,
        tape: T,
        mut dropout_rng: Option<&mut StdRng>,
        state: Option<&State>,
    ) -> (T2<T>, State) {
        let p = self.cfg.dropout;
        let mut input = match &self.embedding {
            Some(table) => LstmInput::Dense(ops::embed(table, ids, tape, self.embed_quant)),
            None => LstmInput::OneHot { ids: ids.to_vec(), tape },
        };
        let mut new_state = Vec::with_capacity(self.layers.len());
        let mut last = None;
        for (l, layer) in self.layers.iter().enumerate() {
            let mask = match dropout_rng.as_deref_mut() {
                Some(rng) if self.weight_drop > 0.0 => {
                    Some(ops::connect_mask(layer.w_h.shape().num_elements(), self.weight_drop, rng))
                }
                _ => None,
            };
            let w = LstmWeights {
                w_x: &layer.w_x,
                w_h: &layer.w_h,
                bias: &layer.bias,
                fake_bits: self.lstm_quant,
                drop_h: mask.as_deref(),
            };
            let init = state.map(|s| (s[l].0.as_slice(), s[l].1.as_slice()));
            let out = ops::lstm(input, w, seq, init);
            new_state.push((out.h_last, out.c_last));
            let mut h = out.h;
            if let Some(rng) = dropout_rng.as_deref_mut() {
                h = ops::dropout(h, p, rng);
            }
            if l + 1 < self.layers.len() {
                input = LstmInput::Dense(h);
            } else {
                last = Some(h);
                break;
            }
        }
        let h = last.expect("at least one layer");
        let features = match self.cfg.readout {
            Readout::Pooled(p) => ops::pool(h, seq, p),
            Readout::EveryStep => h,
        };
        (ops::linear(features, &self.head_w, &self.head_b), new_state)
    }
}
