//! Defaults that fit the corpus, on the pattern of the Hamlet recipe: an
//! embedding of 16, 128 units (two layers from 50,000 characters on),
//! dropout 0.25 and DropConnect 0.2, 32 streams, a cosine from 6e-3 to 1e-4
//! after 100 warm-up steps, over an epoch count that follows the corpus
//! size (about 10,000 steps, 40 to 150 epochs), so that a run ends at the
//! same point on any machine (`--minutes` is only a hard stop). A flag the
//! user gives always wins; the run prints what was chosen and why, and
//! `metrics.json` records it.

use crate::data::CharCorpus;
use crate::fit::LrSchedule;
use crate::tasks::charlm::config::{CharLmConfig, Shape};
use crate::tasks::charlm::windows::charlm_windows;

/// The training flags whose defaults [`fit_to_corpus`] sets, as `--help`
/// shows them.
pub const SHOWN: &[(&str, &str)] = &[
    ("lr", "0.006"),
    ("schedule", "cosine"),
    ("warmup", "100"),
    ("lr_floor", "0.0001"),
    ("weight_drop", "0.2"),
    ("epochs", "from the corpus size: about 10,000 steps, 40 to 150 epochs"),
    ("patience", "the epochs"),
];

/// Training steps the epoch count aims at.
const STEPS: usize = 10_000;

/// The shape, and the epochs, for a training text of `chars` characters
/// read in `windows` windows an epoch.
pub fn choose(chars: usize, windows: usize) -> (Shape, usize) {
    let layers = if chars >= 50_000 { 2 } else { 1 };
    let shape = Shape { embed_dim: 16, hidden: 128, layers, dropout: 0.25, streams: 32 };
    (shape, (STEPS / windows.max(1)).clamp(40, 150))
}

/// `cfg` with what it leaves open chosen from `corpus` ([`choose`]).
pub fn fit_to_corpus(cfg: &CharLmConfig, corpus: &CharCorpus) -> CharLmConfig {
    let streams = cfg.streams.unwrap_or(32);
    let windows = charlm_windows(&corpus.train, streams, cfg.window).len();
    let (s, epochs) = choose(corpus.train.len(), windows);
    let mut out = cfg.clone();
    out.embed_dim = cfg.embed_dim.or(Some(s.embed_dim));
    out.hidden = cfg.hidden.or(Some(s.hidden));
    out.layers = cfg.layers.or(Some(s.layers));
    out.dropout = cfg.dropout.or(Some(s.dropout));
    out.streams = Some(streams);
    let o = &mut out.opts;
    o.lr = o.lr.or(Some(6e-3));
    o.schedule = o.schedule.or(Some(LrSchedule::Cosine));
    o.warmup = o.warmup.or(Some(100));
    o.lr_floor = o.lr_floor.or(Some(1e-4));
    o.weight_drop = o.weight_drop.or(Some(0.2));
    o.epochs = o.epochs.or(Some(epochs));
    o.patience = o.patience.or(Some(epochs));
    let t = out.training();
    out.chosen = Some(format!(
        "defaults from the corpus ({} training characters, {} windows an epoch; flags you give win): embedding \
         {}, {} x {} LSTM, dropout {}, DropConnect {}, {} streams, lr {} cosine to {} over {} epochs (about {} \
         steps)",
        corpus.train.len(),
        windows,
        out.shape().embed_dim,
        out.shape().layers,
        out.shape().hidden,
        out.shape().dropout,
        t.weight_drop,
        streams,
        t.lr,
        t.lr_floor,
        t.epochs,
        t.epochs * windows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epochs_follow_the_corpus_size() {
        // Hamlet: 160,000 training characters, 50 windows of 32 x 100.
        assert_eq!(
            choose(160_000, 50),
            (Shape { embed_dim: 16, hidden: 128, layers: 2, dropout: 0.25, streams: 32 }, 150)
        );
        // A million characters: 312 windows, 40 epochs (12,480 steps).
        assert_eq!(choose(1_000_000, 312).1, 40);
        assert_eq!(choose(600_000, 187).1, 53);
        assert_eq!(choose(20_000, 6).0.layers, 1);
    }

    #[test]
    fn a_flag_given_wins() {
        let corpus = CharCorpus::from_text(&b"abcdefgh".repeat(5000), 0.9, 128);
        let mut cfg = CharLmConfig {
            data: "x.txt".into(),
            corpus: Default::default(),
            out: "o".into(),
            streams: None,
            window: 100,
            embed_dim: None,
            hidden: Some(64),
            layers: None,
            dropout: None,
            opts: Default::default(),
            random_offsets: false,
            chosen: None,
        };
        cfg.opts.lr = Some(1e-3);
        let f = fit_to_corpus(&cfg, &corpus);
        assert_eq!((f.hidden, f.embed_dim, f.layers, f.streams), (Some(64), Some(16), Some(1), Some(32)));
        let t = f.training();
        assert_eq!((t.lr, t.schedule, t.weight_drop), (1e-3, LrSchedule::Cosine, 0.2));
        // 36,000 characters, 32 streams of 100: 12 windows (the last one short), 150 epochs.
        assert_eq!(t.epochs, 150);
        assert!(f.chosen.unwrap().contains("36000 training characters, 12 windows"));
    }
}
