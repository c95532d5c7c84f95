//! Training a classifier: its data read once, its network, the shared
//! loop; the best weights' figures on the test part.

use std::path::Path;

use dfdx::prelude::*;
use host::Words;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::baseline::{Baseline, Teacher};
use crate::data::labelled::{self, InputFormat};
use crate::data::{self, Example, Text};
use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::fit::{fit, train_json, Run, RunOptions, Summary};
use crate::net::{Checkpoint, Task};
use crate::tasks::classify::batches::batches_per_epoch;
use crate::tasks::classify::config::ClassifierConfig;
use crate::tasks::classify::data::{classifier_data, classifier_examples};
use crate::tasks::classify::defaults::fit_to_data;
use crate::tasks::classify::objective::{class_outputs, evaluate_classifier, ClassifierObjective};

/// Trains a classifier on `cfg.data` (validation carved out of it unless
/// given).
pub fn train_classifier(cfg: &ClassifierConfig, opts: &RunOptions) -> Result<Summary> {
    let d = classifier_data(cfg, false)?;
    let cfg = fit_to_data(cfg, &d);
    let (words, train, valid) = classifier_examples(&cfg, &d)?;
    train_classifier_on(&cfg, opts, &words, &d.classes, &train, &valid, None)
}

/// Trains a classifier of `classes` on already tokenized data (tokenized
/// with `words` and `cfg.max_tokens`). With `--distill`, `teacher` is the
/// bag-of-words model fitted on `train` ([`Baseline::fit`]; fitted here
/// when not given).
pub fn train_classifier_on(
    cfg: &ClassifierConfig,
    opts: &RunOptions,
    words: &Words,
    classes: &[String],
    train: &[Example],
    valid: &[Example],
    teacher: Option<&Teacher>,
) -> Result<Summary> {
    if cfg.batch == 0 {
        return Err(Error::Config("--batch must be positive".into()));
    }
    let sizes = cfg.sizes();
    if !(0.0..1.0).contains(&sizes.word_dropout) {
        return Err(Error::Config(format!("--word-dropout {} is not in [0, 1)", sizes.word_dropout)));
    }
    if !(0.0..=1.0).contains(&sizes.distill) {
        return Err(Error::Config(format!("--distill {} is not in [0, 1]", sizes.distill)));
    }
    let t = cfg.training();
    let task = Task::Classifier { words: words.clone(), max_tokens: cfg.max_tokens, classes: classes.to_vec() };
    let net_cfg = cfg.net_config(words.vocab_size() as usize, class_outputs(classes.len()));
    let mut run = Run::start(&cfg.out, task, net_cfg, &t, train_json(cfg, &t)?, opts.resume)?;
    let mut objective = ClassifierObjective {
        outputs: class_outputs(classes.len()),
        train,
        valid,
        batch: cfg.batch,
        seed: t.seed,
        batches: Vec::new(),
        dropout: StdRng::seed_from_u64(0),
        word_dropout: sizes.word_dropout,
        words: StdRng::seed_from_u64(0),
        teacher: None,
    };
    let fitted;
    if sizes.distill > 0.0 {
        let t = match teacher {
            Some(t) => t,
            None => {
                fitted = Baseline::fit(train, valid, &[], classes.len()).1;
                &fitted
            }
        };
        objective.teacher = Some((t, sizes.distill));
    }
    let plan = t.plan(batches_per_epoch(train.len(), cfg.batch) as u64);
    run.keep_from = plan.keep_from;
    let title = if labelled::resolve(&cfg.data, cfg.input.format)? == InputFormat::Imdb {
        "IMDb sentiment".to_owned()
    } else {
        format!("{}-class text classifier", classes.len())
    };
    let stopped = fit(&mut run, &mut objective, &plan, opts.quiet, &title)?;
    run.average(&mut objective, plan.qat_embed_bits, opts.quiet)?;
    Ok(run.summary(&stopped))
}

/// Evaluates a classifier checkpoint on `reviews` (the test part) with the
/// checkpoint's own tokenizer settings; writes `test.json` beside it.
/// Returns (loss, accuracy).
pub fn evaluate_classifier_test(ckpt_path: &Path, reviews: &[Text]) -> Result<(f64, f64)> {
    let ckpt = Checkpoint::load(ckpt_path)?;
    let Task::Classifier { words, max_tokens, .. } = ckpt.meta.task.clone() else {
        return Err(Error::BadCheckpoint { path: ckpt_path.to_owned(), reason: "not a classifier".into() });
    };
    let examples = data::examples(reviews, &words, max_tokens);
    let net = ckpt.network(&Cpu::default())?;
    let (loss, acc) = evaluate_classifier(&net, &examples, 250);
    let json = serde_json::json!({
        "checkpoint": ckpt_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "split": "test",
        "reviews": examples.len(),
        "loss": loss,
        "accuracy": acc,
    });
    let out = ckpt_path.with_file_name("test.json");
    write_atomic(&out, serde_json::to_string_pretty(&json).expect("serializes").as_bytes())?;
    Ok((loss, acc))
}
