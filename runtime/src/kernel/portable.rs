//! The portable kernels, in plain Rust: every target's (the host's too),
//! and the tails of the SIMD and DSP ones.

/// `sum(w[k] * x[k])`, weights as int8 bytes, in plain order: the
/// portable kernel. Four independent accumulators over chunks of four: the
/// compiler keeps them in registers (or vectorises them on the host), and
/// the loop overhead is paid once per four MACs. Inlined where it runs
/// hot (the host; the Cortex-M4's dense layer); one shared copy on the
/// cores without the DSP extension, where flash is tight.
#[cfg_attr(any(lstm_dsp, target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(any(lstm_dsp, target_arch = "x86_64")), inline(never))]
pub(super) fn dot_plain(w: &[u8], x: &[i16]) -> i32 {
    let n = w.len().min(x.len());
    let (w, x) = (&w[..n], &x[..n]);
    let (wc, xc) = (w.chunks_exact(4), x.chunks_exact(4));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    let mut acc = [0i32; 4];
    for (a, b) in wc.zip(xc) {
        for j in 0..4 {
            acc[j] += i32::from(a[j] as i8) * i32::from(b[j]);
        }
    }
    let mut sum = acc[0] + acc[1] + acc[2] + acc[3];
    for (&a, &b) in wr.iter().zip(xr) {
        sum += i32::from(a as i8) * i32::from(b);
    }
    sum
}

/// `sum(w[k] * x[k])` over a prepared vector in the DSP layout, in Rust
/// (the single rows of the dense layer): each group of four reads its
/// values in the order `x0 x2 x1 x3`.
#[cfg(lstm_dsp)]
#[inline(always)]
pub(super) fn dot_dsp_layout(w: &[u8], x: &[i16]) -> i32 {
    let n4 = x.len() & !3;
    let mut sum = 0i32;
    for (a, b) in w[..n4].chunks_exact(4).zip(x[..n4].chunks_exact(4)) {
        sum += i32::from(a[0] as i8) * i32::from(b[0])
            + i32::from(a[1] as i8) * i32::from(b[2])
            + i32::from(a[2] as i8) * i32::from(b[1])
            + i32::from(a[3] as i8) * i32::from(b[3]);
    }
    sum + dot_plain(&w[n4..x.len()], &x[n4..])
}

/// A 4-bit weight: the nibble `half` (0 low, 1 high) of `byte`, sign-extended.
#[inline(always)]
fn nibble(byte: u8, half: usize) -> i32 {
    let b = if half == 0 { byte << 4 } else { byte & 0xf0 };
    i32::from((b as i8) >> 4)
}

/// Where column `k` of an `n`-value vector sits once prepared: in the DSP
/// layout, each whole group of four is `x0 x2 x1 x3`; elsewhere, in place.
#[inline(always)]
fn prepared_index(k: usize, n: usize) -> usize {
    if cfg!(lstm_dsp) && (k | 3) < n {
        (k & !3) | [0, 2, 1, 3][k & 3]
    } else {
        k
    }
}

/// `sum(w[k] * x[k])` over columns `from..n` of one 4-bit row (groups of
/// eight columns, four bytes a group, byte `j` holding columns `j` and
/// `j + 4`), in Rust: the portable kernel, and the DSP kernel's last
/// partial group. `from` is a multiple of 8.
///
/// A whole group is one little-endian word whose nibble `p` (bits `4p` to
/// `4p + 3`) is column `p / 2` for even `p` and `4 + p / 2` for odd `p`;
/// `(w << (28 - 4p)) >> 28` sign-extends it (one `SBFX` on ARMv7-M).
/// Inlined on the host; one shared copy on the Cortex-M (the M4 reads
/// only partial groups through it; flash is tight on the others).
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline(never))]
pub(super) fn dot_q4_plain(row: &[u8], x: &[i16], from: usize) -> i32 {
    let n = x.len();
    // Whole groups in plain order (a DSP target's prepared vector is not:
    // only its last partial group comes here).
    let whole = if cfg!(lstm_dsp) { from } else { from.max(n & !7) };
    let mut sum = 0i32;
    for (b, xs) in row[from / 2..whole / 2].chunks_exact(4).zip(x[from..whole].chunks_exact(8)) {
        let w = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let nib = |p: i32| (w << (28 - 4 * p)) >> 28;
        let x = |k: usize| i32::from(xs[k]);
        sum += nib(0) * x(0) + nib(2) * x(1) + nib(4) * x(2) + nib(6) * x(3);
        sum += nib(1) * x(4) + nib(3) * x(5) + nib(5) * x(6) + nib(7) * x(7);
    }
    // The last, partial group, through the prepared layout.
    if whole < n {
        let bytes = &row[whole / 2..whole / 2 + 4];
        for k in whole..n {
            let (j, half) = ((k - whole) % 4, (k - whole) / 4);
            sum += nibble(bytes[j], half) * i32::from(x[prepared_index(k, n)]);
        }
    }
    sum
}

