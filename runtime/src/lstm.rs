//! The integer LSTM: weights (borrowed), state (caller-owned), one step.
//!
//! Three types, three roles: [`Lstm`] borrows the [`ValidModel`] (the
//! configuration and weights, read in place), [`LstmState`] is the mutable
//! `h` and `c` the caller owns (a `static` if it likes: `const fn new`), and
//! the scratch of a step lives on the stack, sized by the same const
//! generics. Nothing is allocated.

use crate::fixed::{requantize_sat, requantize_sat32, round_shift, sat16, sigmoid_q15, tanh_q15};
use crate::format::{padded_cols, row_bytes, I32s, I8s, LstmLayer, RowScales, ValidModel, Weights};
#[cfg(target_arch = "x86_64")]
use crate::kernel::cells;
use crate::kernel::{fused_pre4, gate_pre4, CatBuf, Int4Rows, Int8Rows, PrepBuf, Prepared, RowKind, Simd};
use crate::Error;

/// Hidden and cell state of an `L`-layer, `H`-wide LSTM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LstmState<const H: usize, const L: usize> {
    /// Hidden state per layer, Q0.15.
    pub h: [[i16; H]; L],
    /// Cell state per layer, Q(15-f).f with the layer's `cell_frac` f.
    pub c: [[i16; H]; L],
}

impl<const H: usize, const L: usize> LstmState<H, L> {
    /// The zero state (the start of every sequence).
    pub const fn new() -> Self {
        Self { h: [[0; H]; L], c: [[0; H]; L] }
    }

    /// Back to the zero state.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl<const H: usize, const L: usize> Default for LstmState<H, L> {
    fn default() -> Self {
        Self::new()
    }
}

/// One time step of one layer of split rows (format versions 1 to 4).
///
/// - `x`: `[I]` input, prepared for the kernel (layer 0: the int8
///   embedding, sign-extended; later layers: the previous layer's new `h`,
///   Q0.15);
/// - `h_old`: `[H]` the hidden state before the step, prepared;
/// - `h`: `[H]` hidden state, Q0.15, overwritten with the new one;
/// - `c`: `[H]` cell state, Q(15-f).f, updated in place.
///
/// The four gate rows of unit `j` are adjacent (`4j + g`), so each weight
/// matrix is read once, front to back, four rows (a unit) a kernel call, at the
/// layer's weight bits. A layer of fused rows does nothing here (see
/// [`fused_layer_step`]).
pub fn layer_step(layer: &LstmLayer<'_>, x: Prepared<'_>, h_old: Prepared<'_>, h: &mut [i16], c: &mut [i16]) {
    match cpu::Avx2::detect() {
        // On an x86-64 host with AVX2 the whole step is compiled for AVX2,
        // so that the kernels (and the gates' requantizations) inline into
        // the loop over the units.
        Some(avx2) => avx2.vectorize(
            #[inline(always)]
            || layer_step_any(Some(avx2), layer, x, h_old, h, c),
        ),
        None => layer_step_any(None, layer, x, h_old, h, c),
    }
}

#[inline(always)]
fn layer_step_any(
    simd: Simd,
    layer: &LstmLayer<'_>,
    x: Prepared<'_>,
    h_old: Prepared<'_>,
    h: &mut [i16],
    c: &mut [i16],
) {
    if let Weights::Split { w_x, w_h, scale_x, scale_h } = layer.weights {
        let split = Split { w_x, w_h, bias: layer.bias, scale_x, scale_h, cell_frac: layer.cell_frac };
        if layer.bits == 4 {
            layer_step_rows::<Int4Rows>(simd, &split, x, h_old, h, c)
        } else {
            layer_step_rows::<Int8Rows>(simd, &split, x, h_old, h, c)
        }
    }
}

/// A layer of split rows, its parts named.
struct Split<'a> {
    w_x: I8s<'a>,
    w_h: I8s<'a>,
    bias: I32s<'a>,
    scale_x: RowScales<'a>,
    scale_h: RowScales<'a>,
    cell_frac: u8,
}

