//! Data sets, read from the files the user names (nothing is downloaded):
//! the labelled texts of a classifier (IMDb reviews, or any of
//! [`labelled`]'s formats) and the text of a character language model
//! (Hamlet, or any UTF-8 corpus); the splits, and the token ids.
//!
//! Layers, each using only those before it: [`text`], [`imdb`],
//! [`labelled`], [`corpus`], [`split`], [`vocab`].

pub mod text;

pub mod imdb;

pub mod labelled;

pub mod corpus;

pub mod split;

pub mod vocab;

pub use corpus::{read_corpus, CharCorpus, CorpusArgs, HAMLET_MARKER};
pub use imdb::{read_imdb, read_imdb_splits, Split};
pub use labelled::{imdb_classes, InputArgs, InputFormat};
pub use split::{carve_stratified, carve_validation};
pub use text::{Example, Text};
pub use vocab::{build_vocab, examples, tokenize};
