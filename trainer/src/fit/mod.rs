//! Fitting a network, the same for both tasks: the learning-rate schedule
//! ([`schedule`]), when to stop ([`stopping`]), the options both tasks
//! offer ([`options`]), what a task brings ([`objective`]), a run's state
//! and files ([`run`]) and the loop itself ([`epochs`]), each using only
//! those before it.
//!
//! Every epoch is validated; the best weights are kept (`best.ckpt`),
//! training stops early after `patience` epochs without improvement, the
//! run is checkpointed every epoch (`checkpoint.ckpt`, with the Adam state)
//! and `metrics.json` and `curves.png` are written beside it. All
//! randomness is derived from the seed and the epoch number, so a run
//! resumed from a checkpoint continues exactly as an uninterrupted one
//! would.

pub mod schedule;
pub mod stopping;
pub mod options;
pub mod objective;
pub mod run;
pub mod epochs;

pub use epochs::fit;
pub use objective::{Loss, Objective};
pub use options::{Plan, TrainOptions, Training};
pub use run::{train_json, Run, RunOptions, Summary, BEST, CHECKPOINT, CURVES, EMA, METRICS};
pub use schedule::{LrSchedule, Rate};
pub use stopping::{improves, Stopping};
