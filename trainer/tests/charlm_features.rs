//! The language model's training features on a tiny corpus (seconds, no
//! data set): a cosine schedule to a floor, random window offsets each
//! epoch, an exponential moving average of the weights that is what
//! validation reads and `best.ckpt` keeps, resumable like the rest;
//! DropConnect on the recurrent weights; fine-tuning from `--init` with
//! quantization-aware training on the exporter's 4-bit grid.

mod common;

use trainer::data::{CharCorpus, CorpusArgs};
use trainer::fit::{LrSchedule, RunOptions, TrainOptions};
use trainer::net::Checkpoint;
use trainer::tasks::charlm::{self as train, CharLmConfig};

const TEXT: &str = "to be or not to be that is the question whether tis nobler in the mind\n";

fn corpus() -> CharCorpus {
    CharCorpus::from_text(TEXT.repeat(25).as_bytes(), 0.9, 128)
}

/// A configuration of all three features; the text is written beside the
/// run (the metrics name the data file by its hash).
fn cfg(out: &std::path::Path, epochs: usize) -> CharLmConfig {
    let data = out.with_extension("txt");
    std::fs::write(&data, TEXT.repeat(25)).unwrap();
    CharLmConfig {
        data,
        corpus: CorpusArgs::default(),
        out: out.to_owned(),
        streams: Some(4),
        window: 10,
        embed_dim: Some(4),
        hidden: Some(8),
        layers: Some(1),
        dropout: Some(0.1),
        opts: TrainOptions {
            lr: Some(1e-2),
            schedule: Some(LrSchedule::Cosine),
            warmup: Some(5),
            lr_floor: Some(1e-3),
            ema: Some(0.9),
            epochs: Some(epochs),
            patience: Some(100),
            seed: Some(3),
            ..TrainOptions::default()
        },
        random_offsets: true,
        chosen: None,
    }
}

/// `c` with its options changed by `f`.
fn with(mut c: CharLmConfig, f: impl FnOnce(&mut TrainOptions)) -> CharLmConfig {
    f(&mut c.opts);
    c
}

fn quiet() -> RunOptions {
    RunOptions { quiet: true, ..Default::default() }
}

#[test]
fn the_average_is_validated_kept_and_resumed() {
    let c = corpus();
    let straight = common::temp_dir("ema-straight");
    let s = train::train_charlm_on(&cfg(&straight, 3), &quiet(), &c).unwrap();
    let best = Checkpoint::load(&straight.join("best.ckpt")).unwrap();
    let ema = Checkpoint::load(&straight.join(trainer::fit::EMA)).unwrap();
    let raw = Checkpoint::load(&straight.join("checkpoint.ckpt")).unwrap();
    // The kept weights are the average, not the last step's.
    assert!(ema.params != raw.params, "the average equals the raw weights");
    if s.best_epoch == 3 {
        assert!(best.params == ema.params);
    }
    // The validation loss recorded is the average's: recompute it.
    let net = best.network(&dfdx::prelude::Cpu::default()).unwrap();
    let loss = train::evaluate_charlm(&net, &c.valid, 2000);
    assert!((loss - s.best_val_loss).abs() < 1e-9, "{loss} vs {}", s.best_val_loss);

    // Two epochs, then a resumed third, equal the same three in one go
    // (at a constant rate: a cosine spans the epochs asked for).
    let constant = |out: &std::path::Path, epochs| with(cfg(out, epochs), |o| o.schedule = Some(LrSchedule::Constant));
    let one_go = common::temp_dir("ema-one-go");
    train::train_charlm_on(&constant(&one_go, 3), &quiet(), &c).unwrap();
    let resumed = common::temp_dir("ema-resumed");
    train::train_charlm_on(&constant(&resumed, 2), &quiet(), &c).unwrap();
    let opts = RunOptions { resume: true, quiet: true };
    train::train_charlm_on(&constant(&resumed, 3), &opts, &c).unwrap();
    for f in [trainer::fit::EMA, "checkpoint.ckpt", "best.ckpt"] {
        let a = Checkpoint::load(&resumed.join(f)).unwrap();
        let b = Checkpoint::load(&one_go.join(f)).unwrap();
        assert!(a.params == b.params, "{f} differs after resume");
    }
    let _ = std::fs::remove_dir_all(&one_go);
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&resumed);
}

