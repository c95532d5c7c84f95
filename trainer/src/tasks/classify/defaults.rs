//! Defaults that fit the data: the vocabulary, the widths, the
//! regularisation and the epoch budget a classifier trains with when the
//! user does not give them, chosen from its training part (texts, tokens,
//! classes). A flag the user gives always wins; the run prints what was
//! chosen and why, and `metrics.json` records it.
//!
//! From 20,000 training texts on, the choice is the IMDb recipe (its 25,000
//! long reviews are what it was tuned on). Below, the model is smaller and
//! more regularised, trains for more epochs with patience on validation,
//! and learns from the bag-of-words baseline too (distillation): the
//! smaller the set, the more a linear bag-of-words model knows that an
//! LSTM cannot learn from few examples.

use crate::data::vocab::token_counts;
use crate::data::Text;
use crate::tasks::classify::config::{ClassifierConfig, Sizes};
use crate::tasks::classify::data::ClassifierData;

/// What the choice reads of a training part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataStats {
    /// Training texts.
    pub texts: usize,
    /// Their tokens (words and, with `--punctuation`, marks).
    pub tokens: usize,
    /// Distinct tokens seen at least twice.
    pub repeated: usize,
    /// Classes.
    pub classes: usize,
}

impl DataStats {
    /// Counts the training texts' tokens as the vocabulary will.
    pub fn of(train: &[Text], classes: usize, punctuation: bool) -> DataStats {
        let counts = token_counts(train, punctuation);
        let tokens = counts.values().sum::<u64>() as usize;
        let repeated = counts.values().filter(|&&c| c >= 2).count();
        DataStats { texts: train.len(), tokens, repeated, classes }
    }
}

/// The defaults for a training part: sizes, the rate and the epoch budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// Adam's peak rate.
    pub lr: f32,
    /// Vocabulary, widths, dropout, word dropout, distillation.
    pub sizes: Sizes,
    /// Maximum epochs (patience on validation stops before).
    pub epochs: usize,
    /// Epochs without a better validation accuracy before stopping.
    pub patience: usize,
}

/// The training flags whose defaults [`choose`] sets, as `--help` shows
/// them.
pub const SHOWN: &[(&str, &str)] = &[
    ("lr", "from the data: 0.01 below 20,000 training texts, 0.003 from 20,000 on"),
    ("epochs", "from the data: 60 below 20,000 training texts, 5 from 20,000 on"),
    ("patience", "from the data: 10 below 20,000 training texts, 5 from 20,000 on"),
];

/// Training parts of at least this many texts get the IMDb recipe.
pub const LARGE: usize = 20_000;

/// The defaults for `stats`, and one line saying why.
pub fn choose(stats: &DataStats) -> (Choice, String) {
    let mean = stats.tokens / stats.texts.max(1);
    if stats.texts >= LARGE {
        let why = format!("{} training texts: the IMDb recipe's sizes", stats.texts);
        return (Choice { sizes: Sizes::IMDB, lr: 3e-3, epochs: 5, patience: 5 }, why);
    }
    // Every token seen twice, up to the recipe's 8,000 (a token seen once
    // teaches nothing that generalises).
    let vocab = stats.repeated.clamp(100, 8000);
    let small = stats.texts < 1000;
    let sizes = Sizes {
        vocab,
        embed_dim: if small { 16 } else { 24 },
        hidden: if small { 32 } else { 64 },
        dropout: 0.5,
        word_dropout: 0.2,
        distill: 0.8,
    };
    let (lr, epochs, patience) = (1e-2, 60, 10);
    let why = format!(
        "{} training texts of {mean} tokens on average, {} classes: vocabulary {} (tokens seen twice), embedding \
         {}, LSTM {}, dropout {}, word dropout {}, distillation {} from the bag-of-words baseline, lr {lr}, up to \
         {epochs} epochs, patience {patience}",
        stats.texts,
        stats.classes,
        sizes.vocab,
        sizes.embed_dim,
        sizes.hidden,
        sizes.dropout,
        sizes.word_dropout,
        sizes.distill,
    );
    (Choice { sizes, lr, epochs, patience }, why)
}

