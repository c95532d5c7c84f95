//! The network in f32: what the trainer hands over for export, and the one
//! f32 reference of the integer engine.
//!
//! One definition of each piece, shared with the trainer's tape operations:
//! the activations ([`sigmoid`], [`tanh`]), the LSTM cell ([`cell`]: gates,
//! then cell and hidden state) and the pooling over time ([`Pooler`]). The
//! windowing rule (only the last `max_tokens` ids are read) is the
//! runtime's [`runtime::classifier::window`].
//!
//! Float layouts follow PyTorch's `nn.LSTM`: the four gates are stacked
//! gate-major in the order i, f, g, o (rows `0..H` are gate i, `H..2H` gate f,
//! and so on); matrices are row-major `[rows][cols]`.

use runtime::format::{ModelKind, Pooling};
use runtime::tokenizer::{U32s, WordHashing, WordIds, WordVocab};

/// How a word tokenizer's tokens become ids, owned: the host's form of
/// [`runtime::tokenizer::WordIds`] (in checkpoints and float models).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Words {
    /// The hashing trick (format version 1 models), punctuation dropped.
    Hashed(WordHashing),
    /// A vocabulary of kept tokens.
    Vocab {
        /// Punctuation marks are tokens of their own.
        punctuation: bool,
        /// The kept tokens' hashes, ascending and distinct: id `2 + i` is
        /// `hashes[i]`, id 1 every other token.
        hashes: Vec<u32>,
    },
}

impl Words {
    /// The vocabulary table as the model file stores it (the hashes as
    /// `u32` little-endian; empty for hashed words).
    pub fn table(&self) -> Vec<u8> {
        match self {
            Words::Hashed(_) => Vec::new(),
            Words::Vocab { hashes, .. } => hashes.iter().flat_map(|h| h.to_le_bytes()).collect(),
        }
    }

    /// The runtime's view of these ids over `table` (what [`Words::table`]
    /// returned).
    pub fn over<'t>(&self, table: &'t [u8]) -> WordIds<'t> {
        match self {
            Words::Hashed(h) => WordIds::Hashed(*h),
            Words::Vocab { punctuation, .. } => {
                WordIds::Vocab(WordVocab { punctuation: *punctuation, hashes: U32s(table) })
            }
        }
    }

    /// Run `f` with the runtime's view of these ids (the same lookup the
    /// device does).
    pub fn with_ids<R>(&self, f: impl FnOnce(WordIds<'_>) -> R) -> R {
        f(self.over(&self.table()))
    }

    /// Embedding rows (every id is below this).
    pub fn vocab_size(&self) -> u32 {
        match self {
            Words::Hashed(h) => h.vocab_size(),
            Words::Vocab { hashes, .. } => hashes.len() as u32 + 2,
        }
    }

    /// The ids of a whole text, in order.
    pub fn ids(&self, text: &[u8]) -> Vec<u32> {
        self.with_ids(|ids| {
            let mut v = Vec::new();
            ids.for_each_id(text, |id| v.push(id));
            v
        })
    }
}

/// The tokenizer of a float model.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatTokenizer {
    /// Words (sentiment).
    Words(Words),
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
    /// A classifier's class names, in class order (two for one output);
    /// empty for a language model.
    pub classes: Vec<String>,
}

/// `e^x` for `x` in about ±87 (clamped outside), within 2 ulp: Cephes'
/// `expf` polynomial with branch-free range reduction, so that loops over
/// slices vectorize (libm's `expf`/`tanhf` calls took a quarter of the
/// training time).
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    let x = x.clamp(-87.0, 87.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let i = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((i + 127) << 23) as u32)
}

/// The logistic function on [`exp_fast`] (absolute error about 1e-7).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-x))
}

/// `tanh` as `2 sigmoid(2x) - 1` (absolute error about 1e-7).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp_fast(-2.0 * x)) - 1.0
}

/// The LSTM cell on one row of `H` units, the one definition the training
/// op and the reference step share: `z` holds the pre-activations `[4H]`
/// (gates i, f, g, o, gate-major) and is overwritten with the gate
/// activations; then `c = f c_prev + i g`, `tanh_c = tanh(c)` and
/// `h = o tanh(c)`.
#[inline(always)]
pub fn cell(z: &mut [f32], c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], h: &mut [f32]) {
    let hid = c.len();
    let (gi, rest) = z.split_at_mut(hid);
    let (gf, rest) = rest.split_at_mut(hid);
    let (gg, go) = rest.split_at_mut(hid);
    gi.iter_mut().for_each(|x| *x = sigmoid(*x));
    gf.iter_mut().for_each(|x| *x = sigmoid(*x));
    gg.iter_mut().for_each(|x| *x = tanh(*x));
    go.iter_mut().for_each(|x| *x = sigmoid(*x));
    for j in 0..hid {
        c[j] = gf[j] * c_prev[j] + gi[j] * gg[j];
    }
    for j in 0..hid {
        tanh_c[j] = tanh(c[j]);
    }
    for j in 0..hid {
        h[j] = go[j] * tanh_c[j];
    }
}

