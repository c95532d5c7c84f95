//! The x86-64 kernels: AVX2, chosen at run time. Each public function
//! takes an [`Avx2`] token, which only `cpu`'s detection makes (on a host
//! with the `std` feature; never under Miri, which runs the portable
//! kernel), as the proof its `unsafe` call of a `#[target_feature(enable =
//! "avx2")]` function needs. The same sums as the portable kernel, bit for
//! bit, since every partial sum is exact.
//! Int8 rows: 16 weights sign-extended to int16 (`vpmovsxbw`), times 16
//! values with `vpmaddwd` (pairs summed into int32 lanes), two rows
//! sharing each vector load. Int4 rows: 32 columns (16 bytes) a step, the
//! low and high nibbles masked out as sixteen times the weights
//! (`vpsllw 4` then `vpand 0xf0`, and `vpand 0xf0`), interleaved back into
//! column order by group (`vpunpckldq`/`vpunpckhdq`), then as for int8; the
//! sum is shifted back exactly.

use core::arch::x86_64::*;

use cpu::Avx2;

use super::portable;

/// The sum of the eight int32 lanes.
#[target_feature(enable = "avx2")]
fn hsum(a: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// Two int8 rows (each at least `x.len()` bytes) times `x`.
pub fn dot2_i8(_: Avx2, r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
    let n = x.len();
    assert!(r0.len() >= n && r1.len() >= n);
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot2_i8_avx2(&r0[..n], &r1[..n], x) }
}

#[target_feature(enable = "avx2")]
fn dot2_i8_avx2(r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
    let n = x.len();
    let n16 = n & !15;
    let (mut a0, mut a1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut k = 0;
    while k < n16 {
        // SAFETY: k + 16 <= n16 <= n, the length of x, r0 and r1.
        unsafe {
            let xv = _mm256_loadu_si256(x.as_ptr().add(k).cast());
            let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(r0.as_ptr().add(k).cast()));
            let w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(r1.as_ptr().add(k).cast()));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, xv));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, xv));
        }
        k += 16;
    }
    [hsum(a0) + portable::dot_plain(&r0[n16..], &x[n16..]), hsum(a1) + portable::dot_plain(&r1[n16..], &x[n16..])]
}

/// Two 4-bit rows (each `row_bytes(4, x.len())` bytes) times `x`.
pub fn dot2_q4(_: Avx2, r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
    let rb = crate::format::row_bytes(4, x.len());
    assert!(r0.len() >= rb && r1.len() >= rb);
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot2_q4_avx2(&r0[..rb], &r1[..rb], x) }
}

/// Sixteen times the 32 weights of 16 bytes of 4-bit rows (four groups
/// of eight columns), as int16 in column order: the low nibbles shifted
/// up and masked, the high ones masked, interleaved back by group.
#[inline]
#[target_feature(enable = "avx2")]
fn widen(v: __m128i) -> (__m256i, __m256i) {
    let mask = _mm_set1_epi8(0xf0_u8 as i8);
    let lo = _mm_and_si128(_mm_slli_epi16::<4>(v), mask);
    let hi = _mm_and_si128(v, mask);
    (_mm256_cvtepi8_epi16(_mm_unpacklo_epi32(lo, hi)), _mm256_cvtepi8_epi16(_mm_unpackhi_epi32(lo, hi)))
}

