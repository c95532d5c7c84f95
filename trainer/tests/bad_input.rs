//! Bad input gives one clear error naming the file.

mod common;

use std::path::Path;

use trainer::data::{self, Split};
use trainer::Error;

fn message_names(err: &Error, path: &Path) {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg:?} does not name {}", path.display());
}

#[test]
fn missing_paths_are_named() {
    let p = Path::new("/nonexistent/aclImdb.tar.gz");
    let e = data::read_imdb(p, Split::Train).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    message_names(&e, p);
    let p = Path::new("/nonexistent/pg2265.txt");
    let e = data::read_corpus(p, &data::CorpusArgs::hamlet()).unwrap_err();
    message_names(&e, p);
}

#[test]
fn broken_archive_is_named() {
    let d = common::temp_dir("broken");
    let p = d.join("broken.tar.gz");
    std::fs::write(&p, b"this is not gzip").unwrap();
    let e = data::read_imdb(&p, Split::Train).unwrap_err();
    assert!(matches!(e, Error::BrokenArchive { .. }), "{e}");
    message_names(&e, &p);
}

#[test]
fn archive_reading_non_utf8_and_empty_splits() {
    let d = common::temp_dir("archive");
    let good = d.join("good.tar.gz");
    common::write_archive(
        &good,
        &[
            ("aclImdb/train/pos/1_9.txt", b"Great film.<br />Loved it"),
            ("aclImdb/train/neg/2_1.txt", b"Awful."),
            ("aclImdb/train/unsup/3_0.txt", b"ignored"),
            ("aclImdb/README", b"ignored"),
        ],
    );
    let reviews = data::read_imdb(&good, Split::Train).unwrap();
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0].name, "train/neg/2_1.txt");
    assert!(reviews[0].class == 0 && reviews[1].class == 1);
    // No test split in this archive.
    let e = data::read_imdb(&good, Split::Test).unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e}");
    message_names(&e, &good);

    let bad = d.join("bad.tar.gz");
    common::write_archive(&bad, &[("aclImdb/train/pos/1_9.txt", b"caf\xe9")]);
    let e = data::read_imdb(&bad, Split::Train).unwrap_err();
    assert!(matches!(e, Error::NotUtf8 { .. }), "{e}");
    assert!(e.to_string().contains("train/pos/1_9.txt"), "{e}");
}

#[test]
fn hamlet_without_marker_or_utf8() {
    let d = common::temp_dir("hamlet");
    let p = d.join("text.txt");
    std::fs::write(&p, "no play here").unwrap();
    let e = data::read_corpus(&p, &data::CorpusArgs::hamlet()).unwrap_err();
    assert!(matches!(e, Error::MarkerNotFound { .. }), "{e}");
    message_names(&e, &p);
    std::fs::write(&p, b"The Tragedie of Hamlet \xff").unwrap();
    let e = data::read_corpus(&p, &data::CorpusArgs::hamlet()).unwrap_err();
    assert!(matches!(e, Error::NotUtf8 { .. }), "{e}");
    message_names(&e, &p);
    let c = data::read_corpus(&p, &data::CorpusArgs { start_offset: Some(0), ..Default::default() });
    assert!(c.is_err());
}
