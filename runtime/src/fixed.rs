//! Fixed-point primitives: named rounding and saturation, requantization,
//! and the sigmoid, tanh and exp tables.
//!
//! Q formats used in this crate (`Qm.n`: n fractional bits):
//! - gate pre-activations: Q3.12 in `i16` (range ±8);
//! - gate outputs and the hidden state: Q0.15 in `i16`;
//! - the cell state: Q(15-f).f in `i16`, `f` chosen at export per layer;
//! - output logits: Q(31-f).f in `i32`, `f` from the model file.
//!
//! The tables are computed by `const fn` at compile time from an f64 series,
//! so they are the same bits on every target and no float runs on the device.

/// Round-half-up arithmetic shift right by `n` bits (`n` in `0..=62`).
#[inline(always)]
pub const fn round_shift_i64(v: i64, n: u32) -> i64 {
    if n == 0 {
        v
    } else {
        (v + (1i64 << (n - 1))) >> n
    }
}

/// Round-half-up arithmetic shift right by `n` bits (`n` in `0..=30`).
#[inline(always)]
pub const fn round_shift(v: i32, n: u32) -> i32 {
    if n == 0 {
        v
    } else {
        (v + (1i32 << (n - 1))) >> n
    }
}

/// Saturate to the `i16` range.
#[inline(always)]
pub const fn sat16(v: i32) -> i16 {
    if v > i16::MAX as i32 {
        i16::MAX
    } else if v < i16::MIN as i32 {
        i16::MIN
    } else {
        v as i16
    }
}

/// Saturate an `i64` to the `i32` range.
#[inline(always)]
pub const fn sat32(v: i64) -> i32 {
    if v > i32::MAX as i64 {
        i32::MAX
    } else if v < i32::MIN as i64 {
        i32::MIN
    } else {
        v as i32
    }
}

/// `floor(acc * multiplier / 2^(30 + shift))`: the requantized value with
/// one bit more, so that rounding is `(q + 1) >> 1`, since
/// `floor((p + 2^(n-1)) / 2^n)` equals `(floor(p / 2^(n-1)) + 1) >> 1`.
/// One 64-bit shift, or for a shift of 32 or more only the product's high
/// word (on a 32-bit core one arithmetic shift instead of a 64-bit one).
#[inline(always)]
const fn requantize_half_bit(acc: i64, multiplier: i32, shift: i8) -> i64 {
    let p = acc * multiplier as i64;
    let n = (30 + shift as i32) as u32;
    if n >= 32 {
        ((p >> 32) as i32 >> (n - 32)) as i64
    } else {
        p >> n
    }
}

/// Requantize: `round_half_up(acc * multiplier / 2^(31 + shift))`.
///
/// `multiplier` is in `[0, 2^31)`, `shift` in `[-30, 31]` and `|acc| < 2^32`
/// (all checked when a model is decoded), so the product fits in `i64`.
#[inline(always)]
pub const fn requantize(acc: i64, multiplier: i32, shift: i8) -> i64 {
    (requantize_half_bit(acc, multiplier, shift) + 1) >> 1
}

/// [`requantize`] saturated to `±limit`, as an `i32` (`limit < 2^30`),
/// saturating before the last halving so that it runs in 32 bits: the hot
/// path of every gate.
///
/// Where `acc` fits in 32 bits and the shift is at least 32 (`shift >= 2`,
/// the common case of a gate), it is one 32x32 multiply's high word, one
/// arithmetic shift and one signed saturation: the value `q` with one bit
/// more is clamped to `[-2 limit, 2 limit - 1]` rather than to
/// `[-2 limit, 2 limit]`, which halves to the same result since `2 limit`
/// and `2 limit - 1` both round to `limit` (and for a power-of-two
/// `limit`, this clamp is one `SSAT`). Anything else takes the 64-bit
/// shift.
#[inline(always)]
pub fn requantize_sat(acc: i64, multiplier: i32, shift: i8, limit: i32) -> i32 {
    match i32::try_from(acc) {
        Ok(a) => requantize_sat32(a, multiplier, shift, limit),
        Err(_) => requantize_sat_wide(acc, multiplier, shift, limit),
    }
}

/// [`requantize_sat`] of an accumulator that fits in 32 bits.
#[inline(always)]
pub fn requantize_sat32(acc: i32, multiplier: i32, shift: i8, limit: i32) -> i32 {
    let lim = 2 * limit;
    let q = if shift >= 2 {
        let p = i64::from(acc) * i64::from(multiplier);
        ((p >> 32) as i32 >> (shift - 2) as u32).clamp(-lim, lim - 1)
    } else {
        requantize_small_shift(acc, multiplier, shift, lim)
    };
    (q + 1) >> 1
}

