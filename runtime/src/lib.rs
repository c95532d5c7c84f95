//! No heap; all state is caller-owned or `static`. Model weights are read in
//! place from the model file's bytes (for example in flash), never copied.
//!
//! `runtime` is the integer-only LSTM inference engine that runs on Cortex-M
//! microcontrollers and, bit for bit identically, on the host.
//!
//! No `unsafe` code, except the dot-product kernels in [`kernel`]: the
//! Cortex-M4/M7 one's inline assembly (`kernel/dsp.rs`, `kernel/dsp_q4.rs`,
//! built for `thumbv7em-*` targets only) and the x86-64 AVX2 one's
//! intrinsics (`kernel/x86.rs`), which only a [`cpu::Avx2`] token reaches:
//! with the `std` feature, which the host enables, [`cpu`] detects the CPU
//! once at run time; without it (every device build) no token exists and
//! nothing changes.
//!
//! On a host, `cpu::set_max_tier(cpu::Tier::Portable)` makes every later
//! step run the portable kernel (`cpu::Tier::Avx512`, the default, lets
//! the AVX2 one run again): the same bits, for tests and benchmarks that
//! compare the two in one run.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod charlm;
pub mod classifier;
mod error;
pub mod fixed;
pub mod format;
mod head;
pub mod kernel;
pub mod lstm;
pub mod tokenizer;

/// The CPU dispatch layer (the `lstm-cpu` crate): its detection chooses
/// the kernels, [`cpu::set_max_tier`] caps them.
pub use cpu;

pub use charlm::{CharLm, CharLmState, Rng, Sampler};
pub use classifier::{Classifier, ClassifierState, Prediction, Probability, Review, Scores};
pub use error::Error;
pub use format::Model;
/// The `heapless` crate the model types use (for building a `Model` by hand).
pub use heapless;
pub use lstm::{Lstm, LstmState};

/// The README's code examples, compiled and run as doctests (so they cannot
/// drift from the API).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
