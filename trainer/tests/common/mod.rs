//! Shared helpers of the trainer's data tests.

use std::path::PathBuf;

/// The data directory from `LSTM_DATA_DIR`. When the variable is unset the
/// test fails, unless `LSTM_ALLOW_NO_DATA=1`, when it returns `None` and the
/// caller returns early after saying so (never a silent skip).
#[allow(dead_code)] // not every test file uses every helper
pub fn data_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("LSTM_DATA_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            assert!(d.is_dir(), "LSTM_DATA_DIR={} is not a directory", d.display());
            Some(d)
        }
        None if std::env::var("LSTM_ALLOW_NO_DATA").as_deref() == Ok("1") => {
            eprintln!("{test}: NOT RUN: LSTM_DATA_DIR is unset and LSTM_ALLOW_NO_DATA=1");
            None
        }
        None => panic!(
            "{test} needs the data sets: set LSTM_DATA_DIR to the folder holding \
             aclImdb-labeled.tar.gz and pg2265.txt (CI uses ../shared/data), or set \
             LSTM_ALLOW_NO_DATA=1 to run without them"
        ),
    }
}

/// A fresh, empty temporary directory for one test.
#[allow(dead_code)]
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trainer-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A `.tar.gz` at `path` holding `files` (name, contents).
#[allow(dead_code)]
pub fn write_archive(path: &std::path::Path, files: &[(&str, &[u8])]) {
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}
