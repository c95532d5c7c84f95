//! The kernels' entry points: each picks the DSP, AVX2 or portable
//! implementation (by target, and on x86-64 hosts by [`Simd`], the
//! `cpu::Avx2` token), and [`RowKind`], the one step code for both weight
//! widths.

#[cfg(lstm_dsp)]
use super::dsp;
#[cfg(lstm_dsp)]
use super::dsp_q4;
use super::layout::Prepared;
#[cfg(not(lstm_dsp))]
use super::portable;
#[cfg(lstm_dsp)]
use super::portable::dot_dsp_layout;
use super::portable::{dot_plain, dot_q4_plain};
#[cfg(target_arch = "x86_64")]
use super::x86;

/// Dot product of one int8 row (`x.len()` bytes at the start of `w`) with a
/// prepared vector. Panics if `w` is shorter than `x`.
#[inline]
pub fn dot(w: &[u8], x: Prepared<'_>) -> i32 {
    let w = &w[..x.0.len()];
    #[cfg(lstm_dsp)]
    {
        dot_dsp_layout(w, x.0)
    }
    #[cfg(not(lstm_dsp))]
    {
        dot_plain(w, x.0)
    }
}

/// The SIMD kernels a call may use: `Some` with the proof that the CPU has
/// AVX2 (an x86-64 host with the `std` feature, from
/// [`cpu::Avx2::detect`]), `None` for this target's own kernel (portable,
/// or DSP on ARMv7E-M). Only detection makes a `Some`.
pub type Simd = Option<cpu::Avx2>;

/// Dot products of two consecutive rows (`2 * x.len()` bytes at the start
/// of `w`) with one prepared vector. Panics if `w` is too short.
#[inline(always)]
pub fn dot2(w: &[u8], x: Prepared<'_>) -> [i32; 2] {
    dot2_on(cpu::Avx2::detect(), w, x)
}

/// [`dot2`] on the kernels `simd` allows.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn dot2_on(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2] {
    let n = x.0.len();
    let (r0, r1) = (&w[..n], &w[n..2 * n]);
    #[cfg(lstm_dsp)]
    {
        // The assembly loop over whole groups of four, then at most three
        // columns in plain order.
        let n4 = n & !3;
        let (a0, a1) = if n4 > 0 { dsp::dot2_groups_of_4(&w[..2 * n], x, n4) } else { (0, 0) };
        [a0 + dot_plain(&r0[n4..], &x.0[n4..]), a1 + dot_plain(&r1[n4..], &x.0[n4..])]
    }
    #[cfg(not(lstm_dsp))]
    {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = simd {
            return x86::dot2_i8(avx2, r0, r1, x.0);
        }
        [dot_plain(r0, x.0), dot_plain(r1, x.0)]
    }
}

/// Dot product of one 4-bit row ([`crate::format::row_bytes`]`(4,
/// x.len())` bytes at the start of `w`) with a prepared vector. Panics if
/// `w` is shorter.
#[inline(always)]
pub fn dot_q4(w: &[u8], x: Prepared<'_>) -> i32 {
    let n = x.0.len();
    let w = &w[..crate::format::row_bytes(4, n)];
    #[cfg(lstm_dsp)]
    {
        let n8 = n & !7;
        let head = if n8 > 0 { dsp_q4::dot_q4_groups_of_8(w, x, n8) } else { 0 };
        head + dot_q4_plain(w, x.0, n8)
    }
    #[cfg(not(lstm_dsp))]
    {
        dot_q4_plain(w, x.0, 0)
    }
}

/// [`dot_q4`] of two consecutive 4-bit rows.
#[inline(always)]
pub fn dot2_q4(w: &[u8], x: Prepared<'_>) -> [i32; 2] {
    dot2_q4_on(cpu::Avx2::detect(), w, x)
}

/// [`dot2_q4`] on the kernels `simd` allows.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn dot2_q4_on(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2] {
    let rb = crate::format::row_bytes(4, x.0.len());
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd {
        return x86::dot2_q4(avx2, &w[..rb], &w[rb..2 * rb], x.0);
    }
    [dot_q4(w, x), dot_q4(&w[rb..], x)]
}

/// Dot products of four consecutive int8 rows (`4 * x.len()` bytes at the
/// start of `w`) with one prepared vector: on ARMv7E-M one loop for all
/// four rows (each vector load serving four rows), likewise with AVX2;
/// elsewhere two [`dot2`].
#[inline(always)]
pub fn dot4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    dot4_on(cpu::Avx2::detect(), w, x)
}

