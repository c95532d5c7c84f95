//! Calibration and the quantizer: a [`FloatModel`] becomes a model file.
//!
//! The quantizer computes the integer arrays into byte buffers of its own,
//! lays the runtime's format types ([`runtime::Model`] and its parts, one
//! definition, borrowed) over them, and serialises that view: no owned
//! mirror of the format exists. A hand-built `Model` is not known to be
//! safe to run, so the result is decoded and validated once more by the
//! runtime ([`runtime::Model::from_bytes`], which alone makes a
//! [`runtime::ValidModel`]) before it is returned.

use runtime::format::{
    embed_shift, fused_bias_limit, padded_cols, Embedding, Head, Header, I32s, I8s, LstmLayer, Model, RowScales,
    Tokenizer, Weights, CRC_LEN, PREFIX_LEN,
};

use runtime::tokenizer::WordIds;

use crate::float::{FloatModel, FloatTokenizer};

/// Why a float model cannot be quantized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantizeError {
    /// Embedding bits other than 8 or 4.
    EmbedBits(u8),
    /// LSTM weight bits other than 8 or 4.
    LstmBits(u8),
    /// A 4-bit embedding packs two values a byte: the width must be even.
    OddEmbedding {
        /// The embedding width.
        width: usize,
    },
    /// The quantized model does not pass the runtime's validation (for
    /// example, dimensions beyond the format's maxima).
    Invalid(runtime::Error),
}

impl std::fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantizeError::EmbedBits(b) => write!(f, "embedding bits must be 8 or 4, not {b}"),
            QuantizeError::LstmBits(b) => write!(f, "LSTM weight bits must be 8 or 4, not {b}"),
            QuantizeError::OddEmbedding { width } => write!(
                f,
                "a 4-bit embedding packs two values a byte and needs an even width, but this model's is {width} \
                 (use 8 bits, or train with an even --embed-dim)"
            ),
            QuantizeError::Invalid(e) => write!(f, "the quantized model is not valid: {e}"),
        }
    }
}

impl std::error::Error for QuantizeError {}

/// What quantization needs to know about activations, from a calibration
/// run of the float model over training data.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Largest |c| seen, per layer.
    pub cell_abs_max: Vec<f32>,
}

impl Calibration {
    /// Run the float model over `sequences` (each from the zero state) and
    /// record the activation ranges.
    pub fn run(model: &FloatModel, sequences: &[Vec<u32>]) -> Self {
        let mut cell_abs_max = vec![0.0f32; model.layers.len()];
        for seq in sequences {
            let mut s = model.zero_state();
            for &id in seq {
                model.step(&mut s, id);
                for (m, c) in cell_abs_max.iter_mut().zip(&s.c) {
                    *m = c.iter().fold(*m, |a, v| a.max(v.abs()));
                }
            }
        }
        Self { cell_abs_max }
    }
}

/// `m` as a Q0.31 multiplier and a right shift: `m ~ q / 2^(31 + shift)`.
pub fn quantize_multiplier(m: f64) -> (i32, i8) {
    if m <= 0.0 || !m.is_finite() {
        return (0, 0);
    }
    let mut e = m.log2().floor() as i32 + 1; // m = f * 2^e, f in [0.5, 1)
    let mut f = m / 2f64.powi(e);
    if f >= 1.0 {
        f /= 2.0;
        e += 1;
    } else if f < 0.5 {
        f *= 2.0;
        e -= 1;
    }
    let mut q = (f * 2f64.powi(31)).round() as i64;
    if q == 1 << 31 {
        q = 1 << 30;
        e += 1;
    }
    let mut shift = -e;
    if shift > 31 {
        q = (q + (1 << (shift - 32))) >> (shift - 31);
        shift = 31;
    }
    if shift < -30 {
        return (i32::MAX, -30);
    }
    (q as i32, shift as i8)
}

/// The widest cell range the quantizer gives the int16 cell state:
/// calibration may see cells of hundreds or thousands (a two-layer Hamlet
/// model's second layer reached 1,723), where `tanh(c)` is 1 to 7 digits,
/// and fitting them would leave the cell 4 fractional bits. Cells beyond
/// ±16 saturate instead (Q4.11): on that model the integer loss went from
/// 1.6324 nats/char (the range of the largest cell) to 1.6258, the float
/// model's.
pub const CELL_RANGE_CAP: f64 = 16.0;

/// Fractional bits of the logits the quantizer writes.
pub const OUT_FRAC: u8 = 12;

