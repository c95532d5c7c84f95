//! The kernels against plain sums and against the portable kernel.

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

/// Interleave a unit's four rows word by word (format version 5): word
/// `k` of rows 0 to 3, then word `k + 1`.
fn interleave(rows: &[u8], rb: usize) -> std::vec::Vec<u8> {
    (0..rb / 4).flat_map(|k| (0..4).flat_map(move |r| rows[r * rb + 4 * k..r * rb + 4 * k + 4].to_vec())).collect()
}

/// Version 5's fused rows (a unit's four rows interleaved word by word,
/// padded to whole words; 4 bits in offset binary, nibble `w + 8`, padding
/// 8) over a `CatBuf` vector, from biases, on this target's kernel (DSP,
/// AVX2 or portable) and on the portable one, against the plain signed
/// sums, at every padded width to 264 and on the extremes. Under Miri,
/// widths to 40.
#[test]
fn fused_rows_over_a_cat_buf_equal_the_plain_sums() {
    let longest = if cfg!(miri) { 40 } else { 264 };
    let mut s = 4242u32;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    };
    let mut cat = CatBuf::<256, 8>::new();
    for cols in (8..=longest).step_by(8) {
        for pattern in 0..3 {
            for bits in [8, 4] {
                let cols = if bits == 8 { cols - 4 * (next() % 2) as usize } else { cols };
                let n = cols - (next() % if bits == 8 { 4 } else { 8 }) as usize; // unpadded columns
                let nx = n - n.min(8) / 2;
                let v: std::vec::Vec<i16> = (0..n)
                    .map(|_| match pattern {
                        0 => next() as i16,
                        1 => i16::MIN,
                        _ => [i16::MIN, i16::MAX][(next() & 1) as usize],
                    })
                    .collect();
                let wmax = if bits == 8 { 127 } else { 7 };
                let rows: std::vec::Vec<std::vec::Vec<i32>> = (0..4)
                    .map(|_| {
                        (0..n)
                            .map(|_| match pattern {
                                0 => (next() % (2 * wmax + 1)) as i32 - wmax as i32,
                                1 => -(wmax as i32),
                                _ => [wmax as i32, -(wmax as i32)][(next() & 1) as usize],
                            })
                            .collect()
                    })
                    .collect();
                let padded: std::vec::Vec<std::vec::Vec<i32>> =
                    rows.iter().map(|r| r.iter().copied().chain(core::iter::repeat_n(0, cols - n)).collect()).collect();
                let (plain_rows, rb) = if bits == 8 {
                    (padded.iter().flat_map(|r| r.iter().map(|&w| w as i8 as u8)).collect::<std::vec::Vec<u8>>(), cols)
                } else {
                    // Offset binary: the signed nibbles with bit 3 flipped.
                    (pack_q4_rows(&padded).iter().map(|b| b ^ 0x88).collect(), cols / 2)
                };
                let w = interleave(&plain_rows, rb);
                let (p, sum) = cat.prepare(&v[..nx], 0, &v[nx..], 0, cols, true);
                assert_eq!(sum, v.iter().map(|&a| i32::from(a)).sum::<i32>());
                let plain = |row: &[i32]| row.iter().zip(&v).map(|(&a, &b)| a * i32::from(b)).sum::<i32>();
                let bias = [3, -3, 1 << 20, -(1 << 20)];
                let want: [i32; 4] = core::array::from_fn(|r| bias[r] + plain(&rows[r]));
                let (got, portable) = if bits == 8 {
                    (dot4_fused_i8(&w, p, bias), super::portable::dot4_fused_i8(&w, p.0, bias))
                } else {
                    (dot4_fused_u4(&w, p, bias, sum), super::portable::dot4_fused_u4(&w, p.0, bias))
                };
                assert_eq!(got, want, "{bits} bits, cols {cols}, n {n}, pattern {pattern}");
                assert_eq!(portable, want, "portable, {bits} bits, cols {cols}, n {n}, pattern {pattern}");
            }
        }
    }
}

/// `CatBuf::prepare` shifts `x`, appends `h` and zeros, and lays the
/// whole out for this target's kernel.
#[test]
fn a_cat_buf_concatenates_shifts_and_pads() {
    let mut cat = CatBuf::<4, 3>::new();
    let (p, sum) = cat.prepare(&[1, -2, 3], -8, &[5, 6], 0, 8, true);
    let want = [256, -512, 768, 5, 6, 0, 0, 0];
    let laid: std::vec::Vec<i16> =
        if cfg!(lstm_dsp) { want.chunks(4).flat_map(|g| [g[0], g[2], g[1], g[3]]).collect() } else { want.to_vec() };
    assert_eq!(p.0, &laid[..]);
    assert_eq!(sum, 256 - 512 + 768 + 11);
    // Right shifts round half up: 5 >> 1 is 3, -5 >> 1 is -2, 6 >> 2 is 2.
    let (p, _) = cat.prepare(&[5, -5, 6, -6], 1, &[6, 7, -7], 2, 8, false);
    let want = [3, -2, 3, -3, 2, 2, -2, 0];
    let laid: std::vec::Vec<i16> =
        if cfg!(lstm_dsp) { want.chunks(4).flat_map(|g| [g[0], g[2], g[1], g[3]]).collect() } else { want.to_vec() };
    assert_eq!(p.0, &laid[..]);
    // The buffer holds max(E, H) + H + 7 values and more.
    let (p, _) = cat.prepare(&[1; 4], 0, &[1; 3], 0, 4 + 2 * 3 + 8, false);
    assert_eq!(p.len(), 18);
}

/// The test build detects the CPU (the dev-dependency on `cpu/std`), so
/// that the tests above compare the AVX2 kernels where the CPU has them.
#[test]
fn the_tests_run_the_simd_kernels_where_the_cpu_has_them() {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    assert_eq!(cpu::Avx2::detect().is_some(), std::is_x86_feature_detected!("avx2"));
}
