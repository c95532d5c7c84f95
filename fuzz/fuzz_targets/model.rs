//! Model files from anywhere: decode, and run a few inference steps on
//! whatever decodes. The first input byte picks the mode: odd, the rest is a
//! file body whose CRC-32 is appended here, so that mutations reach the
//! parser and the validation instead of stopping at the checksum; even, the
//! rest is taken as a whole file. Bit 1 of the same byte picks the kernel
//! on x86-64: the portable one (set) or the AVX2 one where the CPU has it
//! (`cpu::set_max_tier`). `cargo xtask fuzz` runs this target under
//! AddressSanitizer: the AVX2 kernels are `unsafe` code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::cpu::Tier;
use runtime::format::crc32;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    runtime::cpu::set_max_tier(if mode & 2 == 0 { Tier::Avx512 } else { Tier::Portable });
    if mode & 1 == 1 {
        let mut file = rest.to_vec();
        file.extend_from_slice(&crc32(rest).to_le_bytes());
        let _ = tests::exercise(&file);
    } else {
        let _ = tests::exercise(rest);
    }
});
