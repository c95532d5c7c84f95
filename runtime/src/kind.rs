//! What a model file is, named by both the error type and the format: the
//! format versions this runtime reads and the kind of network a file
//! holds. A leaf: it names no other module of the crate (`format`
//! re-exports all of it, so the public paths are `runtime::format::*`).

use serde::{Deserialize, Serialize};

/// The format version this runtime writes.
pub const VERSION: u16 = 5;
/// The oldest version it reads: a version 1 body is a version 2 body that
/// uses no `Tokenizer::Vocab`, a version 2 body is a version 3 body
/// without `Model::labels` (a two-class model, its classes named
/// `DEFAULT_BINARY_LABELS`), and a version 3 body is a version 4 body
/// whose layers have no `LstmLayer::bits` (all 8). Version 4 is version 5
/// with split weight rows (`Weights::Split`: input and recurrent rows
/// apart, each with a scale) instead of fused ones.
pub const OLDEST_VERSION: u16 = 1;

/// What a model file does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// Many-to-one: text in, a class and its probability out (IMDb
    /// sentiment is a two-class one).
    Classifier,
    /// Many-to-many: characters in, next-character logits out.
    CharLm,
}

impl core::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ModelKind::Classifier => "text classifier",
            ModelKind::CharLm => "character language model",
        })
    }
}
