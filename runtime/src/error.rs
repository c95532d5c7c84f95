//! The runtime's one error type, for everything that crosses its boundary:
//! decoding a model file and building a network from it.

use crate::kind::{ModelKind, OLDEST_VERSION};

/// Why a model could not be decoded or used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The file is shorter than its fixed prefix and CRC.
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes needed at least.
        min: usize,
    },
    /// The file does not start with `LSTM`.
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The file has a format version this runtime does not read.
    UnsupportedVersion {
        /// Version in the file.
        found: u16,
        /// The newest version this runtime reads (it reads every version
        /// from [`OLDEST_VERSION`] to this one).
        supported: u16,
    },
    /// The CRC-32 trailer does not match the contents.
    CrcMismatch {
        /// CRC stored in the file.
        stored: u32,
        /// CRC of the contents.
        computed: u32,
    },
    /// The body is not a valid postcard encoding of the model types.
    Malformed,
    /// The body decoded but bytes are left before the CRC.
    TrailingBytes {
        /// Bytes left over.
        count: usize,
    },
    /// An array's length does not match the dimensions.
    LengthMismatch {
        /// Which array or dimension.
        what: &'static str,
        /// Length the dimensions call for.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A value is outside the range the runtime supports.
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The value.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// Parts of the model contradict each other.
    Inconsistent {
        /// What contradicts what.
        what: &'static str,
    },
    /// The model's dimensions differ from the network's compile-time sizes.
    DimensionMismatch {
        /// Which dimension.
        what: &'static str,
        /// The compile-time size.
        compiled: usize,
        /// The model's size.
        model: usize,
    },
    /// The model is of another kind than the task asked for.
    WrongKind {
        /// Kind the task needs.
        expected: ModelKind,
        /// Kind in the file.
        found: ModelKind,
    },
    /// The output buffer is too small for the encoded model.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Truncated { len, min } => {
                write!(f, "the model file is truncated: {len} bytes, at least {min} needed")
            }
            Error::BadMagic { found } => {
                write!(f, "not a model file: it starts with {found:02x?}, not \"LSTM\"")
            }
            Error::UnsupportedVersion { found, supported } => {
                write!(
                    f,
                    "the model file has format version {found}, this runtime reads versions {} to {supported}",
                    OLDEST_VERSION
                )
            }
            Error::CrcMismatch { stored, computed } => {
                write!(f, "the model file is corrupt: CRC-32 is {computed:08x}, the file says {stored:08x}")
            }
            Error::Malformed => f.write_str("the model file's body is not a valid encoding"),
            Error::TrailingBytes { count } => {
                write!(f, "the model file has {count} unexpected bytes after its body")
            }
            Error::LengthMismatch { what, expected, found } => {
                write!(f, "the model's {what} has length {found}, its dimensions need {expected}")
            }
            Error::OutOfRange { what, value, min, max } => {
                write!(f, "the model's {what} is {value}, outside {min}..={max}")
            }
            Error::Inconsistent { what } => write!(f, "the model is inconsistent: {what}"),
            Error::DimensionMismatch { what, compiled, model } => {
                write!(f, "the model's {what} is {model}, this network was compiled for {compiled}")
            }
            Error::WrongKind { expected, found } => {
                write!(f, "the model is a {found}, a {expected} is needed")
            }
            Error::BufferTooSmall => f.write_str("the output buffer is too small for the model"),
        }
    }
}

impl core::error::Error for Error {}
