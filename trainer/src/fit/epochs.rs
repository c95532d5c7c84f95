//! The one training loop of both tasks.

use std::time::Instant;

use dfdx::prelude::*;

use crate::error::Result;
use crate::fit::objective::Objective;
use crate::fit::options::Plan;
use crate::fit::run::Run;
use crate::fit::stopping::{epoch_line, improves, Stopping};
use crate::metrics::EpochRecord;
use crate::net::Network;
use crate::progress::bar;

/// The training loop of both tasks: epochs of Adam steps with clipping,
/// validation after each, the best weights kept, checkpoints, metrics and
/// curves written, until [`Stopping`] says why not to go on.
pub fn fit(run: &mut Run, task: &mut impl Objective, plan: &Plan, quiet: bool, title: &str) -> Result<String> {
    let Plan { stop, rate, clip, qat_embed_bits, .. } = *plan;
    let started = Instant::now();
    let mut done_here = 0usize;
    loop {
        if let Some(reason) = stop.reason(&run.progress, started.elapsed()) {
            return Ok(reason.to_owned());
        }
        let epoch = run.progress.epochs_done + 1;
        let t0 = Instant::now();
        let n = task.start_epoch(epoch);
        let pb = bar(!quiet, n as u64, format!("epoch {epoch}/{}", stop.epochs), "batches");
        let (mut sum, mut count) = (0.0f64, 0usize);
        for k in 0..n {
            refresh_qat(&mut run.net, qat_embed_bits, k, n);
            let (loss, rows) = task.loss(&run.net, k);
            let l = f64::from(loss.array());
            let mut grads = loss.backward();
            run.adam.cfg.lr = rate.at(run.progress.steps);
            run.adam.step(&mut run.net, &mut grads, clip);
            if let Some(ema) = &mut run.ema {
                ema.update(&run.net, run.progress.steps);
            }
            run.progress.steps += 1;
            sum += l * rows as f64;
            count += rows;
            pb.set_message(format!("loss {:.4}", sum / count.max(1) as f64));
            pb.inc(1);
        }
        pb.finish_and_clear();
        refresh_qat(&mut run.net, qat_embed_bits, n, n);
        let kept = run.kept();
        let (val_loss, val_accuracy) = task.validate(kept.as_ref().unwrap_or(&run.net));
        let record = EpochRecord {
            epoch,
            train_loss: sum / count.max(1) as f64,
            val_loss,
            val_accuracy,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let better = run.best().is_none_or(|b| improves(&record, b));
        if !quiet {
            let left = stop.epochs.saturating_sub(epoch);
            eprintln!("{}{}", epoch_line(&record, better), eta(started.elapsed().as_secs_f64(), done_here, left, stop));
        }
        done_here += 1;
        run.end_epoch(record, better, title)?;
    }
}

/// Embedding QAT: before batch `k` of `n` (every 50th) and before
/// validation (`k == n`), the grid is computed again from the table.
fn refresh_qat(net: &mut Network, bits: u8, k: usize, n: usize) {
    if bits > 0 && (k.is_multiple_of(50) || k >= n) {
        net.set_embed_quant(bits);
    }
}

/// The whole run's remaining time at the pace of this process's `done`
/// epochs so far (`elapsed` seconds): `left` epochs at most, the time limit
/// if it comes first; patience may end it sooner.
fn eta(elapsed: f64, done: usize, left: usize, stop: Stopping) -> String {
    if left == 0 || done == 0 {
        return String::new();
    }
    let mut secs = elapsed / done as f64 * left as f64;
    if stop.minutes > 0.0 {
        secs = secs.min((stop.minutes * 60.0 - elapsed).max(0.0));
    }
    let t = if secs >= 90.0 { format!("{:.0} min", secs / 60.0) } else { format!("{secs:.0} s") };
    format!("; at most {left} epochs left, about {t} (patience may stop it sooner)")
}
