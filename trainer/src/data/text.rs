//! The texts every reader returns: a labelled text as read, and as token
//! ids; the one UTF-8 and directory-listing rule of every reader.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A raw labelled text.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    /// Where it comes from (`train/pos/123_9.txt` in IMDb, `file.csv:12`).
    pub name: String,
    /// The text.
    pub text: String,
    /// Its class (IMDb: 1 for a positive review).
    pub class: usize,
}

/// A tokenized text: token ids, at most `max_tokens` of them (the last
/// ones), and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// Token ids, in reading order.
    pub ids: Vec<u32>,
    /// The class (for two classes, the sigmoid's target).
    pub class: usize,
}

/// The text of `bytes`, or an error naming `path` and the first invalid
/// byte.
pub(crate) fn utf8(path: PathBuf, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 { path, offset: e.utf8_error().valid_up_to() })
}

/// The entries of a directory that are not hidden (no leading `.`), in
/// name order: the one listing rule of corpora and class folders.
pub(crate) fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    v.sort();
    Ok(v)
}
