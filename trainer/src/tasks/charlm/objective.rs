//! A language model's objective: stateful windows of truncated BPTT,
//! softmax cross-entropy.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::fit::{Loss, Objective};
use crate::net::{Network, State};
use crate::ops::{self, Seq};
use crate::rng::mix;
use crate::tasks::charlm::windows::{charlm_windows, evaluate_charlm};

/// Language model: stateful windows of truncated BPTT; cross-entropy.
pub(crate) struct CharLmObjective<'a> {
    pub(crate) train: &'a [u16],
    pub(crate) window: usize,
    pub(crate) random_offsets: bool,
    pub(crate) windows: Vec<(Vec<usize>, Vec<usize>)>,
    pub(crate) valid: &'a [u16],
    pub(crate) streams: usize,
    pub(crate) vocab: usize,
    pub(crate) seed: u64,
    pub(crate) state: Option<State>,
    pub(crate) dropout: StdRng,
}

impl Objective for CharLmObjective<'_> {
    fn start_epoch(&mut self, epoch: usize) -> usize {
        self.dropout = StdRng::seed_from_u64(mix(self.seed, 3, epoch as u64));
        self.state = None;
        if self.random_offsets || self.windows.is_empty() {
            let offset =
                if self.random_offsets { (mix(self.seed, 7, epoch as u64) % self.window as u64) as usize } else { 0 };
            self.windows = charlm_windows(&self.train[offset.min(self.train.len())..], self.streams, self.window);
        }
        self.windows.len()
    }

    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize) {
        let (x, y) = &self.windows[k];
        let seq = Seq::dense(x.len() / self.streams, self.streams);
        let (logits, s) = net.forward(x, &seq, OwnedTape::default(), Some(&mut self.dropout), self.state.as_ref());
        self.state = Some(s);
        let v = self.vocab;
        let mut onehot = vec![0.0f32; y.len() * v];
        for (r, &t) in y.iter().enumerate() {
            onehot[r * v + t] = 1.0;
        }
        (ops::cross_entropy(logits, onehot), y.len())
    }

    fn validate(&self, net: &Network) -> (f64, Option<f64>) {
        (evaluate_charlm(net, self.valid, 2000), None)
    }
}
