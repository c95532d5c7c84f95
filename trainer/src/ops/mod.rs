//! The trainer's own operations on dfdx's gradient tape.
//!
//! dfdx 0.13 has no LSTM layer. Each operation here runs its forward pass on
//! the host arrays of dfdx tensors and records ONE backward closure on the
//! tape (`Tape::add_backward_op`), exactly as dfdx's own ops do: the LSTM
//! over a whole sequence is one op whose backward is hand-written BPTT, with
//! the large products done once per sequence by [`crate::linalg`].
//!
//! Layers, each using only those before it: [`tensor`] (the tensor type,
//! the batch layout, shared copies), [`layers`] (embedding, dropout, dense,
//! pooling), [`loss`], [`mod@lstm`].

pub mod tensor;

pub mod layers;
pub mod loss;
pub mod lstm;

pub use layers::{dropout, embed, linear, pool};
pub use loss::cross_entropy;
pub use lstm::{connect_mask, lstm, LstmInput, LstmOutput, LstmWeights};
pub use tensor::{Seq, T2};
