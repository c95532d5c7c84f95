//! Your own data on the emulated device: a four-class classifier trained
//! in this test, through the trainer's library, on the worked example's
//! data set; the Cortex-M4 under QEMU prints exactly what the host prints.
//! (Here rather than in `tests/`, so that the `tests` crate, which Miri
//! runs, does not build dfdx.)

use std::path::Path;

use tools::firmware::{self, Board, Models};
use trainer::fit::RunOptions;
use trainer::tasks::classify::{self as train, ClassifierConfig};
use trainer::{export, net};

/// A four-class classifier trained here, through the trainer's library,
/// on the worked example's data (`examples/voice-commands.csv`, seconds):
/// the device prints exactly what the host prints, class names included,
/// on the test texts and on texts it has not seen.
#[test]
fn a_classifier_trained_here_on_own_data_matches_the_host() {
    firmware::require_qemu();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/voice-commands.csv");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu-own-data");
    std::fs::create_dir_all(&scratch).unwrap();
    let out = scratch.join("run");
    let model = scratch.join("voice-commands.lstm");
    let cfg = ClassifierConfig::from_flags(&[
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--hidden",
        "24",
        "--embed-dim",
        "12",
    ])
    .expect("flags");
    let d = train::classifier_data(&cfg, true).expect("data");
    assert_eq!(d.classes, ["lights", "music", "timer", "weather"]);
    let (words, train, valid) = train::classifier_examples(&cfg, &d).expect("examples");
    let quiet = RunOptions { quiet: true, ..Default::default() };
    let summary = train::train_classifier_on(&cfg, &quiet, &words, &d.classes, &train, &valid, None).expect("trains");
    let ckpt = net::Checkpoint::load(&summary.best).expect("checkpoint");
    let calib = export::classifier_calibration(&d.calibration, &ckpt.meta.task);
    let bytes = export::write_model(&ckpt, &summary.best, &calib, host::Bits::INT8, &model).expect("exports");
    assert_eq!(runtime::Model::from_bytes(&bytes).expect("model").header.outputs, 4);

    let mut text = String::new();
    for t in &d.test {
        text.push_str(&t.text.replace('\n', " "));
        text.push('\n');
    }
    text.push_str("dim the lights in the attic\nput on some opera\nwill it hail in rome\nwake me at six\n");
    let texts = scratch.join("texts.txt");
    std::fs::write(&texts, &text).expect("writing the texts");
    let m4 = Board::Mps2An386;
    let elf =
        firmware::build(m4, Models { classifier: Some(&model), charlm: None }).unwrap_or_else(|e| panic!("{e:#}"));
    let device = firmware::run_qemu(m4, &elf, &format!("classify {}", texts.display()), &[])
        .unwrap_or_else(|e| panic!("{e:#}"))
        .stdout;
    let host = host::run::predict_lines(&bytes, text.as_bytes(), false).expect("host");
    assert_eq!(String::from_utf8_lossy(&device), host, "the device printed other bytes than the host");
    let right =
        host.lines().zip(&d.test).filter(|(line, t)| line.ends_with(&format!(" {}", d.classes[t.class]))).count();
    assert!(right * 10 >= d.test.len() * 9, "{right} of {} test texts right", d.test.len());
    assert_eq!(host.lines().count(), d.test.len() + 4);
}