/// Where a layer's gate pre-activations go: with AVX2 (a host), into
/// `z`, every unit's first, gate by gate, then the cell of eight units at
/// a time (`kernel::cells`); elsewhere each unit's cell right after its
/// kernel block, which keeps the Cortex-M4's registers on one unit.
struct Gates {
    #[cfg(target_arch = "x86_64")]
    z: [[i16; crate::format::MAX_HIDDEN]; 4],
    #[cfg(target_arch = "x86_64")]
    batched: bool,
    cf: u32,
}

impl Gates {
    #[inline(always)]
    fn new(simd: Simd, hidden: usize, cell_frac: u8) -> Self {
        let cf = u32::from(cell_frac);
        #[cfg(target_arch = "x86_64")]
        {
            let z = [[0i16; crate::format::MAX_HIDDEN]; 4];
            Self { batched: simd.is_some() && z[0].len() >= hidden, z, cf }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (simd, hidden);
            Self { cf }
        }
    }

    /// Unit `j`'s pre-activations: its cell now, or kept for [`Gates::finish`].
    #[inline(always)]
    fn unit(&mut self, j: usize, pre: [i16; 4], h: &mut i16, c: &mut i16) {
        #[cfg(target_arch = "x86_64")]
        if self.batched {
            for (g, z) in self.z.iter_mut().enumerate() {
                if let Some(slot) = z.get_mut(j) {
                    *slot = pre[g];
                }
            }
            return;
        }
        let _ = j;
        (*h, *c) = cell(pre, *c, self.cf);
    }

    /// The kept units' cells (none unless batched).
    #[inline(always)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    fn finish(&self, simd: Simd, h: &mut [i16], c: &mut [i16]) {
        #[cfg(target_arch = "x86_64")]
        if self.batched {
            let hidden = h.len();
            let [zi, zf, zg, zo] = &self.z;
            let done = cells(simd, [&zi[..hidden], &zf[..hidden], &zg[..hidden], &zo[..hidden]], c, h, self.cf);
            for j in done..hidden {
                (h[j], c[j]) = cell([zi[j], zf[j], zg[j], zo[j]], c[j], self.cf);
            }
        }
    }
}

/// [`layer_step`] at `K`'s weight bits, on the kernels `simd` allows.
#[inline(always)]
fn layer_step_rows<K: RowKind>(
    simd: Simd,
    layer: &Split<'_>,
    x: Prepared<'_>,
    h_old: Prepared<'_>,
    h: &mut [i16],
    c: &mut [i16],
) {
    let (input, hidden) = (x.len(), h_old.len());
    let (rx, rh) = (row_bytes(K::BITS, input), row_bytes(K::BITS, hidden));
    // Everything a unit reads, cut into its per-unit pieces once, so that
    // the loop below runs without bounds checks: unit j's four rows
    // (4j + g) of both matrices, its four biases and multipliers (16 bytes
    // each, little-endian i32s) and its four shifts of each scale.
    let rows = 4 * hidden;
    let (h, c) = (&mut h[..hidden], &mut c[..hidden]);
    let mut gates = Gates::new(simd, hidden, layer.cell_frac);
    let per_unit = layer.w_x.0[..rows * rx]
        .chunks_exact(4 * rx)
        .zip(layer.w_h.0[..rows * rh].chunks_exact(4 * rh))
        .zip(layer.bias.0[..4 * rows].as_chunks::<16>().0)
        .zip(layer.scale_x.multipliers.0[..4 * rows].as_chunks::<16>().0)
        .zip(layer.scale_h.multipliers.0[..4 * rows].as_chunks::<16>().0)
        .zip(layer.scale_x.shifts.0[..rows].as_chunks::<4>().0)
        .zip(layer.scale_h.shifts.0[..rows].as_chunks::<4>().0)
        .zip(h.iter_mut().zip(c.iter_mut()));
    for (j, (((((((wx, wh), bias), mx), mh), sx), sh), (h, c))) in per_unit.enumerate() {
        let (ax, ah) = (K::dot4(simd, wx, x), K::dot4(simd, wh, h_old));
        // Gate pre-activations i, f, g, o of the unit, Q3.12.
        macro_rules! pre {
            ($g:literal) => {
                gate_pre(ax[$g], ah[$g], word(bias, $g), word(mx, $g), word(mh, $g), sx[$g], sh[$g])
            };
        }
        let pre = match gate_pre4(simd, ax, ah, bias, mx, mh, sx, sh) {
            Some(pre) => pre,
            None => [pre!(0), pre!(1), pre!(2), pre!(3)],
        };
        gates.unit(j, pre, h, c);
    }
    gates.finish(simd, h, c);
}

