//! A classifier's objective: binary cross-entropy for two classes,
//! softmax cross-entropy for more, word dropout; its validation figures.

use dfdx::losses::binary_cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::baseline::Teacher;
use crate::data::Example;
use crate::fit::{Loss, Objective};
use crate::metrics::Classes;
use crate::net::Network;
use crate::ops::{self, Seq};
use crate::rng::mix;
use crate::tasks::classify::batches::{classifier_batch, epoch_batches};

/// Outputs of a classifier's dense layer: one logit for two classes (a
/// sigmoid), one a class from three on (a softmax).
pub fn class_outputs(classes: usize) -> usize {
    if classes == 2 {
        1
    } else {
        classes
    }
}

/// Validation figures of a classifier network: mean cross-entropy (binary
/// for one output) and accuracy ([`Classes`]).
pub fn evaluate_classifier(net: &Network, examples: &[Example], batch: usize) -> (f64, f64) {
    let mut order: Vec<&Example> = examples.iter().collect();
    order.sort_by_key(|e| e.ids.len());
    let mut m = Classes::default();
    let outputs = net.cfg.outputs.max(1);
    let mut row = Vec::with_capacity(outputs);
    for chunk in order.chunks(batch.max(1)) {
        let (ids, seq, classes) = classifier_batch(chunk);
        let (logits, _) = net.forward(&ids, &seq, NoneTape, None, None);
        for (z, &y) in logits.as_vec().chunks_exact(outputs).zip(&classes) {
            row.clear();
            row.extend(z.iter().map(|&v| f64::from(v)));
            m.push(&row, y);
        }
    }
    m.figures()
}

/// The teacher's probabilities for each text of a time-major batch (its
/// real steps).
fn teacher_probs(teacher: &Teacher, ids: &[usize], seq: &Seq) -> Vec<Vec<f64>> {
    (0..seq.batch)
        .map(|b| {
            let text: Vec<u32> =
                (seq.steps - seq.len_of(b)..seq.steps).map(|t| ids[t * seq.batch + b] as u32).collect();
            teacher.probs(&text)
        })
        .collect()
}

/// A classifier: shuffled, length-grouped batches of texts; binary
/// cross-entropy for two classes, cross-entropy for more.
pub(crate) struct ClassifierObjective<'a> {
    pub(crate) outputs: usize,
    pub(crate) train: &'a [Example],
    pub(crate) valid: &'a [Example],
    pub(crate) batch: usize,
    pub(crate) seed: u64,
    pub(crate) batches: Vec<Vec<usize>>,
    pub(crate) dropout: StdRng,
    pub(crate) word_dropout: f32,
    pub(crate) words: StdRng,
    /// Distillation: the bag-of-words teacher and its weight in the
    /// targets (`--distill`).
    pub(crate) teacher: Option<(&'a Teacher, f32)>,
}

impl Objective for ClassifierObjective<'_> {
    fn start_epoch(&mut self, epoch: usize) -> usize {
        let mut rng = StdRng::seed_from_u64(mix(self.seed, 2, epoch as u64));
        self.dropout = StdRng::seed_from_u64(mix(self.seed, 3, epoch as u64));
        self.words = StdRng::seed_from_u64(mix(self.seed, 4, epoch as u64));
        self.batches = epoch_batches(self.train, self.batch, &mut rng);
        self.batches.len()
    }

    fn loss(&mut self, net: &Network, k: usize) -> (Loss, usize) {
        let exs: Vec<&Example> = self.batches[k].iter().map(|&i| &self.train[i]).collect();
        let (mut ids, seq, classes) = classifier_batch(&exs);
        if self.word_dropout > 0.0 {
            for id in ids.iter_mut().filter(|id| **id != 0) {
                if self.words.gen::<f32>() < self.word_dropout {
                    *id = runtime::tokenizer::OOV as usize;
                }
            }
        }
        let (logits, _) = net.forward(&ids, &seq, OwnedTape::default(), Some(&mut self.dropout), None);
        let n = exs.len();
        // The targets: the classes, or mixed with what the teacher says of
        // the same (word-dropped) ids.
        let taught = self.teacher.map(|(t, a)| (teacher_probs(t, &ids, &seq), a));
        if self.outputs == 1 {
            let y = classes.iter().enumerate().map(|(r, &c)| match &taught {
                Some((p, a)) => (1.0 - a) * c as f32 + a * p[r][1] as f32,
                None => c as f32,
            });
            let targets = logits.device().tensor_from_vec(y.collect(), (n, 1));
            return (binary_cross_entropy_with_logits_loss(logits, targets), n);
        }
        let mut onehot = vec![0.0f32; n * self.outputs];
        for (r, &c) in classes.iter().enumerate() {
            let row = &mut onehot[r * self.outputs..(r + 1) * self.outputs];
            row[c] = 1.0;
            if let Some((p, a)) = &taught {
                row.iter_mut().zip(&p[r]).for_each(|(y, &q)| *y = (1.0 - a) * *y + a * q as f32);
            }
        }
        (ops::cross_entropy(logits, onehot), n)
    }

    fn validate(&self, net: &Network) -> (f64, Option<f64>) {
        let (loss, acc) = evaluate_classifier(net, self.valid, self.batch);
        (loss, Some(acc))
    }
}
