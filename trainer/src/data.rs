//! Data sets: the labelled texts of a classifier (IMDb reviews, or any of
//! [`crate::labelled`]'s formats) and the text of a character language
//! model (Hamlet, or any UTF-8 corpus).
//!
//! All are read from the files the user names; nothing is downloaded.

use std::io::Read;
use std::path::{Path, PathBuf};

use host::Words;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use runtime::tokenizer::{WordIds, WordTokenizer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One of the two official IMDb splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `aclImdb/train` (25,000 reviews).
    Train,
    /// `aclImdb/test` (25,000 reviews).
    Test,
}

impl Split {
    fn dir(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

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

/// Parses `train/pos/123_9.txt` (relative to `aclImdb/`) into its split and
/// label; other paths give `None`.
fn classify(rel: &str) -> Option<(Split, bool)> {
    let mut parts = rel.split('/');
    let split = match parts.next()? {
        "train" => Split::Train,
        "test" => Split::Test,
        _ => return None,
    };
    let positive = match parts.next()? {
        "pos" => true,
        "neg" => false,
        _ => return None,
    };
    let file = parts.next()?;
    if parts.next().is_some() || !file.ends_with(".txt") {
        return None;
    }
    Some((split, positive))
}

fn utf8(path: PathBuf, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 { path, offset: e.utf8_error().valid_up_to() })
}

/// Reads the labelled reviews of `split` from the official archive
/// (`aclImdb_v1.tar.gz` or the labelled subset), or from its extracted
/// directory (the one holding `aclImdb/`, or `aclImdb/` itself). Texts are
/// returned sorted by name, so the order does not depend on the archive.
pub fn read_imdb(path: &Path, split: Split) -> Result<Vec<Text>> {
    let [mut reviews] = read_imdb_parts(path, [split])?;
    Ok(std::mem::take(&mut reviews))
}

/// Both official splits, (train, test), read in one pass over the archive.
pub fn read_imdb_splits(path: &Path) -> Result<(Vec<Text>, Vec<Text>)> {
    let [train, test] = read_imdb_parts(path, [Split::Train, Split::Test])?;
    Ok((train, test))
}

/// The reviews of each split asked for, in one pass, each sorted by name
/// and non-empty.
fn read_imdb_parts<const K: usize>(path: &Path, splits: [Split; K]) -> Result<[Vec<Text>; K]> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut parts: [Vec<Text>; K] = std::array::from_fn(|_| Vec::new());
    if meta.is_dir() {
        for (part, split) in parts.iter_mut().zip(splits) {
            *part = read_imdb_dir(path, split)?;
        }
    } else {
        read_imdb_archive(path, |s| splits.iter().position(|&w| w == s), &mut parts)?;
    }
    for (part, split) in parts.iter_mut().zip(splits) {
        if part.is_empty() {
            return Err(Error::Empty { path: path.to_owned(), what: format!("the IMDb {} split", split.dir()) });
        }
        part.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(parts)
}

fn read_imdb_archive(path: &Path, slot: impl Fn(Split) -> Option<usize>, parts: &mut [Vec<Text>]) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let broken = |source| Error::BrokenArchive { path: path.to_owned(), source };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let name = entry.path().map_err(broken)?.to_string_lossy().into_owned();
        let rel = name.trim_start_matches("./");
        let Some(rel) = rel.strip_prefix("aclImdb/") else {
            continue;
        };
        let Some((s, positive)) = classify(rel) else {
            continue;
        };
        let Some(k) = slot(s) else {
            continue;
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(broken)?;
        let text = utf8(path.join(rel), bytes)?;
        parts[k].push(Text { name: rel.to_owned(), text, class: usize::from(positive) });
    }
    Ok(())
}

fn read_imdb_dir(path: &Path, split: Split) -> Result<Vec<Text>> {
    let root = if path.join("aclImdb").is_dir() { path.join("aclImdb") } else { path.to_owned() };
    let mut reviews = Vec::new();
    for (label, positive) in [("pos", true), ("neg", false)] {
        let dir = root.join(split.dir()).join(label);
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let file = entry.path();
            if file.extension().is_none_or(|x| x != "txt") {
                continue;
            }
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let text = utf8(file.clone(), bytes)?;
            let name = format!("{}/{label}/{}", split.dir(), entry.file_name().to_string_lossy());
            reviews.push(Text { name, text, class: usize::from(positive) });
        }
    }
    Ok(reviews)
}

