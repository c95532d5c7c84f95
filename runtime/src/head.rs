//! The dense output layer.

use crate::fixed::{requantize, sat32};
use crate::format::Head;
use crate::lstm::dot_i8_i16;

/// Output `r` of the dense layer over `features` (Q0.15): the logit in
/// Q(31-f).f with the head's `out_frac` f, saturated to `i32`.
#[inline]
pub fn dense_output(head: &Head<'_>, r: usize, features: &[i16]) -> i32 {
    let n = features.len();
    let acc = i64::from(dot_i8_i16(&head.w.0[r * n..(r + 1) * n], features))
        + i64::from(head.bias.get(r));
    sat32(requantize(
        acc,
        head.scale.multipliers.get(r),
        head.scale.shifts.get(r),
    ))
}
