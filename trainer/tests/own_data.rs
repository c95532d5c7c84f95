//! Your own data: each labelled input format reads to the same data set;
//! each kind of bad row is one `file:line:column` error line and nothing
//! is written; a 2-class and a 4-class classifier go train → export →
//! eval → predict through the CLI; a corpus without a Gutenberg header
//! trains a language model, and one with a header is stripped on request;
//! on classes that share most of their words, the defaults chosen from the
//! data beat the majority class.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trainer::data::labelled::{self, InputArgs, InputFormat};
use trainer::data::Split;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trainer-own-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = trainer(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The same five rows in each format: quotes, commas, a line break inside
/// a quoted field, non-ASCII text.
const ROWS: [(&str, &str); 5] = [
    ("turn on the lights", "lights"),
    ("play \"jazz\", loudly", "music"),
    ("what's the weather\nin Zürich?", "weather"),
    ("lights off", "lights"),
    ("skip this song", "music"),
];

#[test]
fn every_format_reads_the_same_data_set() {
    let d = dir("formats");
    let csv_field = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
    // CSV with a BOM, CRLF line ends, an extra column, the columns reversed.
    let mut csv = String::from("\u{feff}label,id,text\r\n");
    for (i, (t, l)) in ROWS.iter().enumerate() {
        csv.push_str(&format!("{l},{i},{}\r\n", csv_field(t)));
    }
    std::fs::write(d.join("a.csv"), csv).unwrap();
    let mut tsv = String::from("text\tlabel\n");
    for (t, l) in ROWS {
        tsv.push_str(&format!("{}\t{l}\n", csv_field(t)));
    }
    std::fs::write(d.join("a.tsv"), tsv).unwrap();
    let mut jsonl = String::new();
    for (t, l) in ROWS {
        jsonl.push_str(&serde_json::json!({ "label": l, "text": t }).to_string());
        jsonl.push_str("\n\n");
    }
    std::fs::write(d.join("a.jsonl"), jsonl).unwrap();
    let folders = d.join("folders");
    for (i, (t, l)) in ROWS.iter().enumerate() {
        std::fs::create_dir_all(folders.join(l)).unwrap();
        std::fs::write(folders.join(l).join(format!("{i}.txt")), t).unwrap();
    }
    std::fs::write(folders.join(".hidden"), "not a class").unwrap();

    let input = InputArgs::default();
    let mut expected: Vec<(String, String)> = ROWS.iter().map(|(t, l)| (t.to_string(), l.to_string())).collect();
    expected.sort();
    for path in [d.join("a.csv"), d.join("a.tsv"), d.join("a.jsonl"), folders.clone()] {
        let set = labelled::read(&path, &input, None, Split::Train).unwrap();
        assert_eq!(set.classes, ["lights", "music", "weather"], "{}", path.display());
        let mut got: Vec<(String, String)> =
            set.texts.iter().map(|t| (t.text.clone(), set.classes[t.class].clone())).collect();
        got.sort();
        assert_eq!(got, expected, "{}", path.display());
    }
    // Columns by other names, and a format named where the name says none.
    std::fs::write(d.join("b.txt"), "utterance,intent\nlights on,lights\nplay,music\n").unwrap();
    let named = InputArgs { format: InputFormat::Csv, text_column: "utterance".into(), label_column: "intent".into() };
    let set = labelled::read(&d.join("b.txt"), &named, None, Split::Train).unwrap();
    assert_eq!((set.classes.len(), set.texts.len()), (2, 2));
    let _ = std::fs::remove_dir_all(&d);
}

/// `classify train` on a bad file: exit 1, each bad row one line naming
/// file:line:column, and no output directory or model file.
#[test]
fn each_bad_row_is_one_error_line_and_nothing_is_written() {
    let d = dir("bad");
    let good = "text,label\nlights on,lights\nplay music,music\nlights off,lights\nnext song,music\n";
    std::fs::write(d.join("good.csv"), good).unwrap();
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("nocol.csv", b"words,label\nhi,a\n", &["nocol.csv:1:1: the header has no column \"text\""]),
        ("short.csv", b"text,label\nhi,a\nonly text\nyo,b\n", &["short.csv:3:2: no \"label\" field"]),
        ("empty.csv", b"text,label\nhi,a\n  ,b\n", &["empty.csv:3:1: empty text"]),
        ("utf8.csv", b"text,label\nhi,a\ncaf\xe9,b\n", &["utf8.csv:3:4: not valid UTF-8"]),
        (
            "two.jsonl",
            b"{\"text\": \"hi\", \"label\": \"a\"}\n{\"text\": \"x\"}\n{\"text\": \"\", \"label\": \"b\"}\n",
            &["two.jsonl:2:1: no \"label\" field", "two.jsonl:3:2: empty text"],
        ),
        ("json.jsonl", b"{\"text\": \"hi\", \"label\": \"a\"}\n{\"text\": oops}\n", &["json.jsonl:2:10: not JSON"]),
    ];
    for (name, bytes, want) in cases {
        let file = d.join(name);
        std::fs::write(&file, bytes).unwrap();
        let out_dir = d.join(format!("{name}-run"));
        let model = d.join(format!("{name}.lstm"));
        let out = trainer(&["classify", "train", "--data", s(&file), "--out", s(&out_dir), "--export", s(&model)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), want.len(), "{name}: one line a bad row:\n{stderr}");
        for (line, w) in lines.iter().zip(want.iter()) {
            assert!(line.starts_with("error: ") && line.contains(w), "{name}: {line:?} lacks {w:?}");
            assert!(line.contains(s(&d)), "{name}: {line:?} does not name the file");
        }
        assert!(lines.last().unwrap().ends_with("(nothing was written)"), "{stderr}");
        assert!(!out_dir.exists() && !model.exists(), "{name}: something was written");
    }
    // A validation file with a label the training data does not have.
    let valid = d.join("valid.csv");
    std::fs::write(&valid, "text,label\nlights on,lights\nweather?,weather\n").unwrap();
    let out_dir = d.join("valid-run");
    let out =
        trainer(&["classify", "train", "--data", s(&d.join("good.csv")), "--valid", s(&valid), "--out", s(&out_dir)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("valid.csv:3:2: label \"weather\" is not one of the model's classes (lights, music)"),
        "{stderr}"
    );
    assert!(!out_dir.exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// The shipped worked example, in `examples/`.
fn voice_commands() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/voice-commands.csv")
}

#[test]
fn four_classes_train_export_eval_predict() {
    let d = dir("four");
    let model = d.join("model.lstm");
    let run = d.join("run");
    let stdout = ok(&[
        "classify",
        "train",
        "--quiet",
        "--data",
        s(&voice_commands()),
        "--out",
        s(&run),
        "--export",
        s(&model),
        "--hidden",
        "24",
        "--embed-dim",
        "12",
    ]);
    assert!(stdout.contains("test accuracy, integer model:"), "{stdout}");
    let eval: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(eval["classes"], serde_json::json!(["lights", "music", "timer", "weather"]));
    let acc = eval["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "test accuracy {acc}");
    let confusion = eval["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 4);
    // Evaluating the test texts again gives the same figure.
    let texts = run.join("test-texts.txt");
    let labels = std::fs::read_to_string(run.join("test-labels.txt")).unwrap();
    let predicted = ok(&["classify", "predict", "--model", s(&model), "--file", s(&texts)]);
    let right = predicted.lines().zip(labels.lines()).filter(|(p, l)| p.ends_with(&format!(" {l}"))).count();
    assert_eq!(right as f64 / labels.lines().count() as f64, acc);
    // --all: every class with its probability, summing to about 1.
    let all = ok(&["classify", "predict", "--all", "--model", s(&model), "--file", s(&texts)]);
    for line in all.lines() {
        let (_, probs) = line.split_once('\t').unwrap();
        let sum: f64 = probs.split(' ').map(|kv| kv.split_once('=').unwrap().1.parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 0.002, "{line}");
        assert_eq!(probs.split(' ').count(), 4);
    }
    let inspect = ok(&["inspect", s(&model)]);
    assert!(inspect.contains("lights, music, timer, weather"), "{inspect}");
    // export from the checkpoint gives the same file; eval of the CSV reads it.
    let again = d.join("again.lstm");
    ok(&[
        "classify",
        "export",
        "--checkpoint",
        s(&run.join("best.ckpt")),
        "--data",
        s(&voice_commands()),
        "--out",
        s(&again),
    ]);
    let whole = ok(&["classify", "eval", "--model", s(&again), "--data", s(&voice_commands()), "--json"]);
    assert!(whole.contains("over 600 texts"), "{whole}");
    // The figures do not depend on the evaluation's threads.
    let one = ok(&["classify", "eval", "-j", "1", "--model", s(&again), "--data", s(&voice_commands()), "--json"]);
    let three = ok(&["classify", "eval", "-j", "3", "--model", s(&again), "--data", s(&voice_commands()), "--json"]);
    assert_eq!(one, whole);
    assert_eq!(three, whole);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn two_classes_from_json_lines_use_the_sigmoid_head() {
    let d = dir("two");
    let mut jsonl = String::new();
    for line in std::fs::read_to_string(voice_commands()).unwrap().lines().skip(1) {
        let (text, label) = line.rsplit_once(',').unwrap();
        if label == "lights" || label == "music" {
            let text = text.trim_matches('"').replace("\"\"", "\"");
            jsonl.push_str(&format!("{}\n", serde_json::json!({ "text": text, "label": label })));
        }
    }
    std::fs::write(d.join("two.jsonl"), jsonl).unwrap();
    let model = d.join("two.lstm");
    let stdout = ok(&[
        "classify",
        "train",
        "--quiet",
        "--data",
        s(&d.join("two.jsonl")),
        "--out",
        s(&d.join("run")),
        "--export",
        s(&model),
        "--hidden",
        "16",
        "--embed-dim",
        "8",
    ]);
    assert!(stdout.contains("test accuracy"), "{stdout}");
    let bytes = std::fs::read(&model).unwrap();
    let m = runtime::Model::from_bytes(&bytes).unwrap();
    assert_eq!((m.header.outputs, m.classes()), (1, 2));
    let names: Vec<&str> = m.class_names().iter().collect();
    assert_eq!(names, ["lights", "music"]);
    std::fs::write(d.join("two.txt"), "turn on the kitchen lights\nplay some jazz\n").unwrap();
    let p = ok(&["classify", "predict", "--model", s(&model), "--file", s(&d.join("two.txt"))]);
    assert!(p.lines().next().unwrap().ends_with(" lights") && p.lines().nth(1).unwrap().ends_with(" music"), "{p}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_corpus_without_a_gutenberg_header_and_one_with() {
    let d = dir("corpus");
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(30);
    std::fs::write(d.join("plain.txt"), &text).unwrap();
    let run = d.join("run");
    let stdout = ok(&[
        "charlm",
        "train",
        "--quiet",
        "--data",
        s(&d.join("plain.txt")),
        "--out",
        s(&run),
        "--export",
        s(&d.join("plain.lstm")),
        "--streams",
        "4",
        "--window",
        "10",
        "--hidden",
        "8",
        "--epochs",
        "2",
    ]);
    assert!(stdout.contains("nats/char"), "{stdout}");
    // A directory of files, with a header stripped by --gutenberg.
    let books = d.join("books");
    std::fs::create_dir_all(&books).unwrap();
    let header = "Project Gutenberg header ZZZZ\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n";
    std::fs::write(books.join("a.txt"), format!("{header}{text}*** END OF THE PROJECT GUTENBERG EBOOK X ***\nQQQQ"))
        .unwrap();
    std::fs::write(books.join("b.txt"), &text).unwrap();
    let corpus = trainer::data::CorpusArgs { gutenberg: true, ..Default::default() };
    let c = trainer::data::read_corpus(&books, &corpus).unwrap();
    assert!(!c.charset.contains(&b'Z') && !c.charset.contains(&b'Q'), "the header or footer was kept");
    let e = trainer(&["charlm", "train", "--gutenberg", "--data", s(&d.join("plain.txt")), "--out", s(&d.join("x"))]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && stderr.contains("*** START OF"), "{stderr}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A set that is not separable by construction: three classes (half, a
/// third and a sixth of the texts) whose texts draw most of their words
/// from one shared vocabulary: a tenth of each text from 25 words of its
/// class, the rest from all 400.
/// With the defaults chosen from the data, the exported integer model is
/// above the majority class on the carved test part, and the run
/// records what it chose and the baselines beside it.
#[test]
fn overlapping_classes_with_the_defaults_beat_the_majority() {
    let d = dir("overlap");
    let mut rng = runtime::Rng::new(11);
    let mut pick = |n: u64| (rng.next_u64() % n) as usize;
    let words: Vec<String> = (0..400).map(|i| format!("w{i}")).collect();
    let mut csv = String::from("text,label\n");
    for i in 0..720 {
        let class = [0, 0, 0, 1, 1, 2][i % 6];
        let text: Vec<&str> = (0..16)
            .map(|_| if pick(20) < 2 { &words[class * 25 + pick(25)] } else { &words[pick(400)] })
            .map(String::as_str)
            .collect();
        csv.push_str(&format!("{},c{class}\n", text.join(" ")));
    }
    std::fs::write(d.join("overlap.csv"), csv).unwrap();
    let run = d.join("run");
    let stdout = ok(&[
        "classify",
        "train",
        "--quiet",
        "--data",
        s(&d.join("overlap.csv")),
        "--out",
        s(&run),
        "--export",
        s(&d.join("m.lstm")),
    ]);
    assert!(stdout.contains("baselines on the same split: majority class (c0)"), "{stdout}");
    let eval: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval.json")).unwrap()).unwrap();
    let (acc, majority) =
        (eval["accuracy"].as_f64().unwrap(), eval["baseline"]["majority_test_accuracy"].as_f64().unwrap());
    let tfidf = eval["baseline"]["tfidf_test_accuracy"].as_f64().unwrap();
    eprintln!("overlapping classes: integer model {acc:.4}, majority {majority:.4}, tf-idf + LR {tfidf:.4}");
    assert!((majority - 0.5).abs() < 0.02, "the test carve keeps the class shares: {majority}");
    // A model that learnt nothing predicts c0 for every text: the majority exactly.
    assert!(acc > majority + 0.05, "the integer model {acc} is not above the majority class {majority}");
    assert!(tfidf > majority && tfidf < 1.0, "the set is learnable and not separable: tf-idf {tfidf}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("metrics.json")).unwrap()).unwrap();
    let chosen = metrics["config"]["chosen"].as_str().unwrap_or_default();
    assert!(chosen.starts_with("defaults from the data: 583 training texts of 16 tokens"), "{chosen}");
    let _ = std::fs::remove_dir_all(&d);
}
