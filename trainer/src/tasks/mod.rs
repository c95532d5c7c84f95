//! The two tasks, each a configuration, its data, its batches, its
//! objective and its training run on the shared loop ([`crate::fit`]):
//! [`classify`] (many-to-one text classifiers) and [`charlm`] (a
//! many-to-many character language model).

pub mod classify;
pub mod charlm;
