//! `trainer classify predict` and `trainer charlm generate`: the integer
//! runtime on the host, the same code path (and bytes) as the firmware.

use std::path::Path;

use runtime::Sampler;

use crate::files::read;
use crate::Error;

/// `trainer classify predict`: one line per text (line) of `texts`; with
/// `all`, each followed by every class's probability.
pub fn predict(model: &Path, texts: &Path, all: bool) -> Result<String, Error> {
    let bytes = read(model)?;
    let text = read(texts)?;
    host::run::predict_lines(&bytes, &text, all).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}

/// `trainer charlm generate`: the prime and `len` sampled characters.
pub fn generate(model: &Path, prime: &str, len: usize, sampler: Sampler) -> Result<Vec<u8>, Error> {
    let bytes = read(model)?;
    host::run::generate_text(&bytes, prime.as_bytes(), len, sampler)
        .map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}
