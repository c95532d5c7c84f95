//! The learning rate of each step: warm-up, then a constant rate or half a
//! cosine.

use serde::{Deserialize, Serialize};

/// How the learning rate moves over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum LrSchedule {
    /// The same rate every step.
    Constant,
    /// Half a cosine from the peak down to the floor (`--lr-floor`, 0 for a
    /// classifier) at the last step of the last epoch.
    Cosine,
}

/// The learning rate of each step: warm-up, then the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// The peak rate.
    pub lr: f32,
    /// The schedule after warm-up.
    pub schedule: LrSchedule,
    /// Warm-up steps.
    pub warmup: u64,
    /// Steps of the whole run.
    pub total: u64,
    /// The rate a cosine ends at.
    pub floor: f32,
}

impl Rate {
    /// A constant rate.
    pub fn constant(lr: f32) -> Self {
        Self { lr, schedule: LrSchedule::Constant, warmup: 0, total: 0, floor: 0.0 }
    }

    /// The rate of step `step` (from 0).
    pub fn at(&self, step: u64) -> f32 {
        if step < self.warmup {
            return self.lr * (step + 1) as f32 / self.warmup as f32;
        }
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let span = self.total.saturating_sub(self.warmup).max(1) as f64;
                let t = ((step - self.warmup) as f64 / span).min(1.0);
                let (lr, floor) = (f64::from(self.lr), f64::from(self.floor));
                (floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_follows_a_cosine() {
        let r = Rate { lr: 1.0, schedule: LrSchedule::Cosine, warmup: 10, total: 110, floor: 0.0 };
        let floored = Rate { floor: 0.1, ..r };
        assert!((floored.at(60) - 0.55).abs() < 1e-6 && (floored.at(500) - 0.1).abs() < 1e-6);
        assert!((r.at(0) - 0.1).abs() < 1e-6);
        assert!((r.at(9) - 1.0).abs() < 1e-6);
        assert!((r.at(10) - 1.0).abs() < 1e-6);
        assert!((r.at(60) - 0.5).abs() < 1e-6);
        assert!(r.at(109) < 0.01 && r.at(200) == 0.0);
        assert_eq!(Rate::constant(0.5).at(1_000), 0.5);
    }
}
