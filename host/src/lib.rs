//! The host half of the road from text to device (needs `std`); the device
//! half is `runtime`, which this crate builds model files for and runs.
//!
//! Modules in layers, declared below in their order, leaves first: each
//! names only modules declared before it, and `runtime`
//! (`tests/tests/layers.rs` checks it): `float`, `run`, `cli`; `quantize`.
//!
//! - [`float`]: the network in f32 ([`FloatModel`], what the trainer hands
//!   over), its one reference step, the activations and the pooling rule
//!   shared with the training ops;
//! - [`mod@quantize`]: calibration and the quantizer, which writes the
//!   runtime's own format types ([`runtime::Model`]) straight into a model
//!   file, which it decodes again (the one way to a
//!   [`runtime::ValidModel`], what the runtime's networks run);
//! - [`run`]: the integer runtime at host sizes (the format's maxima), and
//!   the text helpers the CLI and the QEMU tests print with.
#![deny(missing_docs)]

pub mod float;
pub mod run;
#[cfg(feature = "cli")]
pub mod cli;
pub mod quantize;

pub use float::{FloatHead, FloatLstmLayer, FloatModel, FloatRunner, FloatState, FloatTokenizer, Pooler, Words};
pub use quantize::{quantize, quantize_bits, to_bytes, Bits, Calibration, QuantizeError};
