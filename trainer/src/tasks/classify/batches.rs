//! A classifier's batches: time-major, right-aligned, grouped by length,
//! shuffled with the epoch's seed.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::Example;
use crate::ops::Seq;

/// Builds one time-major, right-aligned batch: ids `(T * B)`, its [`Seq`],
/// and the classes.
pub fn classifier_batch(batch: &[&Example]) -> (Vec<usize>, Seq, Vec<usize>) {
    let steps = batch.iter().map(|e| e.ids.len()).max().unwrap_or(0).max(1);
    let b = batch.len();
    let mut ids = vec![0usize; steps * b];
    let mut starts = Vec::with_capacity(b);
    for (j, e) in batch.iter().enumerate() {
        let start = steps - e.ids.len();
        starts.push(start);
        for (k, &id) in e.ids.iter().enumerate() {
            ids[(start + k) * b + j] = id as usize;
        }
    }
    let classes = batch.iter().map(|e| e.class).collect();
    (ids, Seq { steps, batch: b, starts }, classes)
}

/// How many batches [`epoch_batches`] makes of `n` examples.
pub fn batches_per_epoch(n: usize, batch: usize) -> usize {
    let group = batch.max(1) * 50;
    (0..n).step_by(group).map(|start| (n - start).min(group).div_ceil(batch.max(1))).sum()
}

/// Batches for one epoch: a seeded shuffle, then within groups of 50
/// batches the reviews are sorted by length (less padding), and the batch
/// order is shuffled again.
pub fn epoch_batches(examples: &[Example], batch: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..examples.len()).collect();
    idx.shuffle(rng);
    let group = batch * 50;
    let mut batches = Vec::new();
    for chunk in idx.chunks(group) {
        let mut chunk = chunk.to_vec();
        chunk.sort_by_key(|&i| examples[i].ids.len());
        batches.extend(chunk.chunks(batch).map(|c| c.to_vec()));
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_batch_count_is_what_the_epoch_makes() {
        let mut rng = StdRng::seed_from_u64(1);
        let examples: Vec<Example> = (0..1234).map(|i| Example { ids: vec![1; i % 7], class: 0 }).collect();
        assert_eq!(batches_per_epoch(1234, 10), epoch_batches(&examples, 10, &mut rng).len());
        let (ids, seq, classes) = classifier_batch(&[&examples[3], &examples[5]]);
        assert_eq!((seq.steps, seq.batch, seq.starts.clone(), classes), (5, 2, vec![2, 0], vec![0, 0]));
        assert_eq!(ids.len(), 10);
    }
}
