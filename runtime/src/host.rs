//! Host-only parts (feature `host`, needs `std`): the f32 form of a network,
//! which the trainer hands over for export, the quantizer that turns it into
//! a model file, and the f32 reference forward pass the tests compare the
//! integer engine against.
//!
//! Float layouts follow PyTorch's `nn.LSTM`: the four gates are stacked
//! gate-major in the order i, f, g, o (rows `0..H` are gate i, `H..2H` gate f,
//! and so on); matrices are row-major `[rows][cols]`.

use crate::format::{ModelKind, Pooling};
use crate::tokenizer::WordHashing;

/// The tokenizer of a float model.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatTokenizer {
    /// Hashed words (sentiment).
    Words(WordHashing),
    /// A charset: id `i` is byte `charset[i]` (language model).
    Chars(Vec<u8>),
}

/// One LSTM layer in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatLstmLayer {
    /// Input width I.
    pub input: usize,
    /// Hidden width H.
    pub hidden: usize,
    /// Input weights `[4H][I]`, gates i, f, g, o stacked gate-major.
    pub w_x: Vec<f32>,
    /// Recurrent weights `[4H][H]`, same gate order.
    pub w_h: Vec<f32>,
    /// Bias `[4H]` (PyTorch's `b_ih + b_hh`).
    pub bias: Vec<f32>,
}

/// The dense output layer in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatHead {
    /// How the LSTM outputs become the dense layer's features.
    pub pooling: Pooling,
    /// Sentiment: only the last `max_tokens` tokens of a text are read
    /// (0 = all). Must equal what training used.
    pub max_tokens: u32,
    /// Weights `[outputs][features]`, features = H (`Last`) or 2H (`MeanMax`:
    /// the mean over time, then the max over time).
    pub w: Vec<f32>,
    /// Bias `[outputs]`.
    pub b: Vec<f32>,
}

/// A whole network in f32, as the trainer produces it.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    /// Task.
    pub kind: ModelKind,
    /// Tokenizer.
    pub tokenizer: FloatTokenizer,
    /// Embedding `[vocab][E]`.
    pub embedding: Vec<f32>,
    /// Embedding width E.
    pub embed_dim: usize,
    /// LSTM layers, input first.
    pub layers: Vec<FloatLstmLayer>,
    /// Output layer.
    pub head: FloatHead,
}

use crate::format::{Embedding, Head, Header, I32s, I8s, LstmLayer, Model, RowScales, Tokenizer};

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Hidden and cell state of the float reference, per layer.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatState {
    /// Hidden state per layer.
    pub h: Vec<Vec<f32>>,
    /// Cell state per layer.
    pub c: Vec<Vec<f32>>,
}

impl FloatModel {
    /// Hidden width H.
    pub fn hidden(&self) -> usize {
        self.layers[0].hidden
    }

    /// Embedding rows.
    pub fn vocab(&self) -> usize {
        self.embedding.len() / self.embed_dim
    }

    /// The zero state.
    pub fn zero_state(&self) -> FloatState {
        let h = vec![vec![0.0; self.hidden()]; self.layers.len()];
        FloatState { c: h.clone(), h }
    }

    /// One step of the float reference on token `id`.
    pub fn step(&self, state: &mut FloatState, id: u32) {
        let e = self.embed_dim;
        let mut x = self.embedding[id as usize * e..(id as usize + 1) * e].to_vec();
        for (l, layer) in self.layers.iter().enumerate() {
            let hd = layer.hidden;
            let (h, c) = (&mut state.h[l], &mut state.c[l]);
            let mut z = layer.bias.clone();
            for (r, zr) in z.iter_mut().enumerate() {
                let wx = &layer.w_x[r * layer.input..(r + 1) * layer.input];
                let wh = &layer.w_h[r * hd..(r + 1) * hd];
                *zr += wx.iter().zip(&x).map(|(a, b)| a * b).sum::<f32>();
                *zr += wh.iter().zip(h.iter()).map(|(a, b)| a * b).sum::<f32>();
            }
            for j in 0..hd {
                let i = sigmoid(z[j]);
                let f = sigmoid(z[hd + j]);
                let g = z[2 * hd + j].tanh();
                let o = sigmoid(z[3 * hd + j]);
                c[j] = f * c[j] + i * g;
                h[j] = o * c[j].tanh();
            }
            x = h.clone();
        }
    }

