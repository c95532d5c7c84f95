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
