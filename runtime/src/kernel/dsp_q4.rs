//! The Cortex-M4/M7 (ARMv7E-M) 4-bit kernels: `AND`/`SMLALD` loops in
//! inline assembly (see the parent module).

use super::layout::Prepared;

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
        // SAFETY: one group, within the bounds above (the comment on `q4_asm`).
        unsafe { q4_asm!(group!(); [] []) }
    }
    if n8 >= 16 {
        // Sixteen columns an iteration: 24 instructions for 16 MACs.
        let end = x.as_ptr().wrapping_add(n8);
        // SAFETY: the loop ends at `end`, within the bounds above (the
        // comment on `q4_asm`).
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
