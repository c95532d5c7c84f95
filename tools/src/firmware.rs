//! `cargo xtask qemu | size`: build a board's firmware with given models,
//! run it under QEMU, and report its output and sizes (`cargo xtask cost`
//! is [`crate::cost`]).
//!
//! Each board's firmware is its own crate (`firmware-example` for the
//! semihosting boards, `firmware-stm32f4` for the STM32F4 ones), built by
//! its own cargo invocation in its own folder (whose `.cargo/config.toml`
//! sets the target) with the models passed through `CLASSIFIER_MODEL` /
//! `CHARLM_MODEL`, into that folder's `target`. QEMU is started directly:
//! - semihosting boards take the command on the `-append` line and read
//!   their inputs from host files;
//! - serial boards (the STM32F4s) say `ready`, take the command line and
//!   its payload on their serial port (QEMU's stdin), print the output
//!   there (stdout) and end it with a 0 byte (see `firmware-stm32f4`).
//!
//! A non-zero exit of QEMU is an error that carries the firmware's stderr.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long one QEMU run may take before it is killed.
const QEMU_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// A QEMU machine the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// `mps2-an386`: Cortex-M4F, 4 MiB flash, 4 MiB RAM (`thumbv7em-none-eabihf`), semihosting.
    Mps2An386,
    /// `lm3s6965evb`: Cortex-M3, 256 KiB flash, 64 KiB RAM (`thumbv7m-none-eabi`), semihosting.
    Lm3s6965evb,
    /// `netduinoplus2`: STM32F405 (Cortex-M4F), 1 MiB flash, 128 KiB RAM, USART2.
    Netduinoplus2,
    /// `olimex-stm32-h405`: STM32F405 (Cortex-M4F), 1 MiB flash, 128 KiB RAM, USART2.
    OlimexStm32H405,
}

impl Board {
    /// The Rust target.
    pub fn target(self) -> &'static str {
        match self {
            Board::Lm3s6965evb => "thumbv7m-none-eabi",
            Board::Mps2An386 | Board::Netduinoplus2 | Board::OlimexStm32H405 => "thumbv7em-none-eabihf",
        }
    }

    /// The QEMU machine's name.
    pub fn machine(self) -> &'static str {
        match self {
            Board::Mps2An386 => "mps2-an386",
            Board::Lm3s6965evb => "lm3s6965evb",
            Board::Netduinoplus2 => "netduinoplus2",
            Board::OlimexStm32H405 => "olimex-stm32-h405",
        }
    }

    /// Whether the firmware talks over a serial port (else semihosting).
    pub fn serial(self) -> bool {
        matches!(self, Board::Netduinoplus2 | Board::OlimexStm32H405)
    }

    /// The firmware crate (and its folder's name).
    pub fn firmware(self) -> &'static str {
        if self.serial() {
            "firmware-stm32f4"
        } else {
            "firmware-example"
        }
    }

    fn qemu_args(self) -> Vec<&'static str> {
        let mut args = match self {
            Board::Mps2An386 => vec!["-cpu", "cortex-m4"],
            Board::Lm3s6965evb => vec!["-cpu", "cortex-m3"],
            Board::Netduinoplus2 | Board::OlimexStm32H405 => vec![],
        };
        args.extend(["-machine", self.machine(), "-nographic", "-semihosting-config", "enable=on,target=native"]);
        if self.serial() {
            // USART1 (the first serial port) is not used; USART2 is stdio.
            args.extend(["-serial", "null", "-serial", "stdio", "-monitor", "none"]);
        }
        args
    }
}

/// The models a firmware build embeds (`None`: none of that kind).
#[derive(Clone, Copy, Debug, Default)]
pub struct Models<'a> {
    /// A classifier model file, of any of 2 to 1,024 classes.
    pub classifier: Option<&'a Path>,
    /// A character language model file.
    pub charlm: Option<&'a Path>,
}

