//! The training-speed benchmark (`trainer bench`): milliseconds per training
//! batch (forward, backward, clipping, Adam step) on two reference
//! workloads, the median of several timed batches after a warm-up.

use std::time::Instant;

use dfdx::losses::binary_cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::Result;
use crate::net::{Adam, AdamConfig, NetConfig, Network, Readout};
use crate::ops::Seq;

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
        let loss = crate::ops::cross_entropy(logits, onehot.clone());
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

/// One workload's median from the PyTorch twin of `trainer bench`
/// (`bench_torch.py`), run as a child process.
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    /// The workload, `sentiment` or `charlm`.
    pub name: String,
    /// Its median milliseconds per batch.
    pub median_ms: f64,
    /// Its fastest batch.
    pub min_ms: f64,
    /// What printed it (`torch=<version>` as the script reports it).
    pub version: String,
}

/// Run `python script <sent|char> iters threads` and read its `RESULT torch
/// <kind> threads=T median_ms=M min_ms=N ... torch=V` line.
pub fn reference(
    python: &str,
    script: &std::path::Path,
    name: &str,
    iters: usize,
    threads: usize,
) -> Result<Reference> {
    let kind = if name == "sentiment" { "sent" } else { "char" };
    let fail = |reason: String| crate::error::Error::Reference { script: script.to_path_buf(), reason };
    if !script.is_file() {
        return Err(fail("no such file (the PyTorch twin of the bench: ../shared/bench/bench_torch.py)".into()));
    }
    let out = std::process::Command::new(python)
        .arg(script)
        .args([kind, &iters.to_string(), &threads.to_string()])
        .output()
        .map_err(|e| fail(format!("cannot run `{python}`: {e} (--python names the interpreter with torch)")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT torch "));
    let (Some(line), true) = (line, out.status.success()) else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(fail(format!(
            "`{python} {} {kind} {iters} {threads}` gave no result ({}){}",
            script.display(),
            out.status,
            tail.iter().rev().map(|l| format!("\n  {l}")).collect::<String>()
        )));
    };
    let field = |key: &str| line.split_whitespace().find_map(|f| f.strip_prefix(key)).map(str::to_string);
    let number = |key: &str| -> Result<f64> {
        field(key).and_then(|v| v.parse().ok()).ok_or_else(|| fail(format!("no {key} in {line:?}")))
    };
    Ok(Reference {
        name: name.into(),
        median_ms: number("median_ms=")?,
        min_ms: number("min_ms=")?,
        version: field("torch=").map_or_else(|| "torch".into(), |v| format!("torch {v}")),
    })
}
