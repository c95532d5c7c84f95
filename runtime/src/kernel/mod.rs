//! The dot-product kernel: int8 weight rows times an int16 vector, the
//! inner loop of every LSTM gate and of the dense layer (nearly all of the
//! work of a step).
//!
//! Three implementations with bit-identical results, one file each:
//! validated models keep `|w| <= 127`, `|x| <= 32768` and at most 512
//! terms, so every partial sum stays below `2^31` and the order of the
//! additions cannot matter.
//! - `portable.rs`: Rust with four accumulators: every target, the host
//!   included, and the other kernels' tails.
//! - `dsp.rs`, `dsp_q4.rs`: ARMv7E-M (Cortex-M4/M7, `thumbv7em-*` targets,
//!   cfg `lstm_dsp` set by `build.rs`): an inline-assembly loop over two
//!   (or four) rows at once. `SXTB16` sign-extends bytes 0 and 2 (or,
//!   rotated, 1 and 3) of four weights into two 16-bit halves, and `SMLAD`
//!   multiplies both halves by two values and adds both products: two MACs
//!   an instruction, and the vector's loads are shared by the rows. The
//!   weight rows are loaded a word at a time wherever they start in the
//!   model file: ARMv7-M allows unaligned LDR as long as the firmware
//!   leaves unaligned-access trapping (`SCB.CCR.UNALIGN_TRP`) off, its
//!   reset value.
//! - `x86.rs`: x86-64 hosts with AVX2, chosen at run time: the functions
//!   here pass on [`cpu::Avx2::detect`]'s token ([`Simd`]), which the AVX2
//!   kernels take as their proof; `lstm::layer_step` compiles its whole
//!   step for AVX2 around them ([`cpu::Avx2::vectorize`]).
//!
//! These three modules hold the crate's only `unsafe` code (inline
//! assembly, intrinsics). `battery.rs` is the digest the QEMU test compares
//! across targets.
//!
//! 4-bit rows (`dot_q4`, `dot2_q4`; the layout is
//! [`crate::format::LstmLayer::bits`]) go the same three ways. The DSP loop
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

mod battery;
#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp;
#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp_q4;
mod portable;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

pub use battery::battery_digest;
#[cfg(test)]
use portable::dot2_portable;
#[cfg(lstm_dsp)]
use portable::dot_dsp_layout;
use portable::{dot_plain, dot_q4_plain};

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
}

/// Int8 rows ([`dot2`]).
pub struct Int8Rows;
/// Int4 rows ([`dot2_q4`]).
pub struct Int4Rows;

impl RowKind for Int8Rows {
    const BITS: u8 = 8;
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
    #[inline(always)]
    fn dot2(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 2] {
        dot2_q4_on(simd, w, x)
    }
    #[inline(always)]
    fn dot4(simd: Simd, w: &[u8], x: Prepared<'_>) -> [i32; 4] {
        dot4_q4_on(simd, w, x)
    }
}
