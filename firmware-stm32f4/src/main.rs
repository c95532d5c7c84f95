//! The LSTM firmware on an STM32F4 board: the firmware's application
//! (`lstm-firmware-app`, the same as on every board) over USART2 at 115200
//! baud, 8N1 (PA2 TX, PA3 RX), with the models read in place from flash.
//!
//! One source, two builds, chosen by a feature:
//! - `board` (the default): the STM32F4DISCOVERY (STM32F407VG), 8 MHz HSE
//!   to a 168 MHz SYSCLK through the PLL; defmt logs over RTT, panics
//!   through panic-probe, `cost` timed by the DWT cycle counter;
//! - `qemu`: QEMU's `netduinoplus2` and `olimex-stm32-h405` (STM32F405):
//!   the 16 MHz HSI (QEMU's RCC never sets a PLL ready bit), one command a
//!   run, its status, the peak stack and panics through semihosting.
//!
//! The serial protocol (the firmware README says more):
//!
//! ```text
//! device: ready\n
//! host:   COMMAND LINE\n                  (the app's commands; below)
//! host:   the N bytes the line announced  (classify N, prime-bytes=N)
//! device: the output, as the host prints it, or "error: ...\n"
//! device: one 0x00 byte: the end of the output
//! ```
//!
//! Commands: `info`, `classify N` (then N bytes of texts, one a line),
//! `generate [len=L] [seed=S] [temperature=Q8] [top_k=K] [prime-bytes=N |
//! prime=TEXT...]` (then N bytes of prime), `cost [tokens=N]`,
//! `kernel-check`; a leading `--stack` logs the peak stack. The board
//! build then says `ready` again; the `qemu` build exits with status 0,
//! or 1 after an error.
#![no_std]
#![no_main]

#[cfg(all(feature = "board", feature = "qemu"))]
compile_error!("the features `board` and `qemu` are two builds: enable one");

mod serial;

#[cfg(feature = "board")]
#[path = "board.rs"]
mod target;
#[cfg(feature = "qemu")]
#[path = "qemu.rs"]
mod target;

use core::fmt::Write as _;

use cortex_m_rt::entry;
use lstm_firmware_app::command::{Args, Command, Prime};
use lstm_firmware_app::io::{Cycles, Failure, IoError, Sink};
use lstm_firmware_app::{app, stack};
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::serial::{Config, Serial};

use serial::{In, Out};

/// Bytes of the command-line buffer.
const CMDLINE: usize = 512;
/// What the device says when it waits for a command line.
const READY: &[u8] = b"ready\n";
/// The byte that ends each output.
const END: u8 = 0;
/// The port's rate.
const BAUD: u32 = 115_200;

#[entry]
fn main() -> ! {
    stack::paint();
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        panic!("the peripherals were taken before main");
    };
    let mut rcc = dp.RCC.freeze(target::clocks());
    let cycles = target::Cycles::start(cp.DCB, cp.DWT);
    let gpioa = dp.GPIOA.split(&mut rcc);
    let pins = (gpioa.pa2.into_alternate(), gpioa.pa3.into_alternate());
    let serial = match Serial::new(dp.USART2, pins, Config::default().baudrate(BAUD.bps()), &mut rcc) {
        Ok(s) => s,
        Err(_) => panic!("USART2 cannot run at {BAUD} baud with these clocks"),
    };
    let (tx, rx) = serial.split();
    let (mut out, mut port) = (Out::new(tx), In::new(rx));
    target::started(rcc.clocks.sysclk().raw());
    loop {
        out.write(READY);
        let mut line = [0u8; CMDLINE];
        let mut report_stack = false;
        let result = session(&mut out, &mut port, &mut line, &mut report_stack, &cycles);
        if let Err(e) = &result {
            let _ = writeln!(out, "error: {e}");
        }
        out.byte(END);
        let _ = out.flush();
        target::finished(result.is_ok(), report_stack.then(stack::peak));
    }
}

/// A byte count on the command line.
fn count(word: &str, usage: &'static str) -> Result<usize, Failure> {
    word.parse().map_err(|_| Failure::Usage(usage))
}

/// One command: its line, its payload, its output.
fn session(
    out: &mut Out,
    port: &mut In,
    line: &mut [u8],
    report_stack: &mut bool,
    cycles: &impl Cycles,
) -> Result<(), Failure> {
    let line = port.line(line).map_err(|e| Failure::Io(e, "command line"))?;
    let mut args = Args::exact(line);
    *report_stack = args.flag("--stack");
    match Command::parse(&mut args)? {
        Command::Info => app::info(out),
        Command::Classify(n) => {
            let mut texts = port.payload(count(n, "classify N, then N bytes of texts, one a line")?);
            let result = app::classify(out, &mut texts);
            texts.skip().map_err(|e| Failure::Io(e, "texts"))?;
            result
        }
        Command::Generate(sampling, prime) => {
            let (text, n) = match prime {
                Prime::None => ("", 0),
                Prime::Text(text) => (text, 0),
                Prime::Bytes(n) => ("", n),
                Prime::File(_) => {
                    return Err(Failure::Usage(
                        "prime-file= is for semihosting boards: send prime-bytes=N, then the bytes",
                    ))
                }
            };
            let mut prime = port.payload(n);
            let result = app::generate(out, sampling, text.as_bytes(), Some(&mut prime));
            prime.skip().map_err(|e| Failure::Io(e, "prime"))?;
            result
        }
        Command::Cost(tokens) => app::cost(out, tokens, cycles),
        Command::KernelCheck => {
            app::kernel_check(out);
            Ok(())
        }
        Command::Panic => panic!("requested by the command line"),
        Command::Fault => cortex_m::asm::udf(),
    }
    .and_then(|()| out.flush().map_err(|e: IoError| Failure::Io(e, "serial port")))
}