/// The folder of a firmware crate (`firmware-example`, `firmware-stm32f4`).
pub fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// The `firmware-example` folder (where scratch files and the QEMU plugin go).
pub fn firmware_dir() -> PathBuf {
    crate_dir("firmware-example")
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = p.canonicalize().with_context(|| format!("{}", p.display()))?;
    let s = abs.to_str().ok_or_else(|| anyhow!("{}: not UTF-8", abs.display()))?;
    // QEMU splits its -append line at spaces.
    if s.contains(' ') {
        bail!("{s}: QEMU cannot pass a path with spaces to the firmware");
    }
    Ok(abs)
}

/// Which build of a board's firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The one QEMU runs (for the STM32F4: `--features qemu`).
    Qemu,
    /// The STM32F4 `board` build for the hardware (HSE clocks, defmt): it
    /// links, and `cargo run` in its folder flashes it with probe-rs.
    Hardware,
}

/// Build the firmware for `board` with `models`; returns the ELF file.
pub fn build(board: Board, models: Models<'_>) -> Result<PathBuf> {
    build_variant(board, Variant::Qemu, models)
}

/// Build one variant of the firmware for `board`; returns the ELF file.
pub fn build_variant(board: Board, variant: Variant, models: Models<'_>) -> Result<PathBuf> {
    let name = board.firmware();
    let dir = crate_dir(name);
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&dir).args(["build", "--release", "--quiet", "--target", board.target()]);
    match (board.serial(), variant) {
        (true, Variant::Qemu) => cmd.args(["--no-default-features", "--features", "qemu"]),
        (true, Variant::Hardware) => &mut cmd,
        (false, Variant::Qemu) => &mut cmd,
        (false, Variant::Hardware) => bail!("{} is a QEMU machine only: no hardware build", board.machine()),
    };
    // Its own target folder (one a variant: they share a target triple),
    // and nothing of an outer cargo's settings.
    let target_dir = match variant {
        Variant::Qemu => dir.join("target"),
        Variant::Hardware => dir.join("target").join("hardware"),
    };
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    for (var, model) in [("CLASSIFIER_MODEL", models.classifier), ("CHARLM_MODEL", models.charlm)] {
        match model {
            Some(p) => cmd.env(var, absolute(p)?),
            None => cmd.env(var, "none"),
        };
    }
    let status = cmd.status().with_context(|| format!("running cargo to build {name}"))?;
    if !status.success() {
        bail!("building {name} for {} failed ({status})", board.target());
    }
    Ok(target_dir.join(board.target()).join("release").join(name))
}

/// What a QEMU run printed.
pub struct Run {
    /// The firmware's output (semihosting stdout, or the serial port's
    /// bytes of the command's output, without the end byte).
    pub stdout: Vec<u8>,
    /// The firmware's stderr (and QEMU's).
    pub stderr: String,
}

fn spawn(board: Board, elf: &Path, append: Option<&str>, extra: &[&str], stdin: Stdio) -> Result<Child> {
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(board.qemu_args()).arg("-kernel").arg(elf);
    if let Some(append) = append {
        cmd.args(["-append", append]);
    }
    cmd.args(extra).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!("qemu-system-arm was not found: install QEMU (Debian: apt-get install qemu-system-arm)")
        } else {
            anyhow!("starting qemu-system-arm: {e}")
        }
    })
}

/// The child's stdout as chunks on a channel, and its stderr read to the
/// end, each on a thread.
fn readers(child: &mut Child) -> (mpsc::Receiver<Vec<u8>>, std::thread::JoinHandle<std::io::Result<Vec<u8>>>) {
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).map(|_| v)
    });
    (rx, err_thread)
}

