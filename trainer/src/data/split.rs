//! Seeded splits: a validation (or test) part carved out of the training
//! data, plain or stratified by class.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::text::Text;
use crate::rng::mix;

/// Splits `items` into (train, validation) after a shuffle seeded by `seed`;
/// the validation part has `round(len * fraction)` items. With `limit > 0`,
/// the training part is cut to its first `limit` items.
pub fn carve_validation<T>(mut items: Vec<T>, fraction: f64, seed: u64, limit: usize) -> (Vec<T>, Vec<T>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_da7a);
    items.shuffle(&mut rng);
    let n_val = ((items.len() as f64) * fraction).round() as usize;
    let n_val = n_val.min(items.len());
    let mut train = items.split_off(n_val);
    if limit > 0 && train.len() > limit {
        train.truncate(limit);
    }
    (train, items)
}

/// Splits `texts` into (kept, held out) with `round(n * fraction)` of each
/// class held out, after a shuffle seeded by `seed` and the class: the
/// classes' shares are the same in both parts.
pub fn carve_stratified(texts: Vec<Text>, classes: usize, fraction: f64, seed: u64) -> (Vec<Text>, Vec<Text>) {
    let mut by_class: Vec<Vec<Text>> = (0..classes).map(|_| Vec::new()).collect();
    for t in texts {
        let c = t.class;
        by_class[c].push(t);
    }
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for (c, group) in by_class.into_iter().enumerate() {
        let (k, h) = carve_validation(group, fraction, mix(seed, 5, c as u64), 0);
        kept.extend(k);
        held.extend(h);
    }
    (kept, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carve_is_seeded_and_disjoint() {
        let (t1, v1) = carve_validation((0..100).collect(), 0.2, 7, 0);
        let (t2, v2) = carve_validation((0..100).collect(), 0.2, 7, 0);
        assert_eq!((t1.clone(), v1.clone()), (t2, v2));
        assert_eq!(v1.len(), 20);
        assert!(t1.iter().all(|x| !v1.contains(x)));
    }

    #[test]
    fn stratified_carve_keeps_each_class_share() {
        let texts: Vec<Text> = (0..100)
            .map(|i| Text { name: i.to_string(), text: String::new(), class: usize::from(i % 4 == 0) })
            .collect();
        let (kept, held) = carve_stratified(texts.clone(), 2, 0.2, 3);
        assert_eq!(held.len(), 20);
        assert_eq!(held.iter().filter(|t| t.class == 1).count(), 5);
        assert_eq!(kept.len(), 80);
        assert_eq!(carve_stratified(texts, 2, 0.2, 3).1, held);
    }
}
