//! The project's xtask: `cargo xtask <command>` (see `cargo xtask --help`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod fuzz;
use tools::demo;
use tools::firmware::{self, Board, Models};
use tools::recipe::Recipe;

/// Tasks for developing, testing and shipping the LSTM models.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// The QEMU machine to run on.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum BoardArg {
    /// mps2-an386: Cortex-M4F, 4 MiB flash, 4 MiB RAM (semihosting).
    Mps2An386,
    /// lm3s6965evb: Cortex-M3, 256 KiB flash, 64 KiB RAM (semihosting).
    Lm3s6965evb,
    /// netduinoplus2: STM32F405, 1 MiB flash, 128 KiB RAM (firmware-stm32f4 over USART2).
    Netduinoplus2,
    /// olimex-stm32-h405: STM32F405, 1 MiB flash, 128 KiB RAM (firmware-stm32f4 over USART2).
    OlimexStm32H405,
}

impl From<BoardArg> for Board {
    fn from(b: BoardArg) -> Self {
        match b {
            BoardArg::Mps2An386 => Board::Mps2An386,
            BoardArg::Lm3s6965evb => Board::Lm3s6965evb,
            BoardArg::Netduinoplus2 => Board::Netduinoplus2,
            BoardArg::OlimexStm32H405 => Board::OlimexStm32H405,
        }
    }
}

/// `--board`, for the commands that run on one.
#[derive(Args, Clone, Copy)]
struct BoardFlag {
    /// QEMU machine.
    #[arg(long, value_enum, default_value_t = BoardArg::Mps2An386)]
    board: BoardArg,
}

/// One of the two shipped models, each trained by its recipe `models/<name>.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    /// The IMDb sentiment classifier (models/sentiment.toml).
    Sentiment,
    /// The Hamlet character language model (models/charlm.toml).
    Charlm,
}

impl Which {
    /// Its name: `models/<name>.toml` is its recipe, `models/<name>.lstm` its file.
    fn name(self) -> &'static str {
        match self {
            Which::Sentiment => "sentiment",
            Which::Charlm => "charlm",
        }
    }
}

/// Which model files a firmware embeds (default: the shipped ones).
#[derive(Args)]
struct ModelArgs {
    /// Classifier model file, of any of 2 to 1,024 classes (`--sentiment`
    /// is its old name).
    #[arg(long, visible_alias = "sentiment", default_value = "models/sentiment.lstm")]
    classifier: PathBuf,
    /// Character language model file.
    #[arg(long, default_value = "models/charlm.lstm")]
    charlm: PathBuf,
    /// QEMU machine.
    #[arg(long, value_enum, default_value_t = BoardArg::Mps2An386)]
    board: BoardArg,
}

#[derive(Subcommand)]
enum Qemu {
    /// Classify each line of a file (one text a line) on the device
    /// (`sentiment`, its old name, is the same command).
    #[command(visible_alias = "sentiment")]
    Classify {
        /// Classifier model file.
        #[arg(long, default_value = "models/sentiment.lstm")]
        model: PathBuf,
        /// Texts, one a line.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        board: BoardFlag,
    },
    /// Generate text from a prime on the device.
    Generate {
        /// Language model file.
        #[arg(long, default_value = "models/charlm.lstm")]
        model: PathBuf,
        #[command(flatten)]
        sample: host::cli::SampleArgs,
        #[command(flatten)]
        board: BoardFlag,
    },
}

