//! When training stops, and what counts as a better epoch: one rule for
//! both tasks.

use crate::metrics::EpochRecord;
use crate::net::Progress;

/// When training stops: the one rule of both tasks.
#[derive(Clone, Copy, Debug)]
pub struct Stopping {
    /// Epochs in all.
    pub epochs: usize,
    /// Epochs without improvement, after a best one.
    pub patience: usize,
    /// Patience applies from this many epochs on (a small data set trains
    /// its --min-steps first).
    pub min_epochs: usize,
    /// Minutes of this process's training (0 = no limit), checked between
    /// epochs.
    pub minutes: f64,
}

impl Stopping {
    /// Why to stop before the next epoch, if at all: patience, then the
    /// epoch count, then the time limit.
    pub fn reason(&self, p: &Progress, elapsed: std::time::Duration) -> Option<&'static str> {
        if p.best_epoch > 0 && p.bad_epochs >= self.patience && p.epochs_done >= self.min_epochs {
            Some("patience")
        } else if p.epochs_done >= self.epochs {
            Some("max epochs")
        } else if self.minutes > 0.0 && elapsed.as_secs_f64() >= self.minutes * 60.0 {
            Some("time limit")
        } else {
            None
        }
    }
}

/// Whether an epoch beats the best so far: a higher validation accuracy
/// for a classifier (or the same with a lower loss: a small validation set
/// has few distinct accuracies), a lower validation loss for a language
/// model.
pub fn improves(record: &EpochRecord, best: &EpochRecord) -> bool {
    match (record.val_accuracy, best.val_accuracy) {
        (Some(a), Some(b)) => a > b || (a == b && record.val_loss < best.val_loss),
        _ => record.val_loss < best.val_loss,
    }
}

pub(crate) fn epoch_line(r: &EpochRecord, better: bool) -> String {
    let val = match r.val_accuracy {
        Some(a) => format!("val loss {:.4}, val acc {a:.4}", r.val_loss),
        None => format!("val loss {:.4} nats/char ({:.3} bits)", r.val_loss, r.val_loss / std::f64::consts::LN_2),
    };
    let best = if better { " (best)" } else { "" };
    format!("epoch {}: train loss {:.4}, {val}{best} ({:.1} s)", r.epoch, r.train_loss, r.seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(epochs_done: usize, best_epoch: usize, bad_epochs: usize) -> Progress {
        Progress { epochs_done, best_epoch, bad_epochs, ..Progress::default() }
    }

    #[test]
    fn one_stopping_rule() {
        let s = Stopping { epochs: 5, patience: 2, min_epochs: 0, minutes: 1.0 };
        let zero = std::time::Duration::ZERO;
        assert_eq!(s.reason(&progress(0, 0, 0), zero), None);
        assert_eq!(s.reason(&progress(3, 1, 2), zero), Some("patience"));
        assert_eq!(s.reason(&progress(3, 2, 1), zero), None);
        assert_eq!(s.reason(&progress(5, 5, 0), zero), Some("max epochs"));
        assert_eq!(s.reason(&progress(5, 3, 2), zero), Some("patience"));
        assert_eq!(s.reason(&progress(1, 1, 0), std::time::Duration::from_secs(60)), Some("time limit"));
        let late = Stopping { min_epochs: 4, ..s };
        assert_eq!(late.reason(&progress(3, 1, 2), zero), None);
        assert_eq!(late.reason(&progress(4, 1, 3), zero), Some("patience"));
        let unlimited = Stopping { minutes: 0.0, ..s };
        assert_eq!(unlimited.reason(&progress(1, 1, 0), std::time::Duration::from_secs(1 << 20)), None);
    }

    #[test]
    fn improvement_is_accuracy_for_a_classifier_and_loss_otherwise() {
        let r =
            |val_loss, val_accuracy| EpochRecord { epoch: 1, train_loss: 0.0, val_loss, val_accuracy, seconds: 0.0 };
        assert!(improves(&r(0.9, Some(0.8)), &r(0.5, Some(0.7))));
        assert!(improves(&r(0.1, Some(0.7)), &r(0.5, Some(0.7))));
        assert!(!improves(&r(0.6, Some(0.7)), &r(0.5, Some(0.7))));
        assert!(improves(&r(1.5, None), &r(1.6, None)));
        assert!(!improves(&r(1.6, None), &r(1.6, None)));
    }
}