/// The level `v` takes on a symmetric grid of step `scale` and levels
/// `-qmax..=qmax`: the one rounding every weight and table value the
/// quantizer writes goes through, and that quantization-aware training
/// reads back (times `scale`).
pub fn level(v: f32, scale: f64, qmax: f64) -> f64 {
    (f64::from(v) / scale).round().clamp(-qmax, qmax)
}

/// The scale of a symmetric quantizer with levels `-qmax..=qmax` for
/// `values`: the clipping range (a fraction of the largest magnitude, from
/// 100% down to 20%) with the least squared error. Few levels (4 bits) gain
/// most from clipping the rare large values.
pub fn clipped_scale(values: &[f32], qmax: f64) -> f64 {
    let max = values.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
    if max == 0.0 {
        return 1e-12;
    }
    let mse = |s: f64| -> f64 {
        values
            .iter()
            .map(|&v| {
                let e = f64::from(v) - level(v, s, qmax) * s;
                e * e
            })
            .sum()
    };
    let mut best = (mse(max / qmax), max / qmax);
    for step in 1..=80 {
        let s = max * (1.0 - step as f64 * 0.01) / qmax;
        let e = mse(s);
        if e < best.0 {
            best = (e, s);
        }
    }
    best.1
}

/// The scale of one weight row at `bits` (8 or 4): the largest magnitude
/// over 127 at 8 bits; at 4 bits, [`clipped_scale`] over 7 levels (the
/// clipping with the least squared error). Quantization-aware training
/// rounds to the same grid.
pub fn row_scale(row: &[f32], bits: u8) -> f64 {
    if bits == 4 {
        clipped_scale(row, 7.0)
    } else {
        row.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64 / 127.0
    }
}

/// Largest level of a symmetric quantizer of `bits` (8 or 4).
pub fn levels(bits: u8) -> f64 {
    if bits == 4 {
        7.0
    } else {
        127.0
    }
}

/// Per-row weights at `bits` (rows taken in `rows_order`; the format's
/// [`runtime::format::row_bytes`] layout) and each row's scale, at least
/// `min_scale[k]`.
fn row_quantize(w: &[f32], cols: usize, rows_order: &[usize], min_scale: &[f64], bits: u8) -> (Vec<u8>, Vec<f64>) {
    let mut bytes = Vec::with_capacity(rows_order.len() * runtime::format::row_bytes(bits, cols));
    let mut scales = Vec::with_capacity(rows_order.len());
    let q = levels(bits);
    for (k, &r) in rows_order.iter().enumerate() {
        let row = &w[r * cols..(r + 1) * cols];
        let s = row_scale(row, bits).max(min_scale[k]).max(1e-12);
        let ints: Vec<i8> = row.iter().map(|&v| level(v, s, q) as i8).collect();
        if bits == 4 {
            bytes.extend(pack_q4(&ints));
        } else {
            bytes.extend(ints.iter().map(|&v| v as u8));
        }
        scales.push(s);
    }
    (bytes, scales)
}

/// One row of int4 values (each in `[-7, 7]`) in the format's 4-bit
/// layout: groups of eight, byte `j` of a group holding value `j` (low
/// nibble) and `j + 4` (high nibble), the last group padded with zeros.
pub fn pack_q4(row: &[i8]) -> Vec<u8> {
    let mut out = vec![0u8; runtime::format::row_bytes(4, row.len())];
    for (k, &v) in row.iter().enumerate() {
        let (g, j) = (k / 8, k % 8);
        let byte = &mut out[4 * g + j % 4];
        let nib = (v as u8) & 0x0f;
        *byte |= if j < 4 { nib } else { nib << 4 };
    }
    out
}

/// The scale of the embedding table at `bits` (8 or 4): one clipped scale
/// for the whole table ([`clipped_scale`]).
pub fn embed_scale(embedding: &[f32], bits: u8) -> f64 {
    clipped_scale(embedding, levels(bits))
}

/// Where a fused layer's input comes from (format version 5): its index,
/// and for layer 0 the embedding's scale and bits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedInput {
    /// The layer's index (0 reads the embedding).
    pub layer: usize,
    /// The embedding's scale ([`embed_scale`]).
    pub s_emb: f64,
    /// The embedding's bits (8 or 4).
    pub embed_bits: u8,
}