    /// Dense outputs (logits) over `features`.
    pub fn dense(&self, features: &[f32]) -> Vec<f32> {
        let n = features.len();
        self.head
            .b
            .iter()
            .enumerate()
            .map(|(r, b)| b + self.head.w[r * n..(r + 1) * n].iter().zip(features).map(|(a, x)| a * x).sum::<f32>())
            .collect()
    }

    /// The sentiment logit of a tokenized review (window and pooling as the
    /// head says).
    pub fn sentiment_logit(&self, ids: &[u32]) -> f32 {
        let window = self.head.max_tokens as usize;
        let ids = if window > 0 && ids.len() > window { &ids[ids.len() - window..] } else { ids };
        let mut s = self.zero_state();
        let hd = self.hidden();
        let mut sum = vec![0.0f32; hd];
        let mut max = vec![f32::NEG_INFINITY; hd];
        for &id in ids {
            self.step(&mut s, id);
            let top = s.h.last().expect("a model has layers");
            for k in 0..hd {
                sum[k] += top[k];
                max[k] = max[k].max(top[k]);
            }
        }
        let features = match self.head.pooling {
            Pooling::Last => s.h.last().expect("a model has layers").clone(),
            Pooling::MeanMax if ids.is_empty() => vec![0.0; 2 * hd],
            Pooling::MeanMax => sum.iter().map(|v| v / ids.len() as f32).chain(max).collect(),
        };
        self.dense(&features)[0]
    }
}

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

/// Fractional bits of the logits the quantizer writes.
pub const OUT_FRAC: u8 = 12;

fn row_quantize(w: &[f32], cols: usize, rows_order: &[usize], min_scale: &[f64]) -> (Vec<u8>, Vec<f64>) {
    let mut bytes = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows_order.len());
    for (k, &r) in rows_order.iter().enumerate() {
        let row = &w[r * cols..(r + 1) * cols];
        let max = row.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
        let s = (max / 127.0).max(min_scale[k]).max(1e-12);
        bytes.extend(row.iter().map(|&v| ((v as f64 / s).round().clamp(-127.0, 127.0) as i8) as u8));
        scales.push(s);
    }
    (bytes, scales)
}

fn scales_bytes(reals: impl Iterator<Item = f64>) -> (Vec<u8>, Vec<u8>) {
    let mut mult = Vec::new();
    let mut shift = Vec::new();
    for m in reals {
        let (q, s) = quantize_multiplier(m);
        mult.extend_from_slice(&q.to_le_bytes());
        shift.push(s as u8);
    }
    (mult, shift)
}

fn rs(s: &(Vec<u8>, Vec<u8>)) -> RowScales<'_> {
    RowScales { multipliers: I32s(&s.0), shifts: I8s(&s.1) }
}

struct OwnedHead {
    pooling: Pooling,
    max_tokens: u32,
    w: Vec<u8>,
    bias: Vec<u8>,
    scale: (Vec<u8>, Vec<u8>),
}

struct OwnedLayer {
    input: u16,
    w_x: Vec<u8>,
    w_h: Vec<u8>,
    bias: Vec<u8>,
    scale_x: (Vec<u8>, Vec<u8>),
    scale_h: (Vec<u8>, Vec<u8>),
    cell_frac: u8,
}

/// A quantized model that owns its arrays; [`QuantizedModel::model`] views
/// it as the runtime's [`Model`].
pub struct QuantizedModel {
    header: Header,
    hashing: Option<crate::tokenizer::WordHashing>,
    charset: Vec<u8>,
    embed_bits: u8,
    embedding: Vec<u8>,
    layers: Vec<OwnedLayer>,
    head: OwnedHead,
}