/// `cfg` with every size it leaves open, and the epoch budget, chosen from
/// the training part of `d` ([`choose`]); `chosen` says what and why.
pub fn fit_to_data(cfg: &ClassifierConfig, d: &ClassifierData) -> ClassifierConfig {
    let stats = DataStats::of(&d.train, d.classes.len(), cfg.punctuation);
    let (c, why) = choose(&stats);
    let mut out = cfg.clone();
    out.vocab = cfg.vocab.or(Some(c.sizes.vocab));
    out.embed_dim = cfg.embed_dim.or(Some(c.sizes.embed_dim));
    out.hidden = cfg.hidden.or(Some(c.sizes.hidden));
    out.dropout = cfg.dropout.or(Some(c.sizes.dropout));
    out.word_dropout = cfg.word_dropout.or(Some(c.sizes.word_dropout));
    out.distill = cfg.distill.or(Some(c.sizes.distill));
    out.opts.lr = cfg.opts.lr.or(Some(c.lr));
    out.opts.epochs = cfg.opts.epochs.or(Some(c.epochs));
    out.opts.patience = cfg.opts.patience.or(Some(c.patience));
    let given = [
        ("--vocab", cfg.vocab.is_some()),
        ("--embed-dim", cfg.embed_dim.is_some()),
        ("--hidden", cfg.hidden.is_some()),
        ("--dropout", cfg.dropout.is_some()),
        ("--word-dropout", cfg.word_dropout.is_some()),
        ("--distill", cfg.distill.is_some()),
        ("--lr", cfg.opts.lr.is_some()),
        ("--epochs", cfg.opts.epochs.is_some()),
        ("--patience", cfg.opts.patience.is_some()),
    ];
    let yours: Vec<&str> = given.iter().filter(|(_, g)| *g).map(|(f, _)| *f).collect();
    out.chosen = Some(if yours.is_empty() {
        format!("defaults from the data: {why}")
    } else {
        format!("defaults from the data: {why} (your {} kept)", yours.join(", "))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(texts: usize, mean: usize, repeated: usize) -> DataStats {
        DataStats { texts, tokens: texts * mean, repeated, classes: 4 }
    }

    #[test]
    fn the_defaults_follow_the_data_size() {
        let (large, why) = choose(&stats(25_000, 230, 60_000));
        assert_eq!((large.sizes, large.epochs, large.patience), (Sizes::IMDB, 5, 5));
        assert!(why.contains("IMDb recipe"), "{why}");
        let (medium, _) = choose(&stats(4_800, 20, 5_000));
        let (small, why) = choose(&stats(360, 40, 900));
        assert_eq!(medium.sizes.vocab, 5_000);
        assert_eq!(small.sizes.vocab, 900);
        assert_eq!(choose(&stats(50, 5, 10)).0.sizes.vocab, 100);
        assert!(small.sizes.hidden <= medium.sizes.hidden && medium.sizes.hidden <= Sizes::IMDB.hidden);
        assert!(small.sizes.dropout >= Sizes::IMDB.dropout && small.sizes.distill > 0.0);
        assert!(small.epochs > large.epochs && small.patience > large.patience);
        assert!(why.contains("360 training texts of 40 tokens"), "{why}");
    }

    #[test]
    fn a_flag_given_wins() {
        let mut cfg = ClassifierConfig::from_flags(&["--data", "x.csv", "--hidden", "7", "--epochs", "3"]).unwrap();
        let text = |s: &str, class| Text { name: String::new(), text: s.into(), class };
        let d = ClassifierData {
            classes: vec!["a".into(), "b".into()],
            train: vec![text("one two two", 0), text("two three", 1)],
            valid: Vec::new(),
            test: Vec::new(),
            test_part: crate::tasks::classify::data::TestPart::Carved,
            calibration: Vec::new(),
        };
        let fitted = fit_to_data(&cfg, &d);
        assert_eq!((fitted.hidden, fitted.opts.epochs, fitted.vocab), (Some(7), Some(3), Some(100)));
        assert_eq!(fitted.opts.patience, Some(10));
        assert!(fitted.chosen.as_deref().is_some_and(|c| c.ends_with("(your --hidden, --epochs kept)")));
        cfg.hidden = None;
        assert_eq!(fit_to_data(&cfg, &d).hidden, Some(32));
        assert_eq!(DataStats::of(&d.train, 2, true), DataStats { texts: 2, tokens: 5, repeated: 1, classes: 2 });
    }
}
