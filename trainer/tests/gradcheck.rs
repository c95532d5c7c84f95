//! Finite-difference check of the whole model's gradient: embedding or
//! one-hot input, stacked LSTM layers with padding and carried state,
//! dropout (a fixed mask), pooling, the dense head and dfdx's losses.
//!
//! dfdx 0.13's CPU `slice` backward overwrites instead of accumulating; a
//! check of the whole model catches that class of bug in any op we use.

use dfdx::losses::{binary_cross_entropy_with_logits_loss, cross_entropy_with_logits_loss};
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use runtime::format::Pooling;
use trainer::net::{NetConfig, Network, Readout, Role, State};
use trainer::ops::Seq;

struct Case {
    ids: Vec<usize>,
    seq: Seq,
    targets: Vec<f32>,
    state: Option<State>,
}

fn loss_and_grads(net: &Network, case: &Case, want_grads: bool) -> (f64, Vec<Vec<f32>>) {
    let dev = net.tensor(Role::HeadWeights).device().clone();
    let mut rng = StdRng::seed_from_u64(99);
    let (logits, _) =
        net.forward(&case.ids, &case.seq, OwnedTape::<f32, Cpu>::default(), Some(&mut rng), case.state.as_ref());
    let shape = *logits.shape();
    let targets: Tensor<(usize, usize), f32, Cpu> = dev.tensor_from_vec(case.targets.clone(), shape);
    let loss = match net.cfg.readout {
        Readout::EveryStep => cross_entropy_with_logits_loss(logits, targets),
        _ => binary_cross_entropy_with_logits_loss(logits, targets),
    };
    let value = loss.array() as f64;
    if !want_grads {
        return (value, Vec::new());
    }
    let mut grads = loss.backward();
    let mut net = net.clone();
    let gs = net.params_mut().into_iter().map(|p| grads.get_or_alloc_mut(&*p).unwrap().to_vec()).collect();
    (value, gs)
}

fn check(mut net: Network, case: Case) {
    let (_, analytic) = loss_and_grads(&net, &case, true);
    let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
    let eps = 1e-2f32;
    let mut checked = 0;
    for (pi, name) in names.iter().enumerate() {
        let base = net.params()[pi].1.as_vec();
        let n = base.len();
        // Up to 12 entries per tensor, spread over it.
        let picks: Vec<usize> = (0..12.min(n)).map(|k| (k * 7919) % n).collect();
        for &k in &picks {
            let mut plus = base.clone();
            plus[k] += eps;
            net.params_mut()[pi].copy_from(&plus);
            let (lp, _) = loss_and_grads(&net, &case, false);
            let mut minus = base.clone();
            minus[k] -= eps;
            net.params_mut()[pi].copy_from(&minus);
            let (lm, _) = loss_and_grads(&net, &case, false);
            net.params_mut()[pi].copy_from(&base);
            let numeric = (lp - lm) / (2.0 * eps as f64);
            let a = analytic[pi][k] as f64;
            let tol = 1e-4 + 1e-2 * a.abs().max(numeric.abs());
            assert!((a - numeric).abs() <= tol, "{name}[{k}]: analytic {a:.6} vs numeric {numeric:.6}");
            checked += 1;
        }
    }
    assert!(checked > 50);
}

#[test]
fn sentiment_model_gradient_matches_finite_differences() {
    let dev = Cpu::seed_from_u64(0);
    for readout in [Readout::Pooled(Pooling::Last), Readout::Pooled(Pooling::MeanMax)] {
        let cfg = NetConfig { vocab: 11, embed_dim: 5, hidden: 6, layers: 2, dropout: 0.3, outputs: 1, readout };
        let net = Network::new(&dev, cfg, 3).unwrap();
        // 3 rows, 5 steps, right-aligned lengths 5, 3, 1; repeated ids so
        // the embedding gradient accumulates.
        let (steps, batch) = (5, 3);
        let starts = vec![0, 2, 4];
        let mut ids = vec![0; steps * batch];
        for t in 0..steps {
            for (b, &start) in starts.iter().enumerate() {
                if t >= start {
                    ids[t * batch + b] = 1 + (t * 3 + b * 5) % 4;
                }
            }
        }
        let case = Case { ids, seq: Seq { steps, batch, starts }, targets: vec![1.0, 0.0, 1.0], state: None };
        check(net, case);
    }
}

#[test]
fn language_model_gradient_matches_finite_differences() {
    lm_gradient_check(0.0);
}

/// DropConnect on `w_h` (one fixed mask, as `loss_and_grads` seeds it):
/// the dropped weights get no gradient, the others the masked chain rule's.
#[test]
fn language_model_gradient_with_dropconnect_matches_finite_differences() {
    lm_gradient_check(0.4);
}

fn lm_gradient_check(weight_drop: f32) {
    let dev = Cpu::seed_from_u64(0);
    for embed_dim in [0, 4] {
        let v = 7;
        let cfg = NetConfig {
            vocab: v,
            embed_dim,
            hidden: 5,
            layers: 2,
            dropout: 0.5,
            outputs: v,
            readout: Readout::EveryStep,
        };
        let mut net = Network::new(&dev, cfg, 5).unwrap();
        net.weight_drop = weight_drop;
        let (steps, batch) = (6, 2);
        let ids: Vec<usize> = (0..steps * batch).map(|i| (i * 5 + 1) % v).collect();
        let mut targets = vec![0.0; steps * batch * v];
        for r in 0..steps * batch {
            targets[r * v + (r * 3 + 2) % v] = 1.0;
        }
        let state: State = (0..2)
            .map(|l| {
                let h = (0..batch * 5).map(|i| ((i + l) as f32 * 0.37).sin() * 0.5).collect();
                let c = (0..batch * 5).map(|i| ((i + l) as f32 * 0.21).cos() * 0.5).collect();
                (h, c)
            })
            .collect();
        let case = Case { ids, seq: Seq::dense(steps, batch), targets, state: Some(state) };
        check(net, case);
    }
}
