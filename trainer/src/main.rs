//! `trainer`: command-line front end of the trainer library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trainer::budget::{self, ByteSize};
use trainer::data::CorpusArgs;
use trainer::data::InputArgs;
use trainer::export::Calibrate;
use trainer::fit::{RunOptions, Summary};
use trainer::net::Checkpoint;
use trainer::tasks::charlm::{self, CharLmConfig};
use trainer::tasks::classify::{self, ClassifierConfig};
use trainer::{eval, export, float};

/// Trains the project's LSTMs on the host.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Threads for matrix products (1 was fastest on a shared 2-core host).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Text classifier of 2 to 1024 classes, on any labelled text (the IMDb
    /// sentiment model is one; `sentiment` is the same command).
    #[command(visible_alias = "sentiment")]
    Classify {
        #[command(subcommand)]
        action: ClassifyAction,
    },
    /// Character-level language model on any UTF-8 text (Hamlet is the
    /// reference).
    Charlm {
        #[command(subcommand)]
        action: CharLmAction,
    },
    /// Describe a model file: kind, version, dimensions, sizes by part,
    /// checksum (or why it does not decode).
    Inspect {
        /// The model file.
        file: PathBuf,
    },
    /// Milliseconds per training batch on the two reference workloads.
    Bench {
        /// Timed batches per workload (after one warm-up batch).
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Which workloads to run.
        #[arg(long, value_enum, default_value_t = Workload::All)]
        workload: Workload,
        /// Also run the PyTorch twin of the workloads (`bench_torch.py`,
        /// for example `../shared/bench/bench_torch.py`) right after each,
        /// with the same batches and threads, and print trainer/PyTorch.
        #[arg(long, value_name = "SCRIPT")]
        compare: Option<PathBuf>,
        /// The Python that has torch, for `--compare`.
        #[arg(long, default_value = "python3", requires = "compare")]
        python: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    /// Both.
    All,
    /// (a) sentiment: 100 x 200 tokens, vocab 20002, embed 64, LSTM 128.
    Sentiment,
    /// (b) language model: 64 x 100 steps, 65 one-hot, LSTM 128, dense 65.
    Charlm,
}

/// Quantize a checkpoint into a model file.
#[derive(clap::Args)]
struct ExportArgs {
    /// The trained checkpoint (`best.ckpt` of a training run).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Training data for calibration (the same files training read; only
    /// the texts are used).
    #[arg(long)]
    data: PathBuf,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Bits per embedding value: 8, or 4 (two values a byte).
    #[arg(long, default_value_t = 8)]
    embed_bits: u8,
    /// Bits per LSTM weight: 8, or 4 (two a byte, a scale per row; the
    /// dense head stays at 8).
    #[arg(long, default_value_t = 8)]
    lstm_bits: u8,
}

impl ExportArgs {
    fn bits(&self) -> host::Bits {
        host::Bits { embed: self.embed_bits, lstm: self.lstm_bits }
    }
}

/// After training: quantize the best weights into a model file and evaluate
/// it, with the data already read.
#[derive(clap::Args)]
struct ExportAfter {
    /// Write the best weights as a model file here, evaluate it through the
    /// integer runtime, and write the figures to `<out>/eval.json`.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Bits per embedding value of that file: 8, or 4 (two values a byte)
    /// [default: 8, or what --max-bytes needs].
    #[arg(long)]
    embed_bits: Option<u8>,
    /// Bits per LSTM weight of that file: 8, or 4 (two a byte, a scale per
    /// row; the dense head stays at 8) [default: 8, or what --max-bytes
    /// needs].
    #[arg(long)]
    lstm_bits: Option<u8>,
    /// A flash budget for the model file (65536, 64KiB, 1MiB): the
    /// vocabulary, widths and weight bits you do not give are chosen to fit
    /// it (bits first, then a smaller vocabulary, then narrower layers).
    /// The firmware's own code comes on top (about 77 KB on a Cortex-M4;
    /// `cargo xtask size`).
    #[arg(long, value_name = "BYTES")]
    max_bytes: Option<ByteSize>,
}

