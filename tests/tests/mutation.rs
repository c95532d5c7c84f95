//! Hostile model files: every single-bit flip of the first 64 bytes,
//! truncation at every length, edited length fields and contents under a
//! valid CRC. Each must give `Ok` or a specific error, never a panic; what
//! decodes must run inference without a panic.

use runtime::format::{crc32, CRC_LEN};
use std::collections::BTreeMap;

use runtime::Error;
use tests::{exercise, small_model_files as files};

fn with_crc(mut content: Vec<u8>) -> Vec<u8> {
    let crc = crc32(&content);
    content.extend_from_slice(&crc.to_le_bytes());
    content
}

/// Every single-bit flip of the first 64 bytes: magic and version are
/// checked first (a flip to another version this runtime reads is caught
/// by the CRC), everything else by the CRC.
fn check_header_flips(name: &str, f: &[u8]) {
    for byte in 0..64.min(f.len()) {
        for bit in 0..8 {
            let mut g = f.to_vec();
            g[byte] ^= 1 << bit;
            let e = exercise(&g).unwrap_err();
            let ok = match byte {
                0..=3 => matches!(e, Error::BadMagic { .. }),
                4..=5 => {
                    let v = u16::from_le_bytes([g[4], g[5]]);
                    if (runtime::format::OLDEST_VERSION..=runtime::format::VERSION).contains(&v) {
                        matches!(e, Error::CrcMismatch { .. })
                    } else {
                        matches!(e, Error::UnsupportedVersion { .. })
                    }
                }
                _ => matches!(e, Error::CrcMismatch { .. }),
            };
            assert!(ok, "{name} byte {byte} bit {bit}: {e:?}");
        }
    }
}

/// Truncated at each of `lens`: the CRC (or the header) catches it; with
/// the CRC recomputed, the body parser or the validation does.
fn check_truncations(name: &str, f: &[u8], lens: impl Iterator<Item = usize>) {
    for len in lens {
        let e = exercise(&f[..len]).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. } | Error::CrcMismatch { .. }), "{name} len {len}: {e:?}");
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
                "{name} len {len} + crc: {e:?}"
            );
        }
    }
}

/// The outcome's name: `Ok` or the error variant.
fn kind_of(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "Ok".to_string(),
        Err(e) => format!("{e:?}").split([' ', '{', '(']).next().unwrap_or("").to_string(),
    }
}

/// The given bit flips of the body and edits of the first length bytes,
/// each under a recomputed (valid) CRC: outcome counts. A panic fails.
fn flips_under_valid_crc(f: &[u8], flips: impl Iterator<Item = usize>, edits: usize) -> BTreeMap<String, usize> {
    let content = &f[..f.len() - CRC_LEN];
    let mut outcomes = BTreeMap::<String, usize>::new();
    for flip in flips {
        let mut g = content.to_vec();
        g[flip / 8] ^= 1 << (flip % 8);
        *outcomes.entry(kind_of(&exercise(&with_crc(g)))).or_default() += 1;
    }
    for pos in 6..(6 + edits).min(content.len()) {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut g = content.to_vec();
            g[pos] = v;
            *outcomes.entry(kind_of(&exercise(&with_crc(g)))).or_default() += 1;
        }
    }
    outcomes
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
        check_header_flips("small", &f);
    }
}

#[test]
fn every_truncation_is_caught() {
    for f in files() {
        check_truncations("small", &f, 0..f.len());
    }
}

/// Every single-bit flip of the body, and length bytes edited to large or
/// zero values, under a valid CRC: the structure or the validation must
/// catch it, or the model must still run.
#[test]
fn valid_crc_over_wrong_contents_never_panics() {
    let mut outcomes = BTreeMap::<String, usize>::new();
    for f in files() {
        for (k, n) in flips_under_valid_crc(&f, 6 * 8..(f.len() - CRC_LEN) * 8, 34) {
            *outcomes.entry(k).or_default() += n;
        }
    }
    // Weight bytes may flip to other valid weights; lengths and tags may not.
    assert!(outcomes.get("Ok").copied().unwrap_or(0) > 0, "{outcomes:?}");
    assert!(outcomes.get("Malformed").copied().unwrap_or(0) + outcomes.get("LengthMismatch").copied().unwrap_or(0) > 0);
}

/// The shipped model files, as a device would receive them.
fn shipped() -> [(&'static str, &'static [u8]); 2] {
    [
        ("sentiment", include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/sentiment.lstm"))),
        ("charlm", include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/charlm.lstm"))),
    ]
}

#[test]
fn shipped_models_decode_and_run() {
    for (name, f) in shipped() {
        exercise(f).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Every header bit flip; every length up to 512, then 2,000 lengths spread
/// over the file.
#[test]
fn shipped_models_every_header_bit_flip_and_many_truncations() {
    for (name, f) in shipped() {
        check_header_flips(name, f);
        check_truncations(name, f, (0..512).chain((0..2000).map(|i| 512 + i * (f.len() - 512) / 2000)));
    }
}

/// Bit flips and edited length fields in the shipped models under a valid
/// CRC: every flip in the first 256 body bytes (configuration, tokenizer,
/// the first length fields) and 3,000 seeded random flips over the rest.
#[test]
fn shipped_models_valid_crc_over_wrong_contents() {
    for (name, f) in shipped() {
        let bits = 8 * (f.len() - CRC_LEN - 256);
        let mut rng = runtime::Rng::new(7);
        let flips = (6 * 8..256 * 8).chain((0..3000).map(|_| 8 * 256 + rng.next_u32() as usize % bits));
        let outcomes = flips_under_valid_crc(f, flips, 64);
        eprintln!("{name}: {outcomes:?}");
        // Weights may flip to other valid weights; the structure must be caught.
        assert!(outcomes.get("Ok").copied().unwrap_or(0) > 0, "{name}: {outcomes:?}");
        assert!(outcomes.len() > 2, "{name}: {outcomes:?}");
    }
}
