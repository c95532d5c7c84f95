//! LSTM inference on a Cortex-M under QEMU (`mps2-an386`, `lm3s6965evb`):
//! the firmware's application (`lstm-firmware-app`) on a board whose I/O is
//! Arm semihosting. This crate is the board: the command line, host files,
//! the console and the exit.
//!
//! No heap. The models are `include_bytes!` in flash; the network state and
//! the scratch live on the stack, sized by the exact dimensions the app's
//! build script read from the models.
//!
//! What to run comes from the semihosting command line, which QEMU builds
//! from `-append` (words separated by single spaces); the commands are the
//! app's (`lstm_firmware_app::command`), a SOURCE being a host file:
//!
//! ```text
//! [--stack] info | classify FILE | generate [len=N] [seed=S] [temperature=T] [top_k=K]
//!           [prime-file=PATH | prime=TEXT...] | cost [tokens=N] | kernel-check
//! ```
//!
//! `--stack` prints the peak stack to stderr at the end. `prime=` takes the
//! rest of the line (QEMU collapses runs of spaces in it); `prime-file=`
//! reads the prime's exact bytes from a host file. Exit status 0 is success;
//! an error, a panic or a fault exits QEMU with status 1.
#![no_std]
#![no_main]

mod io;

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use lstm_firmware_app::command::{Args, Command, Prime};
use lstm_firmware_app::io::{Failure, NoCycles, Sink};
use lstm_firmware_app::{app, stack};

use io::{File, Out};

/// Bytes of the command-line buffer.
const CMDLINE: usize = 512;

#[entry]
fn main() -> ! {
    stack::paint();
    let mut cmdline = [0u8; CMDLINE];
    let mut err = Out::stderr().ok();
    let mut report_stack = false;
    let result = match io::command_line(&mut cmdline) {
        Ok(line) => {
            let mut args = Args::new(line);
            report_stack = args.flag("--stack");
            run(&mut args)
        }
        Err(e) => Err(Failure::Io(e, "command line")),
    };
    let status = match result {
        Ok(()) => EXIT_SUCCESS,
        Err(e) => {
            if let Some(err) = err.as_mut() {
                let _ = writeln!(err, "error: {e}");
            }
            EXIT_FAILURE
        }
    };
    if let Some(err) = err.as_mut() {
        if report_stack {
            let _ = writeln!(err, "peak stack: {} bytes", stack::peak());
        }
        let _ = err.flush();
    }
    exit(status)
}

fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // The host may refuse to stop us: stay here.
    loop {
        cortex_m::asm::bkpt();
    }
}

fn open(path: &str, what: &'static str) -> Result<File, Failure> {
    File::open(path).map_err(|e| Failure::Io(e, what))
}

fn run(args: &mut Args<'_>) -> Result<(), Failure> {
    let mut out = Out::stdout().map_err(|e| Failure::Io(e, "stdout"))?;
    match Command::parse(args)? {
        Command::Info => app::info(&mut out)?,
        Command::Classify(path) => app::classify(&mut out, &mut open(path, "texts file")?)?,
        Command::Generate(sampling, prime) => {
            let (text, mut file) = match prime {
                Prime::None => ("", None),
                Prime::Text(text) => (text, None),
                Prime::File(path) => ("", Some(open(path, "prime file")?)),
                Prime::Bytes(_) => {
                    return Err(Failure::Usage("prime-bytes= is for serial boards: use prime-file=PATH"))
                }
            };
            app::generate(&mut out, sampling, text.as_bytes(), file.as_mut())?
        }
        Command::Cost(tokens) => app::cost(&mut out, tokens, &NoCycles)?,
        Command::KernelCheck => app::kernel_check(&mut out),
        Command::Panic => panic!("requested by the command line"),
        Command::Fault => cortex_m::asm::udf(),
    }
    out.flush().map_err(|e| Failure::Io(e, "stdout"))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut e) = cortex_m_semihosting::hio::hstderr() {
        let _ = writeln!(e, "panic: {info}");
    }
    exit(EXIT_FAILURE)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut e) = cortex_m_semihosting::hio::hstderr() {
        let _ = writeln!(e, "HardFault at pc {:#010x}, lr {:#010x}", frame.pc(), frame.lr());
    }
    exit(EXIT_FAILURE)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if let Ok(mut e) = cortex_m_semihosting::hio::hstderr() {
        let _ = writeln!(e, "unexpected exception {irqn}");
    }
    exit(EXIT_FAILURE)
}