/// How a fused layer's vector is scaled and what its rows' two parts are
/// multiplied by: the vector is `[x >> x_shift; h >> h_shift]` in the
/// hidden state's Q0.15 units, so row `r` is `[w_x[r] * rx, w_h[r] * rh]`
/// with `rx = base * 2^x_shift` (base: `s_emb * 2^15` for layer 0's
/// embedding integers, 1 for a layer below's Q0.15) and `rh = 2^h_shift`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedPlan {
    /// The input part's shift (negative: left).
    pub x_shift: i8,
    /// The recurrent part's shift.
    pub h_shift: i8,
    /// What the input weights are multiplied by.
    pub rx: f64,
    /// What the recurrent weights are multiplied by.
    pub rh: f64,
}

/// The shifts of a fused layer: layer 0's embedding as far left as int16
/// allows, then one part shifted right until the two parts' weights are
/// of about one size (the mean over rows of each part's largest
/// magnitude within a factor of √2): one grid then serves both. The
/// exporter and quantization-aware training use this one rule.
pub fn fused_plan(w_x: &[f32], w_h: &[f32], input: usize, hidden: usize, from: FusedInput) -> FusedPlan {
    let (base, x0) =
        if from.layer == 0 { (from.s_emb * 2f64.powi(15), -(embed_shift(from.embed_bits) as i32)) } else { (1.0, 0) };
    let rows = w_h.len() / hidden.max(1);
    let mean_max = |w: &[f32], cols: usize| -> f64 {
        let sum: f64 = w.chunks(cols.max(1)).map(|r| r.iter().fold(0f32, |a, v| a.max(v.abs())) as f64).sum();
        sum / rows.max(1) as f64
    };
    let (mx, mh) = (mean_max(w_x, input) * base * 2f64.powi(x0), mean_max(w_h, hidden));
    let j = if mx > 0.0 && mh > 0.0 { (mx / mh).log2().round() as i32 } else { 0 };
    let (x_shift, h_shift) = if j > 0 { (x0, j.min(15)) } else { ((x0 - j).min(15), 0) };
    FusedPlan { x_shift: x_shift as i8, h_shift: h_shift as i8, rx: base * 2f64.powi(x_shift), rh: 2f64.powi(h_shift) }
}

/// Row `r` of a fused layer in float: `[w_x[r] * rx, w_h[r] * rh]`.
pub fn fused_row(w_x: &[f32], w_h: &[f32], input: usize, hidden: usize, r: usize, plan: &FusedPlan) -> Vec<f32> {
    let x = w_x[r * input..(r + 1) * input].iter().map(|&v| (f64::from(v) * plan.rx) as f32);
    x.chain(w_h[r * hidden..(r + 1) * hidden].iter().map(|&v| (f64::from(v) * plan.rh) as f32)).collect()
}

/// Round the rows of a layer's `w_x` (`[4H][input]`) and `w_h`
/// (`[4H][hidden]`) to the fused grid the exporter writes at `bits`: each
/// gate's `[w_x * rx, w_h * rh]` ([`fused_plan`]) on one [`row_scale`]
/// (quantization-aware training reads the weights so).
pub fn fake_quantize_fused(w_x: &mut [f32], w_h: &mut [f32], input: usize, hidden: usize, from: FusedInput, bits: u8) {
    let plan = fused_plan(w_x, w_h, input, hidden, from);
    let q = levels(bits);
    for r in 0..w_h.len() / hidden.max(1) {
        let row = fused_row(w_x, w_h, input, hidden, r, &plan);
        let s = row_scale(&row, bits).max(1e-12);
        for (k, v) in w_x[r * input..(r + 1) * input].iter_mut().enumerate() {
            *v = (level(row[k], s, q) * s / plan.rx) as f32;
        }
        for (k, v) in w_h[r * hidden..(r + 1) * hidden].iter_mut().enumerate() {
            *v = (level(row[input + k], s, q) * s / plan.rh) as f32;
        }
    }
}

/// One row of int4 values (each in `[-7, 7]`) in version 5's layout: the
/// nibble order of [`pack_q4`], offset binary (`v + 8`: the two's
/// complement nibble with bit 3 flipped), padded with nibbles 8 (zero) to
/// `cols` columns (a multiple of 8).
pub fn pack_q4_offset(row: &[i8], cols: usize) -> Vec<u8> {
    let mut padded = row.to_vec();
    padded.resize(cols, 0);
    pack_q4(&padded).into_iter().map(|b| b ^ 0x88).collect()
}

