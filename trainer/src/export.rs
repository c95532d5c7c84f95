//! Export: a checkpoint, calibrated on training data and quantized by
//! [`host::quantize()`], becomes a model file.

use std::path::Path;

use host::{Bits, Calibration};
use runtime::format::ModelKind;

use crate::data::labelled::{self, InputArgs};
use crate::data::{self, CharCorpus, CorpusArgs, Split, Text};
use crate::files::{decode, write_atomic};
use crate::float::to_float_model;
use crate::net::{Checkpoint, Task};
use crate::Error;

/// Calibration input of a classifier: a fixed spread of about 400
/// training texts (in their order: IMDb's sorted by name, a file's by
/// line), tokenized as the model reads them. Only the texts are read.
pub fn classifier_calibration(reviews: &[Text], task: &Task) -> Vec<Vec<u32>> {
    let Task::Classifier { words, max_tokens, .. } = task else { return Vec::new() };
    words.with_ids(|ids| {
        reviews
            .iter()
            .step_by(reviews.len().div_ceil(400).max(1))
            .map(|r| data::tokenize(ids, &r.text, *max_tokens))
            .collect()
    })
}

/// Calibration input of a language model: eight 4,000-character pieces of
/// the training text.
pub fn charlm_calibration(corpus: &CharCorpus) -> Vec<Vec<u32>> {
    corpus.train.chunks(4000).take(8).map(|c| c.iter().map(|&i| u32::from(i)).collect()).collect()
}

fn check_bits(bits: Bits) -> Result<(), Error> {
    for (flag, b) in [("--embed-bits", bits.embed), ("--lstm-bits", bits.lstm)] {
        if b != 8 && b != 4 {
            return Err(Error::Config(format!("{flag} must be 8 or 4, not {b}")));
        }
    }
    Ok(())
}

/// The checkpoint's task as a model kind.
pub fn kind_of(ckpt: &Checkpoint) -> ModelKind {
    match ckpt.meta.task {
        Task::Classifier { .. } => ModelKind::Classifier,
        Task::CharLm { .. } => ModelKind::CharLm,
    }
}

/// Quantize a loaded checkpoint with this calibration input: the model
/// file's bytes (validated by the runtime).
pub fn quantize_checkpoint(
    ckpt: &Checkpoint,
    ckpt_path: &Path,
    calib: &[Vec<u32>],
    bits: Bits,
) -> Result<Vec<u8>, Error> {
    check_bits(bits)?;
    let float = to_float_model(ckpt);
    host::quantize_bits(&float, &Calibration::run(&float, calib), bits)
        .map_err(|source| Error::Quantize { path: ckpt_path.to_owned(), source })
}

/// [`quantize_checkpoint`], then write the model file to `out`
/// (atomically); returns its bytes.
pub fn write_model(
    ckpt: &Checkpoint,
    ckpt_path: &Path,
    calib: &[Vec<u32>],
    bits: Bits,
    out: &Path,
) -> Result<Vec<u8>, Error> {
    let bytes = quantize_checkpoint(ckpt, ckpt_path, calib, bits)?;
    decode(out, &bytes)?;
    write_atomic(out, &bytes)?;
    Ok(bytes)
}

/// How export reads its calibration data: a classifier's layout, or a
/// corpus's reading.
#[derive(Clone, Debug)]
pub enum Calibrate<'a> {
    /// Labelled text (its labels are not read).
    Classifier(&'a InputArgs),
    /// A language model's corpus, read as training read it.
    CharLm(&'a CorpusArgs),
}

/// `trainer classify|charlm export`: load the checkpoint, check its task,
/// read the calibration data and write the model file.
pub fn export(ckpt_path: &Path, data: &Path, how: Calibrate<'_>, out: &Path, bits: Bits) -> Result<Vec<u8>, Error> {
    let kind = match how {
        Calibrate::Classifier(_) => ModelKind::Classifier,
        Calibrate::CharLm(_) => ModelKind::CharLm,
    };
    check_bits(bits)?;
    let ckpt = Checkpoint::load(ckpt_path)?;
    let found = kind_of(&ckpt);
    if found != kind {
        return Err(Error::BadCheckpoint {
            path: ckpt_path.to_owned(),
            reason: format!("it holds a {found}, but a {kind} is needed"),
        });
    }
    let calib = match how {
        Calibrate::Classifier(input) => {
            let classes = match &ckpt.meta.task {
                Task::Classifier { classes, .. } => classes.clone(),
                Task::CharLm { .. } => Vec::new(),
            };
            let texts = labelled::read(data, input, Some(&classes), Split::Train)?.texts;
            classifier_calibration(&texts, &ckpt.meta.task)
        }
        Calibrate::CharLm(corpus) => charlm_calibration(&data::read_corpus(data, corpus)?),
    };
    write_model(&ckpt, ckpt_path, &calib, bits, out)
}
