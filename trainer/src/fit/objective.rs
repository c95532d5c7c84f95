//! What a task brings to the shared loop: its batches, its loss, its
//! validation.

use dfdx::prelude::*;

use crate::net::Network;

/// A loss on the tape: a scalar to call `backward` on.
pub type Loss = Tensor<(), f32, Cpu, OwnedTape<f32, Cpu>>;

/// What one task brings to the shared loop ([`crate::fit::fit`]).
pub trait Objective {
    /// Prepare epoch `epoch` (its shuffle and dropout are seeded by it);
    /// returns its number of batches.
    fn start_epoch(&mut self, epoch: usize) -> usize;
    /// The loss of batch `k` of the epoch, and its rows (its weight in the
    /// epoch's mean).
    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize);
    /// Validation loss, and accuracy for a classifier.
    fn validate(&self, net: &Network) -> (f64, Option<f64>);
}
