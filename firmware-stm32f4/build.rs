//! Build script: the board's memory map and link scripts, and a check that
//! the embedded models fit its flash.
//!
//! `memory.x` (STM32F405/F407) goes to `OUT_DIR`; `-Tlink.x` (cortex-m-rt)
//! is passed always, `-Tdefmt.x` in the `board` build (defmt's symbols). The
//! app's build script embedded the models (`CLASSIFIER_MODEL`,
//! `CHARLM_MODEL`) and passes their total size (`DEP_LSTM_MODELS_BYTES`).

use std::env;
use std::fs;
use std::path::PathBuf;

/// Flash of the STM32F405/F407 (`memory.x`).
const FLASH: usize = 1 << 20;

fn main() {
    let board = env::var_os("CARGO_FEATURE_BOARD").is_some();
    let qemu = env::var_os("CARGO_FEATURE_QEMU").is_some();
    if board == qemu {
        panic!("build with exactly one of the features `board` (the default) and `qemu` (--no-default-features --features qemu)");
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copying memory.x to OUT_DIR");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rustc-link-arg=--nmagic");
    if board {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
    let models: usize = env::var("DEP_LSTM_MODELS_BYTES").ok().and_then(|b| b.parse().ok()).unwrap_or(0);
    if models > FLASH {
        panic!("the models take {models} bytes, more than the {FLASH} bytes of the STM32F4's flash");
    }
}