/// Pooling over time of one sequence's hidden states, pushed one step at a
/// time: the one definition of "the last state" and "the mean, then the
/// max" that the training op, the float reference and (in integers) the
/// device compute. An empty sequence pools to zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct Pooler {
    pooling: Pooling,
    steps: usize,
    last: Vec<f32>,
    sum: Vec<f32>,
    max: Vec<f32>,
    argmax: Vec<usize>,
}

impl Pooler {
    /// A pooler of `hidden`-wide states.
    pub fn new(pooling: Pooling, hidden: usize) -> Self {
        Self {
            pooling,
            steps: 0,
            last: vec![0.0; hidden],
            sum: vec![0.0; hidden],
            max: vec![f32::NEG_INFINITY; hidden],
            argmax: vec![0; hidden],
        }
    }

    /// The next step's hidden state.
    pub fn push(&mut self, h: &[f32]) {
        match self.pooling {
            Pooling::Last => self.last.copy_from_slice(h),
            Pooling::MeanMax => {
                for (j, &v) in h.iter().enumerate() {
                    self.sum[j] += v;
                    if v > self.max[j] {
                        self.max[j] = v;
                        self.argmax[j] = self.steps;
                    }
                }
            }
        }
        self.steps += 1;
    }

    /// Steps pushed.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Mean and max pooling: the step (counted from 0) of each unit's
    /// maximum, the first one on ties.
    pub fn argmax(&self) -> &[usize] {
        &self.argmax
    }

    /// The pooled features: `[H]` (last) or `[2H]` (mean, then max).
    pub fn features(&self) -> Vec<f32> {
        match self.pooling {
            Pooling::Last => self.last.clone(),
            Pooling::MeanMax if self.steps == 0 => vec![0.0; 2 * self.sum.len()],
            Pooling::MeanMax => {
                let n = self.steps as f32;
                self.sum.iter().map(|s| s / n).chain(self.max.iter().copied()).collect()
            }
        }
    }
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

    /// One step of the float reference on token `id`: per layer, the
    /// pre-activations `b + W_x x + W_h h`, then [`cell`].
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
            let c_prev = c.clone();
            let mut tanh_c = vec![0.0; hd];
            cell(&mut z, &c_prev, c, &mut tanh_c, h);
            x.clone_from(h);
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

    /// The logits of a tokenized text (one for two classes, else one a
    /// class): the window the head names ([`runtime::classifier::window`]),
    /// its pooling, the dense layer.
    pub fn class_logits(&self, ids: &[u32]) -> Vec<f32> {
        let mut r = FloatRunner::new(self);
        for &id in runtime::classifier::window(ids, self.head.max_tokens as usize) {
            r.step(id);
        }
        r.logits()
    }
}

/// Streaming f32 inference, one token at a time as the device runs it:
/// the reference step and the head's pooling.
#[derive(Clone, Debug)]
pub struct FloatRunner<'a> {
    model: &'a FloatModel,
    state: FloatState,
    pooler: Pooler,
}

impl<'a> FloatRunner<'a> {
    /// A runner at the zero state.
    pub fn new(model: &'a FloatModel) -> Self {
        Self { model, state: model.zero_state(), pooler: Pooler::new(model.head.pooling, model.hidden()) }
    }

    /// Feeds one token id through every layer.
    pub fn step(&mut self, id: u32) {
        self.model.step(&mut self.state, id);
        self.pooler.push(self.state.h.last().expect("a model has layers"));
    }

    /// The state.
    pub fn state(&self) -> &FloatState {
        &self.state
    }

    /// The head's outputs (logits) for the tokens fed so far.
    pub fn logits(&self) -> Vec<f32> {
        self.model.dense(&self.pooler.features())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_activations_match_std() {
        let mut worst = (0.0f32, 0.0f32, 0.0f32);
        let mut x = -30.0f32;
        while x < 30.0 {
            let e = (exp_fast(x) - x.exp()).abs() / x.exp();
            let s = (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs();
            let t = (tanh(x) - x.tanh()).abs();
            worst = (worst.0.max(e), worst.1.max(s), worst.2.max(t));
            x += 0.001;
        }
        assert!(worst.0 < 1e-6, "exp relative error {}", worst.0);
        assert!(worst.1 < 2e-7, "sigmoid error {}", worst.1);
        assert!(worst.2 < 3e-7, "tanh error {}", worst.2);
        assert!(sigmoid(-200.0) < 1e-30);
        assert_eq!(sigmoid(200.0), 1.0);
        assert_eq!(tanh(200.0), 1.0);
        assert_eq!(tanh(-200.0), -1.0);
    }

    #[test]
    fn pooler_last_and_mean_max() {
        let mut p = Pooler::new(Pooling::MeanMax, 2);
        assert_eq!(p.features(), vec![0.0; 4]);
        for h in [[1.0, -1.0], [3.0, -3.0], [3.0, 2.0]] {
            p.push(&h);
        }
        assert_eq!(p.features(), vec![7.0 / 3.0, -2.0 / 3.0, 3.0, 2.0]);
        assert_eq!(p.argmax(), &[1, 2]);
        let mut p = Pooler::new(Pooling::Last, 2);
        assert_eq!(p.features(), vec![0.0; 2]);
        p.push(&[1.0, 2.0]);
        p.push(&[5.0, 6.0]);
        assert_eq!(p.features(), vec![5.0, 6.0]);
    }
}