/// Wait for `child` within the timeout, gathering its stdout from `rx`
/// into `out`; its exit status.
fn finish(
    child: &mut Child,
    rx: &mpsc::Receiver<Vec<u8>>,
    out: &mut Vec<u8>,
    start: Instant,
    what: &str,
) -> Result<std::process::ExitStatus> {
    loop {
        while let Ok(chunk) = rx.try_recv() {
            out.extend(chunk);
        }
        if let Some(s) = child.try_wait()? {
            // What the reader still holds.
            while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                out.extend(chunk);
            }
            return Ok(s);
        }
        if start.elapsed() > QEMU_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            bail!("QEMU did not finish within {QEMU_TIMEOUT:?} ({what})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `elf` on a semihosting board under QEMU with `append` as its
/// command line and `extra` QEMU arguments; an error unless QEMU exits 0.
pub fn run_qemu(board: Board, elf: &Path, append: &str, extra: &[&str]) -> Result<Run> {
    if board.serial() {
        bail!("{} talks over its serial port: use run_serial", board.machine());
    }
    let mut child = spawn(board, elf, Some(append), extra, Stdio::null())?;
    let (rx, err_thread) = readers(&mut child);
    let mut stdout = Vec::new();
    let status = finish(&mut child, &rx, &mut stdout, Instant::now(), &format!("command line: {append}"))?;
    let stderr =
        String::from_utf8_lossy(&err_thread.join().map_err(|_| anyhow!("stderr reader panicked"))??).into_owned();
    if !status.success() {
        bail!("the firmware failed under QEMU ({status}), command line `{append}`:\n{stderr}");
    }
    Ok(Run { stdout, stderr })
}

/// What a serial board says when it waits for a command line.
pub const READY: &[u8] = b"ready\n";
/// The byte that ends a serial board's output.
pub const END: u8 = 0;

/// Run `elf` on a serial board under QEMU: wait for `ready`, send `line`
/// (a command line, without its `\n`) and `payload`, and take the output
/// up to the end byte. An error unless the firmware ends its output and
/// QEMU exits 0 (the error carries what it printed).
pub fn run_serial(board: Board, elf: &Path, line: &str, payload: &[u8], extra: &[&str]) -> Result<Run> {
    if !board.serial() {
        bail!("{} talks over semihosting: use run_qemu", board.machine());
    }
    let mut child = spawn(board, elf, None, extra, Stdio::piped())?;
    let (rx, err_thread) = readers(&mut child);
    let start = Instant::now();
    let mut seen = Vec::new();
    // Bytes sent before the firmware has set up its port are lost: wait.
    while !seen.ends_with(READY) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => seen.extend(chunk),
            Err(mpsc::RecvTimeoutError::Timeout) if start.elapsed() < QEMU_TIMEOUT => {}
            Err(_) => {
                child.kill().ok();
                child.wait().ok();
                let stderr = err_thread.join().ok().and_then(|r| r.ok()).unwrap_or_default();
                bail!(
                    "the firmware never said it was ready on {} (it printed {:?}):\n{}",
                    board.machine(),
                    String::from_utf8_lossy(&seen),
                    String::from_utf8_lossy(&stderr)
                );
            }
        }
    }
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(line.as_bytes())?;
    stdin.write_all(b"\n")?;
    stdin.write_all(payload)?;
    stdin.flush()?;
    // The firmware prints nothing after `ready` before it has its line.
    let mut out = Vec::new();
    let status = finish(&mut child, &rx, &mut out, start, &format!("command line: {line}"))?;
    drop(stdin);
    let stderr =
        String::from_utf8_lossy(&err_thread.join().map_err(|_| anyhow!("stderr reader panicked"))??).into_owned();
    let end = out.iter().position(|&b| b == END);
    let shown = String::from_utf8_lossy(&out[..end.unwrap_or(out.len())]).into_owned();
    if !status.success() {
        bail!("the firmware failed under QEMU ({status}), command line `{line}`:\n{shown}{stderr}");
    }
    let Some(end) = end else {
        bail!("the firmware did not end its output (no 0 byte), command line `{line}`:\n{shown}");
    };
    out.truncate(end);
    Ok(Run { stdout: out, stderr })
}

/// A command for the firmware of any board, with its input bytes: a
/// semihosting board reads them from scratch files, a serial board from its
/// port.
#[derive(Clone, Copy, Debug)]
pub enum Job<'a> {
    /// `info`.
    Info,
    /// `classify`: texts, one a line.
    Classify(&'a [u8]),
    /// `generate`: the prime and the sampler's settings.
    Generate {
        /// The prime's exact bytes.
        prime: &'a [u8],
        /// Characters to sample.
        len: usize,
        /// Seed.
        seed: u64,
        /// Temperature, Q8.8.
        temperature_q8: u16,
        /// Top-k (0 = all).
        top_k: u16,
    },
    /// `cost tokens=N`.
    Cost(usize),
    /// `kernel-check`.
    KernelCheck,
}

