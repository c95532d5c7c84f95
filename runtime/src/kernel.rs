//! The dot-product kernel: int8 weight rows times an int16 vector, the
//! inner loop of every LSTM gate and of the dense layer (nearly all of the
//! work of a step).
//!
//! Two implementations with bit-identical results: validated models keep
//! `|w| <= 127`, `|x| <= 32768` and at most 512 terms, so every partial sum
//! stays below `2^31` and the order of the additions cannot matter.
//! - Portable Rust with four accumulators: every target, the host included.
//! - ARMv7E-M (Cortex-M4/M7, `thumbv7em-*` targets, cfg `lstm_dsp` set by
//!   `build.rs`): an inline-assembly loop over two rows at once. `SXTB16`
//!   sign-extends bytes 0 and 2 (or, rotated, 1 and 3) of four weights into
//!   two 16-bit halves, and `SMLAD` multiplies both halves by two values and
//!   adds both products: two MACs an instruction, and the vector's loads
//!   are shared by the two rows. This is the only `unsafe` of the crate.
//!   The weight rows are loaded a word at a time wherever they start in the
//!   model file: ARMv7-M allows unaligned LDR as long as the firmware leaves
//!   unaligned-access trapping (`SCB.CCR.UNALIGN_TRP`) off, its reset value.
//!
//! 4-bit rows (`dot_q4`, `dot2_q4`; the layout is
//! [`crate::format::LstmLayer::bits`]) go the same two ways. The DSP loop
//! takes a word of eight weights and, with one `AND` each (of the word
//! shifted left by 12, 4, 8 or 0, with `0xf000f000`), puts two of them at
//! the top of the two halfwords: 4096 times the weights, as signed 16-bit
//! values, paired as the prepared vector's words pair the columns.
//! `SMLALD` multiplies and adds both pairs into 64 bits; the sum, a
//! multiple of 4096, is shifted back exactly.
//!
//! The vector is laid out for the kernel once per step, in a [`PrepBuf`]:
//! the DSP kernel wants each group of four values `x0 x1 x2 x3` as
//! `x0 x2 x1 x3`, the pairs `SXTB16` makes of four weight bytes; the
//! portable kernel keeps the order. [`Prepared`] marks a vector so laid
//! out, so that no kernel reads a vector in the other layout.

/// Storage for one prepared vector of up to `N` values, word-aligned (the
/// DSP kernel loads two values a word, four a `LDRD`).
#[derive(Clone, Debug)]
#[repr(C, align(4))]
pub struct PrepBuf<const N: usize>([i16; N]);

/// A vector laid out for this target's kernel (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Prepared<'a>(&'a [i16]);

impl<const N: usize> PrepBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self([0; N])
    }

    /// Lay `x` out for the kernel. Panics if `x` is longer than `N` (the
    /// callers' sizes are checked when the network is built).
    pub fn prepare(&mut self, x: &[i16]) -> Prepared<'_> {
        let out = &mut self.0[..x.len()];
        out.copy_from_slice(x);
        if cfg!(lstm_dsp) {
            for g in out.chunks_exact_mut(4) {
                g.swap(1, 2);
            }
        }
        Prepared(out)
    }
}

impl<const N: usize> Default for PrepBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl Prepared<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty vector.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `sum(w[k] * x[k])`, weights as int8 bytes, in plain order: the
/// portable kernel. Four independent accumulators over chunks of four: the
/// compiler keeps them in registers (or vectorises them on the host), and
/// the loop overhead is paid once per four MACs.
#[inline(always)]
fn dot_plain(w: &[u8], x: &[i16]) -> i32 {
    let n = w.len().min(x.len());
    let (w, x) = (&w[..n], &x[..n]);
    let (wc, xc) = (w.chunks_exact(4), x.chunks_exact(4));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    let mut acc = [0i32; 4];
    for (a, b) in wc.zip(xc) {
        for j in 0..4 {
            acc[j] += i32::from(a[j] as i8) * i32::from(b[j]);
        }
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    for (&a, &b) in wr.iter().zip(xr) {
        sum += i32::from(a as i8) * i32::from(b);
    }
    sum
}

/// `sum(w[k] * x[k])` over a prepared vector in the DSP layout, in Rust
/// (the single rows of the dense layer): each group of four reads its
/// values in the order `x0 x2 x1 x3`.
#[cfg(lstm_dsp)]
#[inline(always)]
fn dot_dsp_layout(w: &[u8], x: &[i16]) -> i32 {
    let n4 = x.len() & !3;
    let mut sum = 0i32;
    for (a, b) in w[..n4].chunks_exact(4).zip(x[..n4].chunks_exact(4)) {
        sum += i32::from(a[0] as i8) * i32::from(b[0])
            + i32::from(a[1] as i8) * i32::from(b[2])
            + i32::from(a[2] as i8) * i32::from(b[1])
            + i32::from(a[3] as i8) * i32::from(b[3]);
    }
    sum + dot_plain(&w[n4..x.len()], &x[n4..])
}

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

/// Dot products of two consecutive rows (`2 * x.len()` bytes at the start
/// of `w`) with one prepared vector. Panics if `w` is too short.
#[inline(always)]
pub fn dot2(w: &[u8], x: Prepared<'_>) -> [i32; 2] {
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
        #[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
        if x86::has_avx2() {
            return x86::dot2_i8(r0, r1, x.0);
        }
        [dot_plain(r0, x.0), dot_plain(r1, x.0)]
    }
}

