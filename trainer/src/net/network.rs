//! The network: embedding (or one-hot input), stacked LSTM layers, dropout,
//! and a dense head, with parameters held as dfdx tensors in the order and
//! shapes of [`NetConfig::tensors`].

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::Result;
use crate::net::config::{NetConfig, Readout, Role, TensorSpec};
use crate::ops::{self, LstmInput, LstmWeights, Seq, T2};

/// The trainable network.
#[derive(Clone, Debug)]
pub struct Network {
    /// Its shape.
    pub cfg: NetConfig,
    /// Its tensors ([`NetConfig::tensors`]).
    spec: Vec<TensorSpec>,
    /// The parameters, one for each of `spec`.
    params: Vec<T2>,
    /// Quantization-aware training: the embedding's `(scale, qmax)` grid
    /// that forward passes round to (not saved: the exporter computes the
    /// same grid from the trained table).
    pub embed_quant: Option<(f32, f32)>,
    /// Quantization-aware training of the LSTM weights: the bits (4 or 8)
    /// whose grid (one a fused row over `[x; h]`, as the exporter writes)
    /// forward passes round `w_x` and `w_h` to (not saved).
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
    /// uniform in `±1/sqrt(fan)`, forget-gate bias 1. The draws follow the
    /// tensors' order.
    pub fn new(dev: &Cpu, cfg: NetConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let h = cfg.hidden;
        let k = 1.0 / (h as f32).sqrt();
        let kf = 1.0 / (cfg.features() as f32).sqrt();
        let spec = cfg.tensors();
        let params = spec
            .iter()
            .map(|t| match t.role {
                Role::Embedding => {
                    let data: Vec<f32> = (0..t.len())
                        .map(|_| {
                            // Sum of uniforms: cheap, seeded, roughly normal with std 0.1.
                            let s: f32 = (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum();
                            s * 0.1 * (3.0f32 / 4.0).sqrt()
                        })
                        .collect();
                    dev.tensor_from_vec(data, (t.rows, t.cols))
                }
                Role::InputWeights(_) | Role::RecurrentWeights(_) => uniform(dev, &mut rng, t.rows, t.cols, k),
                Role::Bias(_) => {
                    let mut b: Vec<f32> = (0..t.len()).map(|_| rng.gen_range(-k..k)).collect();
                    b[h..2 * h].iter_mut().for_each(|x| *x = 1.0);
                    dev.tensor_from_vec(b, (t.rows, t.cols))
                }
                Role::HeadWeights | Role::HeadBias => uniform(dev, &mut rng, t.rows, t.cols, kf),
            })
            .collect();
        Ok(Self { cfg, spec, params, embed_quant: None, lstm_quant: None, weight_drop: 0.0 })
    }

    /// The tensor of `role` (which the configuration must have).
    pub fn tensor(&self, role: Role) -> &T2 {
        let i = self.spec.iter().position(|t| t.role == role).expect("a tensor of the network's configuration");
        &self.params[i]
    }

    /// The embedding table `(vocab, E)`, absent for one-hot input.
    pub fn embedding(&self) -> Option<&T2> {
        (self.cfg.embed_dim > 0).then(|| self.tensor(Role::Embedding))
    }

    /// Layer `l`'s weights (no QAT, no DropConnect).
    pub fn layer(&self, l: usize) -> LstmWeights<'_> {
        LstmWeights {
            w_x: self.tensor(Role::InputWeights(l)),
            w_h: self.tensor(Role::RecurrentWeights(l)),
            bias: self.tensor(Role::Bias(l)),
            fake: None,
            drop_h: None,
        }
    }

    /// Names and tensors of every parameter, in [`NetConfig::tensors`]
    /// order.
    pub fn params(&self) -> Vec<(String, &T2)> {
        self.spec.iter().map(TensorSpec::name).zip(&self.params).collect()
    }

    /// Mutable parameters, same order as [`Network::params`].
    pub fn params_mut(&mut self) -> Vec<&mut T2> {
        self.params.iter_mut().collect()
    }

    /// Set the embedding's fake-quantization grid for `bits` (4 or 8) from
    /// its current values, with the exporter's own scale
    /// ([`host::quantize::clipped_scale`]); `bits` 0 turns it off.
    pub fn set_embed_quant(&mut self, bits: u8) {
        self.embed_quant = match (self.embedding(), bits) {
            (Some(table), 4 | 8) => {
                let qmax = if bits == 4 { 7.0 } else { 127.0 };
                let s = host::quantize::clipped_scale(&table.as_vec(), qmax) as f32;
                Some((s, qmax as f32))
            }
            _ => None,
        };
    }

    /// Where layer `l`'s input comes from, as the exporter sees it when it
    /// fuses the layer's rows ([`host::quantize::fused_plan`]): for layer
    /// 0 the embedding's scale now, on its quantization-aware grid if it
    /// has one, else its 8-bit export's (a one-hot input exports as an
    /// 8-bit identity table).
    pub fn fused_input(&self, l: usize) -> host::quantize::FusedInput {
        let (s_emb, embed_bits) = match (l, self.embed_quant, self.embedding()) {
            (1.., _, _) => (1.0, 8),
            (0, Some((s, qmax)), _) => (f64::from(s), if qmax <= 7.0 { 4 } else { 8 }),
            (0, None, Some(table)) => (host::quantize::embed_scale(&table.as_vec(), 8), 8),
            (0, None, None) => (host::quantize::embed_scale(&[1.0], 8), 8),
        };
        host::quantize::FusedInput { layer: l, s_emb, embed_bits }
    }

    /// The same network with these parameter values (in [`Network::params`]
    /// order; each as long as its tensor).
    pub fn with_params(&self, values: &[Vec<f32>]) -> Network {
        let mut net = self.clone();
        for (t, v) in net.params.iter_mut().zip(values) {
            t.copy_from(v);
        }
        net
    }

    /// Number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.spec.iter().map(TensorSpec::len).sum()
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
        let mut input = match self.embedding() {
            Some(table) => LstmInput::Dense(ops::embed(table, ids, tape, self.embed_quant)),
            None => LstmInput::OneHot { ids: ids.to_vec(), tape },
        };
        let layers = self.cfg.layers;
        let mut new_state = Vec::with_capacity(layers);
        let mut last = None;
        for l in 0..layers {
            let layer = self.layer(l);
            let mask = match dropout_rng.as_deref_mut() {
                Some(rng) if self.weight_drop > 0.0 => {
                    Some(ops::connect_mask(layer.w_h.shape().num_elements(), self.weight_drop, rng))
                }
                _ => None,
            };
            let fake = self.lstm_quant.map(|bits| (bits, self.fused_input(l)));
            let w = LstmWeights { fake, drop_h: mask.as_deref(), ..layer };
            let init = state.map(|s| (s[l].0.as_slice(), s[l].1.as_slice()));
            let out = ops::lstm(input, w, seq, init);
            new_state.push((out.h_last, out.c_last));
            let mut h = out.h;
            if let Some(rng) = dropout_rng.as_deref_mut() {
                h = ops::dropout(h, p, rng);
            }
            if l + 1 < layers {
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
        (ops::linear(features, self.tensor(Role::HeadWeights), self.tensor(Role::HeadBias)), new_state)
    }
}