/// One time step of one layer of fused rows (format version 5).
///
/// - `v`: the layer's `[x; h_old; 0...]`, each part shifted by the
///   layer's `x_shift` and `h_shift`, laid out by [`CatBuf::prepare`] to
///   the row's padded width (layer 0's `x`: the embedding's values; later
///   layers': the previous layer's new `h`), and `sum`, its values' sum
///   (read by 4-bit rows only);
/// - `h`: `[H]` hidden state, Q0.15, overwritten with the new one;
/// - `c`: `[H]` cell state, Q(15-f).f, updated in place.
///
/// A unit is one kernel block over its four adjacent rows and four
/// requantizations. A layer of split rows does nothing here (see
/// [`layer_step`]).
pub fn fused_layer_step(layer: &LstmLayer<'_>, v: Prepared<'_>, sum: i32, h: &mut [i16], c: &mut [i16]) {
    match cpu::Avx2::detect() {
        Some(avx2) => avx2.vectorize(
            #[inline(always)]
            || fused_step_any(Some(avx2), layer, v, sum, h, c),
        ),
        None => fused_step_any(None, layer, v, sum, h, c),
    }
}

#[inline(always)]
fn fused_step_any(simd: Simd, layer: &LstmLayer<'_>, v: Prepared<'_>, sum: i32, h: &mut [i16], c: &mut [i16]) {
    if let Weights::Fused { w, scale, .. } = layer.weights {
        if layer.bits == 4 {
            fused_step_rows::<Int4Rows>(simd, w, layer.bias, scale, layer.cell_frac, v, sum, h, c)
        } else {
            fused_step_rows::<Int8Rows>(simd, w, layer.bias, scale, layer.cell_frac, v, sum, h, c)
        }
    }
}

/// [`fused_layer_step`] at `K`'s weight bits, on the kernels `simd` allows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fused_step_rows<K: RowKind>(
    simd: Simd,
    w: I8s<'_>,
    bias: I32s<'_>,
    scale: RowScales<'_>,
    cell_frac: u8,
    v: Prepared<'_>,
    sum: i32,
    h: &mut [i16],
    c: &mut [i16],
) {
    let hidden = h.len().min(c.len());
    let rb = row_bytes(K::BITS, v.len());
    let rows = 4 * hidden;
    let (h, c) = (&mut h[..hidden], &mut c[..hidden]);
    let mut gates = Gates::new(simd, hidden, cell_frac);
    // Unit j's four rows, biases, multipliers and shifts, cut once.
    let per_unit = w.0[..rows * rb]
        .chunks_exact(4 * rb)
        .zip(bias.0[..4 * rows].as_chunks::<16>().0)
        .zip(scale.multipliers.0[..4 * rows].as_chunks::<16>().0)
        .zip(scale.shifts.0[..rows].as_chunks::<4>().0)
        .zip(h.iter_mut().zip(c.iter_mut()));
    for (j, ((((w4, b), m), s), (h, c))) in per_unit.enumerate() {
        let acc = K::dot4_fused(simd, w4, v, [0, 1, 2, 3].map(|g| word(b, g)), sum);
        let pre = match fused_pre4(simd, acc, m, s) {
            Some(pre) => pre,
            None => [0, 1, 2, 3].map(|g| fused_pre(acc[g], word(m, g), s[g])),
        };
        gates.unit(j, pre, h, c);
    }
    gates.finish(simd, h, c);
}

