//! Model files from anywhere: decode, and run a few inference steps on
//! whatever decodes. The first input byte picks the mode: odd, the rest is a
//! file body whose CRC-32 is appended here, so that mutations reach the
//! parser and the validation instead of stopping at the checksum; even, the
//! rest is taken as a whole file. Bit 1 of the same byte picks the kernel
//! on x86-64: the portable one (set) or the AVX2 one where the CPU has it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::format::crc32;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    #[cfg(target_arch = "x86_64")]
    runtime::kernel::set_simd(mode & 2 == 0);
    if mode & 1 == 1 {
        let mut file = rest.to_vec();
        file.extend_from_slice(&crc32(rest).to_le_bytes());
        let _ = tests::exercise(&file);
    } else {
        let _ = tests::exercise(rest);
    }
});