#[target_feature(enable = "avx2")]
fn dot2_q4_avx2(r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
    let n = x.len();
    let n32 = n & !31;
    let (mut a0, mut a1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut k = 0;
    while k < n32 {
        // SAFETY: k + 32 <= n32 <= n (x's length); the rows have
        // row_bytes(4, n) >= n32 / 2 bytes, and these 16 start at k / 2.
        unsafe {
            let (xa, xb) =
                (_mm256_loadu_si256(x.as_ptr().add(k).cast()), _mm256_loadu_si256(x.as_ptr().add(k + 16).cast()));
            let (u0, v0) = widen(_mm_loadu_si128(r0.as_ptr().add(k / 2).cast()));
            let (u1, v1) = widen(_mm_loadu_si128(r1.as_ptr().add(k / 2).cast()));
            a0 = _mm256_add_epi32(a0, _mm256_add_epi32(_mm256_madd_epi16(u0, xa), _mm256_madd_epi16(v0, xb)));
            a1 = _mm256_add_epi32(a1, _mm256_add_epi32(_mm256_madd_epi16(u1, xa), _mm256_madd_epi16(v1, xb)));
        }
        k += 32;
    }
    // Every product is sixteen times the weight's: the shift is exact.
    [(hsum(a0) >> 4) + portable::dot_q4_plain(r0, x, n32), (hsum(a1) >> 4) + portable::dot_q4_plain(r1, x, n32)]
}

/// A unit's four gate pre-activations (Q3.12), as
/// `lstm::gate_pre` gives them, eight requantizations in one vector:
/// lanes 0..4 the input rows (accumulator plus bias), lanes 4..8 the
/// recurrent ones. Each 32x32-bit product comes whole from `vpmuldq`
/// (even lanes, then odd), its high word is shifted by `shift - 2`
/// (`vpsravd`), clamped to `[-2^21, 2^21 - 1]`, halved with rounding,
/// and the two halves summed and saturated to i16 (`vpackssdw`): the
/// arithmetic of `fixed::requantize_sat32`'s fast path, lane by lane.
/// `None` (the caller computes it in scalar code) where a shift is
/// below 2 or an accumulator plus its bias leaves i32.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn gate_pre4(
    _: Avx2,
    ax: [i32; 4],
    ah: [i32; 4],
    bias: &[u8; 16],
    mx: &[u8; 16],
    mh: &[u8; 16],
    sx: &[u8; 4],
    sh: &[u8; 4],
) -> Option<[i16; 4]> {
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { gate_pre4_avx2(ax, ah, bias, mx, mh, sx, sh) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn gate_pre4_avx2(
    ax: [i32; 4],
    ah: [i32; 4],
    bias: &[u8; 16],
    mx: &[u8; 16],
    mh: &[u8; 16],
    sx: &[u8; 4],
    sh: &[u8; 4],
) -> Option<[i16; 4]> {
    // SAFETY: unaligned loads of 16 bytes from 16-byte arrays and of
    // two i32 arrays of four.
    let (a, b, m_x, m_h) = unsafe {
        (
            _mm_loadu_si128(ax.as_ptr().cast()),
            _mm_loadu_si128(bias.as_ptr().cast()),
            _mm_loadu_si128(mx.as_ptr().cast()),
            _mm_loadu_si128(mh.as_ptr().cast()),
        )
    };
    let sum = _mm_add_epi32(a, b);
    // Signed overflow: the sum's sign differs from both operands'.
    let overflow = _mm_and_si128(_mm_xor_si128(a, sum), _mm_xor_si128(b, sum));
    let shifts = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(
        i64::from(u32::from_le_bytes(*sx)) | (i64::from(u32::from_le_bytes(*sh)) << 32),
    ));
    let small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), shifts);
    if _mm_movemask_ps(_mm_castsi128_ps(overflow)) != 0 || _mm256_movemask_ps(_mm256_castsi256_ps(small)) != 0 {
        return None;
    }
    // SAFETY: an unaligned load of an i32 array of four.
    let h = unsafe { _mm_loadu_si128(ah.as_ptr().cast()) };
    let acc = _mm256_set_m128i(h, sum);
    let m = _mm256_set_m128i(m_h, m_x);
    let even = _mm256_mul_epi32(acc, m);
    let odd = _mm256_mul_epi32(_mm256_srli_epi64::<32>(acc), _mm256_srli_epi64::<32>(m));
    let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
    let q = _mm256_srav_epi32(high, _mm256_sub_epi32(shifts, _mm256_set1_epi32(2)));
    let lim = 1 << 21;
    let q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-lim)), _mm256_set1_epi32(lim - 1));
    let z = _mm256_srai_epi32::<1>(_mm256_add_epi32(q, _mm256_set1_epi32(1)));
    let z = _mm_add_epi32(_mm256_castsi256_si128(z), _mm256_extracti128_si256::<1>(z));
    let pre = _mm_packs_epi32(z, z);
    let mut out = [0i16; 8];
    // SAFETY: an unaligned store of eight i16s into `out`.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), pre) };
    Some([out[0], out[1], out[2], out[3]])
}

