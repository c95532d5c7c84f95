//! Peak stack measurement by painting: at start-up every word between the
//! end of the statics (`_stack_end`, from cortex-m-rt's `link.x`) and a
//! little below the current stack pointer is filled with a pattern; at the
//! end, the lowest word that no longer holds it is as deep as the stack
//! ever went.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// The paint: unlikely as a real stack value.
const PAINT: u32 = 0x5afe_c0de;

/// Bytes (not words) below the stack pointer left unpainted: the painting
/// loop's own frame (it keeps everything in registers in practice).
const MARGIN_BYTES: usize = 64;

extern "C" {
    /// Lowest address the stack may reach (the end of `.bss`/`.uninit`).
    static _stack_end: u32;
    /// Initial stack pointer (the top of RAM).
    static _stack_start: u32;
}

fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken.
    (addr_of!(_stack_end) as usize, addr_of!(_stack_start) as usize)
}

/// Paint the free stack. Call first thing in `main`.
pub fn paint() {
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut a = bottom;
    while a + 4 <= sp - MARGIN_BYTES {
        // SAFETY: RAM between the statics and the live stack is unused.
        unsafe { write_volatile(a as *mut u32, PAINT) };
        a += 4;
    }
}

/// Bytes of stack used so far at most (from the top of RAM).
pub fn peak() -> usize {
    let (bottom, top) = bounds();
    let mut a = bottom;
    // SAFETY: reads words of RAM between the statics and the top of RAM.
    while a < top && unsafe { read_volatile(a as *const u32) } == PAINT {
        a += 4;
    }
    top - a
}