/// A 4-bit weight: the nibble `half` (0 low, 1 high) of `byte`, sign-extended.
#[inline(always)]
fn nibble(byte: u8, half: usize) -> i32 {
    let b = if half == 0 { byte << 4 } else { byte & 0xf0 };
    i32::from((b as i8) >> 4)
}

/// Where column `k` of an `n`-value vector sits once prepared: in the DSP
/// layout, each whole group of four is `x0 x2 x1 x3`; elsewhere, in place.
#[inline(always)]
fn prepared_index(k: usize, n: usize) -> usize {
    if cfg!(lstm_dsp) && (k | 3) < n {
        (k & !3) | [0, 2, 1, 3][k & 3]
    } else {
        k
    }
}

/// `sum(w[k] * x[k])` over columns `from..n` of one 4-bit row (groups of
/// eight columns, four bytes a group, byte `j` holding columns `j` and
/// `j + 4`), in Rust: the portable kernel, and the DSP kernel's last
/// partial group. `from` is a multiple of 8.
///
/// A whole group is one little-endian word whose nibble `p` (bits `4p` to
/// `4p + 3`) is column `p / 2` for even `p` and `4 + p / 2` for odd `p`;
/// `(w << (28 - 4p)) >> 28` sign-extends it (one `SBFX` on ARMv7-M).
#[inline(always)]
fn dot_q4_plain(row: &[u8], x: &[i16], from: usize) -> i32 {
    let n = x.len();
    // Whole groups in plain order (a DSP target's prepared vector is not:
    // only its last partial group comes here).
    let whole = if cfg!(lstm_dsp) { from } else { from.max(n & !7) };
    let mut sum = 0i32;
    for (b, xs) in row[from / 2..whole / 2].chunks_exact(4).zip(x[from..whole].chunks_exact(8)) {
        let w = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let nib = |p: i32| (w << (28 - 4 * p)) >> 28;
        let x = |k: usize| i32::from(xs[k]);
        sum += nib(0) * x(0) + nib(2) * x(1) + nib(4) * x(2) + nib(6) * x(3);
        sum += nib(1) * x(4) + nib(3) * x(5) + nib(5) * x(6) + nib(7) * x(7);
    }
    // The last, partial group, through the prepared layout.
    if whole < n {
        let bytes = &row[whole / 2..whole / 2 + 4];
        for k in whole..n {
            let (j, half) = ((k - whole) % 4, (k - whole) / 4);
            sum += nibble(bytes[j], half) * i32::from(x[prepared_index(k, n)]);
        }
    }
    sum
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
    let rb = crate::format::row_bytes(4, x.0.len());
    #[cfg(all(feature = "std", target_arch = "x86_64", not(miri), not(lstm_dsp)))]
    if x86::has_avx2() {
        return x86::dot2_q4(&w[..rb], &w[rb..2 * rb], x.0);
    }
    [dot_q4(w, x), dot_q4(&w[rb..], x)]
}

/// Dot products of four consecutive int8 rows (`4 * x.len()` bytes at the
/// start of `w`) with one prepared vector: on ARMv7E-M one loop for all
/// four rows (each vector load serving four rows); elsewhere two [`dot2`].
#[inline(always)]
pub fn dot4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    let n = x.0.len();
    let w = &w[..4 * n];
    #[cfg(lstm_dsp)]
    {
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
        #[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
        if x86::has_avx2() {
            return x86::dot4_i8(w, x.0);
        }
        let (a, b) = (dot2(w, x), dot2(&w[2 * n..], x));
        [a[0], a[1], b[0], b[1]]
    }
}

/// [`dot4`] of four consecutive 4-bit rows: on ARMv7E-M, where `x.len()`
/// is a multiple of 16, one block for the four rows; otherwise two
/// [`dot2_q4`].
#[inline(always)]
pub fn dot4_q4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
    let n = x.0.len();
    let rb = crate::format::row_bytes(4, n);
    let w = &w[..4 * rb];
    #[cfg(lstm_dsp)]
    if n.is_multiple_of(16) && n > 0 {
        return dsp_q4::dot4_q4_whole(w, x);
    }
    #[cfg(all(feature = "std", target_arch = "x86_64", not(miri), not(lstm_dsp)))]
    if x86::has_avx2() {
        return x86::dot4_q4(w, x.0);
    }
    let (a, b) = (dot2_q4(w, x), dot2_q4(&w[2 * rb..], x));
    [a[0], a[1], b[0], b[1]]
}

