//! The C API (`capi/`): its committed header is what cbindgen makes now;
//! its host library, only `lstm_*` global, linked into C programs built
//! with `-std=c99 -Wall -Wextra -Werror` (and its header compiled as C++),
//! prints what the Rust host prints (`examples/c/lstm_cli.c` against
//! `host::run`); hostile calls are a negative status each
//! (`tests/c/hostile.c`); and the C example firmware on the Cortex-M4
//! under QEMU prints the same bytes.
//!
//! Needs a C compiler (`cc`, `c++`), the Arm GCC with picolibc and QEMU
//! (`cargo xtask setup` installs them): a missing one fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling};
use runtime::{Rng, Sampler};
use tests::{random_ids, random_model_of, Dims};
use tools::capi::{self, CapiModels};

/// One library build at a time (they share `capi/target`).
static BUILD: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("capi").join(name);
    std::fs::create_dir_all(&dir).expect("creating the scratch folder");
    dir.canonicalize().expect("scratch folder")
}

fn shipped(name: &str) -> PathBuf {
    let p = root().join("models").join(name);
    assert!(p.exists(), "{} is missing: the C tests run the shipped models", p.display());
    p.canonicalize().expect("model path")
}

/// The host library and headers in `dir`.
fn package(dir: &Path, models: CapiModels<'_>) {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    capi::package(dir, None, models).unwrap_or_else(|e| panic!("{e:#}"));
}

/// Compile C `sources` against the library in `dir`; the program.
fn cc(dir: &Path, sources: &[PathBuf], out: &str) -> PathBuf {
    let exe = dir.join(out);
    let status = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"])
        .arg(format!("-I{}", dir.join("include").display()))
        .args(sources)
        .arg(format!("-L{}", dir.join("lib").display()))
        .args(["-llstm", "-o"])
        .arg(&exe)
        .status()
        .expect("running cc (install a C compiler)");
    assert!(status.success(), "compiling {sources:?} failed");
    exe
}

