//! The byte arrays a model file's weights are, read in place, and the
//! arithmetic of their sizes: a leaf of the format.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest absolute bias: keeps `accumulator + bias` below `2^32` and the
/// requantization product below `2^63`.
pub const MAX_BIAS: i32 = 1 << 30;
/// Signed 8-bit values stored as bytes (two's complement), borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I8s<'a>(pub &'a [u8]);

/// Little-endian `i32` values stored as bytes, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32s<'a>(pub &'a [u8]);

macro_rules! byte_slice_serde {
    ($t:ident) => {
        impl Serialize for $t<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        impl<'de: 'a, 'a> Deserialize<'de> for $t<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <&'a [u8]>::deserialize(d).map($t)
            }
        }
    };
}
byte_slice_serde!(I8s);
byte_slice_serde!(I32s);

impl I8s<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Value `i`. Panics out of range, which validated models never reach.
    #[inline(always)]
    pub fn get(&self, i: usize) -> i8 {
        self.0[i] as i8
    }
}

impl I32s<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }
    /// Value `i`. Panics out of range, which validated models never reach.
    #[inline(always)]
    pub fn get(&self, i: usize) -> i32 {
        let b = &self.0[4 * i..4 * i + 4];
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// Per-row requantization: row `r`'s int32 accumulator `a` becomes
/// `round(a * multiplier[r] / 2^(31 + shift[r]))`, rounding half up
/// .
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowScales<'a> {
    /// Q0.31 multipliers, in `[0, 2^31)`.
    #[serde(borrow)]
    pub multipliers: I32s<'a>,
    /// Extra right shifts, in `[-30, 31]` (negative = left).
    #[serde(borrow)]
    pub shifts: I8s<'a>,
}

impl RowScales<'_> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.shifts.len()
    }
    /// True if no rows.
    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }
}

/// Bytes of one weight row of `cols` columns at `bits` (8 or 4) a weight:
/// `cols` at 8 bits; at 4 bits, four bytes per group of eight columns, the
/// last group padded with zero nibbles (see [`crate::format::LstmLayer::bits`]).
pub const fn row_bytes(bits: u8, cols: usize) -> usize {
    if bits == 4 {
        4 * cols.div_ceil(8)
    } else {
        cols
    }
}

/// Columns of one fused row of a version 5 layer over `cols` = I + H
/// inputs at `bits` a weight, zero-padded so that the kernels have no
/// scalar tail: to a multiple of 4 at 8 bits (one `SXTB16` word), of 8 at
/// 4 bits (one word of nibbles).
pub const fn padded_cols(bits: u8, cols: usize) -> usize {
    if bits == 4 {
        cols.next_multiple_of(8)
    } else {
        cols.next_multiple_of(4)
    }
}

/// The largest left shift layer 0 of a version 5 model may apply to the
/// embedding's values (`x_shift = -embed_shift`), which keeps them in
/// int16 (`|v| << shift <= 32768`): 8 for an 8-bit embedding, 12 for a
/// 4-bit one.
pub const fn embed_shift(embed_bits: u8) -> u32 {
    16 - embed_bits as u32
}

/// `v` shifted right by `s` with rounding half up (`s` in `1..=15`), or
/// left by `-s` (`s` in `-15..=0`): how a fused layer scales the two
/// parts of its input vector ([`crate::format::Weights::Fused`]'s `x_shift` and
/// `h_shift`).
#[inline(always)]
pub const fn shift_value(v: i16, s: i8) -> i16 {
    if s > 0 {
        ((v as i32 + (1 << (s - 1))) >> s) as i16
    } else {
        ((v as i32) << -s) as i16
    }
}

/// Largest absolute bias of a version 5 row of `cols` columns at `bits`:
/// the accumulator starts at the bias and takes at most
/// `cols * max|w| * 2^15` more, which stays below `2^31` (and at most
/// [`MAX_BIAS`]).
pub const fn fused_bias_limit(bits: u8, cols: usize) -> i32 {
    let wmax: i64 = if bits == 4 { 7 } else { 127 };
    let room = i32::MAX as i64 - wmax * 32768 * cols as i64;
    if room < MAX_BIAS as i64 {
        room as i32
    } else {
        MAX_BIAS
    }
}
