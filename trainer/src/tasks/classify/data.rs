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
    /// Test texts: a carve of the training data (always made, so the
    /// training part does not depend on whether it is used), or the test
    /// file or IMDb's test split (read only when asked for).
    pub test: Vec<Text>,
    /// Where the test part comes from.
    pub test_part: TestPart,
    /// The texts the export calibrates on: the training data in its file
    /// order (IMDb: its train split by name), without a test carve.
    pub calibration: Vec<Text>,
}

/// Where a classifier's test texts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestPart {
    /// A stratified carve of the training data (`--test-fraction`).
    Carved,
    /// The `--test` file.
    File,
    /// IMDb's official test split.
    ImdbSplit,
}

impl ClassifierData {
    /// The run's first line: the classes, each part's size and class
    /// counts, whether the test part is used, and the token ids.
    pub fn split_line(&self, token_ids: u32, test_used: bool) -> String {
        let counts = |set: &[Text]| {
            let mut n = vec![0usize; self.classes.len()];
            set.iter().for_each(|t| n[t.class] += 1);
            n.iter().map(usize::to_string).collect::<Vec<_>>().join("/")
        };
        let test = match (test_used, self.test_part) {
            (true, _) => format!("{} test texts ({})", self.test.len(), counts(&self.test)),
            (false, TestPart::Carved) => format!(
                "{} test texts ({}) held out, not used (evaluated with --export or --eval-test)",
                self.test.len(),
                counts(&self.test)
            ),
            (false, TestPart::File) => "the --test file not read (it is with --export or --eval-test)".to_owned(),
            (false, TestPart::ImdbSplit) => {
                "IMDb's test split not read (it is with --export or --eval-test)".to_owned()
            }
        };
        format!(
            "{} classes ({}): {} training ({}), {} validation ({}), {test}; {token_ids} token ids",
            self.classes.len(),
            self.classes.join(", "),
            self.train.len(),
            counts(&self.train),
            self.valid.len(),
            counts(&self.valid),
        )
    }
}

/// Reads a classifier's data as `cfg` says: the training file, and the
/// validation and test files or stratified, seeded carves of the training
/// data (IMDb: the official test split, and the validation carve of
/// earlier versions, so the shipped model reproduces). The test part is
/// read only when `with_test` (a carve is always made).
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
        test = held;
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
    let test_part = match (&cfg.test, imdb) {
        (Some(_), _) => TestPart::File,
        (None, true) => TestPart::ImdbSplit,
        (None, false) => TestPart::Carved,
    };
    Ok(ClassifierData { classes, train, valid, test, test_part, calibration })
}

/// The words (a vocabulary counted on the training part only, or the
/// hashing), and the training and validation parts tokenized with them.
pub fn classifier_examples(cfg: &ClassifierConfig, d: &ClassifierData) -> Result<(Words, Vec<Example>, Vec<Example>)> {
    let (train, valid) = (&d.train, &d.valid);
    let vocab = cfg.sizes().vocab;
    let words = if vocab > 0 {
        data::build_vocab(train, cfg.punctuation, vocab)
    } else {
        Words::Hashed(WordHashing { buckets: cfg.buckets, seed: cfg.hash_seed })
    };
    let train = data::examples(train, &words, cfg.max_tokens);
    let valid = data::examples(valid, &words, cfg.max_tokens);
    Ok((words, train, valid))
}