/// The sums of the eight lanes of each of four accumulators, in one
/// reduction (three `vphaddd` and one add of the halves).
#[target_feature(enable = "avx2")]
fn hsum4(a: [__m256i; 4]) -> __m128i {
    let s = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s))
}

/// Four int8 rows (`4 * x.len()` bytes, row `r` at `r * x.len()`)
/// times `x`, each vector load serving the four rows.
#[inline(always)]
pub fn dot4_i8(_: Avx2, w: &[u8], x: &[i16]) -> [i32; 4] {
    assert!(w.len() >= 4 * x.len());
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot4_i8_avx2(&w[..4 * x.len()], x) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn dot4_i8_avx2(w: &[u8], x: &[i16]) -> [i32; 4] {
    let n = x.len();
    let n16 = n & !15;
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut k = 0;
    while k < n16 {
        // SAFETY: k + 16 <= n16 <= n, the length of x and of each of
        // the four rows of w (4 n bytes).
        unsafe {
            let xv = _mm256_loadu_si256(x.as_ptr().add(k).cast());
            for (r, a) in acc.iter_mut().enumerate() {
                let wr = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(r * n + k).cast()));
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wr, xv));
            }
        }
        k += 16;
    }
    // The last columns but at most three, a multiple of 4 (up to 12),
    // through masked loads: the weights 32 bits a lane (four a lane),
    // the values 32 bits a lane (two a lane); masked-off lanes read
    // nothing and are zero.
    let n4 = n & !3;
    if n16 < n4 {
        let words = ((n4 - n16) / 4) as i32;
        let wmask = _mm_cmpgt_epi32(_mm_set1_epi32(words), _mm_setr_epi32(0, 1, 2, 3));
        let xmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * words), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        // SAFETY: the masks enable only the lanes of columns
        // n16..n4 (< n), inside x and inside each row of w.
        unsafe {
            let xv = _mm256_maskload_epi32(x.as_ptr().add(n16).cast(), xmask);
            for (r, a) in acc.iter_mut().enumerate() {
                let wr = _mm256_cvtepi8_epi16(_mm_maskload_epi32(w.as_ptr().add(r * n + n16).cast(), wmask));
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wr, xv));
            }
        }
    }
    let mut out = [0i32; 4];
    // SAFETY: an unaligned store of four i32s into `out`.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), hsum4(acc)) };
    if n4 < n {
        for (r, o) in out.iter_mut().enumerate() {
            *o += portable::dot_plain(&w[r * n + n4..(r + 1) * n], &x[n4..]);
        }
    }
    out
}