/// Host only: [`x86::gate_pre4`], the four gate pre-activations of a unit
/// in one AVX2 vector, or `None` where the scalar path must compute them.
///
/// # Safety
/// The CPU must have AVX2 ([`simd`]).
#[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
#[allow(unsafe_code)]
#[inline(always)]
pub(crate) unsafe fn gate_pre4_avx2(
    ax: [i32; 4],
    ah: [i32; 4],
    bias: &[u8; 16],
    mx: &[u8; 16],
    mh: &[u8; 16],
    sx: &[u8; 4],
    sh: &[u8; 4],
) -> Option<[i16; 4]> {
    // SAFETY: the caller guarantees AVX2.
    unsafe { x86::gate_pre4(ax, ah, bias, mx, mh, sx, sh) }
}

/// Host only (x86-64, the `std` feature): whether the AVX2 kernel runs
/// (the CPU has it and [`set_simd`] did not turn it off).
#[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
pub fn simd() -> bool {
    x86::has_avx2()
}

/// Host only: turn the AVX2 kernel off (`false`) or back on where the CPU
/// has it, for example to measure the portable kernel in the same run. The
/// results are the same bits either way.
#[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
pub fn set_simd(on: bool) {
    x86::set_simd(on)
}

/// The portable kernel's results for two rows, whatever this target's
/// kernel is: the reference the x86-64 SIMD kernel is tested against.
#[cfg(test)]
fn dot2_portable(w: &[u8], x: &[i16], bits: u8) -> [i32; 2] {
    let rb = crate::format::row_bytes(bits, x.len());
    if bits == 4 {
        [dot_q4_plain(&w[..rb], x, 0), dot_q4_plain(&w[rb..2 * rb], x, 0)]
    } else {
        [dot_plain(&w[..rb], x), dot_plain(&w[rb..2 * rb], x)]
    }
}

/// The x86-64 kernels (AVX2, chosen at run time; the host with the `std`
/// feature, never under Miri, which runs the portable one): the same sums
/// as the portable kernel, bit for bit, since every partial sum is exact.
/// Int8 rows: 16 weights sign-extended to int16 (`vpmovsxbw`), times 16
/// values with `vpmaddwd` (pairs summed into int32 lanes), two rows
/// sharing each vector load. Int4 rows: 32 columns (16 bytes) a step, the
/// low and high nibbles masked out as sixteen times the weights
/// (`vpsllw 4` then `vpand 0xf0`, and `vpand 0xf0`), interleaved back into
/// column order by group (`vpunpckldq`/`vpunpckhdq`), then as for int8; the
/// sum is shifted back exactly.
#[cfg(all(feature = "std", target_arch = "x86_64", not(miri)))]
#[allow(unsafe_code)]
mod x86 {
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not asked yet; 1: no AVX2; 2: AVX2.
    static LEVEL: AtomicU8 = AtomicU8::new(0);

    /// Turn the SIMD kernel off (`false`: the portable kernel from now
    /// on) or back on where the CPU has it.
    pub fn set_simd(on: bool) {
        LEVEL.store(if on { 0 } else { 1 }, Ordering::Relaxed);
    }

    /// Whether this CPU has AVX2 (asked once) and the SIMD kernel is on.
    #[inline(always)]
    pub fn has_avx2() -> bool {
        match LEVEL.load(Ordering::Relaxed) {
            0 => {
                let has = std::is_x86_feature_detected!("avx2");
                LEVEL.store(if has { 2 } else { 1 }, Ordering::Relaxed);
                has
            }
            level => level == 2,
        }
    }

    /// The sum of the eight int32 lanes.
    #[target_feature(enable = "avx2")]
    fn hsum(a: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }

    /// Two int8 rows (each at least `x.len()` bytes) times `x`.
    pub fn dot2_i8(r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
        let n = x.len();
        assert!(r0.len() >= n && r1.len() >= n);
        // SAFETY: AVX2 is present (the caller asked `has_avx2`).
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
        [hsum(a0) + super::dot_plain(&r0[n16..], &x[n16..]), hsum(a1) + super::dot_plain(&r1[n16..], &x[n16..])]
    }

    /// Two 4-bit rows (each `row_bytes(4, x.len())` bytes) times `x`.
    pub fn dot2_q4(r0: &[u8], r1: &[u8], x: &[i16]) -> [i32; 2] {
        let rb = crate::format::row_bytes(4, x.len());
        assert!(r0.len() >= rb && r1.len() >= rb);
        // SAFETY: AVX2 is present (the caller asked `has_avx2`).
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
        [(hsum(a0) >> 4) + super::dot_q4_plain(r0, x, n32), (hsum(a1) >> 4) + super::dot_q4_plain(r1, x, n32)]
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
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn gate_pre4(
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
    pub fn dot4_i8(w: &[u8], x: &[i16]) -> [i32; 4] {
        assert!(w.len() >= 4 * x.len());
        // SAFETY: AVX2 is present (the caller asked `has_avx2`).
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
                *o += super::dot_plain(&w[r * n + n4..(r + 1) * n], &x[n4..]);
            }
        }
        out
    }