/// One fused layer's step from its input (`x`, before its shift; `None`:
/// the `nx` values already in `cat`) and its state: the vector laid out in
/// `cat`, then [`fused_layer_step`]. Generic only in the buffer's size.
#[inline(always)]
fn fused_layer<const E: usize, const H: usize>(
    layer: &LstmLayer<'_>,
    x: Option<&[i16]>,
    nx: usize,
    h: &mut [i16],
    c: &mut [i16],
    cat: &mut CatBuf<E, H>,
) {
    if let Weights::Fused { x_shift, h_shift, .. } = layer.weights {
        let nx = x.map_or(nx, <[i16]>::len);
        let (cols, sum) = (padded_cols(layer.bits, nx + h.len()), layer.bits == 4);
        let (v, sum) = match x {
            Some(x) => cat.prepare(x, x_shift, h, h_shift, cols, sum),
            None => cat.prepare_written(nx, x_shift, h, h_shift, cols, sum),
        };
        fused_layer_step(layer, v, sum, h, c);
    }
}

/// A fused row's pre-activation, Q3.12: the accumulator (from the bias,
/// which validation keeps in i32 with the sum), requantized by the row's
/// scale, saturated.
#[inline(always)]
fn fused_pre(acc: i32, m: i32, s: u8) -> i16 {
    sat16(requantize_sat32(acc, m, s as i8, 1 << 20))
}

/// Word `g` of four little-endian i32s.
#[inline(always)]
fn word(b: &[u8; 16], g: usize) -> i32 {
    // One (unaligned) word load, not four byte loads.
    let (words, _) = b.as_chunks::<4>();
    i32::from_le_bytes(words[g])
}

/// A unit's new `h` (Q0.15) and `c` (Q(15-f).f) from its gates'
/// pre-activations and its old `c`.
// Inlined into the Cortex-M4's and the host's steps (speed); one shared
// copy elsewhere, where flash is the tighter budget (the Cortex-M3).
#[cfg_attr(any(lstm_dsp, target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(any(lstm_dsp, target_arch = "x86_64")), inline(never))]
fn cell(pre: [i16; 4], c: i16, cf: u32) -> (i16, i16) {
    // Gates, Q0.15.
    let i = i32::from(sigmoid_q15(pre[0]));
    let f = i32::from(sigmoid_q15(pre[1]));
    let g = i32::from(tanh_q15(pre[2]));
    let o = i32::from(sigmoid_q15(pre[3]));
    // c = f*c + i*g: Q0.15 x Q.f >> 15 is Q.f; Q0.15 x Q0.15 is Q0.30, >> (30-f) is Q.f.
    let fc = round_shift(f * i32::from(c), 15);
    let ig = round_shift(i * g, 30 - cf);
    let c_new = sat16(fc + ig);
    // tanh takes Q3.12.
    let c12 =
        if cf >= 12 { round_shift(i32::from(c_new), cf - 12) as i16 } else { sat16(i32::from(c_new) << (12 - cf)) };
    // h = o * tanh(c), Q0.15.
    (round_shift(o * i32::from(tanh_q15(c12)), 15) as i16, c_new)
}

/// A gate's pre-activation, Q3.12: the input part (with the bias) and the
/// recurrent part, each requantized by its row's scale, summed, saturated.
// Inlined into the Cortex-M4's step (speed); one shared copy elsewhere,
// where flash is the tighter budget (a Cortex-M3 holding the shipped
// language model has about 130 KiB of its 256 KiB left).
#[cfg_attr(lstm_dsp, inline(always))]
#[cfg_attr(not(lstm_dsp), inline(never))]
fn gate_pre(ax: i32, ah: i32, bias: i32, mx: i32, mh: i32, sx: u8, sh: u8) -> i16 {
    let zx = match ax.checked_add(bias) {
        Some(acc) => requantize_sat32(acc, mx, sx as i8, 1 << 20),
        None => requantize_sat(i64::from(ax) + i64::from(bias), mx, sx as i8, 1 << 20),
    };
    let zh = requantize_sat32(ah, mh, sh as i8, 1 << 20);
    sat16(zx + zh)
}