/// Four 4-bit rows (`row_bytes(4, x.len())` bytes each, one after the
/// other) times `x`.
#[inline(always)]
pub fn dot4_q4(_: Avx2, w: &[u8], x: &[i16]) -> [i32; 4] {
    let rb = crate::format::row_bytes(4, x.len());
    assert!(w.len() >= 4 * rb);
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot4_q4_avx2(&w[..4 * rb], rb, x) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn dot4_q4_avx2(w: &[u8], rb: usize, x: &[i16]) -> [i32; 4] {
    let n = x.len();
    let n32 = n & !31;
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut k = 0;
    while k < n32 {
        // SAFETY: k + 32 <= n32 <= n (x's length); each row has
        // rb = row_bytes(4, n) >= n32 / 2 bytes, and these 16 start at
        // k / 2 of row r (r * rb).
        unsafe {
            let (xa, xb) =
                (_mm256_loadu_si256(x.as_ptr().add(k).cast()), _mm256_loadu_si256(x.as_ptr().add(k + 16).cast()));
            for (r, a) in acc.iter_mut().enumerate() {
                let (u, v) = widen(_mm_loadu_si128(w.as_ptr().add(r * rb + k / 2).cast()));
                *a = _mm256_add_epi32(*a, _mm256_add_epi32(_mm256_madd_epi16(u, xa), _mm256_madd_epi16(v, xb)));
            }
        }
        k += 32;
    }
    let mut out = [0i32; 4];
    // SAFETY: an unaligned store of four i32s into `out`.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), _mm_srai_epi32::<4>(hsum4(acc))) };
    if n32 < n {
        for (r, o) in out.iter_mut().enumerate() {
            *o += portable::dot_q4_plain(&w[r * rb..(r + 1) * rb], x, n32);
        }
    }
    out
}

/// [`crate::fixed::sigmoid_q15`] or [`crate::fixed::tanh_q15`] of eight
/// Q3.12 values (in i32 lanes): one gather reads each value's two table
/// entries at once (the 32 bits at entry `idx`: `idx` low, `idx + 1`
/// high), then the same interpolation.
#[inline]
#[target_feature(enable = "avx2")]
fn lookup8(table: &[i16; crate::fixed::ACT_TABLE_LEN], x: __m256i) -> __m256i {
    let u = _mm256_add_epi32(x, _mm256_set1_epi32(32768));
    let idx = _mm256_srli_epi32::<7>(u);
    let frac = _mm256_and_si256(u, _mm256_set1_epi32(127));
    // SAFETY: `idx` is at most 65535 >> 7 = 511, so the four bytes read at
    // entry `idx` (entries idx and idx + 1) are inside the 513 entries.
    let pair = unsafe { _mm256_i32gather_epi32::<2>(table.as_ptr().cast(), idx) };
    let a = _mm256_srai_epi32::<16>(_mm256_slli_epi32::<16>(pair));
    let b = _mm256_srai_epi32::<16>(pair);
    let d = _mm256_mullo_epi32(_mm256_sub_epi32(b, a), frac);
    _mm256_add_epi32(a, _mm256_srai_epi32::<7>(_mm256_add_epi32(d, _mm256_set1_epi32(64))))
}

/// Round-half-up arithmetic shift right by `n` (1..=31) of eight lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn round_shift8(v: __m256i, n: u32) -> __m256i {
    let half = _mm256_set1_epi32(1 << (n - 1));
    _mm256_sra_epi32(_mm256_add_epi32(v, half), _mm_cvtsi32_si128(n as i32))
}

/// The LSTM cell of eight units, from their gates' pre-activations (Q3.12,
/// `z[g]` the eight units' gate g) and old `c`: the new `h` (Q0.15) and
/// `c` (Q(15-cf).cf), the same bits as the scalar cell in `lstm.rs`.
#[inline]
#[target_feature(enable = "avx2")]
fn cell8(z: [&[i16]; 4], c: &mut [i16], h: &mut [i16], cf: u32) {
    use crate::fixed::{SIGMOID_TABLE, TANH_TABLE};
    assert!(z.iter().all(|g| g.len() >= 8) && c.len() >= 8 && h.len() >= 8 && cf <= 15);
    // SAFETY: unaligned 16-byte loads of eight i16 from slices of at least
    // eight (asserted above).
    let load = |s: &[i16]| _mm256_cvtepi16_epi32(unsafe { _mm_loadu_si128(s.as_ptr().cast()) });
    let i = lookup8(&SIGMOID_TABLE, load(z[0]));
    let f = lookup8(&SIGMOID_TABLE, load(z[1]));
    let g = lookup8(&TANH_TABLE, load(z[2]));
    let o = lookup8(&SIGMOID_TABLE, load(z[3]));
    let c_old = load(c);
    let (lo, hi) = (_mm256_set1_epi32(i32::from(i16::MIN)), _mm256_set1_epi32(i32::from(i16::MAX)));
    let sat = |v: __m256i| _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
    let fc = round_shift8(_mm256_mullo_epi32(f, c_old), 15);
    let ig = round_shift8(_mm256_mullo_epi32(i, g), 30 - cf);
    let c_new = sat(_mm256_add_epi32(fc, ig));
    let c12 = match cf {
        12 => c_new,
        13..=15 => round_shift8(c_new, cf - 12),
        _ => sat(_mm256_sll_epi32(c_new, _mm_cvtsi32_si128(12 - cf as i32))),
    };
    let h_new = round_shift8(_mm256_mullo_epi32(o, lookup8(&TANH_TABLE, c12)), 15);
    // Both in i16 range: pack (per 128-bit lane) and put the lanes back in order.
    let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(c_new, h_new));
    // SAFETY: unaligned 16-byte stores of eight i16 into slices of at least
    // eight (asserted above).
    unsafe {
        _mm_storeu_si128(c.as_mut_ptr().cast(), _mm256_castsi256_si128(packed));
        _mm_storeu_si128(h.as_mut_ptr().cast(), _mm256_extracti128_si256::<1>(packed));
    }
}