/// Run `job` on `board` (with `--stack` when `stack`), and `extra` QEMU
/// arguments.
pub fn run_job(board: Board, elf: &Path, job: Job<'_>, stack: bool, extra: &[&str]) -> Result<Run> {
    let flag = if stack { "--stack " } else { "" };
    if board.serial() {
        let (line, payload) = match job {
            Job::Info => ("info".to_string(), &[][..]),
            Job::Classify(texts) => (format!("classify {}", texts.len()), texts),
            Job::Generate { prime, len, seed, temperature_q8, top_k } => (
                format!(
                    "generate len={len} seed={seed} temperature={temperature_q8} top_k={top_k} prime-bytes={}",
                    prime.len()
                ),
                prime,
            ),
            Job::Cost(tokens) => (format!("cost tokens={tokens}"), &[][..]),
            Job::KernelCheck => ("kernel-check".to_string(), &[][..]),
        };
        return run_serial(board, elf, &format!("{flag}{line}"), payload, extra);
    }
    let (file, append) = match job {
        Job::Info => (None, "info".to_string()),
        Job::Classify(texts) => {
            let f = scratch("texts.txt", texts)?;
            let append = format!("classify {}", f.display());
            (Some(f), append)
        }
        Job::Generate { prime, len, seed, temperature_q8, top_k } => {
            let f = scratch("prime.txt", prime)?;
            let append = format!(
                "generate len={len} seed={seed} temperature={temperature_q8} top_k={top_k} prime-file={}",
                f.display()
            );
            (Some(f), append)
        }
        Job::Cost(tokens) => (None, format!("cost tokens={tokens}")),
        Job::KernelCheck => (None, "kernel-check".to_string()),
    };
    let run = run_qemu(board, elf, &format!("{flag}{append}"), extra);
    if let Some(f) = file {
        std::fs::remove_file(f).ok();
    }
    run
}

/// For tests: panics with what to install when `qemu-system-arm` cannot
/// run (a missing QEMU fails a test, never skips it).
pub fn require_qemu() {
    match Command::new("qemu-system-arm").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("qemu-system-arm --version failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!(
            "qemu-system-arm is needed for this test and could not be run ({e}): install QEMU \
             (Debian: apt-get install qemu-system-arm)"
        ),
    }
}

/// A scratch file under `firmware-example/target/xtask`.
pub(crate) fn scratch(name: &str, contents: &[u8]) -> Result<PathBuf> {
    let dir = firmware_dir().join("target").join("xtask");
    std::fs::create_dir_all(&dir)?;
    let n = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, contents)?;
    absolute(&path)
}

/// Scratch files made by this process (so that threads never share one).
static SCRATCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub(crate) fn text(stdout: Vec<u8>) -> Result<String> {
    String::from_utf8(stdout).context("the firmware printed bytes that are not UTF-8")
}

/// `cargo xtask qemu classify`: classify each line of `texts` on `board`
/// under QEMU; the same text as `trainer classify predict`.
pub fn qemu_classify(board: Board, model: &Path, texts: &Path) -> Result<String> {
    let elf = build(board, Models { classifier: Some(model), charlm: None })?;
    let bytes = std::fs::read(texts).with_context(|| format!("reading {}", texts.display()))?;
    text(run_job(board, &elf, Job::Classify(&bytes), false, &[])?.stdout)
}

/// `cargo xtask qemu generate`: the prime, then `len` sampled characters,
/// on `board` under QEMU; the same text as `trainer charlm generate`.
pub fn qemu_generate(
    board: Board,
    model: &Path,
    prime: &str,
    len: usize,
    seed: u64,
    temperature_q8: u16,
    top_k: u16,
) -> Result<String> {
    let elf = build(board, Models { classifier: None, charlm: Some(model) })?;
    let job = Job::Generate { prime: prime.as_bytes(), len, seed, temperature_q8, top_k };
    text(run_job(board, &elf, job, false, &[])?.stdout)
}