    /// Four 4-bit rows (`row_bytes(4, x.len())` bytes each, one after the
    /// other) times `x`.
    #[inline(always)]
    pub fn dot4_q4(w: &[u8], x: &[i16]) -> [i32; 4] {
        let rb = crate::format::row_bytes(4, x.len());
        assert!(w.len() >= 4 * rb);
        // SAFETY: AVX2 is present (the caller asked `has_avx2`).
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
                *o += super::dot_q4_plain(&w[r * rb..(r + 1) * rb], x, n32);
            }
        }
        out
    }
}

/// A weight-row encoding, for code generic over the LSTM's weight bits
/// (each layer's loop is compiled once for each, so that nothing branches
/// on the bits inside it).
pub trait RowKind {
    /// Bits a weight.
    const BITS: u8;
    /// Dot products of two consecutive rows with `x`.
    fn dot2(w: &[u8], x: Prepared<'_>) -> [i32; 2];
    /// Dot products of four consecutive rows (exactly four rows' bytes in
    /// `w`) with `x`.
    #[inline(always)]
    fn dot4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        let (a, b) = w.split_at(w.len() / 2);
        let (p, q) = (Self::dot2(a, x), Self::dot2(b, x));
        [p[0], p[1], q[0], q[1]]
    }
}

/// Int8 rows ([`dot2`]).
pub struct Int8Rows;
/// Int4 rows ([`dot2_q4`]).
pub struct Int4Rows;

impl RowKind for Int8Rows {
    const BITS: u8 = 8;
    #[inline(always)]
    fn dot2(w: &[u8], x: Prepared<'_>) -> [i32; 2] {
        dot2(w, x)
    }
    #[inline(always)]
    fn dot4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        dot4(w, x)
    }
}

impl RowKind for Int4Rows {
    const BITS: u8 = 4;
    #[inline(always)]
    fn dot2(w: &[u8], x: Prepared<'_>) -> [i32; 2] {
        dot2_q4(w, x)
    }
    #[inline(always)]
    fn dot4(w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        dot4_q4(w, x)
    }
}

