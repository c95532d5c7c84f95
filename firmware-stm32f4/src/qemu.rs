//! The `qemu` build: QEMU's STM32F405 machines. One command a run; the
//! exit status, the peak stack, panics and faults go through semihosting
//! (QEMU's `-semihosting-config enable=on`).

use core::fmt::Write as _;

use cortex_m::peripheral::{DCB, DWT};
use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hio;
use stm32f4xx_hal::rcc;

/// The 16 MHz HSI: QEMU's RCC sets no ready bit, so the HAL must poll none.
pub fn clocks() -> rcc::Config {
    rcc::Config::hsi()
}

/// QEMU models no cycle counter.
pub struct Cycles;

impl Cycles {
    /// No counter to start.
    pub fn start(_dcb: DCB, _dwt: DWT) -> Self {
        Cycles
    }
}

impl lstm_firmware_app::io::Cycles for Cycles {
    fn now(&self) -> Option<u32> {
        None
    }
}

/// Running at `_sysclk` Hz.
pub fn started(_sysclk: u32) {}

/// After the command: the peak stack on stderr if asked, then the exit.
pub fn finished(ok: bool, peak_stack: Option<usize>) {
    if let (Some(peak), Ok(mut e)) = (peak_stack, hio::hstderr()) {
        let _ = writeln!(e, "peak stack: {peak} bytes");
    }
    exit(if ok { EXIT_SUCCESS } else { EXIT_FAILURE })
}

fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // The host may refuse to stop us: stay here.
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut e) = hio::hstderr() {
        let _ = writeln!(e, "panic: {info}");
    }
    exit(EXIT_FAILURE)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut e) = hio::hstderr() {
        let _ = writeln!(e, "HardFault at pc {:#010x}, lr {:#010x}", frame.pc(), frame.lr());
    }
    exit(EXIT_FAILURE)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if let Ok(mut e) = hio::hstderr() {
        let _ = writeln!(e, "unexpected exception {irqn}");
    }
    exit(EXIT_FAILURE)
}