/// A fused layer's rows (`rows_order`: the runtime's row `k` is float row
/// `rows_order[k]`) at `bits` by `plan`, padded ([`padded_cols`]) and
/// interleaved by unit, and each row's scale, at least `min_scale[k]`.
#[allow(clippy::too_many_arguments)]
fn fused_quantize(
    w_x: &[f32],
    w_h: &[f32],
    input: usize,
    hidden: usize,
    plan: &FusedPlan,
    rows_order: &[usize],
    min_scale: &[f64],
    bits: u8,
) -> (Vec<u8>, Vec<f64>) {
    let cols = padded_cols(bits, input + hidden);
    let q = levels(bits);
    let (mut rows, mut scales) = (Vec::new(), Vec::new());
    for (k, &r) in rows_order.iter().enumerate() {
        let row = fused_row(w_x, w_h, input, hidden, r, plan);
        let s = row_scale(&row, bits).max(min_scale[k]).max(1e-12);
        let ints: Vec<i8> = row.iter().map(|&v| level(v, s, q) as i8).collect();
        if bits == 4 {
            rows.push(pack_q4_offset(&ints, cols));
        } else {
            rows.push(ints.iter().map(|&v| v as u8).chain(std::iter::repeat_n(0u8, cols - ints.len())).collect());
        }
        scales.push(s);
    }
    (interleave_units(&rows), scales)
}

/// Rows in the format's version 5 order: each unit's four rows (row
/// `4j + g`) interleaved word by word: word `k` of rows 0 to 3, then word
/// `k + 1` of each.
pub fn interleave_units(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(Vec::len).sum());
    for unit in rows.chunks(4) {
        let words = unit[0].len() / 4;
        for k in 0..words {
            for row in unit {
                out.extend_from_slice(&row[4 * k..4 * k + 4]);
            }
        }
    }
    out
}

/// The bytes of a [`RowScales`]: little-endian multipliers, then shifts.
struct ScaleBytes {
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
}

impl ScaleBytes {
    fn of(reals: impl Iterator<Item = f64>) -> Self {
        let (mut multipliers, mut shifts) = (Vec::new(), Vec::new());
        for m in reals {
            let (q, s) = quantize_multiplier(m);
            multipliers.extend_from_slice(&q.to_le_bytes());
            shifts.push(s as u8);
        }
        Self { multipliers, shifts }
    }

    fn view(&self) -> RowScales<'_> {
        RowScales { multipliers: I32s(&self.multipliers), shifts: I8s(&self.shifts) }
    }
}

/// A layer's integer arrays, before the format's view is laid over them.
struct LayerBytes {
    plan: FusedPlan,
    w: Vec<u8>,
    bias: Vec<u8>,
    scale: ScaleBytes,
    cell_frac: u8,
}

fn bias_bytes(bias: impl Iterator<Item = (f32, f64)>) -> Vec<u8> {
    bias.flat_map(|(b, s)| ((f64::from(b) / s).round() as i32).to_le_bytes()).collect()
}

/// Quantize a float model into a model file: per-row int8 weights, int32
/// biases, integer requantization multipliers, the embedding at
/// `embed_bits` (8 or 4) with one scale, and each layer's cell Q format
/// from `cal`. The file is validated by the runtime before it is returned.
pub fn quantize(model: &FloatModel, cal: &Calibration, embed_bits: u8) -> Result<Vec<u8>, QuantizeError> {
    quantize_bits(model, cal, Bits { embed: embed_bits, lstm: 8 })
}

/// Bits a weight of the embedding and of the LSTM layers (each 8 or 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bits {
    /// Embedding table.
    pub embed: u8,
    /// Every LSTM layer's `w_x` and `w_h` (the dense head stays at 8).
    pub lstm: u8,
}

impl Bits {
    /// Everything at 8 bits.
    pub const INT8: Bits = Bits { embed: 8, lstm: 8 };
}

