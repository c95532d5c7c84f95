//! Hostile model files: every single-bit flip of the first 64 bytes,
//! truncation at every length, edited length fields and contents under a
//! valid CRC. Each must give `Ok` or a specific error, never a panic; what
//! decodes must run inference without a panic.

use runtime::format::{crc32, ModelKind, Pooling, CRC_LEN};
use runtime::host::{quantize, Calibration, HostCharLm, HostCharLmState, HostClassifier, HostSentimentState};
use runtime::{Error, Model, Sampler};
use tests::{random_ids, random_model, Dims};

fn files() -> Vec<Vec<u8>> {
    let lm =
        random_model(ModelKind::CharLm, Dims { vocab: 20, embed: 4, hidden: 6, layers: 2 }, Pooling::Last, 0, 1, 1.0);
    let s = random_model(
        ModelKind::Sentiment,
        Dims { vocab: 51, embed: 4, hidden: 5, layers: 1 },
        Pooling::MeanMax,
        30,
        2,
        1.0,
    );
    let mut rng = runtime::Rng::new(1);
    [lm, s]
        .iter()
        .map(|m| {
            let cal = Calibration::run(m, &[random_ids(&mut rng, 50, 1, 20)]);
            quantize(m, &cal, 8).to_bytes()
        })
        .collect()
}

/// Decode, and if that works, run a few steps of the task.
fn exercise(bytes: &[u8]) -> Result<(), Error> {
    let model = Model::from_bytes(bytes)?;
    match model.header.kind {
        ModelKind::CharLm => {
            let lm = HostCharLm::new(model)?;
            let mut s = Box::new(HostCharLmState::new());
            lm.prime(&mut s, b"The ");
            lm.generate(&mut s, &mut Sampler::new(1, 256, 5), 5, |_| {});
        }
        ModelKind::Sentiment => {
            let clf = HostClassifier::new(model)?;
            let mut s = Box::new(HostSentimentState::new());
            clf.classify(&mut s, b"a fine film, truly")?;
        }
    }
    Ok(())
}

fn with_crc(mut content: Vec<u8>) -> Vec<u8> {
    let crc = crc32(&content);
    content.extend_from_slice(&crc.to_le_bytes());
    content
}

#[test]
fn originals_decode_and_run() {
    for f in files() {
        exercise(&f).unwrap();
    }
}

#[test]
fn every_bit_flip_of_the_header_is_caught() {
    for f in files() {
        for byte in 0..64.min(f.len()) {
            for bit in 0..8 {
                let mut g = f.clone();
                g[byte] ^= 1 << bit;
                let e = exercise(&g).unwrap_err();
                // Magic and version are checked first; everything else by the CRC.
                let ok = match byte {
                    0..=3 => matches!(e, Error::BadMagic { .. }),
                    4..=5 => matches!(e, Error::UnsupportedVersion { .. }),
                    _ => matches!(e, Error::CrcMismatch { .. }),
                };
                assert!(ok, "byte {byte} bit {bit}: {e:?}");
            }
        }
    }
}

#[test]
fn every_truncation_is_caught() {
    for f in files() {
        for len in 0..f.len() {
            let e = exercise(&f[..len]).unwrap_err();
            assert!(matches!(e, Error::Truncated { .. } | Error::CrcMismatch { .. }), "len {len}: {e:?}");
            // With the CRC recomputed, the body itself is short.
            // (At len - 4 that is the original file; past it, trailing bytes.)
            if len > 6 && len != f.len() - CRC_LEN {
                let e = exercise(&with_crc(f[..len].to_vec())).unwrap_err();
                assert!(
                    matches!(
                        e,
                        Error::Malformed
                            | Error::TrailingBytes { .. }
                            | Error::LengthMismatch { .. }
                            | Error::OutOfRange { .. }
                            | Error::Inconsistent { .. }
                    ),
                    "len {len} + crc: {e:?}"
                );
            }
        }
    }
}

/// Every single-bit flip of the body under a recomputed (valid) CRC: the
/// structure or the validation must catch it, or the model must still run.
#[test]
fn valid_crc_over_wrong_contents_never_panics() {
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for f in files() {
        let content = &f[..f.len() - CRC_LEN];
        for byte in 6..content.len() {
            for bit in 0..8 {
                let mut g = content.to_vec();
                g[byte] ^= 1 << bit;
                let r = exercise(&with_crc(g));
                let key = match r {
                    Ok(()) => "Ok".to_string(),
                    Err(e) => format!("{e:?}").split([' ', '{', '(']).next().unwrap_or("").to_string(),
                };
                *outcomes.entry(key).or_default() += 1;
            }
        }
    }
    // Weight bytes may flip to other valid weights; lengths and tags may not.
    assert!(outcomes.get("Ok").copied().unwrap_or(0) > 0, "{outcomes:?}");
    assert!(outcomes.get("Malformed").copied().unwrap_or(0) + outcomes.get("LengthMismatch").copied().unwrap_or(0) > 0);
}

/// Length fields edited to large or zero values (valid CRC).
#[test]
fn edited_length_fields() {
    for f in files() {
        let content = f[..f.len() - CRC_LEN].to_vec();
        for pos in 6..content.len().min(40) {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut g = content.clone();
                g[pos] = v;
                // Must return, Ok or Err; a panic fails the test.
                let _ = exercise(&with_crc(g));
            }
        }
    }
}
