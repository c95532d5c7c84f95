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

mod layout;
mod portable;
#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp;
#[cfg(lstm_dsp)]
#[allow(unsafe_code)]
mod dsp_q4;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;
mod dispatch;
mod battery;
#[cfg(test)]
mod tests;

pub use battery::battery_digest;
#[cfg(target_arch = "x86_64")]
pub(crate) use dispatch::cells;
pub use dispatch::{
    dot, dot2, dot2_q4, dot4, dot4_fused_i8, dot4_fused_u4, dot4_q4, dot_q4, Int4Rows, Int8Rows, RowKind, Simd,
};
pub(crate) use dispatch::{fused_pre4, gate_pre4};
pub use layout::{CatBuf, PrepBuf, Prepared};
#[cfg(test)]
use portable::dot2_portable;