impl QuantizedModel {
    /// The borrowed view the runtime reads.
    pub fn model(&self) -> Model<'_> {
        let tokenizer = match self.hashing {
            Some(h) => Tokenizer::Words(h),
            None => Tokenizer::Chars(&self.charset),
        };
        let mut layers = heapless::Vec::new();
        for l in &self.layers {
            let layer = LstmLayer {
                input: l.input,
                w_x: I8s(&l.w_x),
                w_h: I8s(&l.w_h),
                bias: I32s(&l.bias),
                scale_x: rs(&l.scale_x),
                scale_h: rs(&l.scale_h),
                cell_frac: l.cell_frac,
            };
            if layers.push(layer).is_err() {
                break;
            }
        }
        let OwnedHead { pooling, max_tokens, w, bias: b, scale: s } = &self.head;
        Model {
            header: self.header,
            tokenizer,
            embedding: Embedding { bits: self.embed_bits, table: &self.embedding },
            layers,
            head: Head {
                pooling: *pooling,
                max_tokens: *max_tokens,
                w: I8s(w),
                bias: I32s(b),
                scale: rs(s),
                out_frac: OUT_FRAC,
            },
        }
    }

    /// The model file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model().to_vec()
    }
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
                let v = f64::from(v);
                let q = (v / s).round().clamp(-qmax, qmax) * s;
                (v - q) * (v - q)
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

/// Quantize a float model: per-row int8 weights, int32 biases, integer
/// requantization multipliers, the embedding at `embed_bits` (8 or 4) with
/// one scale, and each layer's cell Q format from `cal`.
pub fn quantize(model: &FloatModel, cal: &Calibration, embed_bits: u8) -> QuantizedModel {
    let hd = model.hidden();
    let e = model.embed_dim;
    let qmax = if embed_bits == 4 { 7.0 } else { 127.0 };
    let s_emb = clipped_scale(&model.embedding, qmax);
    let eq: Vec<i8> = model.embedding.iter().map(|&v| (v as f64 / s_emb).round().clamp(-qmax, qmax) as i8).collect();
    let embedding = if embed_bits == 4 {
        eq.chunks(2).map(|p| ((p[0] as u8) & 0x0f) | ((p[1] as u8) << 4)).collect()
    } else {
        eq.iter().map(|&v| v as u8).collect()
    };
    // Runtime row 4*j + g is float row g*H + j.
    let order: Vec<usize> = (0..hd).flat_map(|j| (0..4).map(move |g| g * hd + j)).collect();
    let mut layers = Vec::new();
    for (l, layer) in model.layers.iter().enumerate() {
        let s_in = if l == 0 { s_emb } else { 2f64.powi(-15) };
        // The bias must fit in 2^30 accumulator units.
        let min_sx: Vec<f64> = order.iter().map(|&r| layer.bias[r].abs() as f64 / (2f64.powi(30) * s_in)).collect();
        let (w_x, sx) = row_quantize(&layer.w_x, layer.input, &order, &min_sx);
        let (w_h, sh) = row_quantize(&layer.w_h, hd, &order, &vec![0.0; order.len()]);
        let bias: Vec<u8> = order
            .iter()
            .zip(&sx)
            .flat_map(|(&r, &s)| ((layer.bias[r] as f64 / (s * s_in)).round() as i32).to_le_bytes())
            .collect();
        // Accumulators to Q3.12 pre-activations.
        let scale_x = scales_bytes(sx.iter().map(|s| s * s_in * 4096.0));
        let scale_h = scales_bytes(sh.iter().map(|s| s * 2f64.powi(-15) * 4096.0));
        let cmax = f64::from(cal.cell_abs_max.get(l).copied().unwrap_or(1.0)).max(1e-3) * 1.05;
        let int_bits = cmax.log2().ceil().max(0.0) as i32;
        let cell_frac = (15 - int_bits).clamp(0, 15) as u8;
        layers.push(OwnedLayer { input: layer.input as u16, w_x, w_h, bias, scale_x, scale_h, cell_frac });
    }
    let features = model.head.pooling.features(hd);
    let outputs = model.head.b.len();
    let rows: Vec<usize> = (0..outputs).collect();
    let min_sd: Vec<f64> = model.head.b.iter().map(|b| b.abs() as f64 / (2f64.powi(30) * 2f64.powi(-15))).collect();
    let (hw, sd) = row_quantize(&model.head.w, features, &rows, &min_sd);
    let hb: Vec<u8> = model
        .head
        .b
        .iter()
        .zip(&sd)
        .flat_map(|(&b, &s)| ((b as f64 / (s * 2f64.powi(-15))).round() as i32).to_le_bytes())
        .collect();
    let hs = scales_bytes(sd.iter().map(|s| s * 2f64.powi(-15) * 2f64.powi(i32::from(OUT_FRAC))));
    let (hashing, charset) = match &model.tokenizer {
        FloatTokenizer::Words(h) => (Some(*h), Vec::new()),
        FloatTokenizer::Chars(c) => (None, c.clone()),
    };
    QuantizedModel {
        header: Header {
            kind: model.kind,
            vocab: model.vocab() as u32,
            embed_dim: e as u16,
            hidden: hd as u16,
            layers: model.layers.len() as u8,
            outputs: outputs as u16,
        },
        hashing,
        charset,
        embed_bits,
        embedding,
        layers,
        head: OwnedHead { pooling: model.head.pooling, max_tokens: model.head.max_tokens, w: hw, bias: hb, scale: hs },
    }
}

