//! What a board gives the application: byte streams in and out, a cycle
//! counter, and the one error type of the firmware.

use core::fmt;

/// What went wrong talking to the host or the serial port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The command line does not fit the buffer, or the host has none.
    CmdLine,
    /// A path is longer than the firmware's path buffer.
    PathTooLong,
    /// The host could not open the file.
    Open,
    /// The host failed a read.
    Read,
    /// The host failed a write.
    Write,
    /// The serial port lost a byte (overrun) or saw a framing or noise
    /// error.
    Serial,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoError::CmdLine => "no command line, or one longer than the firmware's buffer",
            IoError::PathTooLong => "the path is longer than the firmware's path buffer",
            IoError::Open => "the host could not open the file",
            IoError::Read => "the host failed a read",
            IoError::Write => "the host failed a write",
            IoError::Serial => "the serial port lost a byte (overrun, framing or noise error)",
        })
    }
}

/// Why a command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Reading or writing failed.
    Io(IoError, &'static str),
    /// The model was rejected.
    Model(runtime::Error),
    /// The command line is wrong.
    Usage(&'static str),
    /// The firmware was built without this model.
    NoModel(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e, what) => write!(f, "{what}: {e}"),
            Failure::Model(e) => write!(f, "model: {e}"),
            Failure::Usage(msg) => write!(f, "usage: {msg}"),
            Failure::NoModel(env) => write!(f, "no such model in this build (set {env} when building)"),
        }
    }
}

impl From<runtime::Error> for Failure {
    fn from(e: runtime::Error) -> Self {
        Failure::Model(e)
    }
}

/// Bytes a command reads: a host file, the next N bytes of a serial port.
pub trait Source {
    /// Read up to `buf.len()` bytes; `Ok(0)` at the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError>;
}

/// Where a command's output goes. Writes do not fail one by one: a sink
/// that can fail remembers it and says so in [`Sink::flush`].
pub trait Sink: fmt::Write {
    /// Append bytes.
    fn write(&mut self, bytes: &[u8]);

    /// Append one byte.
    fn byte(&mut self, b: u8) {
        self.write(&[b]);
    }

    /// Write out what is buffered; an error if any write so far failed.
    fn flush(&mut self) -> Result<(), IoError>;
}

/// A cycle counter, for `cost` on a board that has one (the DWT's
/// `CYCCNT` on a Cortex-M3/M4; QEMU does not model it).
pub trait Cycles {
    /// The counter now, or `None` without one. It wraps at 2^32.
    fn now(&self) -> Option<u32>;
}

/// No cycle counter.
pub struct NoCycles;

impl Cycles for NoCycles {
    fn now(&self) -> Option<u32> {
        None
    }
}