/// A digest of [`dot`] and [`dot2`] over a fixed battery of rows and
/// vectors: every length from 0 to 40, then 96, 150 and 512 columns, with
/// seeded random values and with the extremes the format allows (weights
/// ±127, values −32768 and 32767). The firmware prints it
/// (`kernel-check`) and the QEMU test compares it with the host's: equal
/// digests mean the DSP kernel and the portable one agree on all of it.
pub fn battery_digest() -> u32 {
    let mut w = [0u8; 1024];
    let mut x = [0i16; 512];
    let mut buf = PrepBuf::<512>::new();
    let mut rng = 0x2545_f491_u32;
    let mut digest = 0x811c_9dc5_u32;
    let mut fold = |v: i32| {
        for b in v.to_le_bytes() {
            digest = (digest ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    };
    for pattern in 0..4 {
        for n in (0..=40).chain([96, 150, 512]) {
            for k in 0..2 * n {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                w[k] = match pattern {
                    0 => (rng as i8).max(-127) as u8,
                    1 => 127,
                    2 => (-127i8) as u8,
                    _ => {
                        if rng & 1 == 0 {
                            127
                        } else {
                            (-127i8) as u8
                        }
                    }
                };
                if k < n {
                    x[k] = match pattern {
                        0 => (rng >> 8) as i16,
                        1 | 2 => i16::MIN,
                        _ => {
                            if rng & 2 == 0 {
                                i16::MAX
                            } else {
                                i16::MIN
                            }
                        }
                    };
                }
            }
            let p = buf.prepare(&x[..n]);
            let [a, b] = dot2(&w[..2 * n], p);
            fold(a);
            fold(b);
            fold(dot(&w[n..2 * n], p));
            if n <= 256 {
                // Four rows: the two above, then the first two again.
                let mut four = [0u8; 1024];
                four[..2 * n].copy_from_slice(&w[..2 * n]);
                four[2 * n..4 * n].copy_from_slice(&w[..2 * n]);
                dot4(&four[..4 * n], p).into_iter().for_each(&mut fold);
            }
            if n <= 256 {
                // The same bytes as two 4-bit rows: nibbles of -8 (0x8)
                // made -7, padding zeroed, as a validated model has them.
                let rb = crate::format::row_bytes(4, n);
                let mut q = [0u8; 256];
                for (k, b) in q[..2 * rb].iter_mut().enumerate() {
                    let col = 8 * ((k % rb) / 4) + k % 4;
                    let fix = |nib: u8, c: usize| {
                        if c >= n {
                            0
                        } else if nib == 8 {
                            9
                        } else {
                            nib
                        }
                    };
                    *b = fix(w[k] & 0x0f, col) | (fix(w[k] >> 4, col + 4) << 4);
                }
                let [a, b] = dot2_q4(&q[..2 * rb], p);
                fold(a);
                fold(b);
                if n <= 128 {
                    let mut four = [0u8; 256];
                    four[..2 * rb].copy_from_slice(&q[..2 * rb]);
                    four[2 * rb..4 * rb].copy_from_slice(&q[..2 * rb]);
                    dot4_q4(&four[..4 * rb], p).into_iter().for_each(&mut fold);
                }
            }
        }
    }
    digest
}

#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp {
    use super::Prepared;

    /// Two rows, `rows[..n]` and `rows[n..]` with `n = x.len()`, over
    /// their first `n4` columns (a multiple of 4). `x` is in the prepared
    /// layout and word-aligned, as LDRD needs: a `Prepared` always starts
    /// at the first value of a `PrepBuf`, which is `align(4)`.
    #[inline(always)]
    pub fn dot2_groups_of_4(rows: &[u8], x: Prepared<'_>, n4: usize) -> (i32, i32) {
        let x = x.0;
        let n = x.len();
        assert!(n4.is_multiple_of(4) && n4 <= n && n >= 4 && rows.len() == 2 * n);
        debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
        let (mut a0, mut a1) = (0i32, 0i32);
        let mut px = x.as_ptr();
        let mut pw = rows.as_ptr();
        // Four columns of both rows: one LDRD of four values, for each row
        // one LDR of four weights, two SXTB16 and two SMLAD.
        macro_rules! group {
            () => {
                concat!(
                    "ldrd {x02}, {x13}, [{px}], #8\n",
                    "ldr {w}, [{pw}], #4\n",
                    "sxtb16 {t}, {w}\n",
                    "sxtb16 {w}, {w}, ror #8\n",
                    "smlad {a0}, {t}, {x02}, {a0}\n",
                    "smlad {a0}, {w}, {x13}, {a0}\n",
                    "ldr {w}, [{pw}, {nm4}]\n",
                    "sxtb16 {t}, {w}\n",
                    "sxtb16 {w}, {w}, ror #8\n",
                    "smlad {a1}, {t}, {x02}, {a1}\n",
                    "smlad {a1}, {w}, {x13}, {a1}\n",
                )
            };
        }
        // SAFETY (both blocks): they read `rows[..n4]`, `rows[n..n + n4]`
        // and `x[..n4]`, in bounds by the assert above, through pointers
        // taken from those two slices. `x` is word-aligned as LDRD needs
        // (see above); the LDRs of the weights may be
        // unaligned, which ARMv7-M allows. Nothing is written to memory and
        // the stack is not touched; the flags are clobbered (no
        // `preserves_flags`).
        // One asm block with the operands both uses share: `$ptrs_out` is
        // where the advanced pointers go (`=> _` for the loop, the last
        // use), and `$extra` adds the loop's end pointer.
        macro_rules! dot2_asm {
            ($($code:expr),+; [$($ptrs_out:tt)*] [$($extra:tt)*]) => {
                core::arch::asm!(
                    $($code),+,
                    px = inout(reg) px $($ptrs_out)*,
                    pw = inout(reg) pw $($ptrs_out)*,
                    nm4 = in(reg) n - 4,
                    a0 = inout(reg) a0,
                    a1 = inout(reg) a1,
                    x02 = out(reg) _,
                    x13 = out(reg) _,
                    w = out(reg) _,
                    t = out(reg) _,
                    $($extra)*
                    options(nostack, readonly, pure),
                )
            };
        }
        if n4 & 4 != 0 {
            unsafe { dot2_asm!(group!(); [] []) }
        }
        if n4 >= 8 {
            // Eight columns an iteration: 24 instructions (two groups of 11,
            // then cmp and bne) for 16 MACs.
            let end = x.as_ptr().wrapping_add(n4);
            unsafe { dot2_asm!("2:", group!(), group!(), "cmp {px}, {end}", "bne 2b"; [=> _] [end = in(reg) end,]) }
        }
        (a0, a1)
    }

    /// Four rows `rows[r * n..][..n4]` (`n = x.len()`, `r` in `0..4`) over
    /// their first `n4` columns (a multiple of 4, at least 4), each vector
    /// load serving all four rows: per four columns one `LDRD` of the
    /// values, then for each row one `LDR`, two `SXTB16` and two `SMLAD`,
    /// 21 instructions for 16 MACs.
    ///
    /// That takes all twelve registers the compiler hands out: rows 1 and
    /// 3 are read at a register offset (`[p, s]`) from rows 0 and 2, whose
    /// pointers advance, and the loop's end is kept on the stack (one load
    /// an iteration of 32 MACs).
    #[inline(always)]
    pub fn dot4_groups_of_4(rows: &[u8], x: Prepared<'_>, n4: usize) -> [i32; 4] {
        let x = x.0;
        let n = x.len();
        assert!(n4.is_multiple_of(4) && n4 <= n && n4 >= 4 && rows.len() == 4 * n);
        debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
        let mut acc = [0i32; 4];
        let end = x.as_ptr().wrapping_add(n4);
        macro_rules! row {
            ($load:literal, $a:literal) => {
                concat!(
                    $load,
                    "\n",
                    "sxtb16 {t}, {w}\n",
                    "sxtb16 {w}, {w}, ror #8\n",
                    "smlad {",
                    $a,
                    "}, {t}, {x02}, {",
                    $a,
                    "}\n",
                    "smlad {",
                    $a,
                    "}, {w}, {x13}, {",
                    $a,
                    "}\n",
                )
            };
        }
        macro_rules! group {
            () => {
                concat!(
                    "ldrd {x02}, {x13}, [{px}], #8\n",
                    row!("ldr {w}, [{p0}, {s}]", "a1"),
                    row!("ldr {w}, [{p0}], #4", "a0"),
                    row!("ldr {w}, [{p2}, {s}]", "a3"),
                    row!("ldr {w}, [{p2}], #4", "a2"),
                )
            };
        }
        // SAFETY: the block reads `rows[r * n..r * n + n4]` for r in 0..4
        // and `x[..n4]`, in bounds by the assert, through pointers taken
        // from those slices; `x` is word-aligned (a `PrepBuf`), the weight
        // loads may be unaligned (ARMv7-M allows it). It pushes the end
        // pointer and pops it (the stack is balanced); no other memory is
        // written. The flags are clobbered.
        unsafe {
            core::arch::asm!(
                "push {{{w}}}",
                "tst {t}, #4",
                "beq 3f",
                group!(),
                "ldr {t}, [sp]",
                "cmp {px}, {t}",
                "beq 4f",
                "3:",
                group!(),
                group!(),
                "ldr {t}, [sp]",
                "cmp {px}, {t}",
                "bne 3b",
                "4:",
                "add sp, #4",
                px = inout(reg) x.as_ptr() => _,
                p0 = inout(reg) rows.as_ptr() => _,
                p2 = inout(reg) rows.as_ptr().wrapping_add(2 * n) => _,
                s = in(reg) n,
                a0 = inout(reg) acc[0],
                a1 = inout(reg) acc[1],
                a2 = inout(reg) acc[2],
                a3 = inout(reg) acc[3],
                x02 = out(reg) _,
                x13 = out(reg) _,
                w = inout(reg) end => _,
                t = inout(reg) n4 => _,
                options(readonly),
            )
        }
        acc
    }
}

#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp_q4 {
    use super::Prepared;

    // Eight columns of one 4-bit row: one LDR of eight weights, two LDRD of
    // the eight values, four ANDs and four SMLALD, 11 instructions for 8
    // MACs (the operands as both functions below name them).
    macro_rules! group {
        () => {
            concat!(
                "ldr {w}, [{pw}], #4\n",
                "ldrd {xa}, {xb}, [{px}], #8\n",
                "and {t}, {m}, {w}, lsl #12\n",
                "smlald {lo}, {hi}, {t}, {xa}\n",
                "and {t}, {m}, {w}, lsl #4\n",
                "smlald {lo}, {hi}, {t}, {xb}\n",
                "ldrd {xa}, {xb}, [{px}], #8\n",
                "and {t}, {m}, {w}, lsl #8\n",
                "smlald {lo}, {hi}, {t}, {xa}\n",
                "and {t}, {w}, {m}\n",
                "smlald {lo}, {hi}, {t}, {xb}\n",
            )
        };
    }

    /// One 4-bit row over its first `n8` columns (a multiple of 8, at
    /// least 8): `n8 / 2` bytes of `row`. Same layout rules as
    /// `dsp::dot2_groups_of_4`.
    ///
    /// No unpacking: `AND` of the word, shifted left by 12, 4, 8 or 0, with
    /// `0xf000f000` leaves two nibbles at the top of the two halfwords,
    /// which are then 4096 times two weights as signed 16-bit values:
    /// columns (0, 2), (1, 3), (4, 6) and (5, 7) of the group, the pairs of
    /// the prepared vector's words. `SMLALD` multiplies both halves and adds
    /// them to a 64-bit accumulator (4096 times the sum cannot overflow
    /// it); the sum is shifted back exactly at the end.
    #[inline(always)]
    pub fn dot_q4_groups_of_8(row: &[u8], x: Prepared<'_>, n8: usize) -> i32 {
        let x = x.0;
        assert!(n8.is_multiple_of(8) && n8 >= 8 && n8 <= x.len() && row.len() >= n8 / 2);
        debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
        let (mut lo, mut hi) = (0u32, 0u32);
        let mut px = x.as_ptr();
        let mut pw = row.as_ptr();
        // SAFETY (both blocks): they read `row[..n8 / 2]` and `x[..n8]`, in
        // bounds by the assert, through pointers taken from those slices;
        // `x` is word-aligned (a `PrepBuf`), the weight loads may be
        // unaligned (ARMv7-M allows it). No memory is written, the stack is
        // not touched; the flags are clobbered. `$out` is where the
        // advanced pointers go, `$extra` adds the loop's end.
        macro_rules! q4_asm {
            ($($code:expr),+; [$($out:tt)*] [$($extra:tt)*]) => {
                core::arch::asm!(
                    $($code),+,
                    px = inout(reg) px $($out)*,
                    pw = inout(reg) pw $($out)*,
                    m = in(reg) 0xf000_f000_u32,
                    lo = inout(reg) lo,
                    hi = inout(reg) hi,
                    xa = out(reg) _,
                    xb = out(reg) _,
                    w = out(reg) _,
                    t = out(reg) _,
                    $($extra)*
                    options(nostack, readonly, pure),
                )
            };
        }
        if n8 & 8 != 0 {
            unsafe { q4_asm!(group!(); [] []) }
        }
        if n8 >= 16 {
            // Sixteen columns an iteration: 24 instructions for 16 MACs.
            let end = x.as_ptr().wrapping_add(n8);
            unsafe { q4_asm!("2:", group!(), group!(), "cmp {px}, {end}", "bne 2b"; [=> _] [end = in(reg) end,]) }
        }
        // Every product is a multiple of 4096: the shift is exact, and the
        // sum fits in 32 bits (|w| <= 7, |x| <= 32768, at most 256 terms).
        let acc = (i64::from(hi as i32) << 32) | i64::from(lo);
        (acc >> 12) as i32
    }

    /// Four consecutive 4-bit rows of `n = x.len()` columns (a multiple of
    /// 16: rows of `n / 2` bytes, no partial group), one after the other
    /// in one block: the loop of [`dot_q4_groups_of_8`] four times, with
    /// seven instructions around each (no call, no slicing, no tail).
    #[inline(always)]
    pub fn dot4_q4_whole(rows: &[u8], x: Prepared<'_>) -> [i32; 4] {
        let x = x.0;
        let n = x.len();
        assert!(n.is_multiple_of(16) && n >= 16 && rows.len() == 2 * n);
        debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
        let mut out = [0i32; 4];
        // One row: sixteen columns an iteration (24 instructions for 16
        // MACs), then the 64-bit sum shifted back by 12 (exact: every
        // product is a multiple of 4096) and stored.
        macro_rules! row {
            ($offset:literal) => {
                concat!(
                    "mov {px}, {x0}\n",
                    "movs {lo}, #0\n",
                    "movs {hi}, #0\n",
                    "2:\n",
                    group!(),
                    group!(),
                    "cmp {px}, {end}\n",
                    "bne 2b\n",
                    "lsrs {lo}, {lo}, #12\n",
                    "orr {lo}, {lo}, {hi}, lsl #20\n",
                    "str {lo}, [{out}, #",
                    $offset,
                    "]\n",
                )
            };
        }
        // SAFETY: the block reads `rows[..2 * n]` (four rows of n / 2
        // bytes) and `x[..n]`, four times, in bounds by the assert, through
        // pointers taken from those slices, and writes the four words of
        // `out`; `x` is word-aligned (a `PrepBuf`), the weight loads may be
        // unaligned (ARMv7-M allows it). The stack is not touched; the
        // flags are clobbered.
        unsafe {
            core::arch::asm!(
                row!("0"),
                row!("4"),
                row!("8"),
                row!("12"),
                x0 = in(reg) x.as_ptr(),
                end = in(reg) x.as_ptr().wrapping_add(n),
                out = in(reg) out.as_mut_ptr(),
                pw = inout(reg) rows.as_ptr() => _,
                m = in(reg) 0xf000_f000_u32,
                px = out(reg) _,
                lo = out(reg) _,
                hi = out(reg) _,
                xa = out(reg) _,
                xb = out(reg) _,
                w = out(reg) _,
                t = out(reg) _,
                options(nostack),
            )
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_dot2_equal_the_plain_sums() {
        let mut s = 12345u32;
        let mut next = || {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            s >> 8
        };
        for n in [0usize, 1, 3, 4, 7, 8, 9, 15, 16, 17, 150, 512] {
            let w: std::vec::Vec<u8> = (0..2 * n).map(|_| next() as u8).collect();
            let x: std::vec::Vec<i16> = (0..n).map(|_| next() as i16).collect();
            let mut buf = PrepBuf::<512>::new();
            let p = buf.prepare(&x);
            let plain = |row: &[u8]| row.iter().zip(&x).map(|(&a, &b)| i32::from(a as i8) * i32::from(b)).sum::<i32>();
            assert_eq!(dot(&w, p), plain(&w[..n]), "n {n}");
            assert_eq!(dot2(&w, p), [plain(&w[..n]), plain(&w[n..])], "n {n}");
        }
    }

    /// Rows of int4 values (each in `[-7, 7]`, all of one length `n`) packed
    /// by the format's rule, independently of the quantizer: byte `j` of
    /// group `g` holds columns `8g + j` (low nibble) and `8g + j + 4` (high),
    /// each row `4 * ceil(n / 8)` bytes.
    fn pack_q4_rows(rows: &[std::vec::Vec<i32>]) -> std::vec::Vec<u8> {
        let n = rows.first().map_or(0, |r| r.len());
        let rb = 4 * n.div_ceil(8);
        let mut w = std::vec![0u8; rows.len() * rb];
        for (r, row) in rows.iter().enumerate() {
            for (k, &v) in row.iter().enumerate() {
                let nib = (v as u8) & 0x0f;
                w[r * rb + 4 * (k / 8) + k % 4] |= if k % 8 < 4 { nib } else { nib << 4 };
            }
        }
        w
    }

    /// This target's kernel (on x86-64 hosts with AVX2, the SIMD one)
    /// against the portable one, on random rows and on the extremes, for
    /// every length to 300 at both widths. Under Miri both sides are the
    /// portable kernel, checked for undefined behaviour on lengths to 40
    /// (every partial group and tail; the full range took Miri 9 minutes).
    #[test]
    fn the_kernel_equals_the_portable_one() {
        let longest = if cfg!(miri) { 40 } else { 300 };
        let mut s = 99u32;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        let mut buf = PrepBuf::<512>::new();
        for n in 0..=longest {
            for pattern in 0..3 {
                let x: std::vec::Vec<i16> = (0..n)
                    .map(|_| match pattern {
                        0 => next() as i16,
                        1 => i16::MIN,
                        _ => [i16::MIN, i16::MAX][(next() & 1) as usize],
                    })
                    .collect();
                let w8: std::vec::Vec<u8> = (0..2 * n)
                    .map(|_| match pattern {
                        0 => (next() as i8).max(-127) as u8,
                        1 => (-127i8) as u8,
                        _ => [127u8, (-127i8) as u8][(next() & 1) as usize],
                    })
                    .collect();
                let rows4: std::vec::Vec<std::vec::Vec<i32>> = (0..2)
                    .map(|_| {
                        (0..n)
                            .map(|_| match pattern {
                                0 => (next() % 15) as i32 - 7,
                                1 => -7,
                                _ => [7, -7][(next() & 1) as usize],
                            })
                            .collect()
                    })
                    .collect();
                let w4 = pack_q4_rows(&rows4);
                let p = buf.prepare(&x);
                assert_eq!(dot2(&w8, p), dot2_portable(&w8, &x, 8), "int8, n {n}, pattern {pattern}");
                let w8x4 = [&w8[..], &w8[..]].concat();
                let rb4 = w4.len() / 2;
                let w4x4 = [&w4[..], &w4[rb4..], &w4[..rb4], &w4[..]].concat();
                let (p8, p4) = (dot2_portable(&w8, &x, 8), dot2_portable(&w4, &x, 4));
                assert_eq!(dot4(&w8x4, p), [p8[0], p8[1], p8[0], p8[1]], "int8 x4, n {n}, pattern {pattern}");
                assert_eq!(dot4_q4(&w4x4, p), [p4[0], p4[1], p4[1], p4[0]], "int4 x4, n {n}, pattern {pattern}");
                assert_eq!(dot2_q4(&w4, p), dot2_portable(&w4, &x, 4), "int4, n {n}, pattern {pattern}");
            }
        }
    }

    #[test]
    fn dot_q4_equals_the_plain_sums_of_the_nibbles() {
        let mut s = 777u32;
        let mut next = || {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            s >> 8
        };
        for n in [1usize, 3, 4, 7, 8, 9, 15, 16, 17, 24, 150, 256] {
            let rows: std::vec::Vec<std::vec::Vec<i32>> =
                (0..2).map(|_| (0..n).map(|_| (next() % 15) as i32 - 7).collect()).collect();
            let x: std::vec::Vec<i16> = (0..n).map(|k| if k % 5 == 0 { i16::MIN } else { next() as i16 }).collect();
            let w = pack_q4_rows(&rows);
            let mut buf = PrepBuf::<512>::new();
            let p = buf.prepare(&x);
            let plain = |row: &[i32]| row.iter().zip(&x).map(|(&a, &b)| a * i32::from(b)).sum::<i32>();
            assert_eq!(dot_q4(&w, p), plain(&rows[0]), "n {n}");
            assert_eq!(dot2_q4(&w, p), [plain(&rows[0]), plain(&rows[1])], "n {n}");
        }
    }
}
