//! The IMDb Large Movie Review Dataset: its official archive or its
//! extracted directory, both splits read in one pass.

use std::io::Read;
use std::path::Path;

use crate::data::text::{utf8, Text};
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
}