fn run(exe: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(exe).args(args).output().expect("running a C program");
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        exe.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Texts the tests have not been tuned on: mixed lengths, punctuation,
/// an empty line, a last line without a newline.
fn texts() -> Vec<u8> {
    let words =
        ["good", "bad", "film", "great", "awful", "plot", "acting", "the", "a", "boring", "<br />", "!", "?", "don't"];
    let mut rng = Rng::new(17);
    let mut text = Vec::new();
    for r in 0..120 {
        let n = (rng.next_u32() % 300) as usize * (r % 4);
        for _ in 0..n {
            text.extend_from_slice(words[rng.next_u32() as usize % words.len()].as_bytes());
            text.push(if rng.next_u32().is_multiple_of(9) { b',' } else { b' ' });
        }
        text.push(b'\n');
    }
    text.extend_from_slice(b"a last line without its newline: great");
    text
}

#[test]
fn the_committed_header_is_current() {
    let now = capi::header().unwrap_or_else(|e| panic!("{e:#}"));
    let committed =
        std::fs::read_to_string(capi::capi_dir().join("include").join("lstm.h")).expect("capi/include/lstm.h");
    assert!(now == committed, "capi/include/lstm.h is not what cbindgen makes from capi/src/lib.rs: run `cargo xtask capi --out DIR` and commit it");
    for name in [
        "lstm_status_message",
        "lstm_classifier_open",
        "lstm_classifier_start",
        "lstm_classifier_feed",
        "lstm_classifier_finish",
        "lstm_prediction_format",
        "lstm_charlm_open",
        "lstm_charlm_prime",
        "lstm_charlm_next",
        "lstm_classifier_storage_size",
        "lstm_charlm_storage_size",
    ] {
        assert!(now.contains(&format!("{name}(")), "the header lacks {name}");
    }
}

#[test]
fn c_programs_print_what_the_host_prints() {
    let dir = scratch("host");
    package(&dir, CapiModels::default());
    // Only lstm_* is global in the library.
    let globals = capi::global_symbols(&dir.join("lib").join("liblstm.a")).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(globals.len() >= 11, "{globals:?}");
    assert!(globals.iter().all(|s| s.starts_with("lstm_")), "other global symbols: {globals:?}");

    // The header is C++ too.
    let cpp = dir.join("header.cpp");
    std::fs::write(&cpp, "#include \"lstm.h\"\nint main() { lstm_prediction p = {}; return p.class_index + (lstm_status_message(LSTM_OK) == nullptr); }\n").unwrap();
    let status = Command::new("c++")
        .args(["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
        .arg(format!("-I{}", dir.join("include").display()))
        .arg(&cpp)
        .status()
        .expect("running c++");
    assert!(status.success(), "lstm.h does not compile as C++");

    let cli = cc(&dir, &[root().join("examples/c/lstm_cli.c")], "lstm_cli");
    let text = texts();
    let texts_file = dir.join("texts.txt");
    std::fs::write(&texts_file, &text).unwrap();
    // The shipped classifier, and a five-class one with a window and
    // mean-max pooling (class names in the file).
    let five = dir.join("five.lstm");
    let d = Dims { vocab: 3_001, embed: 12, hidden: 24, layers: 2 };
    let float = random_model_of(ModelKind::Classifier, d, 5, Pooling::MeanMax, 50, 3, 1.0);
    let mut rng = Rng::new(4);
    let seqs: Vec<Vec<u32>> = (0..8).map(|_| random_ids(&mut rng, 100, 1, d.vocab as u32)).collect();
    std::fs::write(&five, quantize(&float, &Calibration::run(&float, &seqs), 8).expect("quantizes")).unwrap();
    for model in [shipped("sentiment.lstm"), five] {
        let device = run(&cli, &["classify", model.to_str().unwrap(), texts_file.to_str().unwrap()]);
        let bytes = std::fs::read(&model).unwrap();
        let host = host::run::predict_lines(&bytes, &text, false).expect("host");
        assert_eq!(host.lines().count(), 121);
        assert!(
            device == host.as_bytes(),
            "{}: C {:?}\nhost {:?}",
            model.display(),
            String::from_utf8_lossy(&device[..200.min(device.len())]),
            &host[..200.min(host.len())]
        );
    }

    // Generation, with primes that hold newlines and bytes outside the
    // charset, against `trainer charlm generate`'s bytes (the text, then a
    // newline).
    let lm = shipped("charlm.lstm");
    let bytes = std::fs::read(&lm).unwrap();
    for (k, (prime, seed, temperature, top_k)) in
        [(&b"ROMEO:\n  But soft"[..], 42u64, 256u16, 0u16), (b"", 7, 180, 10), (b"To be \xc3\xa9", 1, 0, 0)]
            .into_iter()
            .enumerate()
    {
        let prime_file = dir.join(format!("prime-{k}.txt"));
        std::fs::write(&prime_file, prime).unwrap();
        let args = [
            "generate",
            lm.to_str().unwrap(),
            "400",
            &seed.to_string(),
            &temperature.to_string(),
            &top_k.to_string(),
            prime_file.to_str().unwrap(),
        ];
        let device = run(&cli, &args);
        let mut host =
            host::run::generate_text(&bytes, prime, 400, Sampler::new(seed, temperature, top_k)).expect("host");
        host.push(b'\n');
        assert!(device == host, "generate {args:?}");
    }

    // Hostile calls.
    let hostile = cc(&dir, &[root().join("tests/c/hostile.c")], "hostile");
    let out = run(&hostile, &[shipped("sentiment.lstm").to_str().unwrap(), lm.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&out), "all checks passed\n");
}

#[test]
fn the_c_firmware_on_the_cortex_m4_prints_what_the_host_prints() {
    tools::firmware::require_qemu();
    let (sentiment, lm) = (shipped("sentiment.lstm"), shipped("charlm.lstm"));
    let elf = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        capi::c_firmware(&sentiment, &lm).unwrap_or_else(|e| panic!("{e:#}"))
    };
    let dir = scratch("m4");
    let text = texts();
    let texts_file = dir.join("texts.txt");
    std::fs::write(&texts_file, &text).unwrap();
    let device = capi::run_c_firmware(&elf, &format!("classify classifier {}", texts_file.display()), &[])
        .unwrap_or_else(|e| panic!("{e:#}"));
    let host = host::run::predict_lines(&std::fs::read(&sentiment).unwrap(), &text, false).expect("host");
    assert!(device == host.as_bytes(), "classify on the Cortex-M4");
    let prime_file = dir.join("prime.txt");
    std::fs::write(&prime_file, b"HAMLET:\nTo be").unwrap();
    let device = capi::run_c_firmware(&elf, &format!("generate charlm 300 9 200 20 {}", prime_file.display()), &[])
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut host =
        host::run::generate_text(&std::fs::read(&lm).unwrap(), b"HAMLET:\nTo be", 300, Sampler::new(9, 200, 20))
            .expect("host");
    host.push(b'\n');
    assert!(device == host, "generate on the Cortex-M4");
    // An error is a non-zero exit with its message.
    let err = match capi::run_c_firmware(&elf, "classify classifier /nonexistent/texts.txt", &[]) {
        Ok(_) => panic!("a missing file exited 0"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("cannot open /nonexistent/texts.txt"), "{err}");
}
