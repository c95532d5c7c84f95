//! Build script: picks the board's `memory.x` and checks that the models
//! fit its flash.
//!
//! - Board: from the target (`thumbv7m-none-eabi` is the `lm3s6965evb`,
//!   every other target the `mps2-an386`), or `FIRMWARE_MEMORY_X=/abs/path`
//!   for another linker memory map. The file is copied to `OUT_DIR/memory.x`.
//! - Models: embedded by the app's build script (`lstm-firmware-app`, from
//!   `CLASSIFIER_MODEL` and `CHARLM_MODEL`), which passes their total size
//!   here (`DEP_LSTM_MODELS_BYTES`).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let target = env::var("TARGET").unwrap_or_default();

    // Link with cortex-m-rt's script on every bare-metal ARM target (not one
    // triple only, or another thumb target would link an empty image). Set
    // here rather than in `.cargo/config.toml` so that a `RUSTFLAGS` in the
    // environment, which replaces the config's flags, cannot drop it.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "arm" && os == "none" {
        println!("cargo:rustc-link-arg=-Tlink.x");
        println!("cargo:rustc-link-arg=--nmagic");
    }

    println!("cargo:rerun-if-env-changed=FIRMWARE_MEMORY_X");
    let memory = match env::var_os("FIRMWARE_MEMORY_X") {
        Some(p) => PathBuf::from(p),
        None if target == "thumbv7m-none-eabi" => manifest.join("memory-lm3s6965evb.x"),
        None => manifest.join("memory-mps2-an386.x"),
    };
    println!("cargo:rerun-if-changed={}", memory.display());
    let map = fs::read_to_string(&memory).unwrap_or_else(|e| panic!("reading {}: {e}", memory.display()));
    fs::write(out.join("memory.x"), &map).expect("writing OUT_DIR/memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    let flash = flash_len(&map);

    // The app's build script embedded the models; their total size.
    let models: usize = env::var("DEP_LSTM_MODELS_BYTES").ok().and_then(|b| b.parse().ok()).unwrap_or(0);
    if let Some(flash) = flash {
        if models > flash {
            panic!("the models take {models} bytes, more than the {flash} bytes of flash in {}", memory.display());
        }
    }
}

/// The FLASH length of a memory map (`LENGTH = 256K` / `4M` / a number).
fn flash_len(map: &str) -> Option<usize> {
    let line = map.lines().find(|l| l.trim_start().starts_with("FLASH"))?;
    let len = line.split("LENGTH").nth(1)?.trim_start_matches([' ', '=']).trim();
    let (digits, unit) =
        len.split_at(len.find(|c: char| c == 'K' || c == 'M' || !c.is_ascii_alphanumeric()).unwrap_or(len.len()));
    let n: usize = if let Some(hex) = digits.strip_prefix("0x") {
        usize::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(match unit.chars().next() {
        Some('K') => n << 10,
        Some('M') => n << 20,
        _ => n,
    })
}