/// The LSTM cell of every whole group of eight units of `c` and `h` (from
/// `z[g][j]`, gate g of unit j); returns the units done (a multiple of
/// eight; the rest is the caller's).
pub fn cells(_: Avx2, z: [&[i16]; 4], c: &mut [i16], h: &mut [i16], cf: u32) -> usize {
    let n = c.len().min(h.len()) & !7;
    let mut j = 0;
    while j < n {
        let zj = [&z[0][j..], &z[1][j..], &z[2][j..], &z[3][j..]];
        // SAFETY: the token proves the CPU has AVX2.
        unsafe { cell8(zj, &mut c[j..j + 8], &mut h[j..j + 8], cf) };
        j += 8;
    }
    n
}

/// The four lanes' sums of pairs: `acc` holds row `r`'s partial sums in
/// lanes `2r` and `2r + 1` (the layout of a fused unit's interleaved
/// words); returns `[r0, r1, r2, r3]`.
#[inline]
#[target_feature(enable = "avx2")]
fn pair_sums(acc: __m256i) -> [i32; 4] {
    // Within each 128-bit half: [r0, r1, r0, r1] and [r2, r3, r2, r3].
    let s = _mm256_hadd_epi32(acc, acc);
    let lo = _mm256_castsi256_si128(s);
    let hi = _mm256_extracti128_si256::<1>(s);
    [_mm_cvtsi128_si32(lo), _mm_extract_epi32::<1>(lo), _mm_cvtsi128_si32(hi), _mm_extract_epi32::<1>(hi)]
}

/// Four fused int8 rows (format version 5: interleaved word by word,
/// `4 * x.len()` bytes; `x.len()` a multiple of 4) times `x`: 16 bytes
/// hold the four rows' next four weights, sign-extended to int16 and
/// multiplied by those four values broadcast to each row (`vpmaddwd`),
/// so each row's sum stays in its own two lanes: no reduction across
/// rows until the end.
#[inline(always)]
pub fn dot4_fused_i8(_: Avx2, w: &[u8], x: &[i16]) -> [i32; 4] {
    assert!(x.len().is_multiple_of(4) && w.len() >= 4 * x.len());
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot4_fused_i8_avx2(&w[..4 * x.len()], x) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn dot4_fused_i8_avx2(w: &[u8], x: &[i16]) -> [i32; 4] {
    let n = x.len();
    let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut k = 0;
    while k + 8 <= n {
        // SAFETY: k + 8 <= n: x[k..k + 8] is in x, and bytes 4k..4k + 32
        // are in w (4n bytes).
        unsafe {
            let x0 = _mm256_set1_epi64x(x.as_ptr().add(k).cast::<i64>().read_unaligned());
            let x1 = _mm256_set1_epi64x(x.as_ptr().add(k + 4).cast::<i64>().read_unaligned());
            let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(4 * k).cast()));
            let w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(4 * k + 16).cast()));
            a = _mm256_add_epi32(a, _mm256_madd_epi16(w0, x0));
            b = _mm256_add_epi32(b, _mm256_madd_epi16(w1, x1));
        }
        k += 8;
    }
    if k < n {
        // SAFETY: k + 4 <= n (n is a multiple of 4): as above, one word.
        unsafe {
            let x0 = _mm256_set1_epi64x(x.as_ptr().add(k).cast::<i64>().read_unaligned());
            let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.as_ptr().add(4 * k).cast()));
            a = _mm256_add_epi32(a, _mm256_madd_epi16(w0, x0));
        }
    }
    pair_sums(_mm256_add_epi32(a, b))
}