/// [`dot4`] on the kernels `simd` allows.
#[inline(always)]
fn dot4_on(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    let n = x.0.len();
    let w = &w[..4 * n];
    #[cfg(lstm_dsp)]
    {
        let _ = simd;
        let n4 = n & !3;
        let mut acc = if n4 > 0 { dsp::dot4_groups_of_4(w, x, n4) } else { [0; 4] };
        if n4 < n {
            for (r, a) in acc.iter_mut().enumerate() {
                *a += dot_plain(&w[r * n + n4..(r + 1) * n], &x.0[n4..]);
            }
        }
        acc
    }
    #[cfg(not(lstm_dsp))]
    {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = simd {
            return x86::dot4_i8(avx2, w, x.0);
        }
        let (a, b) = (dot2_on(simd, w, x), dot2_on(simd, &w[2 * n..], x));
        [a[0], a[1], b[0], b[1]]
    }
}

/// [`dot4`] of four consecutive 4-bit rows: on ARMv7E-M, where `x.len()`
/// is a multiple of 16, one block for the four rows; with AVX2, one loop
/// for the four; otherwise two [`dot2_q4`].
#[inline(always)]
pub fn dot4_q4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    dot4_q4_on(cpu::Avx2::detect(), w, x)
}

/// [`dot4_q4`] on the kernels `simd` allows.
#[inline(always)]
fn dot4_q4_on(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    let n = x.0.len();
    let rb = crate::format::row_bytes(4, n);
    let w = &w[..4 * rb];
    #[cfg(lstm_dsp)]
    if n.is_multiple_of(16) && n > 0 {
        return dsp_q4::dot4_q4_whole(w, x);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd {
        return x86::dot4_q4(avx2, w, x.0);
    }
    let (a, b) = (dot2_q4_on(simd, w, x), dot2_q4_on(simd, &w[2 * rb..], x));
    [a[0], a[1], b[0], b[1]]
}

/// A unit's four fused int8 rows (format version 5: interleaved word by
/// word, `4 * x.len()` bytes, `x.len()` a multiple of 4) times `x`, each
/// from its row's `bias`: `bias[r] + sum(w * x)`. On ARMv7-M with the DSP
/// extension one block (`dsp::dot4_fused`), with AVX2 one loop with no
/// reduction across rows, elsewhere the portable loop.
#[inline(always)]
pub fn dot4_fused_i8(w: &[u8], x: Prepared<'_>, bias: [i32; 4]) -> [i32; 4] {
    dot4_fused_i8_on(cpu::Avx2::detect(), w, x, bias)
}

/// [`dot4_fused_i8`] on the kernels `simd` allows.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn dot4_fused_i8_on(simd: Simd, w: &[u8], x: Prepared<'_>, bias: [i32; 4]) -> [i32; 4] {
    let n = x.0.len();
    assert!(n.is_multiple_of(4), "fused rows are padded to whole words");
    let w = &w[..4 * n];
    // A model file placed on a word boundary (as the firmware places it)
    // has word-aligned rows (the format pads them so): two words a load.
    #[cfg(lstm_dsp)]
    {
        if (w.as_ptr() as usize).is_multiple_of(4) {
            dsp::dot4_fused::<true>(w, x, bias)
        } else {
            dsp::dot4_fused::<false>(w, x, bias)
        }
    }
    #[cfg(not(lstm_dsp))]
    {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = simd {
            let acc = x86::dot4_fused_i8(avx2, w, x.0);
            return core::array::from_fn(|r| bias[r] + acc[r]);
        }
        portable::dot4_fused_i8(w, x.0, bias)
    }
}

/// A unit's four fused offset-binary 4-bit rows (format version 5: nibble
/// `w + 8`, interleaved word by word, `2 * x.len()` bytes, `x.len()` a
/// multiple of 8) times `x`, whose values sum to `sum`, each from its
/// row's `bias`: `bias[r] + sum(w * x)`. On ARMv7-M with the DSP extension
/// one block that multiplies the unsigned nibbles from `bias - 8 * sum`
/// (`dsp_q4::dot4_u4`); elsewhere the nibbles made two's complement (an
/// XOR with 8), with AVX2 or portable.
#[inline(always)]
pub fn dot4_fused_u4(w: &[u8], x: Prepared<'_>, bias: [i32; 4], sum: i32) -> [i32; 4] {
    dot4_fused_u4_on(cpu::Avx2::detect(), w, x, bias, sum)
}

/// [`dot4_fused_u4`] on the kernels `simd` allows.
#[inline(always)]
#[cfg_attr(any(not(target_arch = "x86_64"), not(lstm_dsp)), allow(unused_variables))]
fn dot4_fused_u4_on(simd: Simd, w: &[u8], x: Prepared<'_>, bias: [i32; 4], sum: i32) -> [i32; 4] {
    let n = x.0.len();
    assert!(n.is_multiple_of(8), "fused rows are padded to whole words");
    let w = &w[..2 * n];
    #[cfg(lstm_dsp)]
    {
        let init = bias.map(|b| b - 8 * sum);
        if (w.as_ptr() as usize).is_multiple_of(4) {
            dsp_q4::dot4_u4::<true>(w, x, init)
        } else {
            dsp_q4::dot4_u4::<false>(w, x, init)
        }
    }
    #[cfg(not(lstm_dsp))]
    {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = simd {
            let acc = x86::dot4_fused_q4(avx2, w, x.0);
            return core::array::from_fn(|r| bias[r] + acc[r]);
        }
        portable::dot4_fused_u4(w, x.0, bias)
    }
}

