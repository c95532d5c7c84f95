//! `trainer`: command-line front end of the trainer library.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use runtime::format::ModelKind;
use trainer::train::{self, CharLmConfig, RunOptions, SentimentConfig};

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
    /// IMDb sentiment classifier.
    Sentiment {
        #[command(subcommand)]
        action: SentimentAction,
    },
    /// Character-level language model (Hamlet).
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
    /// Training data for calibration (the same file training read).
    #[arg(long)]
    data: PathBuf,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Bits per embedding value: 8, or 4 (two values a byte).
    #[arg(long, default_value_t = 8)]
    embed_bits: u8,
}

/// Evaluate a model file through the integer runtime.
#[derive(clap::Args)]
struct EvalArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The data set (IMDb archive or directory; Hamlet text).
    #[arg(long)]
    data: PathBuf,
    /// The float checkpoint it came from, for the float figure beside it.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum SentimentAction {
    /// Quantize a checkpoint into a model file (calibrated on training reviews).
    Export(ExportArgs),
    /// Accuracy of a model file on the official IMDb test split (25,000 reviews).
    Eval(EvalArgs),
    /// Classify each line of a file (one review a line): probability and label.
    Predict {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Reviews, one a line.
        #[arg(long)]
        file: PathBuf,
    },
    /// Train on the IMDb train split (validation carved out of it).
    Train {
        #[command(flatten)]
        cfg: SentimentConfig,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Subcommand)]
enum CharLmAction {
    /// Quantize a checkpoint into a model file (calibrated on the training text).
    Export(ExportArgs),
    /// Validation loss of a model file on the last 10% of the play.
    Eval(EvalArgs),
    /// Generate text from a prime (integer sampling, as on the device).
    Generate {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Text to start from.
        #[arg(long, default_value = "The ")]
        prime: String,
        /// Characters to generate.
        #[arg(long, default_value_t = 500)]
        len: usize,
        /// Sampling seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sampling temperature (0 = greedy).
        #[arg(long, default_value_t = 1.0)]
        temperature: f32,
        /// Sample among the k most likely characters (0 = all).
        #[arg(long, default_value_t = 5)]
        top_k: u16,
    },
    /// Train with truncated BPTT over stateful windows.
    Train {
        #[command(flatten)]
        cfg: CharLmConfig,
        #[command(flatten)]
        run: RunArgs,
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
    /// Sentiment: evaluate the best weights on the official test split at
    /// the end (writes test.json).
    #[arg(long)]
    eval_test: bool,
}

impl RunArgs {
    fn options(&self) -> RunOptions {
        RunOptions { resume: self.resume, quiet: self.quiet, eval_test: self.eval_test }
    }
}

fn report(summary: &train::Summary, out: &std::path::Path) {
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

fn print_eval(e: &trainer::infer::Evaluation, json: bool) -> anyhow::Result<()> {
    let both = |int: Option<f64>, float: Option<f64>| match float {
        Some(f) => format!("{:.4} (float checkpoint {f:.4})", int.unwrap_or(f64::NAN)),
        None => format!("{:.4}", int.unwrap_or(f64::NAN)),
    };
    if e.accuracy.is_some() {
        println!(
            "test accuracy, integer model: {} over {} reviews; model {} bytes",
            both(e.accuracy, e.float_accuracy),
            e.n,
            e.model_bytes
        );
    } else {
        println!(
            "validation loss, integer model: {} nats/char ({:.4} bits/char) over {} characters; model {} bytes",
            both(e.val_nats, e.float_val_nats),
            e.val_bits.unwrap_or(f64::NAN),
            e.n,
            e.model_bytes
        );
    }
    if json {
        println!("{}", serde_json::to_string(e)?);
    }
    Ok(())
}

fn export(kind: ModelKind, a: &ExportArgs) -> anyhow::Result<()> {
    let bytes = trainer::infer::export(kind, &a.checkpoint, &a.data, &a.out, a.embed_bits)?;
    println!("wrote {} ({} bytes)", a.out.display(), bytes.len());
    Ok(())
}

/// One line on stderr and exit status 1 for any error: the message and its
/// causes, each cause only once (a typed error often names its source
/// already), never a backtrace.
fn main() -> std::process::ExitCode {
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
            eprintln!("error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    trainer::linalg::set_threads(cli.threads);
    match cli.command {
        Command::Sentiment { action: SentimentAction::Train { cfg, run } } => {
            let summary = train::train_sentiment(&cfg, &run.options()).context("sentiment training failed")?;
            report(&summary, &cfg.out);
        }
        Command::Inspect { file } => print!("{}", trainer::infer::inspect(&file)?),
        Command::Sentiment { action: SentimentAction::Export(a) } => export(ModelKind::Sentiment, &a)?,
        Command::Charlm { action: CharLmAction::Export(a) } => export(ModelKind::CharLm, &a)?,
        Command::Sentiment { action: SentimentAction::Eval(a) } => {
            let e = trainer::infer::eval_sentiment(&a.model, &a.data, a.checkpoint.as_deref(), !a.json)?;
            print_eval(&e, a.json)?;
        }
        Command::Charlm { action: CharLmAction::Eval(a) } => {
            let e = trainer::infer::eval_charlm(&a.model, &a.data, a.checkpoint.as_deref())?;
            print_eval(&e, a.json)?;
        }
        Command::Sentiment { action: SentimentAction::Predict { model, file } } => {
            print!("{}", trainer::infer::predict(&model, &file)?);
        }
        Command::Charlm { action: CharLmAction::Generate { model, prime, len, seed, temperature, top_k } } => {
            if !(0.0..=255.0).contains(&temperature) {
                bail!("--temperature must be in 0..=255, not {temperature}");
            }
            let sampler = runtime::Sampler::new(seed, (temperature * 256.0).round() as u16, top_k);
            let text = trainer::infer::generate(&model, &prime, len, sampler)?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.write_all(b"\n")?;
        }
        Command::Charlm { action: CharLmAction::Train { cfg, run } } => {
            let summary = train::train_charlm(&cfg, &run.options()).context("charlm training failed")?;
            report(&summary, &cfg.out);
            let ckpt = trainer::checkpoint::Checkpoint::load(&summary.best)?;
            let model = trainer::export::to_float_model(&ckpt);
            let text = trainer::export::sample_chars(&model, "The ", 300, 5, cfg.seed);
            println!("sample (prime \"The \", top-5):\n{text}");
        }
        Command::Bench { iters, json, workload } => {
            let iters = iters.max(1);
            let mut results = Vec::new();
            if workload != Workload::Charlm {
                results.push(trainer::bench::sentiment_workload(iters, cli.threads)?);
            }
            if workload != Workload::Sentiment {
                results.push(trainer::bench::charlm_workload(iters, cli.threads)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                for r in &results {
                    println!(
                        "{:<10} {:>8.1} ms/batch median ({:.1} min, {} batches, {} thread(s)): {}",
                        r.name, r.median_ms, r.min_ms, r.iterations, r.threads, r.description
                    );
                }
            }
        }
    }
    Ok(())
}
