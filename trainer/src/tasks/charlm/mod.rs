//! The character language model: the configuration ([`config`]), the
//! windows of truncated BPTT and a text's loss ([`windows`]), the defaults
//! chosen from the corpus ([`defaults`]), the
//! objective ([`objective`]), the run ([`train`]), each using only those
//! before it.

pub mod config;
pub mod windows;
pub mod defaults;
pub mod objective;
pub mod train;

pub use config::{CharLmConfig, Shape};
pub use defaults::fit_to_corpus;
pub use train::{train_charlm, train_charlm_on};
pub use windows::{charlm_windows, evaluate_charlm};
