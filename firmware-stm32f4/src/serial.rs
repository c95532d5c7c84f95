//! The serial port as the application's byte streams: a [`Sink`] over its
//! transmitter and, over its receiver, the command line and then exactly
//! the N bytes the line announced ([`Payload`]).

use core::fmt;

use lstm_firmware_app::io::{IoError, Sink, Source};
use stm32f4xx_hal::pac::USART2;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::serial::{Rx, Tx};

/// The transmitter as a [`Sink`]: each byte is written as the port takes
/// it (blocking), so nothing is buffered and nothing can fail.
pub struct Out {
    tx: Tx<USART2>,
}

impl Out {
    /// Output over `tx`.
    pub fn new(tx: Tx<USART2>) -> Self {
        Self { tx }
    }
}

impl Sink for Out {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        // The transmitter's only error is "busy", which `block!` waits out.
        let _ = nb::block!(self.tx.write(b));
    }

    fn flush(&mut self) -> Result<(), IoError> {
        let _ = nb::block!(self.tx.flush());
        Ok(())
    }
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

/// The receiver.
pub struct In {
    rx: Rx<USART2>,
}

impl In {
    /// Input over `rx`.
    pub fn new(rx: Rx<USART2>) -> Self {
        Self { rx }
    }

    /// The next byte (blocking).
    fn byte(&mut self) -> Result<u8, IoError> {
        nb::block!(self.rx.read()).map_err(|_| IoError::Serial)
    }

    /// The next line, without its `\n` (and a `\r` before it, as a
    /// terminal sends), as UTF-8. A line longer than `buf` is an error,
    /// after the rest of it has been read.
    pub fn line<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b str, IoError> {
        let mut len = 0;
        let mut too_long = false;
        loop {
            match self.byte()? {
                b'\n' => break,
                b => match buf.get_mut(len) {
                    Some(slot) => {
                        *slot = b;
                        len += 1;
                    }
                    None => too_long = true,
                },
            }
        }
        if too_long {
            return Err(IoError::CmdLine);
        }
        let line = buf[..len].strip_suffix(b"\r").unwrap_or(&buf[..len]);
        core::str::from_utf8(line).map_err(|_| IoError::CmdLine)
    }

    /// The next `len` bytes, as a [`Source`].
    pub fn payload(&mut self, len: usize) -> Payload<'_> {
        Payload { port: self, left: len }
    }
}

/// The `left` bytes that follow a command line: a [`Source`] that ends
/// after them. Dropped early (a command that failed), it leaves the rest
/// unread; [`Payload::skip`] reads it away.
pub struct Payload<'a> {
    port: &'a mut In,
    left: usize,
}

impl Payload<'_> {
    /// Read and drop what is left, so that the next command line starts
    /// where it should.
    pub fn skip(&mut self) -> Result<(), IoError> {
        while self.left > 0 {
            self.port.byte()?;
            self.left -= 1;
        }
        Ok(())
    }
}

impl Source for Payload<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let n = buf.len().min(self.left);
        for slot in &mut buf[..n] {
            *slot = self.port.byte()?;
        }
        self.left -= n;
        Ok(n)
    }
}
