//! The QEMU gate: `firmware-example` on an emulated Cortex-M prints exactly
//! what the host prints (`host::run::predict_lines` and
//! `host::run::generate_text`, which the trainer's CLI prints too), and,
//! for the shipped models, what `tests/snapshots/` says it printed before
//! (the demo's output, and digests of the long runs): a change that moves
//! host and device alike fails here too. `LSTM_BLESS=1` (what `cargo xtask
//! bless` sets) rewrites the snapshots instead of comparing.
//!
//! - Models: `models/sentiment.lstm` and `models/charlm.lstm` when they
//!   exist, else random networks made here (seeded; the sizes of the
//!   shipped ones: sentiment 20,001 buckets, embed 16, hidden 64, mean+max
//!   pooling over the last 400 tokens; language model over the 65-character
//!   test charset, embed 16, hidden 128).
//! - Reviews: 200 of the IMDb test split (`aclImdb/test/{pos,neg}/1??_*.txt`)
//!   from `$LSTM_DATA_DIR/aclImdb-labeled.tar.gz`, and all of them joined
//!   into one review of over 10,000 tokens. Without `LSTM_DATA_DIR`
//!   the test fails, unless `LSTM_ALLOW_NO_DATA=1`: then synthetic reviews.
//! - QEMU (`qemu-system-arm`) must be installed: a missing QEMU fails.
//!
//! The firmware is built and run by the xtask's own code
//! (`tools::firmware`), in its own folder and target directory; the builds
//! are serialised.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling};
use runtime::{Rng, Sampler};
use tests::{random_ids, random_model, Dims};
use tools::firmware::{self, Board, Models};

/// One firmware build at a time (they share a target folder).
static BUILD: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu");
    std::fs::create_dir_all(&dir).expect("creating the scratch folder");
    dir.canonicalize().expect("scratch folder")
}

/// A shipped model, or a random one of the same shape written to scratch.
fn model(name: &str, kind: ModelKind) -> PathBuf {
    let shipped = root().join("models").join(name);
    if shipped.exists() {
        return shipped.canonicalize().expect("model path");
    }
    let (dims, pooling, max_tokens, lo) = match kind {
        ModelKind::Classifier => (Dims { vocab: 20_001, embed: 16, hidden: 64, layers: 1 }, Pooling::MeanMax, 400, 1),
        ModelKind::CharLm => (Dims { vocab: 65, embed: 16, hidden: 128, layers: 1 }, Pooling::Last, 0, 0),
    };
    random(name, kind, dims, pooling, max_tokens, lo)
}

fn random(name: &str, kind: ModelKind, dims: Dims, pooling: Pooling, max_tokens: u32, lo: u32) -> PathBuf {
    let float = random_model(kind, dims, pooling, max_tokens, 7, 1.0);
    let mut rng = Rng::new(11);
    let seqs: Vec<Vec<u32>> = (0..8).map(|_| random_ids(&mut rng, 200, lo, dims.vocab as u32)).collect();
    let bytes = quantize(&float, &Calibration::run(&float, &seqs), 8).expect("quantizes");
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("writing a random model");
    path
}

/// Build the firmware for `board` with these models; the ELF's path.
fn build(board: Board, classifier: Option<&Path>, charlm: Option<&Path>) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    firmware::build(board, Models { classifier, charlm }).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Run the firmware; the error carries its stderr.
fn qemu(board: Board, elf: &Path, append: &str) -> anyhow::Result<firmware::Run> {
    firmware::run_qemu(board, elf, append, &[])
}

fn qemu_ok(board: Board, elf: &Path, append: &str) -> Vec<u8> {
    qemu(board, elf, append).unwrap_or_else(|e| panic!("{e:#}")).stdout
}

fn bless() -> bool {
    std::env::var("LSTM_BLESS").as_deref() == Ok("1")
}

/// Compare `actual` with the checked-in snapshot `name` (or rewrite it
/// under `LSTM_BLESS=1`).
fn snapshot(name: &str, actual: &[u8]) {
    let path = root().join("tests").join("snapshots").join(name);
    if bless() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("snapshot folder");
        std::fs::write(&path, actual).expect("writing a snapshot");
        eprintln!("blessed {}", path.display());
        return;
    }
    let expected =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}: run `cargo xtask bless` to write it", path.display()));
    assert!(
        expected == actual,
        "{name}: the device's output changed ({}); if the change is intended, run `cargo xtask bless` and say why \
         in the commit",
        first_difference(&expected, actual)
    );
}

/// A line of the long runs' digest: name, length, CRC-32.
fn digest_line(name: &str, bytes: &[u8]) -> String {
    format!("{name} {} bytes, crc32 {:08x}\n", bytes.len(), runtime::format::crc32(bytes))
}

