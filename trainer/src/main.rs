//! `trainer`: command-line front end of the trainer library.

use anyhow::Context;
use clap::{Parser, Subcommand};
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

#[derive(Subcommand)]
enum SentimentAction {
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    trainer::linalg::set_threads(cli.threads);
    match cli.command {
        Command::Sentiment { action: SentimentAction::Train { cfg, run } } => {
            let summary = train::train_sentiment(&cfg, &run.options()).context("sentiment training failed")?;
            report(&summary, &cfg.out);
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