/// [`quantize`] with the LSTM weights at `bits.lstm` too (per-row scales;
/// at 4 bits each row's clipping is chosen by [`row_scale`]).
pub fn quantize_bits(model: &FloatModel, cal: &Calibration, bits: Bits) -> Result<Vec<u8>, QuantizeError> {
    let embed_bits = bits.embed;
    if !matches!(bits.lstm, 4 | 8) {
        return Err(QuantizeError::LstmBits(bits.lstm));
    }
    let hd = model.hidden();
    let e = model.embed_dim;
    let qmax = match embed_bits {
        4 if !e.is_multiple_of(2) => return Err(QuantizeError::OddEmbedding { width: e }),
        4 => 7.0,
        8 => 127.0,
        b => return Err(QuantizeError::EmbedBits(b)),
    };
    let s_emb = embed_scale(&model.embedding, embed_bits);
    let eq: Vec<i8> = model.embedding.iter().map(|&v| level(v, s_emb, qmax) as i8).collect();
    let embedding: Vec<u8> = if embed_bits == 4 {
        eq.chunks_exact(2).map(|p| ((p[0] as u8) & 0x0f) | ((p[1] as u8) << 4)).collect()
    } else {
        eq.iter().map(|&v| v as u8).collect()
    };
    // Runtime row 4*j + g is float row g*H + j.
    let order: Vec<usize> = (0..hd).flat_map(|j| (0..4).map(move |g| g * hd + j)).collect();
    let q15 = 2f64.powi(-15);
    let mut layers = Vec::new();
    for (l, layer) in model.layers.iter().enumerate() {
        // One row a gate over [x; h], whose values are all in Q0.15 units
        // (layer 0's embedding shifted up), each part shifted so that the
        // two parts' weights are of about one size.
        let from = FusedInput { layer: l, s_emb, embed_bits };
        let plan = fused_plan(&layer.w_x, &layer.w_h, layer.input, hd, from);
        // The bias must stay within the row's limit in accumulator units.
        let limit = f64::from(fused_bias_limit(bits.lstm, layer.input + hd));
        let min_s: Vec<f64> = order.iter().map(|&r| layer.bias[r].abs() as f64 / (limit * q15)).collect();
        let (w, s) = fused_quantize(&layer.w_x, &layer.w_h, layer.input, hd, &plan, &order, &min_s, bits.lstm);
        let bias = bias_bytes(order.iter().zip(&s).map(|(&r, &s)| (layer.bias[r], s * q15)));
        // Accumulators to Q3.12 pre-activations.
        let scale = ScaleBytes::of(s.iter().map(|s| s * q15 * 4096.0));
        let cmax = (f64::from(cal.cell_abs_max.get(l).copied().unwrap_or(1.0)).max(1e-3) * 1.05).min(CELL_RANGE_CAP);
        let int_bits = cmax.log2().ceil().max(0.0) as i32;
        let cell_frac = (15 - int_bits).clamp(0, 15) as u8;
        layers.push(LayerBytes { plan, w, bias, scale, cell_frac });
    }
    let features = model.head.pooling.features(hd);
    let outputs = model.head.b.len();
    let rows: Vec<usize> = (0..outputs).collect();
    let min_sd: Vec<f64> = model.head.b.iter().map(|b| b.abs() as f64 / (2f64.powi(30) * q15)).collect();
    let (head_w, sd) = row_quantize(&model.head.w, features, &rows, &min_sd, 8);
    let head_bias = bias_bytes(model.head.b.iter().zip(&sd).map(|(&b, &s)| (b, s * q15)));
    let head_scale = ScaleBytes::of(sd.iter().map(|s| s * q15 * 2f64.powi(i32::from(OUT_FRAC))));

    let table = match &model.tokenizer {
        FloatTokenizer::Words(w) => w.table(),
        FloatTokenizer::Chars(_) => Vec::new(),
    };
    let tokenizer = match &model.tokenizer {
        FloatTokenizer::Words(w) => match w.over(&table) {
            WordIds::Hashed(h) => Tokenizer::Words(h),
            WordIds::Vocab(v) => Tokenizer::Vocab(v),
        },
        FloatTokenizer::Chars(c) => Tokenizer::Chars(c),
    };
    let labels: String = model.classes.iter().map(|c| format!("{c}\n")).collect();
    let mut views = runtime::heapless::Vec::new();
    for (l, float) in layers.iter().zip(&model.layers) {
        let view = LstmLayer {
            input: float.input as u16,
            bits: bits.lstm,
            weights: Weights::Fused {
                x_shift: l.plan.x_shift,
                h_shift: l.plan.h_shift,
                pad: I8s(&[]),
                w: I8s(&l.w),
                scale: l.scale.view(),
            },
            bias: I32s(&l.bias),
            cell_frac: l.cell_frac,
        };
        if views.push(view).is_err() {
            return Err(QuantizeError::Invalid(runtime::Error::OutOfRange {
                what: "layers",
                value: model.layers.len() as i64,
                min: 1,
                max: runtime::format::MAX_LAYERS as i64,
            }));
        }
    }
    let view = Model {
        header: Header {
            kind: model.kind,
            vocab: model.vocab() as u32,
            embed_dim: e as u16,
            hidden: hd as u16,
            layers: model.layers.len() as u8,
            outputs: outputs as u16,
        },
        tokenizer,
        embedding: Embedding { bits: embed_bits, table: &embedding },
        layers: views,
        head: Head {
            pooling: model.head.pooling,
            max_tokens: model.head.max_tokens,
            w: I8s(&head_w),
            bias: I32s(&head_bias),
            scale: head_scale.view(),
            out_frac: OUT_FRAC,
        },
        labels: &labels,
    };
    let bytes = to_bytes(&view).map_err(QuantizeError::Invalid)?;
    Model::from_bytes(&bytes).map_err(QuantizeError::Invalid)?;
    Ok(bytes)
}