impl ExportAfter {
    fn bits(&self) -> host::Bits {
        host::Bits { embed: self.embed_bits.unwrap_or(8), lstm: self.lstm_bits.unwrap_or(8) }
    }

    /// The bits and the sizes the user left free, fitted to `--max-bytes`
    /// from the `start` shape; prints what it chose.
    fn fit_budget(
        &self,
        start: budget::Fit,
        fixed: budget::Fixed,
        min_vocab: usize,
        bytes: impl FnMut(&budget::Fit) -> trainer::Result<usize>,
        quiet: bool,
    ) -> anyhow::Result<Option<budget::Fit>> {
        let Some(limit) = self.max_bytes else { return Ok(None) };
        let fixed = budget::Fixed { embed_bits: self.embed_bits, lstm_bits: self.lstm_bits, ..fixed };
        let f = budget::fit(limit, start, fixed, min_vocab, bytes)?;
        if !quiet {
            eprintln!(
                "--max-bytes {}: vocabulary {}, embedding {}, LSTM {}, {}-bit embedding and {}-bit LSTM weights: a \
                 model file of at most {} bytes (the firmware's code comes on top: about 77 KB on a Cortex-M4)",
                limit.0, f.vocab, f.embed_dim, f.hidden, f.bits.embed, f.bits.lstm, f.bytes
            );
        }
        Ok(Some(f))
    }
}

/// Fails when a written model file is over the budget (the search makes
/// sure it is not; this says so in the run).
fn within_budget(after: &ExportAfter, bytes: usize) -> anyhow::Result<()> {
    match after.max_bytes {
        Some(limit) if bytes > limit.0 => {
            anyhow::bail!("the model file is {bytes} bytes, over --max-bytes {}", limit.0)
        }
        Some(limit) => {
            println!(
                "model file {bytes} bytes, within --max-bytes {} ({:.1}%)",
                limit.0,
                100.0 * bytes as f64 / limit.0 as f64
            );
            Ok(())
        }
        None => Ok(()),
    }
}

