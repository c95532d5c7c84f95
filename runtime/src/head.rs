//! The dense output layer.

use crate::fixed::{requantize, sat32};
use crate::format::Head;
use crate::lstm::dot_i8_i16;

/// Output `r` of the dense layer over the features `a` then `b` (Q0.15;
/// `b` empty but for mean-max pooling): the logit in Q(31-f).f with the
/// head's `out_frac` f, saturated to `i32`.
#[inline]
pub fn dense_output(head: &Head<'_>, r: usize, a: &[i16], b: &[i16]) -> i32 {
    let n = a.len() + b.len();
    let (wa, wb) = head.w.0[r * n..(r + 1) * n].split_at(a.len());
    let acc = i64::from(dot_i8_i16(wa, a) + dot_i8_i16(wb, b)) + i64::from(head.bias.get(r));
    sat32(requantize(acc, head.scale.multipliers.get(r), head.scale.shifts.get(r)))
}
