//! The trainer library's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the trainer library. Each variant names
/// the file it concerns where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The IMDb archive is not a readable gzip-compressed tar file.
    #[error("{path}: not a readable .tar.gz archive: {source}")]
    BrokenArchive {
        /// The archive.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A text file is not valid UTF-8.
    #[error("{path}: not valid UTF-8 (byte offset {offset})")]
    NotUtf8 {
        /// The file (for an archive, `archive/member`).
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Rows of a labelled data file that cannot be used: each is one line,
    /// `file:line:column: reason`.
    #[error("{}", bad_rows(rows))]
    BadRows {
        /// The bad rows, in file order.
        rows: Vec<RowError>,
    },
    /// A data set or a split of it has no examples.
    #[error("{path}: {what} is empty")]
    Empty {
        /// The file or directory read.
        path: PathBuf,
        /// What is empty (for example "the IMDb train split").
        what: String,
    },
    /// The Hamlet text does not contain the start marker.
    #[error("{path}: start marker {marker:?} not found (give the offset explicitly)")]
    MarkerNotFound {
        /// The text file.
        path: PathBuf,
        /// The marker searched for.
        marker: String,
    },
    /// A checkpoint file is malformed, truncated or corrupted.
    #[error("{path}: bad checkpoint: {reason}")]
    BadCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A resumed run's configuration differs from the checkpoint's.
    #[error("{path}: cannot resume: {reason}")]
    ResumeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// A hyper-parameter is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The reference script `bench --compare` runs failed or printed no
    /// result line.
    #[error("{script}: {reason}")]
    Reference {
        /// The script.
        script: PathBuf,
        /// What went wrong (the command, its exit status, its last error lines).
        reason: String,
    },
    /// A model file could not be decoded or used by the runtime.
    #[error("{path}: {source}")]
    BadModel {
        /// The model file.
        path: PathBuf,
        /// The runtime's reason.
        source: runtime::Error,
    },
    /// A checkpoint could not be quantized into a model file.
    #[error("{path}: cannot quantize: {source}")]
    Quantize {
        /// The checkpoint file.
        path: PathBuf,
        /// The quantizer's reason.
        source: host::QuantizeError,
    },
    /// Drawing the learning curves failed.
    #[error("{path}: cannot draw the learning curves: {reason}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// The plotting library's message.
        reason: String,
    },
}

/// The first 20 bad rows, one a line; the last line says that nothing
/// was written (and how many more bad rows there are).
fn bad_rows(rows: &[RowError]) -> String {
    let shown: Vec<String> = rows.iter().take(20).map(|r| r.to_string()).collect();
    let mut s = shown.join("\n");
    if rows.len() > 20 {
        s.push_str(&format!("\n... and {} more bad rows", rows.len() - 20));
    }
    s.push_str(" (nothing was written)");
    s
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// One bad row: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The file.
    pub path: PathBuf,
    /// Line, from 1 (where the row starts).
    pub line: usize,
    /// Column, from 1: the field number in CSV and TSV, the byte in the
    /// line otherwise.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path.display(), self.line, self.column, self.reason)
    }
}

/// The trainer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
