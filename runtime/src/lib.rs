//! No heap; all state is caller-owned or `static`. Model weights are read in
//! place from the model file's bytes (for example in flash), never copied.
//!
//! Modules in layers, declared below in their order, leaves first: each
//! names only modules declared before it (`tests/tests/layers.rs` checks
//! it): `kind`, `fixed`, `tokenizer`; `error`; `format`; `kernel`; `head`,
//! `lstm`; `classifier`, `charlm`.
//!
//! `runtime` is the integer-only LSTM inference engine that runs on Cortex-M
//! microcontrollers and, bit for bit identically, on the host.
//!
//! No `unsafe` code, except in [`kernel`]: the vector buffer of a fused
//! layer seen as one slice (`CatBuf`, `kernel/layout.rs`), the Cortex-M4/M7
//! kernels' inline assembly (`kernel/dsp.rs`, `kernel/dsp_q4.rs`,
//! built for `thumbv7em-*` targets only) and the x86-64 AVX2 kernels'
//! intrinsics (`kernel/x86.rs`), which only a [`cpu::Avx2`] token reaches:
//! with the `std` feature, which the host enables, [`cpu`] detects the CPU
//! once at run time; without it (every device build) no token exists and
//! nothing changes.
//!
//! On a host, `cpu::set_max_tier(cpu::Tier::Portable)` makes every later
//! step run the portable kernel (`cpu::Tier::Avx512`, the default, lets
//! the AVX2 one run again): the same bits, for tests and benchmarks that
//! compare the two in one run.
//!
//! Loading checks once what inference relies on, and says so in a type:
//! [`Model::from_bytes`] decodes and validates a model file in place and
//! returns a [`ValidModel`], the only model [`Lstm::new`],
//! [`Classifier::new`] and [`CharLm::new`] take (`from_bytes` on each does
//! both steps).
//!
//! ```
//! use runtime::{Classifier, Model, ValidModel};
//!
//! let model: ValidModel<'static> = Model::from_bytes(include_bytes!("../../models/sentiment.lstm"))?;
//! assert_eq!(model.header.hidden, 96); // a `ValidModel` reads as its `Model`
//! let clf = Classifier::<20, 96, 1, 2>::new(model)?; // sizes and kind, checked once
//! assert_eq!(clf.class_names().get(1), Some("positive"));
//! # Ok::<(), runtime::Error>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod kind;
pub mod fixed;
pub mod tokenizer;
mod error;
pub mod format;
pub mod kernel;
mod head;
pub mod lstm;
pub mod classifier;
pub mod charlm;

/// The CPU dispatch layer (the `lstm-cpu` crate): its detection chooses
/// the kernels, [`cpu::set_max_tier`] caps them.
pub use cpu;

pub use charlm::{CharLm, CharLmState, Rng, Sampler};
pub use classifier::{Classifier, ClassifierState, Prediction, Probability, Review, Scores};
pub use error::Error;
pub use format::{Model, ValidModel};
/// The `heapless` crate the model types use (for building a `Model` by hand).
pub use heapless;
pub use lstm::{Lstm, LstmState};

/// The README's code examples, compiled and run as doctests (so they cannot
/// drift from the API).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
