//! Adam with global-norm gradient clipping, whose state can be saved.
//!
//! dfdx 0.13's `Adam` keeps its moments in private fields keyed by tensor
//! ids, so it cannot be checkpointed: a resumed run would restart the
//! moments and drift from an uninterrupted one. This is the same update
//! (Kingma & Ba, with bias correction, as dfdx and PyTorch compute it) over
//! the network's dfdx tensors, with the state in plain vectors.

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::net::network::Network;

/// Adam hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub eps: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Adam's state: the step count and both moments of every parameter, in
/// [`Network::params`] order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdamState {
    /// Steps taken.
    pub t: u64,
    /// First moments.
    pub m: Vec<Vec<f32>>,
    /// Second moments.
    pub v: Vec<Vec<f32>>,
}

/// The optimiser.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Hyper-parameters.
    pub cfg: AdamConfig,
    /// State.
    pub state: AdamState,
}

impl Adam {
    /// A fresh optimiser for `net`.
    pub fn new(net: &Network, cfg: AdamConfig) -> Self {
        let sizes: Vec<usize> = net.params().iter().map(|(_, t)| t.shape().num_elements()).collect();
        Self {
            cfg,
            state: AdamState {
                t: 0,
                m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
                v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            },
        }
    }

    /// Takes the gradients of every parameter out of `grads` (zeros for a
    /// parameter the loss did not reach), clips them to global L2 norm
    /// `clip` (if given) and applies one Adam step. Returns the gradient
    /// norm before clipping.
    pub fn step(&mut self, net: &mut Network, grads: &mut Gradients<f32, Cpu>, clip: Option<f32>) -> f32 {
        let mut gs: Vec<Vec<f32>> = Vec::new();
        for p in net.params_mut() {
            let g = grads.get_or_alloc_mut(&*p).expect("CPU allocation cannot fail");
            gs.push(g.to_vec());
        }
        let norm = gs.iter().flat_map(|g| g.iter()).map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() as f32;
        let scale = match clip {
            Some(c) if norm > c => c / (norm + 1e-6),
            _ => 1.0,
        };
        self.state.t += 1;
        let AdamConfig { lr, beta1, beta2, eps } = self.cfg;
        let t = self.state.t as i32;
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        for (i, p) in net.params_mut().into_iter().enumerate() {
            let mut data = vec![0.0; p.shape().num_elements()];
            p.copy_into(&mut data);
            let (m, v) = (&mut self.state.m[i], &mut self.state.v[i]);
            crate::linalg::widest(
                #[inline(always)]
                || {
                    for (((w, g), m), v) in data.iter_mut().zip(&gs[i]).zip(m).zip(v) {
                        let g = g * scale;
                        *m = beta1 * *m + (1.0 - beta1) * g;
                        *v = beta2 * *v + (1.0 - beta2) * g * g;
                        let mh = *m / bc1;
                        let vh = *v / bc2;
                        *w -= lr * mh / (vh.sqrt() + eps);
                    }
                },
            );
            p.copy_from(&data);
        }
        norm
    }
}