/// An LSTM reading a validated model in place, compiled for at most `L`
/// layers of at most `H` units over an embedding at most `E` wide: the
/// capacities of its state and scratch. A device build sets them to the
/// model's exact sizes; a host tool may set them to the format's maxima.
#[derive(Clone, Debug)]
pub struct Lstm<'a, const E: usize, const H: usize, const L: usize> {
    model: ValidModel<'a>,
    embed: usize,
    hidden: usize,
    layers: usize,
}

/// Error unless the model's size fits the compile-time capacity.
pub(crate) fn check_dim(what: &'static str, compiled: usize, model: usize) -> Result<(), Error> {
    if model <= compiled {
        Ok(())
    } else {
        Err(Error::DimensionMismatch { what, compiled, model })
    }
}

impl<'a, const E: usize, const H: usize, const L: usize> Lstm<'a, E, H, L> {
    /// Bytes of scratch [`Lstm::step`] keeps on the stack: the vectors
    /// laid out for the kernel (split rows: the embedding row and three
    /// vectors; fused rows: one `[x; h]`, the embedding row written into
    /// it), whichever is larger. (A language
    /// model's step adds one more `[i16; H]` for its dense layer.)
    pub const STEP_SCRATCH_BYTES: usize = {
        let split = core::mem::size_of::<[i16; E]>()
            + core::mem::size_of::<PrepBuf<E>>()
            + 2 * core::mem::size_of::<PrepBuf<H>>();
        let fused = core::mem::size_of::<CatBuf<E, H>>();
        if split > fused {
            split
        } else {
            fused
        }
    };

    /// Check the model's dimensions against the compile-time capacities once.
    pub fn new(model: ValidModel<'a>) -> Result<Self, Error> {
        let embed = usize::from(model.header.embed_dim);
        let hidden = usize::from(model.header.hidden);
        let layers = usize::from(model.header.layers);
        check_dim("embedding width", E, embed)?;
        check_dim("hidden width", H, hidden)?;
        check_dim("layer count", L, layers)?;
        Ok(Self { model, embed, hidden, layers })
    }