/// The host's target triple (`rustc -vV`).
pub(crate) fn host_triple() -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc")?;
    String::from_utf8(out.stdout)?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| anyhow!("rustc -vV names no host"))
}

/// A tool of rustup's `llvm-tools` component (`llvm-size`, `llvm-nm`, `rust-lld` ...).
pub(crate) fn llvm_tool(name: &str) -> Result<PathBuf> {
    let out = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = String::from_utf8(out.stdout)?.trim().to_string();
    let path = Path::new(&sysroot).join("lib/rustlib").join(host_triple()?).join("bin").join(name);
    if !path.exists() {
        bail!("{} not found: rustup component add llvm-tools", path.display());
    }
    Ok(path)
}

/// Flash and static RAM of an ELF from `llvm-size -A`: (flash, static RAM).
fn sizes(elf: &Path) -> Result<(u64, u64)> {
    let out = Command::new(llvm_tool("llvm-size")?).arg("-A").arg(elf).output()?;
    let (mut flash, mut ram) = (0, 0);
    for line in String::from_utf8(out.stdout)?.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(size)) = (f.next(), f.next().and_then(|s| s.parse::<u64>().ok())) else {
            continue;
        };
        match name {
            ".vector_table" | ".text" | ".rodata" => flash += size,
            ".data" => {
                flash += size;
                ram += size;
            }
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    Ok((flash, ram))
}

fn peak_stack(stderr: &str) -> Result<u64> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak stack: ")?.strip_suffix(" bytes")?.parse().ok())
        .ok_or_else(|| anyhow!("the firmware reported no peak stack:\n{stderr}"))
}

/// `cargo xtask size`: for each model, a firmware with only that model:
/// flash and static RAM (`llvm-size`), and the peak stack of a run
/// (classifier: a few texts; language model: 200 characters). On an
/// STM32F4 board, also the flash and static RAM of the hardware build.
pub fn size_report(board: Board, models: Models<'_>) -> Result<String> {
    let mut report = String::new();
    if let Some(model) = models.classifier {
        let one = Models { classifier: Some(model), charlm: None };
        let elf = build(board, one)?;
        let texts = b"A wonderful film, I loved every minute of it.\nDull, slow and far too long.\n\nOk.";
        let run = run_job(board, &elf, Job::Classify(texts), true, &[])?;
        line(&mut report, "classifier", model, &elf, &run.stderr)?;
        hardware_line(&mut report, board, "classifier", one)?;
    }
    if let Some(model) = models.charlm {
        let one = Models { classifier: None, charlm: Some(model) };
        let elf = build(board, one)?;
        let job = Job::Generate { prime: b"The ", len: 200, seed: 1, temperature_q8: 256, top_k: 0 };
        let run = run_job(board, &elf, job, true, &[])?;
        line(&mut report, "charlm", model, &elf, &run.stderr)?;
        hardware_line(&mut report, board, "charlm", one)?;
    }
    Ok(report)
}

/// The hardware build's flash and static RAM, on a board that has one.
fn hardware_line(report: &mut String, board: Board, name: &str, models: Models<'_>) -> Result<()> {
    if !board.serial() {
        return Ok(());
    }
    let (flash, ram) = sizes(&build_variant(board, Variant::Hardware, models)?)?;
    let _ = writeln!(
        report,
        "{name}, board build (STM32F4DISCOVERY: HSE, defmt over RTT): flash {flash} bytes, static RAM {ram} bytes"
    );
    Ok(())
}

fn line(report: &mut String, name: &str, model: &Path, elf: &Path, stderr: &str) -> Result<()> {
    let (flash, ram) = sizes(elf)?;
    let stack = peak_stack(stderr)?;
    let model_len = std::fs::metadata(model)?.len();
    let _ = writeln!(
        report,
        "{name}: flash {flash} bytes (model {model_len}), static RAM {ram} bytes, peak stack {stack} bytes, \
         RAM total {} bytes",
        ram + stack
    );
    Ok(())
}