/// [`requantize_sat32`]'s `q` for a shift n = 30 + shift below 32 (the
/// factor is 1/4 or more: no model the quantizer writes has one): the
/// 64-bit product's funnel shift, then a 64-bit clamp. Out of line and
/// cold, so that the hot path falls through without a jump around it.
#[cold]
#[inline(never)]
fn requantize_small_shift(acc: i32, multiplier: i32, shift: i8, lim: i32) -> i32 {
    let p = i64::from(acc) * i64::from(multiplier);
    let n = (30 + shift as i32) as u32 & 31;
    (p >> n).clamp(-i64::from(lim), i64::from(lim - 1)) as i32
}

/// [`requantize_sat`] through the 64-bit shift (kept out of line: the
/// rare case of a gate).
#[inline(never)]
fn requantize_sat_wide(acc: i64, multiplier: i32, shift: i8, limit: i32) -> i32 {
    let lim = i64::from(2 * limit);
    let q = requantize_half_bit(acc, multiplier, shift).clamp(-lim, lim) as i32;
    (q + 1) >> 1
}

/// Entries in the sigmoid and tanh tables: 512 intervals over `[-8, 8)`.
pub const ACT_TABLE_LEN: usize = 513;

const fn exp_f64(x: f64) -> f64 {
    // exp(x) = 2^k * exp(r), |r| <= ln2 / 2, with a 24-term Taylor series.
    const LN2: f64 = core::f64::consts::LN_2;
    let kf = x / LN2;
    let k = if kf >= 0.0 { (kf + 0.5) as i64 } else { (kf - 0.5) as i64 };
    let r = x - k as f64 * LN2;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut i = 1;
    while i < 24 {
        term = term * r / i as f64;
        sum += term;
        i += 1;
    }
    let mut p = 1.0;
    let mut j = 0;
    let n = if k < 0 { -k } else { k };
    while j < n {
        p *= 2.0;
        j += 1;
    }
    if k < 0 {
        sum / p
    } else {
        sum * p
    }
}

const fn round_f64(x: f64) -> i64 {
    if x >= 0.0 {
        (x + 0.5) as i64
    } else {
        -((-x + 0.5) as i64)
    }
}

const fn act_table(tanh: bool) -> [i16; ACT_TABLE_LEN] {
    let mut t = [0i16; ACT_TABLE_LEN];
    let mut i = 0;
    while i < ACT_TABLE_LEN {
        let x = -8.0 + 16.0 * i as f64 / 512.0;
        let y = if tanh {
            let e = exp_f64(-2.0 * x);
            (1.0 - e) / (1.0 + e)
        } else {
            1.0 / (1.0 + exp_f64(-x))
        };
        let q = round_f64(y * 32768.0);
        t[i] = if q > 32767 {
            32767
        } else if q < -32767 {
            -32767
        } else {
            q as i16
        };
        i += 1;
    }
    t
}

/// `sigmoid(x)` in Q0.15 at `x = -8 + i/32`.
pub static SIGMOID_TABLE: [i16; ACT_TABLE_LEN] = act_table(false);
/// `tanh(x)` in Q0.15 at `x = -8 + i/32`.
pub static TANH_TABLE: [i16; ACT_TABLE_LEN] = act_table(true);

#[inline(always)]
fn lookup(table: &[i16; ACT_TABLE_LEN], x: i16) -> i16 {
    // x in Q3.12: u = x + 8.0 in units of 2^-12, 0..65535; 128 units per interval.
    let u = (x as i32 + 32768) as u32;
    let idx = (u >> 7) as usize;
    let frac = (u & 127) as i32;
    let a = table[idx] as i32;
    let b = table[idx + 1] as i32;
    (a + round_shift((b - a) * frac, 7)) as i16
}

/// Sigmoid of a Q3.12 value, in Q0.15 (linear interpolation in the table).
#[inline(always)]
pub fn sigmoid_q15(x: i16) -> i16 {
    lookup(&SIGMOID_TABLE, x)
}

/// Tanh of a Q3.12 value, in Q0.15 (linear interpolation in the table).
#[inline(always)]
pub fn tanh_q15(x: i16) -> i16 {
    lookup(&TANH_TABLE, x)
}

/// Entries in the exp table: 256 intervals over `[0, 16]`.
pub const EXP_TABLE_LEN: usize = 257;

const fn exp_table() -> [u32; EXP_TABLE_LEN] {
    let mut t = [0u32; EXP_TABLE_LEN];
    let mut i = 0;
    while i < EXP_TABLE_LEN {
        t[i] = round_f64(exp_f64(-(i as f64) / 16.0) * 65536.0) as u32;
        i += 1;
    }
    t
}

/// `exp(-x)` in Q16 at `x = i/16`.
pub static EXP_NEG_TABLE: [u32; EXP_TABLE_LEN] = exp_table();

/// `z_max - z` of two logits in Q.f (`out_frac` = f) in Q4.12 units, the
/// input of [`exp_neg_q16`]: the one conversion of the sampler and the
/// softmax.
#[inline]
pub fn gap_q12(zmax: i32, z: i32, out_frac: u8) -> i64 {
    let d = i64::from(zmax) - i64::from(z);
    if out_frac >= 12 {
        d >> (out_frac - 12)
    } else {
        d << (12 - out_frac)
    }
}

