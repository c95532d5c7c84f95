//! Training a character language model on a corpus read once.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::data::{self, CharCorpus};
use crate::error::{Error, Result};
use crate::fit::{fit, train_json, Run, RunOptions, Summary};
use crate::net::Task;
use crate::tasks::charlm::config::CharLmConfig;
use crate::tasks::charlm::defaults::fit_to_corpus;
use crate::tasks::charlm::objective::CharLmObjective;
use crate::tasks::charlm::windows::charlm_windows;

/// Trains the character language model.
pub fn train_charlm(cfg: &CharLmConfig, opts: &RunOptions) -> Result<Summary> {
    let corpus = data::read_corpus(&cfg.data, &cfg.corpus)?;
    train_charlm_on(&fit_to_corpus(cfg, &corpus), opts, &corpus)
}

/// Trains the character language model on a prepared corpus.
pub fn train_charlm_on(cfg: &CharLmConfig, opts: &RunOptions, corpus: &CharCorpus) -> Result<Summary> {
    let shape = cfg.shape();
    if shape.streams == 0 || cfg.window == 0 {
        return Err(Error::Config("--streams and --window must be positive".into()));
    }
    if corpus.train.len() < shape.streams + 1 {
        return Err(Error::Empty {
            path: cfg.data.clone(),
            what: format!("a training text for {} streams", shape.streams),
        });
    }
    let v = corpus.charset.len();
    let net_cfg = shape.net_config(v);
    let t = cfg.training();
    let task = Task::CharLm { charset: corpus.charset.clone() };
    let mut run = Run::start(&cfg.out, task, net_cfg, &t, train_json(cfg, &t)?, opts.resume)?;
    let mut objective = CharLmObjective {
        train: &corpus.train,
        window: cfg.window,
        random_offsets: cfg.random_offsets,
        windows: Vec::new(),
        valid: &corpus.valid,
        streams: shape.streams,
        vocab: v,
        seed: t.seed,
        state: None,
        dropout: StdRng::seed_from_u64(0),
    };
    let plan = t.plan(charlm_windows(&corpus.train, shape.streams, cfg.window).len() as u64);
    run.keep_from = plan.keep_from;
    let title =
        if cfg.corpus.start_marker.as_deref() == Some(data::HAMLET_MARKER) { "Hamlet char LM" } else { "char LM" };
    let stopped = fit(&mut run, &mut objective, &plan, opts.quiet, title)?;
    run.average(&mut objective, plan.qat_embed_bits, opts.quiet)?;
    Ok(run.summary(&stopped))
}