/// Capacities of the host's networks: the format's maxima (a device build
/// uses its model's exact sizes instead).
pub const HOST_E: usize = crate::format::MAX_EMBED;
/// See [`HOST_E`].
pub const HOST_H: usize = crate::format::MAX_HIDDEN;
/// See [`HOST_E`].
pub const HOST_L: usize = crate::format::MAX_LAYERS;
/// See [`HOST_E`].
pub const HOST_V: usize = 256;
/// The host's sentiment token window: models may read at most this many
/// last tokens.
pub const HOST_WINDOW: usize = 4096;

/// The host's sentiment classifier type.
pub type HostClassifier<'a> = crate::Classifier<'a, HOST_E, HOST_H, HOST_L>;
/// The host's sentiment state type (boxed: it is large).
pub type HostSentimentState = crate::SentimentState<HOST_H, HOST_L, HOST_WINDOW>;
/// The host's language model type.
pub type HostCharLm<'a> = crate::CharLm<'a, HOST_E, HOST_H, HOST_L, HOST_V>;
/// The host's language model state type.
pub type HostCharLmState = crate::CharLmState<HOST_H, HOST_L, HOST_V>;

/// `trainer sentiment predict`: one line per review of `text` (one review
/// a line), each the [`crate::Probability`] display, `0.8123 positive`.
pub fn predict_lines(model: &[u8], text: &[u8]) -> Result<String, crate::Error> {
    use std::fmt::Write;
    let clf = HostClassifier::from_bytes(model)?;
    let mut state = Box::new(HostSentimentState::new());
    let mut out = String::new();
    let mut line = |p: crate::Probability| {
        let _ = writeln!(out, "{p}");
    };
    clf.feed_lines(&mut state, text, &mut line)?;
    clf.end_lines(&mut state, &mut line);
    Ok(out)
}

/// `trainer charlm generate`: the prime, then `len` sampled characters.
pub fn generate_text(
    model: &[u8],
    prime: &[u8],
    len: usize,
    mut sampler: crate::Sampler,
) -> Result<Vec<u8>, crate::Error> {
    let lm = HostCharLm::from_bytes(model)?;
    let mut state = Box::new(HostCharLmState::new());
    lm.prime(&mut state, prime);
    let mut out = prime.to_vec();
    lm.generate(&mut state, &mut sampler, len, |b| out.push(b));
    Ok(out)
}
