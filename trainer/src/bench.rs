//! The training-speed benchmark (`trainer bench`): milliseconds per training
//! batch (forward, backward, clipping, Adam step) on two reference
//! workloads, the median of several timed batches after a warm-up.

use std::time::Instant;

use dfdx::losses::{binary_cross_entropy_with_logits_loss, cross_entropy_with_logits_loss};
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::Result;
use crate::model::{NetConfig, Network, Readout};
use crate::ops::Seq;
use crate::optim::{Adam, AdamConfig};

/// One workload's timing.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// Workload name.
    pub name: String,
    /// What it runs.
    pub description: String,
    /// Median milliseconds per batch.
    pub median_ms: f64,
    /// Fastest batch.
    pub min_ms: f64,
    /// Timed batches.
    pub iterations: usize,
    /// Threads used.
    pub threads: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    v[v.len() / 2]
}

/// Workload (a): sentiment, batch 100 x 200 tokens, vocabulary 20002,
/// embedding 64, LSTM 128, dense 1, BCE.
pub fn sentiment_workload(iters: usize, threads: usize) -> Result<BenchResult> {
    let dev = Cpu::seed_from_u64(0);
    let cfg = NetConfig {
        vocab: 20002,
        embed_dim: 64,
        hidden: 128,
        layers: 1,
        dropout: 0.0,
        outputs: 1,
        readout: Readout::Pooled(runtime::format::Pooling::Last),
    };
    let mut net = Network::new(&dev, cfg, 1)?;
    let mut adam = Adam::new(&net, AdamConfig::default());
    let mut rng = StdRng::seed_from_u64(2);
    let (steps, batch) = (200, 100);
    let ids: Vec<usize> = (0..steps * batch).map(|_| rng.gen_range(1..20002)).collect();
    let labels: Vec<f32> = (0..batch).map(|b| (b % 2) as f32).collect();
    let seq = Seq::dense(steps, batch);
    let mut times = Vec::new();
    for i in 0..iters + 1 {
        let t0 = Instant::now();
        let (logits, _) = net.forward(&ids, &seq, OwnedTape::<f32, Cpu>::default(), None, None);
        let targets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(labels.clone(), (batch, 1));
        let loss = binary_cross_entropy_with_logits_loss(logits, targets);
        let mut grads = loss.backward();
        adam.step(&mut net, &mut grads, None);
        if i > 0 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(BenchResult {
        name: "sentiment".into(),
        description: "batch 100 x 200 tokens, vocab 20002, embed 64, LSTM 128, dense 1".into(),
        median_ms: median(times.clone()),
        min_ms: times.iter().cloned().fold(f64::INFINITY, f64::min),
        iterations: iters,
        threads,
    })
}

/// Workload (b): language model, batch 64 x 100 steps, 65 classes one-hot,
/// LSTM 128, dropout 0.5, dense 65, cross-entropy, clipping at 5.
pub fn charlm_workload(iters: usize, threads: usize) -> Result<BenchResult> {
    let dev = Cpu::seed_from_u64(0);
    let v = 65;
    let cfg = NetConfig {
        vocab: v,
        embed_dim: 0,
        hidden: 128,
        layers: 1,
        dropout: 0.5,
        outputs: v,
        readout: Readout::EveryStep,
    };
    let mut net = Network::new(&dev, cfg, 1)?;
    let mut adam = Adam::new(&net, AdamConfig::default());
    let mut rng = StdRng::seed_from_u64(2);
    let (steps, batch) = (100, 64);
    let ids: Vec<usize> = (0..steps * batch).map(|_| rng.gen_range(0..v)).collect();
    let mut onehot = vec![0.0f32; steps * batch * v];
    for r in 0..steps * batch {
        onehot[r * v + rng.gen_range(0..v)] = 1.0;
    }
    let seq = Seq::dense(steps, batch);
    let mut state = None;
    let mut times = Vec::new();
    for i in 0..iters + 1 {
        let t0 = Instant::now();
        let (logits, s) = net.forward(&ids, &seq, OwnedTape::<f32, Cpu>::default(), Some(&mut rng), state.as_ref());
        state = Some(s);
        let targets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(onehot.clone(), (steps * batch, v));
        let loss = cross_entropy_with_logits_loss(logits, targets);
        let mut grads = loss.backward();
        adam.step(&mut net, &mut grads, Some(5.0));
        if i > 0 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(BenchResult {
        name: "charlm".into(),
        description: "batch 64 x 100 steps, 65 one-hot, LSTM 128, dense 65, clip 5".into(),
        median_ms: median(times.clone()),
        min_ms: times.iter().cloned().fold(f64::INFINITY, f64::min),
        iterations: iters,
        threads,
    })
}