#[derive(Subcommand)]
enum RunWhat {
    /// A text classifier on labelled texts: CSV, TSV, JSON Lines, class
    /// folders or IMDb (`trainer classify train --help` shows the formats).
    /// The test part (a stratified carve, or `-- --test FILE`) runs on the
    /// device.
    Classify {
        /// The labelled data.
        #[arg(long)]
        data: PathBuf,
        /// The run's folder (default: target/run/<data file name>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        board: BoardFlag,
        /// More flags for `trainer classify train`, after `--`.
        #[arg(last = true)]
        flags: Vec<String>,
    },
    /// A character language model on a UTF-8 text file or a directory of
    /// them; a sample generated on the device.
    Charlm {
        /// The corpus.
        #[arg(long)]
        data: PathBuf,
        /// The run's folder (default: target/run/<data file name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The sample's prime.
        #[arg(long, default_value = "The ")]
        prime: String,
        /// Characters to sample.
        #[arg(long, default_value_t = 200)]
        len: usize,
        #[command(flatten)]
        board: BoardFlag,
        /// More flags for `trainer charlm train`, after `--`.
        #[arg(last = true)]
        flags: Vec<String>,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the firmware with the shipped models and run both under QEMU.
    Demo {
        #[command(flatten)]
        board: BoardFlag,
        /// Run the C example firmware (examples/c, on the C API) instead of
        /// the Rust one: the same output (mps2-an386 only).
        #[arg(long)]
        c: bool,
    },
    /// Reproduce the shipped models from the raw data sets with their
    /// recipes (models/sentiment.toml, models/charlm.toml: the trainer
    /// command, the data file and each stage's flags): train, export to
    /// models/*.lstm, evaluate through the integer runtime, and write
    /// models/*.json and models/*-curves.png.
    Train {
        /// Directory with aclImdb-labeled.tar.gz (or aclImdb_v1.tar.gz) and pg2265.txt.
        #[arg(long, env = "LSTM_DATA_DIR", default_value = "../shared/data")]
        data: PathBuf,
        /// Train only this model.
        #[arg(long, value_enum)]
        only: Option<Which>,
        /// Continue interrupted training runs.
        #[arg(long)]
        resume: bool,
    },
    /// From raw data to the emulated microcontroller in one command:
    /// train, export, evaluate through the integer runtime, run the model
    /// on the Cortex-M4 under QEMU (byte-identical to the host), and report
    /// accuracy or nats/char, flash, RAM and instructions per token.
    #[command(subcommand)]
    Run(RunWhat),
    /// Run the firmware under QEMU on any input.
    #[command(subcommand)]
    Qemu(Qemu),
    /// Flash and static RAM (llvm-size) and peak stack of the firmware, per model.
    Size(ModelArgs),
    /// The runtime from C: write DIR/include/lstm.h (with lstm_config.h,
    /// this build's capacities and storage sizes) and DIR/lib/liblstm.a
    /// (only `lstm_*` symbols global), and print the link line.
    Capi {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Target triple (default: the host): thumbv7em-none-eabihf,
        /// thumbv7m-none-eabi, thumbv6m-none-eabi, ...
        #[arg(long)]
        target: Option<String>,
        /// Size the classifier's storage for this model (default: the
        /// shipped model on a device target, the format's maxima on the host).
        #[arg(long)]
        classifier: Option<PathBuf>,
        /// Size the language model's storage for this model (defaults as
        /// for --classifier).
        #[arg(long)]
        charlm: Option<PathBuf>,
    },
    /// Guest instructions per token and per MAC, counted by a QEMU plugin.
    Cost {
        #[command(flatten)]
        models: ModelArgs,
        /// Tokens to count over.
        #[arg(long, default_value_t = 256)]
        tokens: usize,
        /// Also show the functions the instructions are spent in.
        #[arg(long)]
        profile: bool,
        /// Count the C example firmware (examples/c, on the C API) instead:
        /// a text of N words classified, N characters generated.
        #[arg(long)]
        c: bool,
    },
    /// Fuzz model loading (decode plus inference, portable and AVX2
    /// kernels, under AddressSanitizer) and the tokenizer with libFuzzer
    /// (cargo-fuzz, nightly), seeded with the shipped models; prints the
    /// executions per target. Crashes are saved in fuzz/artifacts/.
    Fuzz {
        /// Seconds per target (at least 1).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
        /// Fuzz only this target.
        #[arg(long, value_parser = fuzz::TARGETS)]
        target: Option<String>,
    },
    /// Rewrite the QEMU snapshots (`tests/snapshots/`: the device's output
    /// for the demo, digests of the long runs) from the shipped models, by
    /// running the QEMU test with `LSTM_BLESS=1`. Review the diff.
    Bless {
        /// Directory with aclImdb-labeled.tar.gz (the long runs read it).
        #[arg(long, env = "LSTM_DATA_DIR", default_value = "../shared/data")]
        data: PathBuf,
    },
    /// Install what building and testing need: the Cortex-M Rust targets,
    /// llvm-tools, the Arm GCC with picolibc (for the C example), and QEMU
    /// 10 (from bookworm-backports; needs root, or says what to install).
    Setup,
    /// The whole CI gate: setup, fmt, clippy, host tests (the data-set tests
    /// and QEMU included), no_std builds of the runtime, docs, `run
    /// classify` on the worked example and a short `run charlm`, Miri on the
    /// runtime and format tests, and 15 seconds of each fuzz target.
    Ci {
        /// Directory with aclImdb-labeled.tar.gz and pg2265.txt.
        #[arg(long, env = "LSTM_DATA_DIR", default_value = "../shared/data")]
        data: PathBuf,
    },
}

/// The Cortex-M targets the runtime and firmware build for.
const TARGETS: [&str; 3] = ["thumbv7em-none-eabihf", "thumbv7m-none-eabi", "thumbv6m-none-eabi"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tools/ is inside the workspace").to_path_buf()
}

/// Run a command in the workspace root, echoing it; error on failure.
fn run(cmd: &mut Command) -> Result<()> {
    cmd.current_dir(root());
    eprintln!("$ {}", show(cmd));
    let status = cmd.status().with_context(|| format!("could not start {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// The major version of `qemu-system-arm`, if installed.
fn qemu_major() -> Option<u32> {
    let v = output(Command::new("qemu-system-arm").arg("--version"))?;
    let word = v.split_whitespace().nth(3)?;
    word.split('.').next()?.parse().ok()
}

const BACKPORTS: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\n\
Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

fn setup() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> = TARGETS.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if !missing.is_empty() {
        run(Command::new("rustup").args(["target", "add"]).args(&missing))?;
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"])).unwrap_or_default();
    if !components.lines().any(|l| l.starts_with("llvm-tools")) {
        run(Command::new("rustup").args(["component", "add", "llvm-tools"]))?;
    }
    c_toolchain()?;
    match qemu_major() {
        Some(v) if v >= 10 => {}
        found => {
            let how = "apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-arm";
            if !is_root() {
                bail!(
                    "QEMU 10 is needed (found {found:?}). As root: add bookworm-backports to \
                     /etc/apt/sources.list.d/bookworm-backports.sources:\n{BACKPORTS}then run \
                     `apt-get update && {how}`"
                );
            }
            let src = Path::new("/etc/apt/sources.list.d/bookworm-backports.sources");
            if !src.exists() {
                std::fs::write(src, BACKPORTS).with_context(|| format!("writing {}", src.display()))?;
            }
            run(Command::new("apt-get").args(["update", "-q"]))?;
            run(Command::new("sh").args(["-c", &format!("DEBIAN_FRONTEND=noninteractive {how}")]))?;
            if qemu_major().is_none_or(|v| v < 10) {
                bail!("installed qemu-system-arm, but `qemu-system-arm --version` does not report version 10");
            }
        }
    }
    Ok(())
}

/// The Arm GCC and picolibc, for the C example firmware (Debian packages).
fn c_toolchain() -> Result<()> {
    let specs = Path::new("/usr/lib/picolibc/arm-none-eabi/picolibc.specs");
    let have = |tool: &str| output(Command::new(tool).arg("--version")).is_some();
    if have("arm-none-eabi-gcc") && specs.exists() && have("cc") && have("c++") {
        return Ok(());
    }
    // The host's C and C++ compilers too: the C API's tests build with both.
    let how = "apt-get install -y --no-install-recommends gcc g++ gcc-arm-none-eabi picolibc-arm-none-eabi";
    if !is_root() {
        bail!(
            "the C API's example and tests need the C compilers and picolibc: as root, run `apt-get update && {how}`"
        );
    }
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("sh").args(["-c", &format!("DEBIAN_FRONTEND=noninteractive {how}")]))
}

fn ci(data: &Path) -> Result<()> {
    let data = std::fs::canonicalize(data)
        .with_context(|| format!("the data directory {} does not exist (pass --data DIR)", data.display()))?;
    for f in ["aclImdb-labeled.tar.gz", "pg2265.txt"] {
        if !data.join(f).is_file() {
            bail!("{} is missing from the data directory {}", f, data.display());
        }
    }
    setup()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run(cargo().args(["test", "--workspace"]).env("LSTM_DATA_DIR", &data))?;
    for target in ["thumbv7em-none-eabihf", "thumbv6m-none-eabi"] {
        // Proves no_std and no alloc: these targets have neither. Clippy
        // also sees the Cortex-M4's DSP kernel, which the host never builds.
        run(cargo().args(["build", "-p", "lstm-runtime", "--release", "--target", target]))?;
        run(cargo().args(["clippy", "-p", "lstm-runtime", "--target", target, "--", "-D", "warnings"]))?;
    }
    run(cargo().args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    // The one command from raw data to the emulated device, on the worked
    // example and on a short Hamlet run: each fails if the device's bytes
    // differ from the host's.
    run_one(RunWhat::Classify {
        data: root().join("examples/voice-commands.csv"),
        out: Some(root().join("target/run/ci-voice-commands")),
        board: BoardFlag { board: BoardArg::Mps2An386 },
        flags: Vec::new(),
    })?;
    let quick_lm = ["--start-marker", "The Tragedie of Hamlet", "--hidden", "32", "--streams", "16", "--epochs", "2"];
    run_one(RunWhat::Charlm {
        data: data.join("pg2265.txt"),
        out: Some(root().join("target/run/ci-hamlet")),
        prime: "The ".into(),
        len: 100,
        board: BoardFlag { board: BoardArg::Mps2An386 },
        flags: quick_lm.iter().map(|s| s.to_string()).collect(),
    })?;
    miri()?;
    // A short fuzzing run: the targets build and survive their seeds and
    // a few hundred thousand mutations (the long runs are `cargo xtask fuzz`).
    for o in fuzz::fuzz(&fuzz::TARGETS, 15)? {
        eprintln!(
            "fuzz {} (sanitizer: {}): {} executions in {} s, no failure",
            o.target, o.sanitizer, o.executions, o.seconds
        );
    }
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// The runtime's unit tests and the format tests (golden bytes, every error
/// variant) under Miri, on nightly: undefined behaviour, out-of-bounds and
/// overflow checks on the code that reads untrusted model files. The
/// longer integration tests (100,000-step and million-token streams,
/// exhaustive mutations) are too slow under Miri's interpreter and run
/// natively, with overflow checks, in `cargo test`.
fn miri() -> Result<()> {
    let installed = output(Command::new("rustup").args(["component", "list", "--installed", "--toolchain", "nightly"]))
        .with_context(|| "Miri needs the nightly toolchain: `rustup toolchain install nightly`")?;
    let missing: Vec<&str> =
        ["miri", "rust-src"].into_iter().filter(|c| !installed.lines().any(|l| l.starts_with(c))).collect();
    if !missing.is_empty() {
        run(Command::new("rustup").args(["component", "add", "--toolchain", "nightly"]).args(&missing))?;
    }
    // `--lib`: the README doctest reads the whole shipped model, too slow interpreted.
    run(fuzz::nightly().args(["miri", "test", "-p", "lstm-runtime", "--lib"]))?;
    run(fuzz::nightly().args(["miri", "test", "-p", "tests", "--test", "format"]))
}

fn existing(p: &Path, what: &str) -> Result<PathBuf> {
    let abs = root().join(p);
    if !abs.is_file() {
        bail!("{what} {} does not exist (train it with `cargo xtask train`, or pass another file)", p.display());
    }
    Ok(abs)
}

fn demo(board: Board, c: bool) -> Result<()> {
    setup()?;
    if c && board != Board::Mps2An386 {
        bail!("the C example firmware runs on mps2-an386 only");
    }
    let sentiment = existing(Path::new("models/sentiment.lstm"), "the shipped sentiment model")?;
    let charlm = existing(Path::new("models/charlm.lstm"), "the shipped language model")?;
    let reviews = std::env::temp_dir().join("lstm-demo-reviews.txt");
    std::fs::write(&reviews, demo::REVIEWS)?;
    let c_elf = if c { Some(tools::capi::c_firmware(&sentiment, &charlm)?) } else { None };
    println!("== sentiment on the device (QEMU {}) ==", board.machine());
    let out = match &c_elf {
        Some(elf) => String::from_utf8(tools::capi::run_c_firmware(
            elf,
            &format!("classify classifier {}", reviews.display()),
            &[],
        )?)?,
        None => firmware::qemu_classify(board, &sentiment, &reviews)?,
    };
    for (review, line) in demo::REVIEWS.lines().zip(out.lines()) {
        println!("{line}  {review}");
    }
    println!(
        "\n== Hamlet, {} characters from {:?} (seed {}, top-{}) ==",
        demo::LEN,
        demo::PRIME,
        demo::SEED,
        demo::TOP_K
    );
    let text = match &c_elf {
        Some(elf) => {
            let prime = std::env::temp_dir().join("lstm-demo-prime.txt");
            std::fs::write(&prime, demo::PRIME)?;
            let args = format!(
                "generate charlm {} {} {} {} {}",
                demo::LEN,
                demo::SEED,
                demo::TEMPERATURE_Q8,
                demo::TOP_K,
                prime.display()
            );
            // The C program ends its output with a newline, as the trainer
            // does; `println!` below adds it.
            let mut out = String::from_utf8(tools::capi::run_c_firmware(elf, &args, &[])?)?;
            out.pop();
            out
        }
        None => firmware::qemu_generate(
            board,
            &charlm,
            demo::PRIME,
            demo::LEN,
            demo::SEED,
            demo::TEMPERATURE_Q8,
            demo::TOP_K,
        )?,
    };
    println!("{text}");
    Ok(())
}

/// The release trainer, built; its path.
fn release_trainer() -> Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "trainer"]))?;
    Ok(root().join("target/release/trainer"))
}

/// `cargo xtask run classify|charlm`.
fn run_one(what: RunWhat) -> Result<()> {
    setup()?;
    let (data, out, board) = match &what {
        RunWhat::Classify { data, out, board, .. } | RunWhat::Charlm { data, out, board, .. } => {
            (data, out, Board::from(board.board))
        }
    };
    let data = std::fs::canonicalize(data).with_context(|| format!("{} does not exist", data.display()))?;
    let out = match out {
        Some(o) => o.clone(),
        None => tools::run::default_out(&root(), &data),
    };
    let trainer = release_trainer()?;
    let report = match &what {
        RunWhat::Classify { flags, .. } => {
            tools::run::classify(&tools::run::Job { trainer: &trainer, data: &data, out: &out, flags, board })?
        }
        RunWhat::Charlm { flags, prime, len, .. } => tools::run::charlm(
            &tools::run::Job { trainer: &trainer, data: &data, out: &out, flags, board },
            prime,
            *len,
        )?,
    };
    println!("\n== result ==\n{report}");
    Ok(())
}

fn train(data: &Path, only: Option<Which>, resume: bool) -> Result<()> {
    let data =
        std::fs::canonicalize(data).with_context(|| format!("the data directory {} does not exist", data.display()))?;
    let models = root().join("models");
    let recipes = [Which::Sentiment, Which::Charlm]
        .into_iter()
        .filter(|w| only.is_none_or(|o| o == *w))
        .map(|w| Recipe::load(&models.join(format!("{}.toml", w.name()))))
        .collect::<Result<Vec<_>>>()?;
    // Every data file is there before the first hour of training.
    let files = recipes.iter().map(|r| r.data_file(&data)).collect::<Result<Vec<_>>>()?;
    let trainer = release_trainer()?;
    let train_dir = root().join("target/train");
    // Each stage is one trainer process (the data read once: training,
    // then, in the last stage, export and evaluation of the integer model
    // with the data in memory).
    for (recipe, file) in recipes.iter().zip(&files) {
        for stage in recipe.runs(file, &train_dir, &models) {
            let mut cmd = Command::new(&trainer);
            cmd.args(&stage.args);
            if resume {
                cmd.arg("--resume");
            }
            run(&mut cmd)?;
            for (from, to) in &stage.copies {
                std::fs::copy(stage.out.join(from), models.join(to))
                    .with_context(|| format!("copying {} to models/{to}", stage.out.join(from).display()))?;
            }
        }
    }
    Ok(())
}

fn models(m: &ModelArgs) -> Result<(PathBuf, PathBuf)> {
    Ok((existing(&m.classifier, "the classifier model")?, existing(&m.charlm, "the language model")?))
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Setup => setup(),
        Cmd::Ci { data } => ci(&data),
        Cmd::Demo { board, c } => demo(board.board.into(), c),
        Cmd::Bless { data } => {
            let data = std::fs::canonicalize(&data)
                .with_context(|| format!("the data directory {} does not exist (pass --data DIR)", data.display()))?;
            setup()?;
            run(cargo()
                .args(["test", "-p", "tests", "--test", "qemu", "--", "--test-threads", "1"])
                .env("LSTM_DATA_DIR", &data)
                .env("LSTM_BLESS", "1"))?;
            run(Command::new("git").args(["status", "--short", "tests/snapshots"]))
        }
        Cmd::Fuzz { seconds, target } => {
            let targets: Vec<&'static str> =
                fuzz::TARGETS.iter().copied().filter(|t| target.as_deref().is_none_or(|w| w == *t)).collect();
            let outcomes = fuzz::fuzz(&targets, seconds)?;
            let mut total = 0;
            for o in &outcomes {
                println!(
                    "{} (sanitizer: {}): {} executions in {} s, no crash, panic, overflow or timeout",
                    o.target, o.sanitizer, o.executions, o.seconds
                );
                total += o.executions;
            }
            println!("total: {total} executions");
            Ok(())
        }
        Cmd::Train { data, only, resume } => train(&data, only, resume),
        Cmd::Run(what) => run_one(what),
        Cmd::Qemu(Qemu::Classify { model, file, board }) => {
            print!("{}", firmware::qemu_classify(board.board.into(), &existing(&model, "the model")?, &file)?);
            Ok(())
        }
        Cmd::Qemu(Qemu::Generate { model, sample, board }) => {
            let t = sample.temperature_q8().map_err(anyhow::Error::msg)?;
            let model = existing(&model, "the model")?;
            let text = firmware::qemu_generate(
                board.board.into(),
                &model,
                &sample.prime,
                sample.len,
                sample.seed,
                t,
                sample.top_k,
            )?;
            println!("{text}");
            Ok(())
        }
        Cmd::Capi { out, target, classifier, charlm } => {
            let models = tools::capi::CapiModels { classifier: classifier.as_deref(), charlm: charlm.as_deref() };
            let link = tools::capi::package(&out, target.as_deref(), models)?;
            println!("wrote {0}/include/lstm.h, {0}/include/lstm_config.h, {0}/lib/liblstm.a", out.display());
            println!("link: {link}");
            Ok(())
        }
        Cmd::Size(m) => {
            let (s, c) = models(&m)?;
            print!("{}", firmware::size_report(m.board.into(), Models { classifier: Some(&s), charlm: Some(&c) })?);
            Ok(())
        }
        Cmd::Cost { models: m, tokens, c: true, .. } => {
            let (s, c) = models(&m)?;
            print!("{}", tools::capi::c_cost_report(&s, &c, tokens)?);
            Ok(())
        }
        Cmd::Cost { models: m, tokens, profile, c: false } => {
            let (s, c) = models(&m)?;
            let report = tools::cost::cost_report(
                m.board.into(),
                Models { classifier: Some(&s), charlm: Some(&c) },
                tokens,
                profile,
            )?;
            print!("{report}");
            Ok(())
        }
    }
}
