//! Host trainer: trains the project's LSTMs with dfdx, hands them over as
//! [`host::FloatModel`]s for quantization, and evaluates the model files
//! through the integer runtime.
//!
//! The modules are layers, declared here in their order: each uses only
//! those above it (`tests/tests/layers.rs` checks it).
//!
//! - leaves: [`error`], [`rng`] (seeds), [`files`] (atomic writes, model
//!   files), [`progress`] (bars), [`metrics`] (losses, accuracy, an
//!   epoch's record), [`plot`] (curves), [`linalg`] (matrix products, the
//!   trainer's only `unsafe` code);
//! - [`data`]: IMDb, labelled files, corpora, splits, vocabulary, token
//!   ids, all tokenized with the shared tokenizer of `runtime`;
//! - [`baseline`]: the majority class and a tf-idf logistic regression on
//!   a classifier's own split;
//! - [`ops`]: the LSTM, embedding, pooling, dropout, dense and loss layers
//!   as custom operations on dfdx's gradient tape;
//! - [`net`]: the network's configuration and tensors, the network, Adam,
//!   checkpoints;
//! - [`fit`]: the options both tasks share and the one training loop;
//! - [`tasks`]: the classifier and the language model, each an objective,
//!   batches and evaluation on that loop;
//! - [`float`] (a checkpoint to a `FloatModel`), [`budget`] (the shape
//!   that fits `--max-bytes`), [`export`] (calibration
//!   and quantization), [`eval`], [`predict`], [`inspect`] (model files
//!   through the runtime), [`mod@bench`].
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod error;
pub mod rng;
pub mod files;
pub mod progress;
pub mod metrics;
pub mod plot;
pub mod linalg;
pub mod data;
pub mod baseline;
pub mod ops;
pub mod net;
pub mod fit;
pub mod tasks;
pub mod float;
pub mod budget;
pub mod export;
pub mod eval;
pub mod predict;
pub mod inspect;
pub mod bench;

pub use error::{Error, Result};
