//! Training killed with SIGKILL at random points and rerun with `--resume`
//! ends with the same weights and optimiser state as a run never
//! interrupted, and no kill leaves a truncated file under a final name.
//! Runs the `trainer` binary on a small generated text (no data set needed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use trainer::net::Checkpoint;

mod common;

/// About 40 KB of verse-like text from a fixed word list.
fn text() -> String {
    let words =
        ["the", "king", "is", "dead", "and", "what", "a", "piece", "of", "work", "man", "to", "be", "or", "not"];
    let mut s = String::new();
    let mut x = 12345u32;
    for i in 0..8000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        s.push_str(words[(x >> 16) as usize % words.len()]);
        s.push(if i % 9 == 8 { '\n' } else { ' ' });
    }
    s
}

fn train(data: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args(["charlm", "train", "--quiet", "--start-offset", "0", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--streams", "8", "--window", "20", "--hidden", "24", "--embed-dim", "8"])
        .args(["--epochs", "6", "--patience", "100", "--seed", "3", "--resume"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Every file under a final name is whole: checkpoints load, the metrics
/// parse, the curves are a complete PNG.
fn assert_final_files_whole(out: &Path) {
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(".tmp-") {
            continue; // a killed run's temporary, removed by the next start
        }
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".ckpt") {
            Checkpoint::load(&path).unwrap_or_else(|e| panic!("{name} is damaged: {e}"));
        } else if name.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| panic!("{name} is damaged: {e}"));
        } else if name.ends_with(".png") {
            assert!(bytes.ends_with(&[0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]), "{name} is truncated");
        } else {
            panic!("unexpected file {name}");
        }
    }
}

fn epochs_done(out: &Path) -> usize {
    Checkpoint::load(&out.join("checkpoint.ckpt")).map(|c| c.meta.progress.epochs_done).unwrap_or(0)
}

#[test]
fn sigkill_at_random_points_then_resume_equals_uninterrupted() {
    let dir = common::temp_dir("kill");
    let data: PathBuf = dir.join("text.txt");
    std::fs::write(&data, text()).unwrap();

    let straight = dir.join("straight");
    let t0 = Instant::now();
    let out = train(&data, &straight).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let full = t0.elapsed();

    // Kill at seeded random points spread over a whole run's duration, until
    // a rerun finishes by itself.
    let killed = dir.join("killed");
    let mut x = 7u64;
    let mut kills = 0;
    let mut progress = Vec::new();
    loop {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let delay = full.mul_f64(((x >> 33) % 1000) as f64 / 1000.0 * 0.4);
        let mut child = train(&data, &killed).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            let status = child.wait().unwrap();
            assert!(status.success(), "resumed run failed");
            break;
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;
        assert_final_files_whole(&killed);
        progress.push(epochs_done(&killed));
        assert!(kills < 200, "the resumed run never finished: epochs done after each kill {progress:?}");
    }
    eprintln!("{kills} kills; epochs done after each: {progress:?}; uninterrupted run {full:?}");
    assert!(kills >= 3, "too few kills to mean anything ({kills})");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {progress:?}");
    assert_final_files_whole(&killed);
    assert!(
        !std::fs::read_dir(&killed).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".tmp-")),
        "a finished run left temporary files"
    );

    let a = Checkpoint::load(&straight.join("checkpoint.ckpt")).unwrap();
    let b = Checkpoint::load(&killed.join("checkpoint.ckpt")).unwrap();
    assert_eq!(a.meta.progress.epochs_done, 6);
    assert_eq!(b.meta.progress.epochs_done, 6);
    assert!(a.params == b.params, "weights differ after kills and resumes");
    assert!(a.adam == b.adam, "optimiser state differs after kills and resumes");
    // The history's losses match too; only the epochs' wall times differ.
    let losses =
        |c: &Checkpoint| c.meta.progress.history.iter().map(|r| (r.train_loss, r.val_loss)).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b));
    let best = |d: &Path| Checkpoint::load(&d.join("best.ckpt")).unwrap();
    let (ba, bb) = (best(&straight), best(&killed));
    assert_eq!(ba.meta.progress.best_epoch, bb.meta.progress.best_epoch);
    assert!(ba.params == bb.params, "best.ckpt weights differ");
    let _ = std::fs::remove_dir_all(&dir);
}
