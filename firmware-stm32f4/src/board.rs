//! The `board` build: the STM32F4DISCOVERY (STM32F407VG, 8 MHz crystal).
//! Logs go over RTT with defmt (probe-rs prints them), panics through
//! panic-probe; the firmware serves commands until reset.

use cortex_m::peripheral::{DCB, DWT};
use cortex_m_rt::{exception, ExceptionFrame};
use defmt_rtt as _;
use panic_probe as _;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc;

/// The 8 MHz HSE through the PLL to a 168 MHz SYSCLK (APB1 42 MHz,
/// APB2 84 MHz, as the HAL derives them). Another board's crystal goes
/// here (the Adafruit Feather STM32F405: 12 MHz).
pub fn clocks() -> rcc::Config {
    rcc::Config::hse(8.MHz()).sysclk(168.MHz())
}

/// The DWT cycle counter, which `cost` reads.
pub struct Cycles;

impl Cycles {
    /// Enable the trace block and start the counter.
    pub fn start(mut dcb: DCB, mut dwt: DWT) -> Self {
        dcb.enable_trace();
        dwt.enable_cycle_counter();
        Cycles
    }
}

impl lstm_firmware_app::io::Cycles for Cycles {
    fn now(&self) -> Option<u32> {
        Some(DWT::cycle_count())
    }
}

/// Running at `sysclk` Hz.
pub fn started(sysclk: u32) {
    defmt::info!("lstm firmware: SYSCLK {} Hz, USART2 at 115200 baud (PA2 TX, PA3 RX)", sysclk);
}

/// After a command: log it, and serve the next.
pub fn finished(ok: bool, peak_stack: Option<usize>) {
    if !ok {
        defmt::warn!("the command failed (its error is on the serial port)");
    }
    if let Some(peak) = peak_stack {
        defmt::info!("peak stack: {} bytes", peak);
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc {=u32:#010x}, lr {=u32:#010x}", frame.pc(), frame.lr());
    loop {
        cortex_m::asm::bkpt();
    }
}
