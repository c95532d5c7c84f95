//! Host trainer: trains the project's LSTMs with dfdx and hands them over
//! as [`runtime::host::FloatModel`]s for quantization and export.
//!
//! Data flow: [`data`] reads IMDb or Hamlet and tokenizes with the shared
//! tokenizer of `runtime`; [`model`] holds the network as dfdx tensors; its
//! LSTM, embedding, pooling, dropout and dense layers are custom operations
//! on dfdx's gradient tape ([`ops`]); [`train`] runs the loops with
//! [`optim`]'s Adam and global-norm clipping and writes [`checkpoint`]s;
//! [`export`] turns a checkpoint into a `FloatModel` and evaluates it.
#![deny(missing_docs)]

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod export;
pub mod infer;
pub mod linalg;
pub mod model;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod train;

pub use error::{Error, Result};
