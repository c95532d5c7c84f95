//! The model file format (see `runtime/FORMAT.md`).

use serde::{Deserialize, Serialize};

/// What a model file does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// Many-to-one: text in, one probability out (IMDb sentiment).
    Sentiment,
    /// Many-to-many: characters in, next-character logits out.
    CharLm,
}

/// How the LSTM outputs over time become the dense layer's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pooling {
    /// The last hidden state (features = H).
    Last,
    /// The mean over time, then the max over time, of the last layer's hidden
    /// state (features = 2H); both stream in constant memory.
    MeanMax,
}
