//! The text of a character language model: a UTF-8 file or a directory
//! of them, a Project Gutenberg header stripped, a start marker, the
//! charset, the 90/10 split.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::text::{utf8, visible_entries};
use crate::error::{Error, Result};

/// The marker that starts the play in Project Gutenberg's etext #2265
/// (the reference corpus is read from its last occurrence: the title also
/// appears several times in the header; in pg2265.txt the play starts at
/// byte 15858).
pub const HAMLET_MARKER: &str = "The Tragedie of Hamlet";

/// How a character corpus is read: which files, where the text starts,
/// which bytes the model knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct CorpusArgs {
    /// Strip a Project Gutenberg header and footer: keep only the text
    /// between the `*** START OF` line and the `*** END OF` line.
    #[arg(long)]
    pub gutenberg: bool,
    /// Start the text at the last occurrence of this string (Hamlet:
    /// "The Tragedie of Hamlet", where the play begins).
    #[arg(long, value_name = "TEXT")]
    pub start_marker: Option<String>,
    /// Start the text at this byte offset (after --gutenberg).
    #[arg(long, value_name = "BYTES", conflicts_with = "start_marker")]
    pub start_offset: Option<usize>,
    /// Most distinct bytes in the charset: when the text has more, the
    /// most frequent are kept (ties: the lower byte) and every other byte
    /// is dropped from the text, as the runtime skips bytes outside the
    /// charset.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(2..=256))]
    pub max_chars: u16,
}

impl Default for CorpusArgs {
    fn default() -> Self {
        Self { gutenberg: false, start_marker: None, start_offset: None, max_chars: 128 }
    }
}

impl CorpusArgs {
    /// The reference corpus's reading: Hamlet from its title.
    pub fn hamlet() -> Self {
        Self { start_marker: Some(HAMLET_MARKER.into()), ..Self::default() }
    }
}

/// A character corpus split for language modelling.
#[derive(Clone, Debug, PartialEq)]
pub struct CharCorpus {
    /// Sorted distinct bytes of the whole text (train and validation, at
    /// most the cap): id `i` is byte `charset[i]`.
    pub charset: Vec<u8>,
    /// Training ids (the first 90% of characters).
    pub train: Vec<u16>,
    /// Validation ids (the last 10%).
    pub valid: Vec<u16>,
}

impl CharCorpus {
    /// Builds the corpus from `text` (already without its header): the
    /// charset (at most `max_chars` bytes, the most frequent), the text's
    /// bytes in it as ids, then the first `train_fraction` of them for
    /// training.
    pub fn from_text(text: &[u8], train_fraction: f64, max_chars: usize) -> Self {
        let mut counts = [0u64; 256];
        for &b in text {
            counts[b as usize] += 1;
        }
        let mut seen: Vec<u8> = (0..=255u8).filter(|&b| counts[b as usize] > 0).collect();
        if seen.len() > max_chars {
            seen.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
            seen.truncate(max_chars);
            seen.sort_unstable();
        }
        let charset = seen;
        let mut index = [u16::MAX; 256];
        for (i, &b) in charset.iter().enumerate() {
            index[b as usize] = i as u16;
        }
        let ids: Vec<u16> = text.iter().map(|&b| index[b as usize]).filter(|&i| i != u16::MAX).collect();
        let cut = ((ids.len() as f64) * train_fraction).round() as usize;
        let (train, valid) = ids.split_at(cut.min(ids.len()));
        Self { charset, train: train.to_vec(), valid: valid.to_vec() }
    }
}

/// The UTF-8 text of a file, or of every file of a directory (not hidden,
/// in name order, each ending with a newline), for a language model.
fn corpus_text(path: &Path) -> Result<String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let v: Vec<PathBuf> = visible_entries(path)?.into_iter().filter(|p| p.is_file()).collect();
        if v.is_empty() {
            return Err(Error::Empty { path: path.to_owned(), what: "the directory".into() });
        }
        v
    } else {
        vec![path.to_owned()]
    };
    let mut text = String::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
        let t = utf8(f.clone(), bytes)?;
        text.push_str(t.strip_prefix('\u{feff}').unwrap_or(&t));
        if files.len() > 1 && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

/// The text between a Project Gutenberg `*** START OF` line and its
/// `*** END OF` line.
fn strip_gutenberg<'t>(path: &Path, text: &'t str) -> Result<&'t str> {
    let missing = |marker: &str| Error::MarkerNotFound { path: path.to_owned(), marker: marker.to_owned() };
    let start = text.find("*** START OF").ok_or_else(|| missing("*** START OF"))?;
    let body = text[start..].find('\n').map_or("", |nl| &text[start + nl + 1..]);
    Ok(body.find("*** END OF").map_or(body, |end| &body[..end]))
}

/// Reads a corpus (a UTF-8 file or a directory of them), skips what
/// `args` says, and splits it 90/10: the first 90% of characters train,
/// the last 10% validate.
pub fn read_corpus(path: &Path, args: &CorpusArgs) -> Result<CharCorpus> {
    let all = corpus_text(path)?;
    let text = if args.gutenberg { strip_gutenberg(path, &all)? } else { &all[..] };
    let start = match (args.start_offset, &args.start_marker) {
        (Some(o), _) if o <= text.len() => o,
        (Some(o), _) => {
            return Err(Error::Config(format!(
                "start offset {o} is past the end of {} ({} bytes)",
                path.display(),
                text.len()
            )))
        }
        (None, Some(m)) => {
            text.rfind(m.as_str()).ok_or_else(|| Error::MarkerNotFound { path: path.to_owned(), marker: m.clone() })?
        }
        (None, None) => 0,
    };
    let corpus = CharCorpus::from_text(&text.as_bytes()[start..], 0.9, usize::from(args.max_chars));
    if corpus.train.is_empty() || corpus.valid.is_empty() || corpus.charset.len() < 2 {
        return Err(Error::Empty { path: path.to_owned(), what: "the text (after any header)".to_owned() });
    }
    Ok(corpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_split() {
        let c = CharCorpus::from_text(b"abcabcabca", 0.9, 128);
        assert_eq!(c.charset, b"abc");
        assert_eq!(c.train.len(), 9);
        assert_eq!(c.valid, vec![0]);
    }

    #[test]
    fn the_charset_cap_keeps_the_most_frequent_bytes_and_drops_the_rest() {
        let c = CharCorpus::from_text(b"aaabbcaaabbd", 0.5, 2);
        assert_eq!(c.charset, b"ab");
        // c and d are dropped: 10 ids remain.
        assert_eq!(c.train.len() + c.valid.len(), 10);
    }

    #[test]
    fn a_gutenberg_header_and_footer_are_stripped() {
        let t = "The Project Gutenberg eBook\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBody text.\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nLicence";
        assert_eq!(strip_gutenberg(Path::new("x"), t).ok(), Some("Body text.\n"));
        assert!(strip_gutenberg(Path::new("x"), "no header").is_err());
    }
}
