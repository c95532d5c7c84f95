//! A classifier's data as its configuration says: the training file, the
//! validation and test parts (files, or seeded stratified carves), the
//! vocabulary and the token ids.

use std::path::Path;

use host::Words;
use runtime::tokenizer::WordHashing;

use crate::data::labelled::{self, InputFormat};
use crate::data::{self, Example, Split, Text};
use crate::error::{Error, Result};
use crate::rng::mix;
use crate::tasks::classify::config::ClassifierConfig;

/// A classifier's texts, split: the class names, then the training,
/// validation and test texts.
#[derive(Clone, Debug)]
pub struct ClassifierData {
    /// Class names, in class order.
    pub classes: Vec<String>,
    /// Training texts.
    pub train: Vec<Text>,
    /// Validation texts.
    pub valid: Vec<Text>,
    /// Test texts (empty when not asked for).
    pub test: Vec<Text>,
    /// The texts the export calibrates on: the training data in its file
    /// order (IMDb: its train split by name), without a test carve.
    pub calibration: Vec<Text>,
}

/// Reads a classifier's data as `cfg` says: the training file, and the
/// validation and test files or stratified, seeded carves of the training
/// data (IMDb: the official test split, and the validation carve of
/// earlier versions, so the shipped model reproduces). The test part is
/// read only when `with_test`.
pub fn classifier_data(cfg: &ClassifierConfig, with_test: bool) -> Result<ClassifierData> {
    let imdb = labelled::resolve(&cfg.data, cfg.input.format)? == InputFormat::Imdb;
    let seed = cfg.training().seed;
    let (classes, train_all, mut test) = if imdb {
        let (train, test) = if with_test && cfg.test.is_none() {
            data::read_imdb_splits(&cfg.data)?
        } else {
            (data::read_imdb(&cfg.data, Split::Train)?, Vec::new())
        };
        (data::imdb_classes(), train, test)
    } else {
        let set = labelled::read(&cfg.data, &cfg.input, None, Split::Train)?;
        (set.classes, set.texts, Vec::new())
    };
    let n = classes.len();
    let read_other =
        |path: &Path| -> Result<Vec<Text>> { Ok(labelled::read(path, &cfg.input, Some(&classes), Split::Test)?.texts) };
    let mut rest = train_all.clone();
    let mut calibration = train_all;
    if let Some(path) = &cfg.test {
        test = if with_test { read_other(path)? } else { Vec::new() };
    } else if !imdb {
        let (kept, held) = data::carve_stratified(rest, n, cfg.test_fraction, mix(seed, 6, 0));
        let held_names: std::collections::HashSet<&str> = held.iter().map(|t| t.name.as_str()).collect();
        calibration.retain(|t| !held_names.contains(t.name.as_str()));
        rest = kept;
        test = if with_test { held } else { Vec::new() };
    }
    let (mut train, valid) = match &cfg.valid {
        Some(path) => (rest, read_other(path)?),
        None if imdb => data::carve_validation(rest, cfg.val_fraction, seed, 0),
        None => data::carve_stratified(rest, n, cfg.val_fraction, seed),
    };
    if cfg.train_limit > 0 && train.len() > cfg.train_limit {
        train.truncate(cfg.train_limit);
    }
    if train.is_empty() || valid.is_empty() || (with_test && test.is_empty()) {
        return Err(Error::Empty {
            path: cfg.data.clone(),
            what: "the training, validation or test part (check --val-fraction and --test-fraction)".into(),
        });
    }
    Ok(ClassifierData { classes, train, valid, test, calibration })
}

/// The words (a vocabulary counted on the training part only, or the
/// hashing), and the training and validation parts tokenized with them.
pub fn classifier_examples(cfg: &ClassifierConfig, d: &ClassifierData) -> Result<(Words, Vec<Example>, Vec<Example>)> {
    let (train, valid) = (&d.train, &d.valid);
    let words = if cfg.vocab > 0 {
        data::build_vocab(train, cfg.punctuation, cfg.vocab)
    } else {
        Words::Hashed(WordHashing { buckets: cfg.buckets, seed: cfg.hash_seed })
    };
    let train = data::examples(train, &words, cfg.max_tokens);
    let valid = data::examples(valid, &words, cfg.max_tokens);
    Ok((words, train, valid))
}
