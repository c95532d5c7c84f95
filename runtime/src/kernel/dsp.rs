//! The Cortex-M4/M7 (ARMv7E-M) int8 kernels: `SXTB16`/`SMLAD` loops in
//! inline assembly (see the parent module).

use super::layout::Prepared;

// One row's word of four int8 weights (in register `$w`, clobbered) times
// the prepared pair of values `x02`, `x13`, added to `$a`: two SXTB16
// (bytes 0 and 2, then 1 and 3) and two SMLAD. Every four-row loop here
// is this, after its loads.
macro_rules! sxtb_row {
    ($w:literal, $a:literal) => {
        concat!(
            "sxtb16 {t}, {",
            $w,
            "}\n",
            "sxtb16 {",
            $w,
            "}, {",
            $w,
            "}, ror #8\n",
            "smlad {",
            $a,
            "}, {t}, {x02}, {",
            $a,
            "}\n",
            "smlad {",
            $a,
            "}, {",
            $w,
            "}, {x13}, {",
            $a,
            "}\n",
        )
    };
}

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
        // SAFETY: one group, within the bounds above (the comment on `dot2_asm`).
        unsafe { dot2_asm!(group!(); [] []) }
    }
    if n4 >= 8 {
        // Eight columns an iteration: 24 instructions (two groups of 11,
        // then cmp and bne) for 16 MACs.
        let end = x.as_ptr().wrapping_add(n4);
        // SAFETY: the loop ends at `end`, within the bounds above (the
        // comment on `dot2_asm`).
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
            concat!($load, "\n", sxtb_row!("w", $a))
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

/// Four fused rows (format version 5: a unit's rows interleaved word by
/// word, `4 * n` bytes, `n = x.len()` a multiple of 4, at least 4, as the
/// format pads them) times `x`, each sum started at `init[r]` (the rows'
/// biases): `init[r] + sum(w * x)`. Per four columns one `LDRD` of the
/// values and the four rows' words, then for each row two `SXTB16` and two
/// `SMLAD`. The words are read with two `LDRD` (rows 2 and 3, then 0 and
/// 1, from one pointer) when `ALIGNED`, which the caller passes only for
/// word-aligned rows (ARMv7-M's `LDRD` faults on others): 19 instructions
/// for 16 MACs; otherwise with four `LDR` in two pipelined pairs: 21. Four
/// groups an iteration (64 MACs, one compare and branch), entered at the
/// group that leaves a whole number of iterations; no tail. One weight
/// pointer leaves a register for the loop's end.
#[inline(always)]
pub fn dot4_fused<const ALIGNED: bool>(rows: &[u8], x: Prepared<'_>, init: [i32; 4]) -> [i32; 4] {
    let x = x.0;
    let n = x.len();
    assert!(n.is_multiple_of(4) && n >= 4 && rows.len() == 4 * n);
    assert!(!ALIGNED || (rows.as_ptr() as usize).is_multiple_of(4));
    debug_assert!((x.as_ptr() as usize).is_multiple_of(4), "prepared vector not word-aligned");
    let mut acc = init;
    macro_rules! group {
        (aligned) => {
            concat!(
                "ldrd {x02}, {x13}, [{px}], #8\n",
                "ldrd {w0}, {w1}, [{pw}, #8]\n",
                sxtb_row!("w0", "a2"),
                sxtb_row!("w1", "a3"),
                "ldrd {w0}, {w1}, [{pw}], #16\n",
                sxtb_row!("w0", "a0"),
                sxtb_row!("w1", "a1"),
            )
        };
        (unaligned) => {
            concat!(
                "ldrd {x02}, {x13}, [{px}], #8\n",
                "ldr {w0}, [{pw}, #8]\n",
                "ldr {w1}, [{pw}, #12]\n",
                sxtb_row!("w0", "a2"),
                sxtb_row!("w1", "a3"),
                "ldr {w1}, [{pw}, #4]\n",
                "ldr {w0}, [{pw}], #16\n",
                sxtb_row!("w0", "a0"),
                sxtb_row!("w1", "a1"),
            )
        };
    }
    // SAFETY (both blocks): they read `rows[..4 * n]` (16 bytes a group,
    // n / 4 groups) and `x[..n]`, in bounds by the assert, through
    // pointers taken from those slices: the entry skips
    // `4 - (n / 4) % 4` groups of the first iteration (none when n / 4 is
    // a multiple of 4), so exactly n / 4 groups run. `x` is word-aligned
    // (a `CatBuf`), as LDRD needs; the weights are read with LDRD only
    // when word-aligned (asserted), else with LDR, which ARMv7-M allows
    // unaligned (a model file may sit anywhere). Nothing is written to
    // memory and the stack is not touched; the flags are clobbered.
    macro_rules! fused_asm {
        ($kind:tt) => {
            core::arch::asm!(
                "and {t}, {t}, #12",
                "cmp {t}, #4",
                "beq 5f",
                "cmp {t}, #8",
                "beq 4f",
                "cmp {t}, #12",
                "beq 3f",
                "2:",
                group!($kind),
                "3:",
                group!($kind),
                "4:",
                group!($kind),
                "5:",
                group!($kind),
                "cmp {px}, {end}",
                "bne 2b",
                px = inout(reg) x.as_ptr() => _,
                pw = inout(reg) rows.as_ptr() => _,
                end = in(reg) x.as_ptr().wrapping_add(n),
                a0 = inout(reg) acc[0],
                a1 = inout(reg) acc[1],
                a2 = inout(reg) acc[2],
                a3 = inout(reg) acc[3],
                x02 = out(reg) _,
                x13 = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
                t = inout(reg) n => _,
                options(nostack, readonly, pure),
            )
        };
    }
    if ALIGNED {
        // SAFETY: see above; the rows are word-aligned (asserted).
        unsafe { fused_asm!(aligned) }
    } else {
        // SAFETY: see above.
        unsafe { fused_asm!(unaligned) }
    }
    acc
}