/// Evaluate a model file through the integer runtime.
#[derive(clap::Args)]
struct EvalArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The data: labelled texts (every one is evaluated; IMDb: the test
    /// split), or the corpus (its last 10%, read as training read it).
    #[arg(long)]
    data: PathBuf,
    /// The float checkpoint it came from, for the float figure beside it.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// What the labelled data formats look like (the `--help` of the
/// classifier commands that read labelled data).
const FORMATS: &str = "\
Labelled data formats (--format auto picks one from the path):
  CSV (.csv), TSV (.tsv, .tab)  UTF-8 (a BOM is allowed), LF or CRLF; a header row names the
                                columns; --text-column and --label-column (default text, label)
                                pick two; fields may be quoted as in RFC 4180 (\"a, \"\"b\"\"\").
  JSON Lines (.jsonl, .ndjson)  one object a line: {\"text\": \"...\", \"label\": \"...\"}; blank lines skipped.
  class folders (a directory)   one folder per class, named as the class; one UTF-8 text a file.
  IMDb (.tar.gz, or aclImdb/)   the Large Movie Review Dataset: train/ and test/, pos/ and neg/.
Labels are strings. The classes are the training labels in byte order (two classes: the second
is the sigmoid's class 1); validation and test labels must be among them. Each bad row (no such
column, empty text, unknown label, invalid UTF-8) is one error line file:line:column, and
nothing is written.";

#[derive(Subcommand)]
enum ClassifyAction {
    /// Quantize a checkpoint into a model file (calibrated on training texts).
    #[command(after_help = FORMATS)]
    Export {
        #[command(flatten)]
        args: ExportArgs,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Accuracy of a model file on labelled texts (IMDb: the 25,000 reviews
    /// of the test split), through the integer runtime.
    #[command(after_help = FORMATS)]
    Eval {
        #[command(flatten)]
        args: EvalArgs,
        #[command(flatten)]
        input: InputArgs,
        /// Threads for the integer model's texts (0 = as many as the
        /// machine has); the figures do not depend on it.
        #[arg(long, short = 'j', default_value_t = 0)]
        jobs: usize,
    },
    /// Classify each line of a file (one text a line): the probability of
    /// the class, and its name.
    Predict {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Texts, one a line.
        #[arg(long)]
        file: PathBuf,
        /// After each line's class, every class's probability.
        #[arg(long)]
        all: bool,
    },
    /// Train on labelled texts (validation and test carved out of them
    /// unless given; IMDb: its test split).
    #[command(after_help = FORMATS, mut_args(ClassifierConfig::defaults().with_defaults_shown(classify::defaults::SHOWN)))]
    Train {
        #[command(flatten)]
        cfg: Box<ClassifierConfig>,
        #[command(flatten)]
        run: RunArgs,
        /// Evaluate the best float weights on the test part at the end
        /// (writes test.json).
        #[arg(long)]
        eval_test: bool,
        #[command(flatten)]
        export: ExportAfter,
    },
}

#[derive(Subcommand)]
enum CharLmAction {
    /// Quantize a checkpoint into a model file (calibrated on the training text).
    Export {
        #[command(flatten)]
        args: ExportArgs,
        #[command(flatten)]
        corpus: CorpusArgs,
    },
    /// Validation loss of a model file on the last 10% of the text.
    Eval {
        #[command(flatten)]
        args: EvalArgs,
        #[command(flatten)]
        corpus: CorpusArgs,
    },
    /// Generate text from a prime (integer sampling, as on the device).
    Generate {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        sample: host::cli::SampleArgs,
    },
    /// Train with truncated BPTT over stateful windows; ends with a sample
    /// from the integer model, as the device would print it.
    #[command(mut_args(CharLmConfig::defaults().with_defaults_shown(charlm::defaults::SHOWN)))]
    Train {
        #[command(flatten)]
        cfg: Box<CharLmConfig>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        export: ExportAfter,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Continue from `<out>/checkpoint.ckpt` if it exists.
    #[arg(long)]
    resume: bool,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

impl RunArgs {
    fn options(&self) -> RunOptions {
        RunOptions { resume: self.resume, quiet: self.quiet }
    }
}

fn report(summary: &Summary, out: &std::path::Path) {
    println!(
        "stopped ({}) after {} epochs; best epoch {}: val loss {:.4}{}",
        summary.stopped,
        summary.epochs_done,
        summary.best_epoch,
        summary.best_val_loss,
        summary.best_val_accuracy.map(|a| format!(", val accuracy {a:.4}")).unwrap_or_default()
    );
    println!("best weights: {}; metrics and curves in {}", summary.best.display(), out.display());
}

fn print_eval(e: &eval::Evaluation, json: bool) -> anyhow::Result<()> {
    println!("{}", e.line());
    if json {
        println!("{}", serde_json::to_string(e)?);
    }
    Ok(())
}

fn export(a: &ExportArgs, how: Calibrate<'_>) -> anyhow::Result<()> {
    let bytes = export::export(&a.checkpoint, &a.data, how, &a.out, a.bits())?;
    println!("wrote {} ({} bytes)", a.out.display(), bytes.len());
    Ok(())
}

/// Writes an evaluation beside the training run's metrics.
fn save_eval(out: &std::path::Path, e: &eval::Evaluation) -> anyhow::Result<()> {
    let path = out.join("eval.json");
    trainer::files::write_atomic(&path, format!("{}\n", serde_json::to_string_pretty(e)?).as_bytes())?;
    Ok(())
}

/// `classify train`: the data is read once (an archive in one pass, for
/// both splits when the test split is needed).
fn classify_train(cfg: &ClassifierConfig, run: &RunArgs, eval_test: bool, after: &ExportAfter) -> anyhow::Result<()> {
    let uses_test = eval_test || after.export.is_some();
    let d = classify::classifier_data(cfg, uses_test)?;
    let mut fitted = classify::fit_to_data(cfg, &d);
    if !run.quiet {
        eprintln!("{}", fitted.chosen.as_deref().unwrap_or_default());
    }
    let mut bits = after.bits();
    let s = fitted.sizes();
    let start = budget::Fit { vocab: s.vocab, embed_dim: s.embed_dim, hidden: s.hidden, bits, bytes: 0 };
    let fixed = budget::Fixed { vocab: cfg.vocab, embed_dim: cfg.embed_dim, hidden: cfg.hidden, ..Default::default() };
    let outputs = classify::class_outputs(d.classes.len());
    let stand_in = |f: &budget::Fit| {
        let sized = ClassifierConfig { embed_dim: Some(f.embed_dim), hidden: Some(f.hidden), ..fitted.clone() };
        let net = sized.net_config(f.vocab + 2, outputs);
        let task = budget::classifier_task(f.vocab, fitted.punctuation, fitted.max_tokens, &d.classes);
        budget::file_bytes(&task, &net, f.bits)
    };
    if after.max_bytes.is_some() && s.vocab == 0 {
        anyhow::bail!("--max-bytes needs a vocabulary (--vocab above 0)");
    }
    if let Some(f) = after.fit_budget(start, fixed, 100, stand_in, run.quiet)? {
        (fitted.vocab, fitted.embed_dim, fitted.hidden, bits) =
            (Some(f.vocab), Some(f.embed_dim), Some(f.hidden), f.bits);
    }
    let cfg = &fitted;
    let (words, train, valid) = classify::classifier_examples(cfg, &d)?;
    if !run.quiet {
        eprintln!("{}", d.split_line(words.vocab_size(), uses_test));
    }
    let test_reviews = &d.test;
    let test = if uses_test { trainer::data::examples(test_reviews, &words, cfg.max_tokens) } else { Vec::new() };
    let (baseline, teacher) = trainer::baseline::Baseline::fit(&train, &valid, &test, d.classes.len());
    let summary =
        classify::train_classifier_on(cfg, &run.options(), &words, &d.classes, &train, &valid, Some(&teacher))
            .context("classifier training failed")?;
    report(&summary, &cfg.out);
    println!("{}", baseline.line(&d.classes));
    if eval_test {
        let (loss, acc) = classify::evaluate_classifier_test(&summary.best, test_reviews)?;
        println!("test part, best float weights: loss {loss:.4}, accuracy {acc:.4}");
    }
    if let Some(file) = &after.export {
        let ckpt = Checkpoint::load(&summary.best)?;
        let calib = export::classifier_calibration(&d.calibration, &ckpt.meta.task);
        let bytes = export::write_model(&ckpt, &summary.best, &calib, bits, file)?;
        println!("wrote {} ({} bytes)", file.display(), bytes.len());
        within_budget(after, bytes.len())?;
        let mut e = eval::classifier_on(file, &bytes, test_reviews, Some(&ckpt), !run.quiet, 0)?;
        println!("{}", e.line());
        e.val_accuracy = summary.best_val_accuracy;
        e.baseline = Some(baseline);
        save_eval(&cfg.out, &e)?;
        write_test_texts(&cfg.out, test_reviews, &d.classes)?;
    }
    Ok(())
}

/// The test texts one a line (line breaks and tabs as spaces), as
/// `classify predict` and the firmware read them, and their class names,
/// in `<out>/test-texts.txt` and `<out>/test-labels.txt`.
fn write_test_texts(out: &std::path::Path, texts: &[trainer::data::Text], classes: &[String]) -> anyhow::Result<()> {
    let mut lines = String::new();
    let mut labels = String::new();
    for t in texts {
        lines.extend(t.text.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }));
        lines.push('\n');
        labels.push_str(&classes[t.class]);
        labels.push('\n');
    }
    trainer::files::write_atomic(&out.join("test-texts.txt"), lines.as_bytes())?;
    trainer::files::write_atomic(&out.join("test-labels.txt"), labels.as_bytes())?;
    Ok(())
}

/// `charlm train`: the text is read once; the sample at the end comes from
/// the integer model (the exported one, or one quantized in memory).
fn charlm_train(cfg: &CharLmConfig, run: &RunArgs, after: &ExportAfter) -> anyhow::Result<()> {
    let corpus = trainer::data::read_corpus(&cfg.data, &cfg.corpus)?;
    let mut fitted = charlm::fit_to_corpus(cfg, &corpus);
    let mut bits = after.bits();
    let shape = fitted.shape();
    let v = corpus.charset.len();
    let start = budget::Fit { vocab: v, embed_dim: shape.embed_dim, hidden: shape.hidden, bits, bytes: 0 };
    let fixed = budget::Fixed { vocab: Some(v), embed_dim: cfg.embed_dim, hidden: cfg.hidden, ..Default::default() };
    let task = trainer::net::Task::CharLm { charset: corpus.charset.clone() };
    let stand_in = |f: &budget::Fit| {
        let net = charlm::Shape { embed_dim: f.embed_dim, hidden: f.hidden, ..shape }.net_config(v);
        budget::file_bytes(&task, &net, f.bits)
    };
    if let Some(f) = after.fit_budget(start, fixed, v, stand_in, run.quiet)? {
        (fitted.embed_dim, fitted.hidden, bits) = (Some(f.embed_dim), Some(f.hidden), f.bits);
    }
    let cfg = &fitted;
    if !run.quiet {
        eprintln!(
            "{} characters: {} training, {} validation; charset of {} bytes",
            corpus.train.len() + corpus.valid.len(),
            corpus.train.len(),
            corpus.valid.len(),
            corpus.charset.len()
        );
        eprintln!("{}", cfg.chosen.as_deref().unwrap_or_default());
    }
    let summary = charlm::train_charlm_on(cfg, &run.options(), &corpus).context("charlm training failed")?;
    report(&summary, &cfg.out);
    let ckpt = Checkpoint::load(&summary.best)?;
    let calib = export::charlm_calibration(&corpus);
    let bytes = match &after.export {
        Some(file) => {
            let bytes = export::write_model(&ckpt, &summary.best, &calib, bits, file)?;
            println!("wrote {} ({} bytes)", file.display(), bytes.len());
            within_budget(after, bytes.len())?;
            let e = eval::charlm_on(file, &bytes, &corpus, Some(&float::to_float_model(&ckpt)))?;
            println!("{}", e.line());
            save_eval(&cfg.out, &e)?;
            bytes
        }
        None => export::quantize_checkpoint(&ckpt, &summary.best, &calib, bits)?,
    };
    let seed = cfg.training().seed;
    let sampler = runtime::Sampler::new(seed, 256, 5);
    let text = host::run::generate_text(&bytes, b"The ", 300, sampler)
        .map_err(|source| trainer::Error::BadModel { path: summary.best.clone(), source })?;
    println!(
        "sample of the integer model ({}-bit embedding, {}-bit LSTM; `charlm generate --prime \"The \" --len 300 \
         --seed {} --top-k 5` prints the same):\n{}",
        bits.embed,
        bits.lstm,
        seed,
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

/// One line on stderr and exit status 1 for any error: the message and its
/// causes, each cause only once (a typed error often names its source
/// already), never a backtrace.
/// Keep freed memory in the process: glibc's malloc hands every large
/// buffer back to the kernel when it is freed (`mmap` above its threshold,
/// and the heap's top above the trim threshold), and the kernel zeroes the
/// pages again when the next batch allocates them: on the char-LM bench
/// batch 16% of the time was page faults and `clear_page` (`perf record`).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two malloc parameters; it is called once,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            // A message of several lines (bad data rows) is one error line each.
            for line in msg.lines() {
                eprintln!("error: {line}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    trainer::linalg::set_threads(cli.threads);
    match cli.command {
        Command::Classify { action: ClassifyAction::Train { cfg, run, eval_test, export } } => {
            classify_train(&cfg, &run, eval_test, &export)?
        }
        Command::Inspect { file } => print!("{}", trainer::inspect::inspect(&file)?),
        Command::Classify { action: ClassifyAction::Export { args, input } } => {
            export(&args, Calibrate::Classifier(&input))?
        }
        Command::Charlm { action: CharLmAction::Export { args, corpus } } => export(&args, Calibrate::CharLm(&corpus))?,
        Command::Classify { action: ClassifyAction::Eval { args: a, input, jobs } } => {
            let e = eval::eval_classifier(&a.model, &a.data, &input, a.checkpoint.as_deref(), !a.json, jobs)?;
            print_eval(&e, a.json)?;
        }
        Command::Charlm { action: CharLmAction::Eval { args: a, corpus } } => {
            let e = eval::eval_charlm(&a.model, &a.data, &corpus, a.checkpoint.as_deref())?;
            print_eval(&e, a.json)?;
        }
        Command::Classify { action: ClassifyAction::Predict { model, file, all } } => {
            print!("{}", trainer::predict::predict(&model, &file, all)?);
        }
        Command::Charlm { action: CharLmAction::Generate { model, sample } } => {
            let sampler = sample.sampler().map_err(trainer::Error::Config)?;
            let text = trainer::predict::generate(&model, &sample.prime, sample.len, sampler)?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.write_all(b"\n")?;
        }
        Command::Charlm { action: CharLmAction::Train { cfg, run, export } } => charlm_train(&cfg, &run, &export)?,
        Command::Bench { iters, json, workload, compare, python } => {
            let iters = iters.max(1);
            let mut results = Vec::new();
            let mut references = Vec::new();
            let mut run = |r: trainer::bench::BenchResult| -> anyhow::Result<()> {
                if let Some(script) = &compare {
                    references.push(trainer::bench::reference(&python, script, &r.name, iters, cli.threads)?);
                }
                results.push(r);
                Ok(())
            };
            if workload != Workload::Charlm {
                run(trainer::bench::sentiment_workload(iters, cli.threads)?)?;
            }
            if workload != Workload::Sentiment {
                run(trainer::bench::charlm_workload(iters, cli.threads)?)?;
            }
            if json {
                #[derive(serde::Serialize)]
                struct Compared<'a> {
                    #[serde(flatten)]
                    ours: &'a trainer::bench::BenchResult,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    reference: Option<&'a trainer::bench::Reference>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    ratio: Option<f64>,
                }
                let rows: Vec<Compared<'_>> = results
                    .iter()
                    .enumerate()
                    .map(|(k, r)| {
                        let reference = references.get(k);
                        Compared { ours: r, reference, ratio: reference.map(|t| r.median_ms / t.median_ms) }
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for (k, r) in results.iter().enumerate() {
                    println!(
                        "{:<10} {:>8.1} ms/batch median ({:.1} min, {} batches, {} thread(s)): {}",
                        r.name, r.median_ms, r.min_ms, r.iterations, r.threads, r.description
                    );
                    if let Some(t) = references.get(k) {
                        println!(
                            "{:<10} {:>8.1} ms/batch median ({:.1} min), {}: trainer/PyTorch {:.2}",
                            "",
                            t.median_ms,
                            t.min_ms,
                            t.version,
                            r.median_ms / t.median_ms
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