/// `exp(-x)` in Q16 for `x >= 0` in Q4.12 units (`x = d / 4096`); 0 from 16 on.
#[inline]
pub fn exp_neg_q16(d: u32) -> u32 {
    if d >= 16 << 12 {
        return 0;
    }
    let idx = (d >> 8) as usize;
    let frac = d & 255;
    let a = EXP_NEG_TABLE[idx];
    let b = EXP_NEG_TABLE[idx + 1];
    // The table decreases: a >= b.
    a - (((a - b) * frac + 128) >> 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requantize_rounds_half_up() {
        // multiplier 2^30 with shift 0 is a factor 1/2.
        assert_eq!(requantize(3, 1 << 30, 0), 2);
        assert_eq!(requantize(-3, 1 << 30, 0), -1);
        assert_eq!(requantize(4, 1 << 30, -1), 4);
        assert_eq!(requantize(1 << 20, 1 << 30, 10), 1 << 9);
    }

    #[test]
    fn requantize_and_requantize_sat_equal_the_exact_rounding() {
        let mut s = 99u64;
        let mut next = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            s
        };
        // Fewer cases under Miri, which interprets every instruction.
        for i in 0..if cfg!(miri) { 2_000 } else { 200_000 } {
            let acc = (next() as i64) >> (32 + (i % 31));
            let m = (next() >> 33) as i32;
            let shift = (next() % 62) as i8 - 30;
            // The definition: one rounding shift of the exact product.
            let exact = round_shift_i64(acc * m as i64, (31 + shift as i32) as u32);
            assert_eq!(requantize(acc, m, shift), exact, "{acc} {m} {shift}");
            let want = exact.clamp(-(1 << 20), 1 << 20) as i32;
            assert_eq!(requantize_sat(acc, m, shift, 1 << 20), want, "{acc} {m} {shift}");
        }
        for (acc, m, shift) in [(3, 1 << 30, 0), (-3, 1 << 30, 0), (1i64 << 32, i32::MAX, -30), (-1, 1, 31)] {
            let exact = round_shift_i64(acc * m as i64, (31 + shift as i32) as u32);
            assert_eq!(requantize(acc, m, shift), exact);
            assert_eq!(requantize_sat(acc, m, shift, 1 << 20), exact.clamp(-(1 << 20), 1 << 20) as i32);
        }
    }

    #[test]
    fn requantize_extremes_do_not_overflow() {
        let acc = (1i64 << 32) - 1;
        let _ = requantize(acc, i32::MAX, -30);
        let _ = requantize(-acc, i32::MAX, 31);
    }

    #[test]
    fn saturation() {
        assert_eq!(sat16(40000), i16::MAX);
        assert_eq!(sat16(-40000), i16::MIN);
        assert_eq!(sat16(-5), -5);
        assert_eq!(sat32(i64::MAX), i32::MAX);
    }

    #[test]
    fn tables_match_f64_within_two_lsb() {
        let mut worst_s = 0.0f64;
        let mut worst_t = 0.0f64;
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let xf = x as f64 / 4096.0;
            let s = 1.0 / (1.0 + (-xf).exp());
            worst_s = worst_s.max((sigmoid_q15(x) as f64 / 32768.0 - s).abs());
            worst_t = worst_t.max((tanh_q15(x) as f64 / 32768.0 - xf.tanh()).abs());
        }
        // Interpolation error bound h^2/8 * max|f''| with h = 1/32.
        assert!(worst_s < 2.0 / 32768.0, "sigmoid error {worst_s}");
        assert!(worst_t < 4.0 / 32768.0, "tanh error {worst_t}");
    }

    #[test]
    fn activations_monotone_and_bounded() {
        let mut prev_s = i16::MIN;
        let mut prev_t = i16::MIN;
        for x in i16::MIN..=i16::MAX {
            let s = sigmoid_q15(x);
            let t = tanh_q15(x);
            assert!(s >= prev_s && t >= prev_t);
            assert!((0..=32767).contains(&s));
            assert!((-32767..=32767).contains(&t));
            prev_s = s;
            prev_t = t;
        }
        assert_eq!(sigmoid_q15(0), 16384);
        assert_eq!(tanh_q15(0), 0);
    }

    #[test]
    fn exp_table_matches() {
        for d in (0u32..(17 << 12)).step_by(13) {
            let want = (-(d as f64) / 4096.0).exp() * 65536.0;
            let got = exp_neg_q16(d) as f64;
            if d >= 16 << 12 {
                assert_eq!(got, 0.0);
            } else {
                // Interpolation error bound: h^2/8 * 65536 with h = 1/16 is 32.
                assert!((got - want).abs() < 33.0, "d={d} got {got} want {want}");
            }
        }
        assert_eq!(exp_neg_q16(0), 65536);
    }
}
