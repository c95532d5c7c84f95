//! Host I/O over Arm semihosting: the command line, files to read, and a
//! buffered stdout. Every call traps to the debugger (QEMU), so output is
//! gathered in a buffer and written in large pieces.

use core::fmt;

use cortex_m_semihosting::{nr, syscall};
use lstm_firmware_app::io::{IoError, Sink, Source};

/// The semihosting command line (`SYS_GET_CMDLINE`): under QEMU, the
/// `-kernel` path, a space, then the `-append` string with runs of spaces
/// collapsed (QEMU splits it into words and joins them again).
pub fn command_line(buf: &mut [u8]) -> Result<&str, IoError> {
    buf.fill(0);
    // The host rewrites the block with the string's length; the NUL
    // terminator it writes into `buf` is read instead.
    let block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the block names a writable buffer of `buf.len()` bytes.
    let r = unsafe { syscall(nr::GET_CMDLINE, &block) };
    if r != 0 {
        return Err(IoError::CmdLine);
    }
    let len = buf.iter().position(|&b| b == 0).ok_or(IoError::CmdLine)?;
    core::str::from_utf8(&buf[..len]).map_err(|_| IoError::CmdLine)
}

/// A host file open for reading.
pub struct File {
    fd: usize,
}

/// Longest path [`File::open`] takes.
pub const MAX_PATH: usize = 255;

impl File {
    /// Open `path` (relative to QEMU's working directory) for binary reading.
    pub fn open(path: &str) -> Result<Self, IoError> {
        // The host wants a NUL-terminated name.
        let mut name = [0u8; MAX_PATH + 1];
        let bytes = path.as_bytes();
        if bytes.len() > MAX_PATH {
            return Err(IoError::PathTooLong);
        }
        name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: a NUL-terminated name, its length and an open mode.
        let fd = unsafe { syscall!(OPEN, name.as_ptr(), nr::open::R_BINARY, bytes.len()) };
        if fd as isize == -1 {
            return Err(IoError::Open);
        }
        Ok(Self { fd })
    }
}

impl Source for File {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        // SAFETY: a writable buffer and its length.
        let not_read = unsafe { syscall!(READ, self.fd, buf.as_mut_ptr(), buf.len()) };
        if not_read > buf.len() {
            return Err(IoError::Read);
        }
        Ok(buf.len() - not_read)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns.
        unsafe { syscall!(CLOSE, self.fd) };
    }
}

/// Write all of `bytes` to the host file descriptor `fd`.
fn write_fd(fd: usize, mut bytes: &[u8]) -> Result<(), IoError> {
    while !bytes.is_empty() {
        // SAFETY: a readable buffer and its length.
        let not_written = unsafe { syscall!(WRITE, fd, bytes.as_ptr(), bytes.len()) };
        if not_written >= bytes.len() {
            return Err(IoError::Write);
        }
        bytes = &bytes[bytes.len() - not_written..];
    }
    Ok(())
}

/// Bytes [`Out`] gathers before one host write.
const OUT_BUF: usize = 512;

/// A buffered host stream: stdout or stderr.
pub struct Out {
    fd: usize,
    buf: [u8; OUT_BUF],
    len: usize,
    failed: bool,
}

impl Out {
    fn open(mode: usize) -> Result<Self, IoError> {
        // ":tt" is the host's console: mode "w" is stdout, "a" stderr.
        let name = b":tt\0";
        // SAFETY: a NUL-terminated name, its length and an open mode.
        let fd = unsafe { syscall!(OPEN, name.as_ptr(), mode, name.len() - 1) };
        if fd as isize == -1 {
            return Err(IoError::Open);
        }
        Ok(Self { fd, buf: [0; OUT_BUF], len: 0, failed: false })
    }

    /// The host's standard output.
    pub fn stdout() -> Result<Self, IoError> {
        Self::open(nr::open::W_TRUNC)
    }

    /// The host's standard error.
    pub fn stderr() -> Result<Self, IoError> {
        Self::open(nr::open::W_APPEND)
    }

    fn flush_buf(&mut self) {
        if write_fd(self.fd, &self.buf[..self.len]).is_err() {
            self.failed = true;
        }
        self.len = 0;
    }
}

impl Sink for Out {
    /// Append bytes, writing to the host whenever the buffer fills.
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == OUT_BUF {
                self.flush_buf();
            }
            let n = bytes.len().min(OUT_BUF - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    fn byte(&mut self, b: u8) {
        if self.len == OUT_BUF {
            self.flush_buf();
        }
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.flush_buf();
        if self.failed {
            Err(IoError::Write)
        } else {
            Ok(())
        }
    }
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}