/// Four fused offset-binary 4-bit rows (format version 5: interleaved
/// word by word, `2 * x.len()` bytes; `x.len()` a multiple of 8) times
/// `x`: 16 bytes hold the four rows' next eight weights; XOR with `0x88`
/// makes the nibbles two's complement, the low nibbles (columns 0..4 of
/// each row's word) and the high ones (4..8) are masked out as sixteen
/// times the weights, and each half is multiplied by its four values
/// broadcast to each row. The sum is shifted back exactly.
#[inline(always)]
pub fn dot4_fused_q4(_: Avx2, w: &[u8], x: &[i16]) -> [i32; 4] {
    assert!(x.len().is_multiple_of(8) && w.len() >= 2 * x.len());
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { dot4_fused_q4_avx2(&w[..2 * x.len()], x) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn dot4_fused_q4_avx2(w: &[u8], x: &[i16]) -> [i32; 4] {
    let n = x.len();
    let mask = _mm_set1_epi8(0xf0_u8 as i8);
    let flip = _mm_set1_epi8(0x88_u8 as i8);
    let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut k = 0;
    while k < n {
        // SAFETY: k + 8 <= n (n is a multiple of 8): x[k..k + 8] is in x,
        // and bytes 2k..2k + 16 are in w (2n bytes).
        unsafe {
            let v = _mm_xor_si128(_mm_loadu_si128(w.as_ptr().add(2 * k).cast()), flip);
            let lo = _mm256_cvtepi8_epi16(_mm_and_si128(_mm_slli_epi16::<4>(v), mask));
            let hi = _mm256_cvtepi8_epi16(_mm_and_si128(v, mask));
            let x0 = _mm256_set1_epi64x(x.as_ptr().add(k).cast::<i64>().read_unaligned());
            let x1 = _mm256_set1_epi64x(x.as_ptr().add(k + 4).cast::<i64>().read_unaligned());
            a = _mm256_add_epi32(a, _mm256_madd_epi16(lo, x0));
            b = _mm256_add_epi32(b, _mm256_madd_epi16(hi, x1));
        }
        k += 8;
    }
    // Every product is sixteen times the weight's: the shift is exact.
    pair_sums(_mm256_add_epi32(a, b)).map(|s| s >> 4)
}

/// A fused unit's four gate pre-activations (format version 5, Q3.12, as
/// `lstm::fused_pre` gives them) in one vector: each accumulator (from its
/// bias) times its row's multiplier (`vpmuldq`, even lanes then odd), the
/// high word shifted by `shift - 2` (`vpsravd`), clamped to
/// `[-2^21, 2^21 - 1]`, halved with rounding and saturated to i16
/// (`vpackssdw`): `fixed::requantize_sat32`'s fast path, lane by lane.
/// `None` (the caller computes it in scalar code) where a shift is below 2.
#[inline(always)]
pub fn fused_pre4(_: Avx2, acc: [i32; 4], m: &[u8; 16], s: &[u8; 4]) -> Option<[i16; 4]> {
    // SAFETY: the token proves the CPU has AVX2.
    unsafe { fused_pre4_avx2(acc, m, s) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn fused_pre4_avx2(acc: [i32; 4], m: &[u8; 16], s: &[u8; 4]) -> Option<[i16; 4]> {
    let shifts = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(i32::from_le_bytes(*s)));
    if _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(_mm_set1_epi32(2), shifts))) != 0 {
        return None;
    }
    // SAFETY: unaligned loads of an i32 array of four and of 16 bytes.
    let (a, m) = unsafe { (_mm_loadu_si128(acc.as_ptr().cast()), _mm_loadu_si128(m.as_ptr().cast())) };
    let even = _mm_mul_epi32(a, m);
    let odd = _mm_mul_epi32(_mm_srli_epi64::<32>(a), _mm_srli_epi64::<32>(m));
    let high = _mm_blend_epi32::<0b1010>(_mm_srli_epi64::<32>(even), odd);
    let q = _mm_srav_epi32(high, _mm_sub_epi32(shifts, _mm_set1_epi32(2)));
    let lim = 1 << 21;
    let q = _mm_min_epi32(_mm_max_epi32(q, _mm_set1_epi32(-lim)), _mm_set1_epi32(lim - 1));
    let z = _mm_srai_epi32::<1>(_mm_add_epi32(q, _mm_set1_epi32(1)));
    let pre = _mm_packs_epi32(z, z);
    let mut out = [0i16; 8];
    // SAFETY: an unaligned store of eight i16s into `out`.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), pre) };
    Some([out[0], out[1], out[2], out[3]])
}
