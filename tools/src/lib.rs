//! The xtask's library half: building and running each board's firmware
//! under QEMU ([`firmware`]) and counting its instructions ([`cost`]), the
//! C library and its header ([`capi`]), the one command from raw data to
//! the device ([`run`]), the shipped models' training recipes ([`recipe`]),
//! and the demo's inputs ([`demo`]). The `cargo xtask` binary and the QEMU
//! and C API tests share it, so the firmware is built and run one way only.

pub mod firmware;

pub mod cost;

pub mod capi;
pub mod recipe;
pub mod run;

/// What `cargo xtask demo` runs on the device, and what the QEMU snapshot
/// test (`tests/snapshots/`) checks the device prints for it.
pub mod demo {
    /// The demo's reviews, one a line.
    pub const REVIEWS: &str = "One of the best films I have seen this year: moving, funny and beautifully acted.\n\
                               A dull, lifeless script and wooden acting. I wanted my two hours back.\n\
                               It was fine. Nothing special, but the kids enjoyed it.\n";
    /// The demo's prime.
    pub const PRIME: &str = "The ";
    /// Characters the demo generates.
    pub const LEN: usize = 300;
    /// The demo's sampling seed.
    pub const SEED: u64 = 1;
    /// Its temperature, Q8.8 (1.0).
    pub const TEMPERATURE_Q8: u16 = 256;
    /// Its top-k.
    pub const TOP_K: u16 = 5;
}
