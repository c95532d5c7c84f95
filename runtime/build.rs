//! Picks the dot-product kernel: ARMv7E-M (Cortex-M4/M7, targets
//! `thumbv7em-*`) has the DSP instructions SXTB16 and SMLAD; stable Rust has
//! no `target_feature` cfg for them, so the target name decides.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lstm_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo::rustc-cfg=lstm_dsp");
    }
}
