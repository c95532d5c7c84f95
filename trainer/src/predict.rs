//! `trainer sentiment predict` and `trainer charlm generate`: the integer
//! runtime on the host, the same code path (and bytes) as the firmware.

use std::path::Path;

use runtime::Sampler;

use crate::eval::read;
use crate::Error;

/// `trainer sentiment predict`: one line per review of `reviews`.
pub fn predict(model: &Path, reviews: &Path) -> Result<String, Error> {
    let bytes = read(model)?;
    let text = read(reviews)?;
    host::run::predict_lines(&bytes, &text).map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}

/// `trainer charlm generate`: the prime and `len` sampled characters.
pub fn generate(model: &Path, prime: &str, len: usize, sampler: Sampler) -> Result<Vec<u8>, Error> {
    let bytes = read(model)?;
    host::run::generate_text(&bytes, prime.as_bytes(), len, sampler)
        .map_err(|source| Error::BadModel { path: model.to_path_buf(), source })
}
