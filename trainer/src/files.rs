//! Files: atomic writes (a killed run never leaves a damaged file under a
//! final name), the temporaries of killed runs, a data file's identity, and
//! model files read and decoded with errors that name them.

use std::io::Write;
use std::path::{Path, PathBuf};

use runtime::{Model, ValidModel};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    commit_temp(&tmp, path)
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The temporary file [`write_atomic`] uses for `path`: same directory,
/// hidden, tagged with the process id.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir_of(path).join(format!(".tmp-{}-{name}", std::process::id()))
}

/// Removes the temporary files a killed run left in `dir` (names
/// `.tmp-<pid>-<name>`, see [`temp_path`]) whose process is gone; returns
/// how many. A run calls it on start, before it writes anything. Where
/// processes cannot be looked up (no `/proc`), nothing is removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(".tmp-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|pid| pid != std::process::id() && !proc.join(pid.to_string()).exists())
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Finishes an atomic write: fsync `tmp`, rename it over `path`, fsync the
/// directory. Removes `tmp` on failure.
pub fn commit_temp(tmp: &Path, path: &Path) -> Result<()> {
    let result = (|| {
        std::fs::OpenOptions::new().write(true).open(tmp)?.sync_all()?;
        std::fs::rename(tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir_of(path)) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(path, e)
    })
}

/// A data file as shipped metadata names it: its file name, size and
/// SHA-256, never its path on the machine that trained.
pub fn file_identity(path: &Path) -> Result<serde_json::Value> {
    use sha2::Digest;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if path.is_dir() {
        return Ok(serde_json::json!({ "directory": name }));
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(serde_json::json!({ "file": name, "bytes": bytes, "sha256": hex }))
}

/// A file's bytes, or an error naming it.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// A model file decoded in place, or an error naming it.
pub fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<ValidModel<'a>> {
    Model::from_bytes(bytes).map_err(|source| Error::BadModel { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporaries_of_dead_processes_are_removed() {
        let dir = std::env::temp_dir().join(format!("trainer-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ours = temp_path(&dir.join("checkpoint.ckpt"));
        let dead = dir.join(".tmp-4000000000-checkpoint.ckpt"); // above any pid_max
        let other = dir.join(".tmp-notapid-x");
        let keep = dir.join("metrics.json");
        for p in [&ours, &dead, &other, &keep] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_temps(&dir);
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, 1);
            assert!(!dead.exists());
        } else {
            assert_eq!(removed, 0);
        }
        assert!(ours.exists() && other.exists() && keep.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
