//! The project's xtask: `cargo xtask <command>` (see `cargo xtask --help`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// Tasks for developing, testing and shipping the LSTM models.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what building and testing need: the Cortex-M Rust targets,
    /// llvm-tools, and QEMU 10 (from bookworm-backports; needs root, or
    /// says what to install).
    Setup,
    /// The whole CI gate: setup, fmt, clippy, host tests (the data-set tests
    /// included), no_std builds of the runtime, docs.
    Ci {
        /// Directory with aclImdb-labeled.tar.gz and pg2265.txt.
        #[arg(long, env = "LSTM_DATA_DIR", default_value = "../shared/data")]
        data: PathBuf,
    },
}

/// The Cortex-M targets the runtime and firmware build for.
const TARGETS: [&str; 3] = ["thumbv7em-none-eabihf", "thumbv7m-none-eabi", "thumbv6m-none-eabi"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tools/ is inside the workspace").to_path_buf()
}

/// Run a command in the workspace root, echoing it; error on failure.
fn run(cmd: &mut Command) -> Result<()> {
    cmd.current_dir(root());
    eprintln!("$ {}", show(cmd));
    let status = cmd.status().with_context(|| format!("could not start {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// The major version of `qemu-system-arm`, if installed.
fn qemu_major() -> Option<u32> {
    let v = output(Command::new("qemu-system-arm").arg("--version"))?;
    let word = v.split_whitespace().nth(3)?;
    word.split('.').next()?.parse().ok()
}

const BACKPORTS: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\n\
Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n";

fn setup() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    let missing: Vec<&str> = TARGETS.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if !missing.is_empty() {
        run(Command::new("rustup").args(["target", "add"]).args(&missing))?;
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"])).unwrap_or_default();
    if !components.lines().any(|l| l.starts_with("llvm-tools")) {
        run(Command::new("rustup").args(["component", "add", "llvm-tools"]))?;
    }
    match qemu_major() {
        Some(v) if v >= 10 => {}
        found => {
            let how = "apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-arm";
            if !is_root() {
                bail!(
                    "QEMU 10 is needed (found {found:?}). As root: add bookworm-backports to \
                     /etc/apt/sources.list.d/bookworm-backports.sources:\n{BACKPORTS}then run \
                     `apt-get update && {how}`"
                );
            }
            let src = Path::new("/etc/apt/sources.list.d/bookworm-backports.sources");
            if !src.exists() {
                std::fs::write(src, BACKPORTS).with_context(|| format!("writing {}", src.display()))?;
            }
            run(Command::new("apt-get").args(["update", "-q"]))?;
            run(Command::new("sh").args(["-c", &format!("DEBIAN_FRONTEND=noninteractive {how}")]))?;
            if qemu_major().is_none_or(|v| v < 10) {
                bail!("installed qemu-system-arm, but `qemu-system-arm --version` does not report version 10");
            }
        }
    }
    Ok(())
}

fn ci(data: &Path) -> Result<()> {
    let data = std::fs::canonicalize(data)
        .with_context(|| format!("the data directory {} does not exist (pass --data DIR)", data.display()))?;
    for f in ["aclImdb-labeled.tar.gz", "pg2265.txt"] {
        if !data.join(f).is_file() {
            bail!("{} is missing from the data directory {}", f, data.display());
        }
    }
    setup()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run(cargo().args(["test", "--workspace"]).env("LSTM_DATA_DIR", &data))?;
    for target in ["thumbv7em-none-eabihf", "thumbv6m-none-eabi"] {
        // Proves no_std and no alloc: these targets have neither.
        run(cargo().args(["build", "-p", "lstm-runtime", "--release", "--target", target]))?;
    }
    run(cargo().args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Setup => setup(),
        Cmd::Ci { data } => ci(&data),
    }
}
