//! The loss and accuracy figures, one definition each, used on the
//! training network, the f32 model and the integer model alike; an
//! epoch's record of them.

use serde::{Deserialize, Serialize};

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss (BCE, or nats/char).
    pub val_loss: f64,
    /// Validation accuracy (sentiment only).
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// Binary cross-entropy of a logit `z` against a label `y` in `[0, 1]`,
/// stable for any `z`.
pub fn bce_with_logits(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// `ln sum exp(z)` over `logits`, shifted by their maximum.
pub fn log_sum_exp(logits: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = logits.clone().fold(f64::NEG_INFINITY, f64::max);
    m + logits.map(|z| (z - m).exp()).sum::<f64>().ln()
}

/// Cross-entropy in nats of class `target` under `logits`.
pub fn cross_entropy(logits: &[f64], target: usize) -> f64 {
    log_sum_exp(logits.iter().copied()) - logits[target]
}

/// Running figures of a classifier: mean loss and accuracy. One logit
/// is a two-class model (binary cross-entropy; class 1 from logit 0 on,
/// probability 0.5); more are one a class (cross-entropy; the first
/// largest logit is the class).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Classes {
    loss: f64,
    correct: usize,
    n: usize,
}

impl Classes {
    /// One example: its logits and its class.
    pub fn push(&mut self, logits: &[f64], class: usize) {
        let predicted = if let [z] = logits {
            self.loss += bce_with_logits(*z, class as f64);
            usize::from(*z >= 0.0)
        } else {
            self.loss += cross_entropy(logits, class);
            argmax(logits)
        };
        self.correct += usize::from(predicted == class);
        self.n += 1;
    }

    /// `correct / n` (0 when `n` is 0).
    pub fn accuracy_of(correct: usize, n: usize) -> f64 {
        correct as f64 / n.max(1) as f64
    }

    /// `(mean loss, accuracy)`; zeros when empty.
    pub fn figures(&self) -> (f64, f64) {
        (self.loss / self.n.max(1) as f64, Self::accuracy_of(self.correct, self.n))
    }
}

/// Index of the first largest value.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Running mean cross-entropy of a language model, nats per prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Nats {
    total: f64,
    n: usize,
}

impl Nats {
    /// One prediction: the logits and the true next id.
    pub fn push(&mut self, logits: &[f64], target: usize) {
        self.total += cross_entropy(logits, target);
        self.n += 1;
    }

    /// Predictions pushed.
    pub fn count(&self) -> usize {
        self.n
    }

    /// The mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.total / self.n as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_match_their_definitions() {
        for (z, y) in [(0.0f64, 1.0f64), (3.0, 0.0), (-40.0, 1.0), (800.0, 1.0)] {
            let p: f64 = 1.0 / (1.0 + (-z).exp());
            let direct = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            if direct.is_finite() {
                assert!((bce_with_logits(z, y) - direct).abs() < 1e-9, "z {z} y {y}");
            }
            assert!(bce_with_logits(z, y).is_finite());
        }
        let l = [1.0, 2.0, 3.0];
        let softmax2 = 3f64.exp() / l.iter().map(|v: &f64| v.exp()).sum::<f64>();
        assert!((cross_entropy(&l, 2) + softmax2.ln()).abs() < 1e-12);
        assert!(cross_entropy(&[1000.0, 0.0], 0).abs() < 1e-12);
        let mut b = Classes::default();
        b.push(&[2.0], 1);
        b.push(&[2.0], 0);
        assert_eq!(b.figures().1, 0.5);
        let mut m = Classes::default();
        m.push(&[0.0, 3.0, 1.0], 1);
        m.push(&[5.0, 5.0, 1.0], 1);
        assert_eq!(m.figures().1, 0.5);
        let want = (cross_entropy(&[0.0, 3.0, 1.0], 1) + cross_entropy(&[5.0, 5.0, 1.0], 1)) / 2.0;
        assert!((m.figures().0 - want).abs() < 1e-12);
    }
}