/// What the demo (`cargo xtask demo`) prints on `board` with the models
/// `elf` holds: its reviews classified, and its text generated.
fn demo_on(board: Board, elf: &Path) -> (Vec<u8>, Vec<u8>) {
    let demo_reviews = scratch().join("demo-reviews.txt");
    std::fs::write(&demo_reviews, tools::demo::REVIEWS).expect("writing the demo's reviews");
    let classified = qemu_ok(board, elf, &format!("classify {}", demo_reviews.display()));
    let demo_prime = scratch().join("demo-prime.txt");
    std::fs::write(&demo_prime, tools::demo::PRIME).expect("writing the demo's prime");
    let append = format!(
        "generate len={} seed={} temperature={} top_k={} prime-file={}",
        tools::demo::LEN,
        tools::demo::SEED,
        tools::demo::TEMPERATURE_Q8,
        tools::demo::TOP_K,
        demo_prime.display()
    );
    (classified, qemu_ok(board, elf, &append))
}

/// Whether both shipped models exist (the snapshots are of them).
fn shipped() -> bool {
    ["sentiment.lstm", "charlm.lstm"].iter().all(|m| root().join("models").join(m).exists())
}

/// 200 IMDb test reviews (100 positive, 100 negative), one a line.
fn reviews() -> Vec<u8> {
    let Some(data) = std::env::var_os("LSTM_DATA_DIR") else {
        assert!(
            std::env::var("LSTM_ALLOW_NO_DATA").as_deref() == Ok("1"),
            "LSTM_DATA_DIR is not set: point it at the folder holding aclImdb-labeled.tar.gz \
             (or set LSTM_ALLOW_NO_DATA=1 to run on synthetic reviews)"
        );
        return synthetic_reviews();
    };
    let tarball = Path::new(&data).join("aclImdb-labeled.tar.gz");
    assert!(tarball.exists(), "{} does not exist", tarball.display());
    let dir = scratch().join("imdb");
    std::fs::create_dir_all(&dir).expect("creating the reviews folder");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .args(["--wildcards", "aclImdb/test/pos/1??_*.txt", "aclImdb/test/neg/1??_*.txt"])
        .status()
        .expect("running tar");
    assert!(status.success(), "extracting reviews from {} failed", tarball.display());
    let mut files: Vec<PathBuf> = ["pos", "neg"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join("aclImdb/test").join(d)).expect("extracted reviews"))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 200, "expected 200 reviews named 1??_*.txt in the test split");
    let mut text = Vec::new();
    for f in files {
        let review = std::fs::read(&f).expect("reading a review");
        text.extend(review.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
        text.push(b'\n');
    }
    text
}

fn synthetic_reviews() -> Vec<u8> {
    let words = ["good", "bad", "film", "great", "awful", "plot", "acting", "the", "a", "boring", "<br />", "!"];
    let mut rng = Rng::new(5);
    let mut text = Vec::new();
    for r in 0..200 {
        let n = 1 + (rng.next_u32() % 600) as usize * (r % 3);
        for _ in 0..n {
            text.extend_from_slice(words[rng.next_u32() as usize % words.len()].as_bytes());
            text.push(b' ');
        }
        text.push(b'\n');
    }
    text
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let line = a[..at].iter().filter(|&&c| c == b'\n').count() + 1;
    format!("outputs differ at byte {at} (line {line}); lengths {} and {}", a.len(), b.len())
}

