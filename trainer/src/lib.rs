//! Host trainer: trains the project's LSTMs with dfdx, hands them over as
//! [`host::FloatModel`]s for quantization, and evaluates the model files
//! through the integer runtime.
//!
//! Data flow: [`data`] reads IMDb or Hamlet and tokenizes with the shared
//! tokenizer of `runtime`; [`model`] holds the network as dfdx tensors; its
//! LSTM, embedding, pooling, dropout and dense layers are custom operations
//! on dfdx's gradient tape ([`ops`]); [`train`] runs the one training loop
//! with [`optim`]'s Adam and global-norm clipping and writes
//! [`checkpoint`]s; [`float`] turns a checkpoint into a `FloatModel`;
//! [`export`] quantizes it into a model file; [`eval`], [`predict`] and
//! [`inspect`] read model files through the runtime.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod float;
pub mod inspect;
pub mod labelled;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod train;

pub use error::{Error, Result};
