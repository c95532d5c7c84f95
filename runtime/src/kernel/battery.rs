//! The kernel battery: a digest the firmware prints and the QEMU test
//! compares with the host's.

use super::dispatch::{dot, dot2, dot2_q4, dot4, dot4_fused_i8, dot4_fused_u4, dot4_q4};
use super::layout::PrepBuf;

/// A digest of [`dot`], [`dot2`] and the four-row and 4-bit kernels over a fixed battery of rows and
/// vectors: every length from 0 to 40, then 96, 150 and 512 columns, with
/// seeded random values and with the extremes the format allows (weights
/// ±127, values −32768 and 32767). The firmware prints it
/// (`kernel-check`) and the QEMU test compares it with the host's: equal
/// digests mean the DSP kernel and the portable one agree on all of it.
pub fn battery_digest() -> u32 {
    let mut w = [0u8; 1024];
    // Four rows, word-aligned (the fused rows are read from a word
    // boundary and from one byte past it).
    #[repr(C, align(4))]
    struct Words([u8; 1028]);
    let mut words = Words([0; 1028]);
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
                let four = &mut words.0;
                four[..2 * n].copy_from_slice(&w[..2 * n]);
                four[2 * n..4 * n].copy_from_slice(&w[..2 * n]);
                dot4(&four[..4 * n], p).into_iter().for_each(&mut fold);
                if n.is_multiple_of(4) && n > 0 {
                    // The same bytes as a unit of version 5's interleaved
                    // rows, from biases (the format keeps the sums in i32
                    // with them), from a word boundary and from one byte
                    // past it (the device's two loads).
                    let bias = [1, -2, 1 << 20, -(1 << 20)];
                    dot4_fused_i8(&four[..4 * n], p, bias).into_iter().for_each(&mut fold);
                    four.copy_within(..4 * n, 1);
                    dot4_fused_i8(&four[1..1 + 4 * n], p, bias).into_iter().for_each(&mut fold);
                }
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
                    let four = &mut words.0;
                    four[..2 * rb].copy_from_slice(&q[..2 * rb]);
                    four[2 * rb..4 * rb].copy_from_slice(&q[..2 * rb]);
                    dot4_q4(&four[..4 * rb], p).into_iter().for_each(&mut fold);
                    if n.is_multiple_of(8) && n > 0 {
                        // The same bytes in version 5's offset binary, as
                        // a unit of interleaved rows, from biases, from a
                        // word boundary and from one byte past it.
                        four[..4 * rb].iter_mut().for_each(|b| *b ^= 0x88);
                        let sum = x[..n].iter().map(|&v| i32::from(v)).sum();
                        let bias = [7, -7, 1 << 24, -(1 << 24)];
                        dot4_fused_u4(&four[..4 * rb], p, bias, sum).into_iter().for_each(&mut fold);
                        four.copy_within(..4 * rb, 1);
                        dot4_fused_u4(&four[1..1 + 4 * rb], p, bias, sum).into_iter().for_each(&mut fold);
                    }
                }
            }
        }
    }
    digest
}