/// A model's file bytes (prefix, body, CRC) in a new vector.
pub fn to_bytes(model: &Model<'_>) -> Result<Vec<u8>, runtime::Error> {
    let mut v = vec![0; PREFIX_LEN + model.encoded_len()? + CRC_LEN];
    let n = model.encode_into(&mut v)?;
    v.truncate(n);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::{FloatHead, FloatLstmLayer};
    use runtime::format::{ModelKind, Pooling};

    /// A one-unit language model over `v` characters with a one-hot
    /// (identity) embedding of width `v`.
    fn one_hot(v: usize) -> FloatModel {
        let mut embedding = vec![0.0; v * v];
        (0..v).for_each(|i| embedding[i * v + i] = 1.0);
        FloatModel {
            kind: ModelKind::CharLm,
            tokenizer: FloatTokenizer::Chars((b'a'..b'a' + v as u8).collect()),
            embedding,
            embed_dim: v,
            layers: vec![FloatLstmLayer {
                input: v,
                hidden: 1,
                w_x: vec![0.5; 4 * v],
                w_h: vec![0.25; 4],
                bias: vec![0.1; 4],
            }],
            head: FloatHead { pooling: Pooling::Last, max_tokens: 0, w: vec![1.0; v], b: vec![0.0; v] },
            classes: Vec::new(),
        }
    }

    #[test]
    fn an_odd_width_at_4_bits_is_an_error_not_a_panic() {
        let m = one_hot(3);
        let cal = Calibration::run(&m, &[vec![0, 1, 2]]);
        assert_eq!(quantize(&m, &cal, 4), Err(QuantizeError::OddEmbedding { width: 3 }));
        assert_eq!(quantize(&m, &cal, 5), Err(QuantizeError::EmbedBits(5)));
        let bytes = quantize(&m, &cal, 8).unwrap();
        assert_eq!(Model::from_bytes(&bytes).unwrap().embedding.bits, 8);
        assert!(quantize(&one_hot(4), &cal, 4).is_ok());
    }

    #[test]
    fn the_cell_range_fits_calibration_up_to_the_cap() {
        let m = one_hot(4);
        let frac = |max: f32| {
            let bytes = quantize(&m, &Calibration { cell_abs_max: vec![max] }, 8).unwrap();
            let model = Model::from_bytes(&bytes).unwrap();
            model.layers[0].cell_frac
        };
        // 3 (x 1.05) needs 2 integer bits; 15 needs 4; 1,723 is capped at 16.
        assert_eq!((frac(3.0), frac(15.0), frac(1723.0)), (13, 11, 11));
    }

    #[test]
    fn lstm_bits_other_than_8_or_4_are_an_error() {
        let m = one_hot(4);
        let cal = Calibration::run(&m, &[vec![0, 1, 2]]);
        assert_eq!(quantize_bits(&m, &cal, Bits { embed: 8, lstm: 2 }), Err(QuantizeError::LstmBits(2)));
        let bytes = quantize_bits(&m, &cal, Bits { embed: 8, lstm: 4 }).unwrap();
        assert_eq!(Model::from_bytes(&bytes).unwrap().layers[0].bits, 4);
    }

    #[test]
    fn pack_q4_follows_the_format() {
        // Columns 0..=9: group 0 bytes hold (0, 4), (1, 5), (2, 6), (3, 7);
        // group 1 holds 8 and 9 in its first two low nibbles.
        let row: Vec<i8> = vec![1, 2, 3, 4, -1, -2, -3, -4, 7, -7];
        assert_eq!(pack_q4(&row), [0xf1, 0xe2, 0xd3, 0xc4, 0x07, 0x09, 0, 0]);
    }
}
