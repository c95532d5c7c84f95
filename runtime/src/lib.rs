//! No heap; all state is caller-owned or `static`. Model weights are read in
//! place from the model file's bytes (for example in flash), never copied.
//!
//! `runtime` is the integer-only LSTM inference engine that runs on Cortex-M
//! microcontrollers and, bit for bit identically, on the host.
#![cfg_attr(not(any(test, feature = "host")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod fixed;
pub mod format;
#[cfg(feature = "host")]
pub mod host;
pub mod tokenizer;

pub use error::Error;
pub use format::Model;