#[test]
fn random_offsets_move_the_windows_and_change_the_run() {
    let c = corpus();
    let with = common::temp_dir("offsets-on");
    let without = common::temp_dir("offsets-off");
    train::train_charlm_on(&cfg(&with, 2), &quiet(), &c).unwrap();
    train::train_charlm_on(&CharLmConfig { random_offsets: false, ..cfg(&without, 2) }, &quiet(), &c).unwrap();
    let a = Checkpoint::load(&with.join("checkpoint.ckpt")).unwrap();
    let b = Checkpoint::load(&without.join("checkpoint.ckpt")).unwrap();
    assert!(a.params != b.params, "offsets changed nothing");
    // Seeded: the same run twice gives the same weights.
    let again = common::temp_dir("offsets-again");
    train::train_charlm_on(&cfg(&again, 2), &quiet(), &c).unwrap();
    assert!(Checkpoint::load(&again.join("checkpoint.ckpt")).unwrap().params == a.params);
    for d in [with, without, again] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn dropconnect_changes_the_run_and_is_seeded() {
    let c = corpus();
    let plain = common::temp_dir("wd-off");
    let dropped = common::temp_dir("wd-on");
    let again = common::temp_dir("wd-again");
    let wd = |out: &std::path::Path| with(cfg(out, 2), |o| o.weight_drop = Some(0.3));
    train::train_charlm_on(&cfg(&plain, 2), &quiet(), &c).unwrap();
    train::train_charlm_on(&wd(&dropped), &quiet(), &c).unwrap();
    train::train_charlm_on(&wd(&again), &quiet(), &c).unwrap();
    let params = |d: &std::path::Path| Checkpoint::load(&d.join("checkpoint.ckpt")).unwrap().params;
    assert!(params(&plain) != params(&dropped), "DropConnect changed nothing");
    assert!(params(&dropped) == params(&again), "DropConnect is not seeded");
    let bad = common::temp_dir("wd-bad");
    let err = train::train_charlm_on(&with(cfg(&bad, 1), |o| o.weight_drop = Some(1.0)), &quiet(), &c).unwrap_err();
    assert!(err.to_string().contains("--weight-drop 1 is not in [0, 1)"), "{err}");
    for d in [plain, dropped, again, bad] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn init_and_qat_fine_tune_on_the_export_grid() {
    use trainer::fit::LrSchedule::Constant;
    let c = corpus();
    let base = common::temp_dir("qat-base");
    train::train_charlm_on(&with(cfg(&base, 3), |o| o.ema = None), &quiet(), &c).unwrap();
    let best = base.join("best.ckpt");
    // A quantization-aware run from those weights at a negligible rate:
    // its validation is the initial weights read on the 4-bit grid.
    let qat = common::temp_dir("qat-run");
    let fine = with(cfg(&qat, 1), |o| {
        o.init = Some(best.clone());
        o.qat_lstm_bits = Some(4);
        o.lr = Some(1e-12);
        o.schedule = Some(Constant);
        o.warmup = None;
        o.ema = None;
    });
    let s = train::train_charlm_on(&fine, &quiet(), &c).unwrap();
    let ckpt = Checkpoint::load(&best).unwrap();
    let net = ckpt.network(&dfdx::prelude::Cpu::default()).unwrap();
    let float = train::evaluate_charlm(&net, &c.valid, 2000);
    let mut on_grid = net.clone();
    on_grid.lstm_quant = Some(4);
    let fake = train::evaluate_charlm(&on_grid, &c.valid, 2000);
    assert!((s.best_val_loss - fake).abs() < 1e-4, "QAT validated {} vs {fake} on the grid", s.best_val_loss);
    assert!((fake - float).abs() > 1e-4, "the 4-bit grid changed nothing ({fake} vs {float})");
    // The exported 4-bit integer model is what the fake quantization saw.
    let calib = trainer::export::charlm_calibration(&c);
    let bits = host::Bits { embed: 8, lstm: 4 };
    let bytes = trainer::export::quantize_checkpoint(&ckpt, &best, &calib, bits).unwrap();
    let int = trainer::eval::charlm_on(&best, &bytes, &c, None).unwrap().val_nats.unwrap();
    assert!((int - fake).abs() < 0.02, "integer {int} vs fake-quantized {fake}");
    // --init needs the same shape.
    let other = common::temp_dir("qat-other");
    let err = train::train_charlm_on(
        &CharLmConfig { hidden: Some(9), ..with(cfg(&other, 1), |o| o.init = Some(best)) },
        &quiet(),
        &c,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--init needs the same network"), "{err}");
    for d in [base, qat, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}
