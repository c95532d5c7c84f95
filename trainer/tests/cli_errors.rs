//! Hostile input to the CLI: each case exits non-zero with one line on
//! stderr, `error: ...`, naming the file and the problem; no panic, no
//! backtrace (even with RUST_BACKTRACE=1).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

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
    let v = runtime::format::VERSION;
    bytes[4..6].copy_from_slice(&(v + 1).to_le_bytes());
    let newer = scratch("newer.lstm", &bytes);
    let n = newer.to_str().unwrap();
    let (found, reads) = (format!("format version {}", v + 1), format!("reads versions 1 to {v}"));
    fails_with(&["charlm", "generate", "--model", n], &[n, &found, &reads]);
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
        &["charlm.lstm", "character language model", "text classifier is needed"],
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

/// `charlm train` of a tiny model on `text` (written to `name`), into the
/// folder beside it, with `extra` flags; its output.
fn train_tiny_charlm(name: &str, text: &str, extra: &[&str]) -> (PathBuf, std::process::Output) {
    let data = scratch(name, text.as_bytes());
    let out = data.with_file_name(format!("{name}-run"));
    let output = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["charlm", "train", "--quiet", "--start-offset", "0", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(["--streams", "4", "--window", "10", "--hidden", "8"])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (out, output)
}

/// A real (tiny) language-model checkpoint, trained here in a second.
fn charlm_checkpoint() -> PathBuf {
    let text = "to be or not to be that is the question\n".repeat(40);
    train_tiny_charlm("tiny.txt", &text, &["--epochs", "1"]).0.join("best.ckpt")
}

/// train, export and eval of both tasks, each given each kind of bad input.
#[test]
fn train_export_eval_hostile_inputs() {
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let broken = s(&scratch("broken.tar.gz", b"this is not gzip"));
    let non_utf8_tar = scratch("non-utf8.tar.gz", b"");
    common::write_archive(&non_utf8_tar, &[("aclImdb/train/pos/1_9.txt", b"caf\xe9 au lait")]);
    let non_utf8_tar = s(&non_utf8_tar);
    let empty_tar = scratch("empty.tar.gz", b"");
    common::write_archive(&empty_tar, &[("aclImdb/README", b"no reviews")]);
    let empty_tar = s(&empty_tar);
    let non_utf8_txt = s(&scratch("non-utf8.txt", b"The Tragedie of Hamlet \xff\xfe"));
    let empty_txt = s(&scratch("empty.txt", b""));
    let empty_dir = std::env::temp_dir().join(format!("trainer-cli-empty-dir-{}", std::process::id()));
    std::fs::create_dir_all(&empty_dir).unwrap();
    let empty_dir = s(&empty_dir);
    let garbage = s(&scratch("garbage.ckpt", b"not a checkpoint at all"));
    let mut newer = std::fs::read(shipped("sentiment.lstm")).unwrap();
    newer[4] = 9;
    let newer = s(&scratch("newer9.lstm", &newer));
    let ckpt = s(&charlm_checkpoint());
    let out = s(&std::env::temp_dir().join(format!("trainer-cli-out-{}.lstm", std::process::id())));
    let missing = "/no/such/data.tar.gz";

    let cases: &[(&[&str], &[&str])] = &[
        // sentiment train: missing, directory without reviews, broken, non-UTF-8, empty
        (&["sentiment", "train", "--data", missing], &[missing]),
        (&["sentiment", "train", "--data", &empty_dir], &[&empty_dir]),
        (&["sentiment", "train", "--data", &broken], &[&broken]),
        (&["sentiment", "train", "--data", &non_utf8_tar], &[&non_utf8_tar, "UTF-8"]),
        (&["sentiment", "train", "--data", &empty_tar], &[&empty_tar]),
        // charlm train: missing, directory, non-UTF-8, empty
        (&["charlm", "train", "--data", missing], &[missing]),
        (&["charlm", "train", "--data", &empty_dir], &[&empty_dir, "directory"]),
        (&["charlm", "train", "--data", &non_utf8_txt], &[&non_utf8_txt, "UTF-8"]),
        (&["charlm", "train", "--data", &empty_txt], &[&empty_txt]),
        // export: missing, garbage or wrong-kind checkpoint; bad calibration data
        (&["charlm", "export", "--checkpoint", missing, "--data", &empty_txt, "--out", &out], &[missing]),
        (&["charlm", "export", "--checkpoint", &garbage, "--data", &empty_txt, "--out", &out], &[&garbage]),
        (
            &["sentiment", "export", "--checkpoint", &ckpt, "--data", &broken, "--out", &out],
            &[&ckpt, "text classifier is needed"],
        ),
        (&["charlm", "export", "--checkpoint", &ckpt, "--data", &non_utf8_txt, "--out", &out], &[&non_utf8_txt]),
        (&["charlm", "export", "--checkpoint", &ckpt, "--data", &empty_dir, "--out", &out], &[&empty_dir]),
        // eval: wrong kind, newer version, directory, bad data
        (&["sentiment", "eval", "--model", &shipped("charlm.lstm"), "--data", &broken], &["charlm.lstm"]),
        (&["charlm", "eval", "--model", &shipped("sentiment.lstm"), "--data", &empty_txt], &["sentiment.lstm"]),
        (&["sentiment", "eval", "--model", &newer, "--data", &broken], &[&newer, "version 9"]),
        (&["charlm", "eval", "--model", &empty_dir, "--data", &empty_txt], &[&empty_dir]),
        (&["sentiment", "eval", "--model", &shipped("sentiment.lstm"), "--data", &broken], &[&broken]),
        (&["sentiment", "eval", "--model", &shipped("sentiment.lstm"), "--data", &empty_tar], &[&empty_tar]),
        (&["charlm", "eval", "--model", &shipped("charlm.lstm"), "--data", &non_utf8_txt], &[&non_utf8_txt]),
        (&["charlm", "eval", "--model", &shipped("charlm.lstm"), "--data", missing], &[missing]),
    ];
    for (args, want) in cases {
        fails_with(args, want);
    }
    assert!(!Path::new(&out).exists(), "a failed export left {out}");
}

/// Each flag shows in the help of the commands it applies to, and says
/// what the code does.
#[test]
fn help_shows_each_flag_where_it_applies() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_trainer")).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?} --help");
        String::from_utf8(out.stdout).unwrap()
    };
    let charlm = help(&["charlm", "train"]);
    assert!(!charlm.contains("eval-test") && !charlm.contains("Sentiment"), "{charlm}");
    assert!(charlm.contains("--start-marker <TEXT>") && charlm.contains("--gutenberg"), "{charlm}");
    assert!(charlm.contains("--max-chars"), "{charlm}");
    for flag in
        ["--schedule <SCHEDULE>", "--warmup <WARMUP>", "--lr-floor <LR_FLOOR>", "--random-offsets", "--ema <EMA>"]
    {
        assert!(charlm.contains(flag), "{flag} missing from:\n{charlm}");
    }
    assert!(charlm.contains("--export <FILE>"), "{charlm}");
    let sentiment = help(&["sentiment", "train"]);
    assert!(sentiment.contains("--eval-test") && sentiment.contains("--export <FILE>"), "{sentiment}");
    assert!(sentiment.contains("[possible values: last, mean-max]"), "{sentiment}");
    // The classifier's help says what each data format must look like.
    for format in ["CSV (.csv)", "JSON Lines", "class folders", "RFC 4180", "file:line:column"] {
        assert!(sentiment.contains(format), "{format} missing from:\n{sentiment}");
    }
    assert_eq!(sentiment, help(&["classify", "train"]), "sentiment is the same command");
}

/// The sample `charlm train` prints is the integer model's: exactly what
/// `charlm generate` prints for the exported file with the flags it names
/// (and so what the firmware prints).
#[test]
fn the_sample_after_training_is_the_integer_models() {
    let text = "to be or not to be that is the question\nwhether tis nobler in the mind\n".repeat(30);
    let model = scratch("sample.lstm", b"");
    let model_arg = model.to_str().unwrap();
    let (_, trained) = train_tiny_charlm("sample.txt", &text, &["--epochs", "2", "--seed", "7", "--export", model_arg]);
    let stdout = String::from_utf8(trained.stdout).unwrap();
    let sample = stdout.split_once("prints the same):\n").map(|(_, s)| s).expect("a sample").trim_end_matches('\n');
    let generated = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["charlm", "generate", "--prime", "The ", "--len", "300", "--seed", "7", "--top-k", "5", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).unwrap();
    assert_eq!(sample, generated.trim_end_matches('\n'));
    assert_eq!(sample.len(), 4 + 300, "{sample:?}");
}
