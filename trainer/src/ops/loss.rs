//! The softmax cross-entropy as one tape operation.

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::ops::tensor::{host, T2};

/// Softmax cross-entropy of `logits` `(N, V)` against target
/// probabilities `targets` (`N V`, row-major): dfdx's
/// `cross_entropy_with_logits_loss`, `-mean(targets * log_softmax(logits))
/// * V`, as one tape operation instead of ten. Every value and gradient is
/// computed with the operations dfdx's chain performs, in its order (the
/// row maximum off the tape, `exp`, the row sum from zero, `ln`, the
/// sequential sum of all products, each backward step added to a zeroed
/// gradient in the tape's reverse order), so loss and gradients are its
/// bits (tested); the rows run on the threads set by `linalg::set_threads`.
pub fn cross_entropy<T: Tape<f32, Cpu>>(logits: T2<T>, targets: Vec<f32>) -> Tensor<Rank0, f32, Cpu, T> {
    cross_entropy_on(logits, targets, crate::linalg::threads() > 1)
}

/// One row of the cross-entropy's forward: logits (then `exp`), products,
/// the row's sum, targets.
type CeForwardRow<'a> = ((&'a mut [f32], &'a mut [f32]), (&'a mut f32, &'a [f32]));
/// One row of its backward: the logits' gradient, `exp`, the sum, targets.
type CeBackwardRow<'a> = ((&'a mut [f32], &'a [f32]), (&'a f32, &'a [f32]));

/// [`cross_entropy`], its rows on rayon's threads when `parallel`.
fn cross_entropy_on<T: Tape<f32, Cpu>>(logits: T2<T>, targets: Vec<f32>, parallel: bool) -> Tensor<Rank0, f32, Cpu, T> {
    let (x, mut tape) = logits.split_tape();
    let (n, v) = *x.shape();
    assert_eq!(targets.len(), n * v, "cross_entropy: one target per logit");
    // Forward, per row: tm = x - max, e = exp(tm), s = sum e, P = tm - ln s;
    // q = P * y. `e` and `s` are what the backward needs.
    let mut e = host(&x);
    let mut q = vec![0.0f32; n * v];
    let mut sums = vec![0.0f32; n];
    let row = |((e, q), (s, y)): CeForwardRow<'_>| {
        let m = e.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (t, q) in e.iter_mut().zip(q.iter_mut()) {
            *q = *t - m;
            *t = q.exp();
            sum += *t;
        }
        let lse = sum.ln();
        for (q, y) in q.iter_mut().zip(y) {
            *q = (*q - lse) * y;
        }
        *s = sum;
    };
    let w = v.max(1);
    if parallel {
        e.par_chunks_mut(w)
            .zip(q.par_chunks_mut(w))
            .zip(sums.par_iter_mut().zip(targets.par_chunks(w)))
            .with_min_len(64)
            .for_each(row);
    } else {
        e.chunks_mut(w).zip(q.chunks_mut(w)).zip(sums.iter_mut().zip(targets.chunks(w))).for_each(row);
    }
    // The sum of all products in order, from zero (adding -0 changes nothing).
    let total = q.iter().filter(|q| q.to_bits() != 0x8000_0000).fold(0.0f32, |acc, q| acc + q);
    let inv_n = (1.0 / (n * v) as f64) as f32;
    let inv_v = (1.0 / v as f64) as f32;
    let loss = -(total * inv_n) / inv_v;
    let out = x.device().tensor(loss);
    if T::OWNS_TAPE {
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gl = grads.get_or_alloc_mut(&out_g)?[0];
            // Division by 1/V, negation, the mean's scale, the sum: one
            // gradient for every product.
            let g_neg = 0.0 + (1.0 / inv_v) * gl;
            let g_mean = 0.0 + -g_neg;
            let g_sum = 0.0 + inv_n * g_mean;
            let gq = 0.0 + g_sum;
            let gx = grads.get_or_alloc_mut(&x_g)?;
            let row = |((gx, e), (s, y)): CeBackwardRow<'_>| {
                let mut g_lse = 0.0f32;
                for (g, y) in gx.iter_mut().zip(y) {
                    let g_p = 0.0 + y * gq;
                    *g += g_p;
                    g_lse += -g_p;
                }
                let g_s = 0.0 + s.recip() * g_lse;
                let g_e = 0.0 + g_s;
                for (g, e) in gx.iter_mut().zip(e) {
                    *g += e * g_e;
                }
            };
            if parallel {
                gx.par_chunks_mut(w)
                    .zip(e.par_chunks(w))
                    .zip(sums.par_iter().zip(targets.par_chunks(w)))
                    .with_min_len(64)
                    .for_each(row);
            } else {
                gx.chunks_mut(w).zip(e.chunks(w)).zip(sums.iter().zip(targets.chunks(w))).for_each(row);
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// one-hot and soft targets, a row whose softmax saturates, the rows on
    /// one thread and on rayon's.
    #[test]
    fn cross_entropy_is_dfdxs_bits() {
        use dfdx::losses::cross_entropy_with_logits_loss;
        let dev = Cpu::seed_from_u64(1);
        for (n, v, soft) in [(7, 5, false), (300, 65, false), (33, 11, true), (1, 3, false)] {
            let mut x: Vec<f32> = (0..n * v).map(|i| ((i * 7919) % 113) as f32 / 9.0 - 6.0).collect();
            x[0] = 95.0; // row 0 saturates: log-probabilities of exactly 0 and far below
            let y: Vec<f32> = (0..n * v)
                .map(
                    |i| if soft { ((i * 31) % 7) as f32 / 21.0 } else { f32::from(u8::from(i % v == (i / v * 3) % v)) },
                )
                .collect();
            let xt: T2 = dev.tensor_from_vec(x, (n, v));
            let yt: T2 = dev.tensor_from_vec(y.clone(), (n, v));
            let want = cross_entropy_with_logits_loss(xt.clone().traced(Gradients::leaky()), yt);
            let want_loss = want.array();
            let want_g = want.backward().get(&xt).as_vec();
            for parallel in [false, true] {
                let got = cross_entropy_on(xt.clone().traced(Gradients::leaky()), y.clone(), parallel);
                let got_loss = got.array();
                let got_g = got.backward().get(&xt).as_vec();
                assert_eq!(got_loss.to_bits(), want_loss.to_bits(), "loss {n}x{v}: {got_loss} vs {want_loss}");
                assert!(got_g.iter().any(|g| *g != 0.0));
                for (i, (g, w)) in got_g.iter().zip(&want_g).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "gradient {i} of {n}x{v}, parallel {parallel}: {g} vs {w}");
                }
            }
        }
    }
}