#[test]
fn cortex_m4_matches_the_host() {
    firmware::require_qemu();
    let text = reviews();
    let real_reviews = std::env::var_os("LSTM_DATA_DIR").is_some();
    let sentiment = model("sentiment.lstm", ModelKind::Classifier);
    let charlm = model("charlm.lstm", ModelKind::CharLm);
    let m4 = Board::Mps2An386;
    let elf = build(m4, Some(&sentiment), Some(&charlm));
    let mut digests = String::new();

    // The demo (`cargo xtask demo`), as a snapshot of the device's output.
    if shipped() {
        let (classified, generated) = demo_on(m4, &elf);
        snapshot("demo-sentiment.txt", &classified);
        snapshot("demo-generate.txt", &generated);
    }

    // After the 200 reviews, one of at least 10,000 tokens: the reviews
    // joined into one line, streamed through the device's constant memory.
    let mut long: Vec<u8> = text.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
    long.push(b'\n');
    let model_bytes = std::fs::read(&sentiment).expect("model");
    let ids = runtime::Model::from_bytes(&model_bytes).expect("model").tokenizer.word_ids().expect("words");
    let mut tokens = 0;
    ids.for_each_id(&long, |_| tokens += 1);
    assert!(tokens >= 10_000, "the long review has only {tokens} tokens");
    let text = [text, long].concat();

    let reviews = scratch().join("reviews.txt");
    std::fs::write(&reviews, &text).expect("writing the reviews");
    let device = qemu_ok(m4, &elf, &format!("classify {}", reviews.display()));
    let host = host::run::predict_lines(&model_bytes, &text, false).expect("host");
    assert_eq!(host.lines().count(), 201);
    assert!(device == host.as_bytes(), "sentiment: {}", first_difference(&device, host.as_bytes()));
    digests.push_str(&digest_line("sentiment, 200 IMDb test reviews and their concatenation", &device));

    // A prime with a newline and a run of spaces: passed as a file, exactly.
    let prime = b"ROMEO:\nBut  soft, what light";
    let prime_file = scratch().join("prime.txt");
    std::fs::write(&prime_file, prime).expect("writing the prime");
    let model = std::fs::read(&charlm).expect("model");
    for (seed, temperature, top_k) in [(42u64, 256u16, 0u16), (7, 180, 10), (1, 0, 0)] {
        let append = format!(
            "generate len=1000 seed={seed} temperature={temperature} top_k={top_k} prime-file={}",
            prime_file.display()
        );
        let device = qemu_ok(m4, &elf, &append);
        let host = host::run::generate_text(&model, prime, 1000, Sampler::new(seed, temperature, top_k)).expect("host");
        assert_eq!(host.len(), prime.len() + 1000);
        assert!(device == host, "generate {append}: {}", first_difference(&device, &host));
        digests
            .push_str(&digest_line(&format!("generate seed={seed} temperature={temperature} top_k={top_k}"), &device));
    }
    if shipped() && real_reviews {
        snapshot("long-runs.txt", digests.as_bytes());
    }

    // The DSP dot-product kernel agrees with the host's portable one on a
    // battery of random and extreme rows and vectors.
    let device = qemu_ok(m4, &elf, "kernel-check");
    let host = format!("kernel digest {:#010x}\n", runtime::kernel::battery_digest());
    assert_eq!(String::from_utf8_lossy(&device), host);

    // Model files of split rows (versions 3 and 4, the shipped models
    // before version 5) run on their own path on the device too, and print
    // what they printed then.
    let fixtures = root().join("tests").join("fixtures").join("split-rows");
    let old = build(m4, Some(&fixtures.join("sentiment.lstm")), Some(&fixtures.join("charlm.lstm")));
    let (classified, generated) = demo_on(m4, &old);
    for (device, file) in [(classified, "demo-sentiment.txt"), (generated, "demo-generate.txt")] {
        let want = std::fs::read(fixtures.join(file)).expect("the recorded output");
        assert!(device == want, "split rows, {file}: {}", first_difference(&device, &want));
    }

    // A panic and a fault exit QEMU non-zero.
    for what in ["panic", "fault"] {
        let err = match qemu(m4, &elf, what) {
            Ok(_) => panic!("`{what}` exited 0"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(if what == "panic" { "panic" } else { "HardFault" }), "{what}: {err}");
    }
}

/// The Cortex-M3 board (256 KiB flash, 64 KiB RAM) with models that fit:
/// the language model and a classifier of 1,001 buckets (the shipped
/// language model leaves about 130 KiB of the 256 KiB flash). The
/// classifier's old command name, `sentiment FILE`, still works.
#[test]
fn cortex_m3_matches_the_host() {
    firmware::require_qemu();
    let classifier = random(
        "classifier-small.lstm",
        ModelKind::Classifier,
        Dims { vocab: 1_001, embed: 16, hidden: 64, layers: 1 },
        Pooling::MeanMax,
        400,
        1,
    );
    let charlm = model("charlm.lstm", ModelKind::CharLm);
    let m3 = Board::Lm3s6965evb;
    let elf = build(m3, Some(&classifier), Some(&charlm));
    let text = synthetic_reviews();
    let reviews = scratch().join("reviews-m3.txt");
    std::fs::write(&reviews, &text).expect("writing the reviews");
    let device = qemu_ok(m3, &elf, &format!("classify {}", reviews.display()));
    let classifier = std::fs::read(&classifier).expect("model");
    let host = host::run::predict_lines(&classifier, &text, false).expect("host");
    assert!(device == host.as_bytes(), "classifier: {}", first_difference(&device, host.as_bytes()));
    let short = scratch().join("reviews-m3-old-name.txt");
    std::fs::write(&short, "a good film\nboring\n").expect("writing the texts");
    let device = qemu_ok(m3, &elf, &format!("sentiment {}", short.display()));
    let host = host::run::predict_lines(&classifier, b"a good film\nboring\n", false).expect("host");
    assert!(device == host.as_bytes(), "`sentiment FILE`: {}", first_difference(&device, host.as_bytes()));

    let device = qemu_ok(m3, &elf, "generate len=300 seed=3 temperature=200 top_k=20 prime=To be");
    let charlm = std::fs::read(&charlm).expect("model");
    let host = host::run::generate_text(&charlm, b"To be", 300, Sampler::new(3, 200, 20)).expect("host");
    assert!(device == host, "generate: {}", first_difference(&device, &host));
}

/// Run a job on a serial board; its output, or a panic with the error.
fn job_ok(board: Board, elf: &Path, job: firmware::Job<'_>) -> Vec<u8> {
    firmware::run_job(board, elf, job, false, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", board.machine())).stdout
}

/// The STM32F4 firmware (`firmware-stm32f4`, its `qemu` build) on both of
/// QEMU's STM32F405 machines, over USART2: the demo's snapshots, the IMDb
/// reviews, primes with newlines, the kernel digest, and a wrong command
/// line; and its `board` build (HSE clocks, defmt) links for the
/// STM32F4DISCOVERY.
#[test]
fn stm32f4_boards_match_the_host() {
    use firmware::Job;
    firmware::require_qemu();
    let sentiment = model("sentiment.lstm", ModelKind::Classifier);
    let charlm = model("charlm.lstm", ModelKind::CharLm);
    let elf = build(Board::Netduinoplus2, Some(&sentiment), Some(&charlm));
    let classifier = std::fs::read(&sentiment).expect("model");
    let lm = std::fs::read(&charlm).expect("model");
    let all = reviews();
    for (board, reviews) in [(Board::Netduinoplus2, 200), (Board::OlimexStm32H405, 20)] {
        if shipped() {
            let device = job_ok(board, &elf, Job::Classify(tools::demo::REVIEWS.as_bytes()));
            snapshot("demo-sentiment.txt", &device);
            let demo = Job::Generate {
                prime: tools::demo::PRIME.as_bytes(),
                len: tools::demo::LEN,
                seed: tools::demo::SEED,
                temperature_q8: tools::demo::TEMPERATURE_Q8,
                top_k: tools::demo::TOP_K,
            };
            snapshot("demo-generate.txt", &job_ok(board, &elf, demo));
        }
        let text: Vec<u8> = all.split_inclusive(|&b| b == b'\n').take(reviews).flatten().copied().collect();
        let device = job_ok(board, &elf, Job::Classify(&text));
        let host = host::run::predict_lines(&classifier, &text, false).expect("host");
        assert_eq!(host.lines().count(), reviews);
        assert!(device == host.as_bytes(), "{}: {}", board.machine(), first_difference(&device, host.as_bytes()));

        // Newlines and runs of spaces in the prime, and a line of its own
        // that looks like a command: the payload is bytes, not lines.
        let prime = b"ROMEO:\nready\n  But  soft, what light";
        for (seed, temperature, top_k) in [(42u64, 256u16, 0u16), (7, 180, 10)] {
            let job = Job::Generate { prime, len: 500, seed, temperature_q8: temperature, top_k };
            let device = job_ok(board, &elf, job);
            let host = host::run::generate_text(&lm, prime, 500, Sampler::new(seed, temperature, top_k)).expect("host");
            assert!(device == host, "{} generate seed {seed}: {}", board.machine(), first_difference(&device, &host));
        }

        let device = job_ok(board, &elf, Job::KernelCheck);
        let host = format!("kernel digest {:#010x}\n", runtime::kernel::battery_digest());
        assert_eq!(String::from_utf8_lossy(&device), host);
        let info = String::from_utf8(job_ok(board, &elf, Job::Info)).expect("UTF-8");
        assert!(info.contains(&format!("classifier: {} bytes", classifier.len())), "{info}");

        // A wrong command line: one error line as the output, exit 1.
        let err = match firmware::run_serial(board, &elf, "classify ten", b"", &[]) {
            Ok(r) => panic!("a wrong command exited 0: {:?}", String::from_utf8_lossy(&r.stdout)),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("error: usage: classify N"), "{err}");
    }

    // The hardware build links, with the board's memory map.
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let models = Models { classifier: Some(&sentiment), charlm: Some(&charlm) };
    let board_elf = firmware::build_variant(Board::Netduinoplus2, firmware::Variant::Hardware, models)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let bytes = std::fs::read(&board_elf).expect("the board build's ELF");
    assert_eq!(&bytes[..4], b"\x7fELF");
}
