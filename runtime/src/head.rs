//! The dense output layer.

use crate::fixed::{requantize, sat32};
use crate::format::Head;
use crate::kernel::{dot, dot2, Prepared};

/// Output `r` of the dense layer over the features `a` then `b` (Q0.15,
/// prepared; `b` empty but for mean-max pooling): the logit in Q(31-f).f
/// with the head's `out_frac` f, saturated to `i32`.
#[inline]
pub fn dense_output(head: &Head<'_>, r: usize, a: Prepared<'_>, b: Prepared<'_>) -> i32 {
    let n = a.len() + b.len();
    let (wa, wb) = head.w.0[r * n..(r + 1) * n].split_at(a.len());
    requantized(head, r, dot(wa, a) + dot(wb, b))
}

/// All outputs of a dense layer over one prepared feature vector, two rows
/// a kernel call: `out[r]` as [`dense_output`] gives it.
pub fn dense_outputs(head: &Head<'_>, a: Prepared<'_>, out: &mut [i32]) {
    let (n, rows) = (a.len(), out.len());
    let mut pairs = out.chunks_exact_mut(2);
    for (p, pair) in (&mut pairs).enumerate() {
        let acc = dot2(&head.w.0[2 * p * n..], a);
        pair[0] = requantized(head, 2 * p, acc[0]);
        pair[1] = requantized(head, 2 * p + 1, acc[1]);
    }
    if let [last] = pairs.into_remainder() {
        *last = requantized(head, rows - 1, dot(&head.w.0[(rows - 1) * n..], a));
    }
}

fn requantized(head: &Head<'_>, r: usize, dot: i32) -> i32 {
    let acc = i64::from(dot) + i64::from(head.bias.get(r));
    sat32(requantize(acc, head.scale.multipliers.get(r), head.scale.shifts.get(r)))
}
