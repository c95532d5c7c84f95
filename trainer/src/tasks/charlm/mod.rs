//! The character language model: the configuration ([`config`]), the
//! windows of truncated BPTT and a text's loss ([`windows`]), the
//! objective ([`objective`]), the run ([`train`]), each using only those
//! before it.

pub mod config;
pub mod windows;
pub mod objective;
pub mod train;

pub use config::CharLmConfig;
pub use train::{train_charlm, train_charlm_on};
pub use windows::{charlm_windows, evaluate_charlm};