/// Tokenizes a review with the shared word tokenizer, keeping only the ids
/// the model reads ([`runtime::classifier::window`]: the last `max_tokens`,
/// 0 = all), as the device does.
pub fn tokenize(ids: WordIds<'_>, text: &str, max_tokens: usize) -> Vec<u32> {
    let mut v = Vec::new();
    ids.for_each_id(text.as_bytes(), |id| v.push(id));
    let keep = runtime::classifier::window(&v, max_tokens).len();
    v.drain(..v.len() - keep);
    v
}

/// Tokenizes reviews (see [`tokenize`]).
pub fn examples(reviews: &[Text], words: &Words, max_tokens: usize) -> Vec<Example> {
    words.with_ids(|ids| {
        reviews.iter().map(|r| Example { ids: tokenize(ids, &r.text, max_tokens), class: r.class }).collect()
    })
}

/// The vocabulary of the `size` most frequent tokens of `reviews` (ties
/// broken by hash, so the choice is reproducible), counted by their hash,
/// exactly as the device will look them up.
pub fn build_vocab(reviews: &[Text], punctuation: bool, size: usize) -> Words {
    let mut counts = std::collections::HashMap::<u32, u64>::new();
    for r in reviews {
        WordTokenizer::for_each_token(punctuation, r.text.as_bytes(), |h| *counts.entry(h).or_default() += 1);
    }
    let mut by_count: Vec<(u32, u64)> = counts.into_iter().collect();
    by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut hashes: Vec<u32> = by_count.into_iter().take(size).map(|(h, _)| h).collect();
    hashes.sort_unstable();
    Words::Vocab { punctuation, hashes }
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

/// Splits `items` into (train, validation) after a shuffle seeded by `seed`;
/// the validation part has `round(len * fraction)` items. With `limit > 0`,
/// the training part is cut to its first `limit` items.
pub fn carve_validation<T>(mut items: Vec<T>, fraction: f64, seed: u64, limit: usize) -> (Vec<T>, Vec<T>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_da7a);
    items.shuffle(&mut rng);
    let n_val = ((items.len() as f64) * fraction).round() as usize;
    let n_val = n_val.min(items.len());
    let mut train = items.split_off(n_val);
    if limit > 0 && train.len() > limit {
        train.truncate(limit);
    }
    (train, items)
}

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
    fn classify_paths() {
        assert_eq!(classify("train/pos/1_9.txt"), Some((Split::Train, true)));
        assert_eq!(classify("test/neg/1_2.txt"), Some((Split::Test, false)));
        assert_eq!(classify("train/unsup/1_0.txt"), None);
        assert_eq!(classify("imdb.vocab"), None);
    }

    #[test]
    fn truncation_keeps_the_last_tokens() {
        let h = WordIds::Hashed(runtime::tokenizer::WordHashing { buckets: 1000, seed: 0 });
        let all = tokenize(h, "a b c d e", 0);
        assert_eq!(all.len(), 5);
        assert_eq!(tokenize(h, "a b c d e", 2), all[3..].to_vec());
    }

    #[test]
    fn vocabulary_keeps_the_most_frequent_tokens() {
        let review = |text: &str| Text { name: String::new(), text: text.into(), class: 1 };
        let reviews = [review("good good good film!"), review("bad film, good!")];
        let words = build_vocab(&reviews, true, 3);
        let Words::Vocab { hashes, .. } = &words else { panic!("a vocabulary") };
        assert_eq!(hashes.len(), 3);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        // good (4), film (2), ! (2) are kept; bad and , are not.
        let ids = words.ids(b"good film! bad,");
        assert_eq!(ids.len(), 5);
        assert!(ids[..3].iter().all(|&id| id >= 2));
        assert_eq!(&ids[3..], &[1, 1]);
        assert_eq!(words.vocab_size(), 5);
    }

    #[test]
    fn carve_is_seeded_and_disjoint() {
        let (t1, v1) = carve_validation((0..100).collect(), 0.2, 7, 0);
        let (t2, v2) = carve_validation((0..100).collect(), 0.2, 7, 0);
        assert_eq!((t1.clone(), v1.clone()), (t2, v2));
        assert_eq!(v1.len(), 20);
        assert!(t1.iter().all(|x| !v1.contains(x)));
    }

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