/// The four gate pre-activations of a unit (Q3.12, as `lstm::gate_pre`
/// gives them) in one AVX2 vector where `simd` allows it
/// ([`x86::gate_pre4`]); `None` where the scalar path must compute them
/// (no AVX2, or a case the vector code leaves to it).
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gate_pre4(
    simd: Simd,
    ax: [i32; 4],
    ah: [i32; 4],
    bias: &[u8; 16],
    mx: &[u8; 16],
    mh: &[u8; 16],
    sx: &[u8; 4],
    sh: &[u8; 4],
) -> Option<[i16; 4]> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd {
        return x86::gate_pre4(avx2, ax, ah, bias, mx, mh, sx, sh);
    }
    None
}

/// A fused unit's four gate pre-activations (Q3.12, as `lstm::fused_pre`
/// gives them) in one vector where `simd` allows it
/// ([`x86::fused_pre4`]); `None` where the scalar path must compute them.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) fn fused_pre4(simd: Simd, acc: [i32; 4], m: &[u8; 16], s: &[u8; 4]) -> Option<[i16; 4]> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd {
        return x86::fused_pre4(avx2, acc, m, s);
    }
    None
}

/// The LSTM cell of the units of `c` and `h` in whole groups of eight, from
/// their gates' pre-activations `z[g][j]`, where the CPU has AVX2
/// ([`x86::cells`]); returns the units done (0 without AVX2: the caller's
/// scalar cell does them all).
#[inline(always)]
#[cfg(target_arch = "x86_64")]
pub(crate) fn cells(simd: Simd, z: [&[i16]; 4], c: &mut [i16], h: &mut [i16], cf: u32) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd {
        return x86::cells(avx2, z, c, h, cf);
    }
    0
}

/// A weight-row encoding, for code generic over the LSTM's weight bits
/// (each layer's loop is compiled once for each, so that nothing branches
/// on the bits inside it).
pub trait RowKind {
    /// Bits a weight.
    const BITS: u8;
    /// Dot products of two consecutive rows with `x`, on the kernels
    /// `simd` allows.
    fn dot2(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2];
    /// Dot products of four consecutive rows (exactly four rows' bytes in
    /// `w`) with `x`, on the kernels `simd` allows.
    #[inline(always)]
    fn dot4(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        let (a, b) = w.split_at(w.len() / 2);
        let (p, q) = (Self::dot2(simd, a, x), Self::dot2(simd, b, x));
        [p[0], p[1], q[0], q[1]]
    }
    /// Dot products of a unit's four fused rows (format version 5,
    /// interleaved word by word; exactly four rows' bytes in `w`) with `x`, a padded `[x; h]` whose
    /// values sum to `sum`, on the kernels `simd` allows, each plus its
    /// row's `bias` (which validation keeps within i32 with the sum).
    fn dot4_fused(simd: Simd, w: &[u8], x: Prepared<'_>, bias: [i32; 4], sum: i32) -> [i32; 4];
    /// Whether [`RowKind::dot4_fused`] needs the vector's sum.
    const NEEDS_SUM: bool;
}

/// Int8 rows ([`dot2`]).
pub struct Int8Rows;
/// Int4 rows ([`dot2_q4`]).
pub struct Int4Rows;

impl RowKind for Int8Rows {
    const BITS: u8 = 8;
    const NEEDS_SUM: bool = false;
    #[inline(always)]
    fn dot4_fused(simd: Simd, w: &[u8], x: Prepared<'_>, bias: [i32; 4], _sum: i32) -> [i32; 4] {
        dot4_fused_i8_on(simd, w, x, bias)
    }
    #[inline(always)]
    fn dot2(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2] {
        dot2_on(simd, w, x)
    }
    #[inline(always)]
    fn dot4(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        dot4_on(simd, w, x)
    }
}

impl RowKind for Int4Rows {
    const BITS: u8 = 4;
    const NEEDS_SUM: bool = true;
    #[inline(always)]
    fn dot4_fused(simd: Simd, w: &[u8], x: Prepared<'_>, bias: [i32; 4], sum: i32) -> [i32; 4] {
        dot4_fused_u4_on(simd, w, x, bias, sum)
    }
    #[inline(always)]
    fn dot2(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2] {
        dot2_q4_on(simd, w, x)
    }
    #[inline(always)]
    fn dot4(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        dot4_q4_on(simd, w, x)
    }
}
