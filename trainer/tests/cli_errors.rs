//! Hostile input to the CLI: each case exits non-zero with one line on
//! stderr, `error: ...`, naming the file and the problem; no panic, no
//! backtrace (even with RUST_BACKTRACE=1).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trainer-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Run the trainer; assert the one-line error and that it contains `want`.
fn fails_with(args: &[&str], want: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer")).args(args).env("RUST_BACKTRACE", "1").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: not one line:\n{stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{args:?}: {stderr}");
    for w in want {
        assert!(stderr.contains(w), "{args:?}: {stderr:?} lacks {w:?}");
    }
}

/// A valid model file of each kind: the shipped ones.
fn shipped(name: &str) -> String {
    root().join("models").join(name).to_string_lossy().into_owned()
}

#[test]
fn missing_file_and_directory() {
    fails_with(&["inspect", "/no/such/model.lstm"], &["/no/such/model.lstm", "No such file"]);
    let dir = std::env::temp_dir();
    let d = dir.to_str().unwrap();
    fails_with(&["inspect", d], &[d, "directory"]);
    fails_with(
        &["sentiment", "predict", "--model", &shipped("sentiment.lstm"), "--file", "/no/reviews.txt"],
        &["/no/reviews.txt"],
    );
}

#[test]
fn not_a_model_and_newer_version() {
    let text = scratch("text.lstm", b"just some text, not a model");
    let t = text.to_str().unwrap();
    fails_with(&["inspect", t], &[t, "not a model file"]);
    let mut bytes = std::fs::read(shipped("charlm.lstm")).unwrap();
    bytes[4] = 2;
    let newer = scratch("newer.lstm", &bytes);
    let n = newer.to_str().unwrap();
    fails_with(&["charlm", "generate", "--model", n], &[n, "format version 2", "reads version 1"]);
    let mut bytes = std::fs::read(shipped("charlm.lstm")).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    let corrupt = scratch("corrupt.lstm", &bytes);
    fails_with(&["inspect", corrupt.to_str().unwrap()], &["corrupt"]);
}

#[test]
fn model_of_the_wrong_kind() {
    let reviews = scratch("reviews.txt", b"great film\n");
    fails_with(
        &["sentiment", "predict", "--model", &shipped("charlm.lstm"), "--file", reviews.to_str().unwrap()],
        &["charlm.lstm", "character language model", "sentiment classifier is needed"],
    );
    fails_with(
        &["charlm", "generate", "--model", &shipped("sentiment.lstm")],
        &["sentiment.lstm", "language model is needed"],
    );
}

#[test]
fn bad_flag_values() {
    fails_with(
        &["charlm", "generate", "--model", &shipped("charlm.lstm"), "--temperature", "300"],
        &["--temperature", "300"],
    );
}

#[test]
fn valid_input_succeeds() {
    let reviews = scratch("ok.txt", b"a wonderful film\nawful, boring\n");
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["sentiment", "predict", "--model", &shipped("sentiment.lstm"), "--file", reviews.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().all(|l| l.ends_with(" positive") || l.ends_with(" negative")), "{text}");
}
