//! The network and what holds its weights: the configuration and the one
//! definition of its tensors ([`config`]), the dfdx network ([`network`]),
//! Adam ([`optim`]) and checkpoints ([`checkpoint`]), each using only those
//! before it.

pub mod config;
pub mod network;
pub mod optim;
pub mod checkpoint;

pub use checkpoint::{Checkpoint, Meta, Progress, Task};
pub use config::{NetConfig, Readout, Role, TensorSpec};
pub use network::{Network, State};
pub use optim::{Adam, AdamConfig, AdamState};