/// The portable kernel's results for two rows, whatever this target's
/// kernel is: the reference the x86-64 SIMD kernel is tested against.
#[cfg(test)]
pub(super) fn dot2_portable(w: &[u8], x: &[i16], bits: u8) -> [i32; 2] {
    let rb = crate::format::row_bytes(bits, x.len());
    if bits == 4 {
        [dot_q4_plain(&w[..rb], x, 0), dot_q4_plain(&w[rb..2 * rb], x, 0)]
    } else {
        [dot_plain(&w[..rb], x), dot_plain(&w[rb..2 * rb], x)]
    }
}

/// Four fused int8 rows (format version 5: a unit's rows interleaved word
/// by word, word `k` of row `r` at bytes `16k + 4r`; `x.len()` a multiple
/// of 4) times a prepared vector, each from `init[r]`, in Rust.
// Inlined on the host (the portable tier's speed); one shared copy on
// the cores that run it (Cortex-M3 and M0), where flash is tight.
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline(never))]
#[cfg_attr(lstm_dsp, allow(dead_code))] // the DSP kernel runs there (tests compare the two)
pub(super) fn dot4_fused_i8(w: &[u8], x: &[i16], init: [i32; 4]) -> [i32; 4] {
    let n = x.len();
    // Sixteen lanes, lane 4r + j for column j of row r's words: one
    // straight loop over the bytes, which the compiler vectorises.
    let mut lanes = [0i32; 16];
    for (k, words) in w[..4 * n].chunks_exact(16).enumerate() {
        // The group's four values, once for each row's word.
        let xp: [i16; 16] = core::array::from_fn(|i| x[prepared_index(4 * k + i % 4, n)]);
        for ((l, &b), &v) in lanes.iter_mut().zip(words).zip(&xp) {
            *l += i32::from(b as i8) * i32::from(v);
        }
    }
    core::array::from_fn(|r| init[r] + lanes[4 * r..4 * r + 4].iter().sum::<i32>())
}

/// Four fused offset-binary 4-bit rows (format version 5: nibble `w + 8`,
/// a unit's rows interleaved word by word, word `k` (columns `8k..8k + 8`)
/// of row `r` at bytes `16k + 4r`; `x.len()` a multiple of 8) times a
/// prepared vector, each from `init[r]`, in Rust.
// Inlined on the host (the portable tier's speed); one shared copy on
// the cores that run it (Cortex-M3 and M0), where flash is tight.
#[cfg_attr(target_arch = "x86_64", inline(always))]
#[cfg_attr(not(target_arch = "x86_64"), inline(never))]
#[cfg_attr(lstm_dsp, allow(dead_code))] // the DSP kernel runs there (tests compare the two)
pub(super) fn dot4_fused_u4(w: &[u8], x: &[i16], init: [i32; 4]) -> [i32; 4] {
    let n = x.len();
    // Byte 4r + j of a group holds row r's columns j (low nibble) and
    // j + 4 (high): two sets of sixteen lanes, one straight loop over the
    // bytes (XOR 8 makes each nibble two's complement).
    let (mut lo, mut hi) = ([0i32; 16], [0i32; 16]);
    for (k, words) in w[..2 * n].chunks_exact(16).enumerate() {
        // Columns 0..4 and 4..8 of the group, once for each row's word.
        let xl: [i16; 16] = core::array::from_fn(|i| x[prepared_index(8 * k + i % 4, n)]);
        let xh: [i16; 16] = core::array::from_fn(|i| x[prepared_index(8 * k + 4 + i % 4, n)]);
        for (i, &b) in words.iter().enumerate() {
            let b = b ^ 0x88;
            lo[i] += i32::from(((b << 4) as i8) >> 4) * i32::from(xl[i]);
            hi[i] += i32::from((b as i8) >> 4) * i32::from(xh[i]);
        }
    }
    core::array::from_fn(|r| init[r] + lo[4 * r..4 * r + 4].iter().chain(&hi[4 * r..4 * r + 4]).sum::<i32>())
}
