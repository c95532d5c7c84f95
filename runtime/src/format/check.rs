//! The checks of a model's arrays that validation runs: lengths, ranges
//! and padding, each failure its own `Error`.

use super::bytes::{padded_cols, row_bytes, I32s, I8s, RowScales, MAX_BIAS};
use crate::Error;

pub(super) fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Error> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::LengthMismatch { what, expected, found })
    }
}

pub(super) fn check_range(what: &'static str, value: i64, min: i64, max: i64) -> Result<(), Error> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::OutOfRange { what, value, min, max })
    }
}

pub(super) fn check_weights(what: &'static str, w: I8s<'_>) -> Result<(), Error> {
    match w.0.iter().find(|&&b| b as i8 == i8::MIN) {
        None => Ok(()),
        Some(_) => Err(Error::OutOfRange { what, value: -128, min: -127, max: 127 }),
    }
}

/// 4-bit rows of `cols` columns: every nibble in `[-7, 7]`, padding zero.
pub(super) fn check_weights4(what: &'static str, w: I8s<'_>, cols: usize) -> Result<(), Error> {
    let rb = row_bytes(4, cols);
    for row in w.0.chunks(rb.max(1)) {
        for (k, &b) in row.iter().enumerate() {
            for (half, nib) in [(0, b & 0x0f), (1, b >> 4)] {
                // Column of this nibble: group k / 4, position k % 4 (+ 4).
                let col = 8 * (k / 4) + k % 4 + 4 * half;
                if nib == 8 {
                    return Err(Error::OutOfRange { what, value: -8, min: -7, max: 7 });
                }
                if col >= cols && nib != 0 {
                    return Err(Error::Inconsistent { what: "4-bit row padding is not zero" });
                }
            }
        }
    }
    Ok(())
}

/// One layer's weights at its bits: lengths, then ranges.
pub(super) fn check_layer_weights(
    what: &'static str,
    bits: u8,
    w: I8s<'_>,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    check_len(what, rows * row_bytes(bits, cols), w.len())?;
    if bits == 4 {
        check_weights4(what, w, cols)
    } else {
        check_weights(what, w)
    }
}

pub(super) fn check_scales(what: &'static str, s: RowScales<'_>, rows: usize) -> Result<(), Error> {
    check_len(what, rows * 4, s.multipliers.0.len())?;
    check_len(what, rows, s.shifts.len())?;
    for r in 0..rows {
        check_range(what, i64::from(s.multipliers.get(r)), 0, i64::from(i32::MAX))?;
        check_range(what, i64::from(s.shifts.get(r)), -30, 31)?;
    }
    Ok(())
}

pub(super) fn check_bias(what: &'static str, b: I32s<'_>, rows: usize) -> Result<(), Error> {
    check_len(what, rows * 4, b.0.len())?;
    for r in 0..rows {
        check_range(what, i64::from(b.get(r)), -i64::from(MAX_BIAS), i64::from(MAX_BIAS))?;
    }
    Ok(())
}

/// Version 5 rows: the bytes of `rows` fused rows of `cols` columns at
/// `bits`, each weight in range (8 bits: `[-127, 127]`; 4 bits: nibble
/// 1 to 15, offset binary) and every padding weight zero (4 bits: nibble
/// 8). A unit's four rows are interleaved word by word, so byte `o` of a
/// unit's block is byte `o % 4` of word `o / 16` of its row.
pub(super) fn check_fused_weights(w: I8s<'_>, bits: u8, rows: usize, cols: usize) -> Result<(), Error> {
    let padded = padded_cols(bits, cols);
    let rb = row_bytes(bits, padded);
    check_len("w", rows * rb, w.len())?;
    for unit in w.0.chunks(4 * rb.max(1)) {
        for (o, &b) in unit.iter().enumerate() {
            let (word, j) = (o / 16, o % 4);
            if bits == 4 {
                for (half, nib) in [(0, b & 0x0f), (1, b >> 4)] {
                    let col = 8 * word + j + 4 * half;
                    if nib == 0 {
                        return Err(Error::OutOfRange { what: "w", value: -8, min: -7, max: 7 });
                    }
                    if col >= cols && nib != 8 {
                        return Err(Error::Inconsistent { what: "row padding is not zero" });
                    }
                }
            } else {
                if b as i8 == i8::MIN {
                    return Err(Error::OutOfRange { what: "w", value: -128, min: -127, max: 127 });
                }
                if 4 * word + j >= cols && b != 0 {
                    return Err(Error::Inconsistent { what: "row padding is not zero" });
                }
            }
        }
    }
    Ok(())
}
