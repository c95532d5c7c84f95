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

// Eight columns of two fused offset-binary 4-bit rows (format version 5:
// a unit's rows interleaved word by word), rows 0 and 1 at `pw` and
// `pw + 4` (or 2 and 3, `pw` moved on by 8): two LDRD of the eight values,
// one LDR of each row's word (eight weights), then for each pair of
// columns and each row one AND and one SMLAD. The nibbles are unsigned
// (`w + 8`), so `AND` with `0x000f000f` of the word shifted right by 0, 8,
// 4 or 12 leaves two of them as the two halfwords, columns (0, 2), (1, 3),
// (4, 6) and (5, 7): the pairs of the prepared vector's words. The two
// rows' words are one LDRD where word-aligned (19 instructions for 16
// MACs), else two LDR (20); the next group's words are 16 bytes on.
macro_rules! group_u4 {
    (aligned) => {
        concat!("ldrd {xa}, {xb}, [{px}], #8\n", "ldrd {w0}, {w1}, [{pw}], #16\n", group_u4!(body))
    };
    (unaligned) => {
        concat!("ldrd {xa}, {xb}, [{px}], #8\n", "ldr {w1}, [{pw}, #4]\n", "ldr {w0}, [{pw}], #16\n", group_u4!(body))
    };
    (body) => {
        concat!(
            "and {t}, {m}, {w0}\n",
            "smlad {a0}, {t}, {xa}, {a0}\n",
            "and {t}, {m}, {w1}\n",
            "smlad {a1}, {t}, {xa}, {a1}\n",
            "and {t}, {m}, {w0}, lsr #8\n",
            "smlad {a0}, {t}, {xb}, {a0}\n",
            "and {t}, {m}, {w1}, lsr #8\n",
            "smlad {a1}, {t}, {xb}, {a1}\n",
            "ldrd {xa}, {xb}, [{px}], #8\n",
            "and {t}, {m}, {w0}, lsr #4\n",
            "smlad {a0}, {t}, {xa}, {a0}\n",
            "and {t}, {m}, {w1}, lsr #4\n",
            "smlad {a1}, {t}, {xa}, {a1}\n",
            "and {t}, {m}, {w0}, lsr #12\n",
            "smlad {a0}, {t}, {xb}, {a0}\n",
            "and {t}, {m}, {w1}, lsr #12\n",
            "smlad {a1}, {t}, {xb}, {a1}\n",
        )
    };
}

// Two rows over every column, from the sums in `a0` and `a1`: the loop of
// two groups, entered at its second group when the row has an odd number
// of groups (the vector's bytes, `end - x0`, have bit 4 set).
macro_rules! pair_u4 {
    ($kind:tt) => {
        concat!(
            "mov {px}, {x0}\n",
            "sub {t}, {end}, {x0}\n",
            "tst {t}, #16\n",
            "bne 3f\n",
            "2:\n",
            group_u4!($kind),
            "3:\n",
            group_u4!($kind),
            "cmp {px}, {end}\n",
            "bne 2b\n",
        )
    };
}

/// Four fused offset-binary 4-bit rows (format version 5: nibble `w + 8`,
/// a unit's rows interleaved word by word, `2 * n` bytes, `n = x.len()` a
/// multiple of 8, at least 8) times `x`, row `r`'s sum started at
/// `init[r]`: with `init[r] = b[r] - 8 * sum(x)`, the signed sums
/// `b[r] + sum(w * x)`. One block: rows 0 and 1 together, then rows 2 and
/// 3, each vector load serving two rows.
///
/// The unsigned products keep every partial sum in 32 bits (at most 15 ×
/// 32768 × 512 plus the start), so no 64-bit accumulator and no shift back
/// is needed (the signed nibbles of version 4 need both).
#[inline(always)]
pub fn dot4_u4<const ALIGNED: bool>(rows: &[u8], x: Prepared<'_>, init: [i32; 4]) -> [i32; 4] {
    let x = x.0;
    let n = x.len();
    assert!(n.is_multiple_of(8) && n >= 8 && rows.len() == 2 * n);
    assert!(!ALIGNED || (rows.as_ptr() as usize).is_multiple_of(4));
    debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
    let mut out = init;
    // SAFETY (both blocks): they read `rows[..2 * n]` (n / 8 groups of 16
    // bytes: rows 0 and 1's words at offsets 0 and 4 of each, then, the
    // pointer moved back to the start plus 8, rows 2 and 3's) and `x[..n]`
    // twice, in bounds by the assert, through pointers taken from those
    // slices; they read and write the four words of `out` (which holds the
    // initial sums first), whose address they keep on the stack (four
    // bytes pushed and popped: the stack is balanced). `x` is word-aligned
    // (a `CatBuf`); the weights are read with LDRD only when word-aligned
    // (asserted), else with LDR, which ARMv7-M allows unaligned. The flags
    // are clobbered.
    macro_rules! u4_asm {
        ($kind:tt) => {
            core::arch::asm!(
                "push {{{t}}}",
                "ldrd {a0}, {a1}, [{t}]",
                pair_u4!($kind),
                "ldr {t}, [sp]",
                "strd {a0}, {a1}, [{t}]",
                "ldrd {a0}, {a1}, [{t}, #8]",
                "sub {t}, {end}, {x0}",
                "sub {pw}, {pw}, {t}",
                "add {pw}, {pw}, #8",
                pair_u4!($kind),
                "ldr {t}, [sp]",
                "strd {a0}, {a1}, [{t}, #8]",
                "add sp, sp, #4",
                x0 = in(reg) x.as_ptr(),
                end = in(reg) x.as_ptr().wrapping_add(n),
                pw = inout(reg) rows.as_ptr() => _,
                m = in(reg) 0x000f_000f_u32,
                t = inout(reg) out.as_mut_ptr() => _,
                px = out(reg) _,
                a0 = out(reg) _,
                a1 = out(reg) _,
                xa = out(reg) _,
                xb = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
            )
        };
    }
    if ALIGNED {
        // SAFETY: see above; the rows are word-aligned (asserted).
        unsafe { u4_asm!(aligned) }
    } else {
        // SAFETY: see above.
        unsafe { u4_asm!(unaligned) }
    }
    out
}