    /// The model's hidden width.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// The top layer's hidden state, Q0.15.
    pub fn top<'s>(&self, state: &'s LstmState<H, L>) -> &'s [i16] {
        &state.h[self.layers - 1][..self.hidden]
    }

    /// The model this network reads.
    pub fn model(&self) -> &ValidModel<'a> {
        &self.model
    }

    /// An error unless `id` is in the model's vocabulary.
    pub fn check_id(&self, id: u32) -> Result<(), Error> {
        let vocab = self.model.header.vocab;
        if id < vocab {
            Ok(())
        } else {
            Err(Error::OutOfRange { what: "token id", value: i64::from(id), min: 0, max: i64::from(vocab) - 1 })
        }
    }

    /// Embedding row of `id` (checked by the caller) as int16 into `x`.
    fn embed(&self, id: u32, x: &mut [i16]) {
        let table = self.model.embedding.table;
        let (id, e) = (id as usize, self.embed);
        if self.model.embedding.bits == 8 {
            for (k, v) in x.iter_mut().enumerate() {
                *v = i16::from(table[id * e + k] as i8);
            }
        } else {
            // 4 bits: two values a byte, low nibble first, sign-extended.
            let row = &table[id * e / 2..(id + 1) * e / 2];
            for (k, v) in x.iter_mut().enumerate() {
                let byte = row[k / 2];
                let nib = if k % 2 == 0 { byte << 4 } else { byte & 0xf0 };
                *v = i16::from((nib as i8) >> 4);
            }
        }
    }

    /// Advance the state by one token; the new top-layer hidden state is
    /// [`Lstm::top`]. An id outside the vocabulary is an error and leaves
    /// the state unchanged.
    pub fn step(&self, state: &mut LstmState<H, L>, id: u32) -> Result<(), Error> {
        self.check_id(id)?;
        // Each layout's step in a function of its own, so that only one
        // set of scratch is on the stack.
        if self.model.version() >= 5 {
            self.step_fused(state, id);
        } else {
            self.step_split(state, id);
        }
        Ok(())
    }

    /// [`Lstm::step`] of a model of split rows (versions 1 to 4).
    #[inline(never)]
    fn step_split(&self, state: &mut LstmState<H, L>, id: u32) {
        let (e, hd) = (self.embed, self.hidden);
        // Scratch, laid out for the kernel: the layer's input (the token's
        // embedding row for layer 0, int8 values as int16; the layer
        // below's new h above it) and the layer's own h before the step.
        let mut x = [0i16; E];
        self.embed(id, &mut x[..e]);
        let mut emb = PrepBuf::<E>::new();
        let mut below = PrepBuf::<H>::new();
        let mut own = PrepBuf::<H>::new();
        for (l, layer) in self.model.layers.iter().enumerate() {
            let input = if l == 0 { emb.prepare(&x[..e]) } else { below.prepare(&state.h[l - 1][..hd]) };
            let h_old = own.prepare(&state.h[l][..hd]);
            layer_step(layer, input, h_old, &mut state.h[l][..hd], &mut state.c[l][..hd]);
        }
    }

    /// [`Lstm::step`] of a model of fused rows (version 5): each layer
    /// reads one vector, `[x; h]`.
    #[inline(never)]
    fn step_fused(&self, state: &mut LstmState<H, L>, id: u32) {
        let (e, hd) = (self.embed, self.hidden);
        // Layer 0's input, the token's embedding row, is written straight
        // into the vector's buffer.
        let mut cat = CatBuf::<E, H>::new();
        self.embed(id, cat.input_mut(e));
        for (l, layer) in self.model.layers.iter().enumerate() {
            let (below, own) = state.h.split_at_mut(l);
            let input = if l == 0 { None } else { Some(&below[l - 1][..hd]) };
            fused_layer(layer, input, e, &mut own[0][..hd], &mut state.c[l][..hd], &mut cat);
        }
    }

    /// Advance the state over a whole sequence (the same as calling
    /// [`Lstm::step`] on each id). Stops at the first invalid id.
    pub fn run(&self, state: &mut LstmState<H, L>, ids: &[u32]) -> Result<(), Error> {
        ids.iter().try_for_each(|&id| self.step(state, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    /// The batched cell (AVX2 where the CPU has it) gives the scalar
    /// cell's bits, for random and extreme pre-activations and cells, at
    /// every `cell_frac`, on widths with a partial group.
    #[test]
    fn batched_cells_equal_the_scalar_cell() {
        let simd = cpu::Avx2::detect();
        let mut rng = Rng::new(3);
        let extremes = [i16::MIN, i16::MIN + 1, -32767, -4096, -1, 0, 1, 127, 128, 4095, 32766, i16::MAX];
        let mut value = |k: usize| -> i16 {
            if k.is_multiple_of(3) {
                extremes[rng.next_u32() as usize % extremes.len()]
            } else {
                rng.next_u32() as i16
            }
        };
        for n in [8usize, 21, 64, 256] {
            for cf in 0..=15u32 {
                let z: [Vec<i16>; 4] = core::array::from_fn(|g| (0..n).map(|k| value(k + g)).collect());
                let c0: Vec<i16> = (0..n).map(&mut value).collect();
                let (mut c, mut h) = (c0.clone(), vec![0i16; n]);
                let done = cells(simd, [&z[0][..], &z[1][..], &z[2][..], &z[3][..]], &mut c, &mut h, cf);
                assert_eq!(done, if simd.is_some() { n & !7 } else { 0 });
                for j in 0..done {
                    let want = cell([z[0][j], z[1][j], z[2][j], z[3][j]], c0[j], cf);
                    assert_eq!((h[j], c[j]), want, "unit {j} of {n}, cell_frac {cf}");
                }
            }
        }
    }
}
