//! `cargo xtask qemu | size | cost`: build a board's firmware with given
//! models, run it under QEMU, and report its output, sizes and cost.
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

use std::collections::BTreeMap;
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
fn scratch(name: &str, contents: &[u8]) -> Result<PathBuf> {
    let dir = firmware_dir().join("target").join("xtask");
    std::fs::create_dir_all(&dir)?;
    let n = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, contents)?;
    absolute(&path)
}

/// Scratch files made by this process (so that threads never share one).
static SCRATCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn text(stdout: Vec<u8>) -> Result<String> {
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

/// A tool of rustup's `llvm-tools` component (`llvm-size`, `llvm-nm`, `rust-lld` ...).
pub(crate) fn llvm_tool(name: &str) -> Result<PathBuf> {
    let out = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = String::from_utf8(out.stdout)?.trim().to_string();
    let host = Command::new("rustc").arg("-vV").output().context("running rustc")?;
    let host = String::from_utf8(host.stdout)?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .ok_or_else(|| anyhow!("rustc -vV names no host"))?;
    let path = Path::new(&sysroot).join("lib/rustlib").join(host).join("bin").join(name);
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

/// Build the instruction-counting QEMU plugin (`firmware-example/qemu-plugin`).
fn plugin() -> Result<PathBuf> {
    let dir = firmware_dir();
    let out = dir.join("target").join("insn_count.so");
    std::fs::create_dir_all(dir.join("target"))?;
    let status = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(dir.join("qemu-plugin").join("insn_count.c"))
        .status()
        .context("running the C compiler (cc) for the QEMU plugin")?;
    if !status.success() {
        bail!("compiling the QEMU plugin failed ({status})");
    }
    Ok(out)
}

fn symbol(elf: &Path, name: &str) -> Result<u64> {
    let out = Command::new(llvm_tool("llvm-nm")?).arg(elf).output()?;
    String::from_utf8(out.stdout)?
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let addr = f.next()?;
            (f.nth(1)? == name).then(|| u64::from_str_radix(addr, 16).ok())?
        })
        .ok_or_else(|| anyhow!("{}: no symbol {name}", elf.display()))
}

/// The firmware's functions, `(start address, demangled name)`, sorted.
fn functions(elf: &Path) -> Result<Vec<(u64, String)>> {
    let out = Command::new(llvm_tool("llvm-nm")?).args(["--defined-only", "-n", "-C"]).arg(elf).output()?;
    if !out.status.success() {
        bail!("llvm-nm {} failed: {}", elf.display(), String::from_utf8_lossy(&out.stderr));
    }
    let mut v: Vec<(u64, String)> = String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| {
            let (addr, rest) = l.split_once(' ')?;
            let (kind, name) = rest.split_once(' ')?;
            matches!(kind, "t" | "T").then(|| Some((u64::from_str_radix(addr, 16).ok()? & !1, name.to_string())))?
        })
        .collect();
    v.sort();
    Ok(v)
}

/// The firmware's instructions, address to `(mnemonic, operands)`, from
/// `llvm-objdump` (Thumb-2: the address of each instruction).
fn disassembly(elf: &Path) -> Result<BTreeMap<u64, (String, String)>> {
    let out = Command::new(llvm_tool("llvm-objdump")?).args(["-d", "--no-show-raw-insn"]).arg(elf).output()?;
    if !out.status.success() {
        bail!("llvm-objdump {} failed: {}", elf.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .filter_map(|l| {
            let (addr, rest) = l.trim_start().split_once(':')?;
            let addr = u64::from_str_radix(addr, 16).ok()?;
            let mut f = rest.trim().splitn(2, char::is_whitespace);
            let mnemonic = f.next().filter(|m| !m.is_empty() && !m.starts_with('<'))?;
            Some((addr, (mnemonic.to_string(), f.next().unwrap_or("").trim().to_string())))
        })
        .collect())
}

/// Registers in a `{...}` list, ranges (`r4-r7`) expanded.
fn register_count(operands: &str) -> u64 {
    let Some(list) = operands.split_once('{').and_then(|(_, r)| r.split_once('}')).map(|(l, _)| l) else {
        return 1;
    };
    list.split(',')
        .map(|r| match r.trim().split_once('-') {
            Some((a, b)) => {
                let num = |s: &str| s.trim().trim_start_matches(['r', 'd', 's']).parse::<u64>().unwrap_or(0);
                num(b).saturating_sub(num(a)) + 1
            }
            None => 1,
        })
        .sum()
}

/// The conditional branches (`b` with a condition code; not `bl`/`blx`/`bx`).
const CONDITIONAL_BRANCHES: [&str; 14] =
    ["beq", "bne", "bcs", "bhs", "bcc", "blo", "bmi", "bpl", "bvs", "bvc", "bhi", "bls", "bge", "blt"];

/// Estimated Cortex-M4 cycles of one instruction (ARM's Cortex-M4
/// Technical Reference Manual, "Processor instructions", with zero-wait-
/// state memory): one for data processing, the multiplies and MACs
/// (`MUL`, `SMULL`, `SMLAL`, `SMLAD`, `SMLALD`, `SMMUL`), two for `MLA`
/// and `MLS`, seven for a division (2 to 12 by the operands), two for a
/// load or store but one when it follows another (neighbouring accesses
/// pipeline), three for `LDRD`/`STRD`, 1 + N for `LDM`/`STM`/`PUSH`/`POP`
/// of N registers (+2 when `POP` loads the PC), three for an unconditional
/// branch (1 + a pipeline refill of 2), two for a conditional one (taken
/// or not, which the block counts do not tell). An estimate: the real
/// figure depends on the flash wait states and the branch outcomes.
fn m4_cycles(mnemonic: &str, operands: &str, after_memory: bool) -> u64 {
    let m = mnemonic.trim_end_matches(".w").trim_end_matches(".n");
    let base = m.get(..m.len().min(4)).unwrap_or(m);
    if m.starts_with("ldrd") || m.starts_with("strd") {
        3
    } else if m.starts_with("ldm") || m.starts_with("stm") || m.starts_with("push") || m.starts_with("pop") {
        1 + register_count(operands) + if m.starts_with("pop") && operands.contains("pc") { 2 } else { 0 }
    } else if m.starts_with("ldr") || m.starts_with("str") || m.starts_with("vldr") || m.starts_with("vstr") {
        if after_memory {
            1
        } else {
            2
        }
    } else if m.starts_with("sdiv") || m.starts_with("udiv") {
        7
    } else if base.starts_with("mla")
        || base.starts_with("mls")
        || CONDITIONAL_BRANCHES.contains(&m)
        || m == "cbz"
        || m == "cbnz"
    {
        2
    } else if matches!(m, "b" | "bl" | "bx" | "blx") {
        3
    } else {
        1
    }
}

/// A single load or store (the ones that pipeline with a neighbour).
fn is_single_memory(mnemonic: &str) -> bool {
    (mnemonic.starts_with("ldr") || mnemonic.starts_with("str"))
        && !mnemonic.starts_with("ldrd")
        && !mnemonic.starts_with("strd")
}

/// The plugin's per-block lines, `ADDR N COUNT` (hex start address,
/// instructions, executions); lines that do not parse are skipped.
fn block_counts(blocks: &str) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    blocks.lines().filter_map(|l| {
        let mut f = l.split_whitespace();
        let a = u64::from_str_radix(f.next()?.trim_start_matches("0x"), 16).ok()?;
        Some((a, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Estimated Cortex-M4 cycles of a region from the plugin's per-block
/// counts (`ADDR N COUNT` lines) and the disassembly.
fn region_cycles(disassembly: &BTreeMap<u64, (String, String)>, blocks: &str) -> u64 {
    let mut total = 0;
    for (a, n, c) in block_counts(blocks) {
        let mut after_memory = false;
        let mut cycles = 0;
        for (m, ops) in disassembly.range(a..).take(n as usize).map(|(_, v)| v) {
            cycles += m4_cycles(m, ops, after_memory);
            after_memory = is_single_memory(m);
        }
        total += cycles * c;
    }
    total
}

/// Instructions per function from the plugin's per-block counts, as
/// indented report lines.
fn profile_lines(functions: &[(u64, String)], blocks: &str, total: u64, tokens: u64) -> String {
    let mut per = std::collections::BTreeMap::<&str, u64>::new();
    for (a, n, c) in block_counts(blocks) {
        let i = functions.partition_point(|(s, _)| *s <= a);
        let name = if i == 0 { "?" } else { functions[i - 1].1.as_str() };
        *per.entry(name).or_default() += n * c;
    }
    let mut v: Vec<(&str, u64)> = per.into_iter().collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1));
    let mut s = String::new();
    for (name, n) in v.into_iter().take_while(|(_, n)| *n * 100 >= total) {
        // Hash suffixes of Rust symbols are noise here.
        let short = name.rsplit_once("::h").filter(|(_, h)| h.len() == 16).map_or(name, |(n, _)| n);
        let _ = writeln!(s, "    {:5.1}%  {:>9} per token  {short}", 100.0 * n as f64 / total as f64, n / tokens);
    }
    s
}

/// The clock the cost report converts cycles to time at (an STM32F4's
/// 168 MHz; the cycle figure is the one to scale).
const MHZ: u32 = 168;

/// Instructions of each marked region (`lstm_cost_begin` to
/// `lstm_cost_end`) of a run of `elf` under QEMU, counted by the plugin:
/// `run` starts QEMU with the plugin's arguments added and returns what the
/// firmware printed, one line a region; returns each line with its count.
pub fn region_instructions(elf: &Path, run: impl FnOnce(&[&str]) -> Result<Vec<u8>>) -> Result<Vec<(String, u64)>> {
    let so = plugin()?;
    let (begin, end) = (symbol(elf, "lstm_cost_begin")?, symbol(elf, "lstm_cost_end")?);
    let counts = scratch("regions.txt", b"")?;
    let plugin_arg = format!("{},begin={begin:#x},end={end:#x},out={}", so.display(), counts.display());
    let out = run(&["-plugin", &plugin_arg, "-d", "plugin"]);
    let regions = std::fs::read_to_string(&counts);
    std::fs::remove_file(&counts).ok();
    let (out, regions) = (text(out?)?, regions?);
    let counts: Vec<u64> = regions.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse().ok()).collect();
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    if lines.len() != counts.len() {
        bail!("{} regions counted for {} reported:\n{out}{regions}", counts.len(), lines.len());
    }
    Ok(lines.into_iter().zip(counts).collect())
}

/// `cargo xtask cost`: guest instructions per token, counted exactly by a
/// QEMU plugin between the firmware's `lstm_cost_begin` and
/// `lstm_cost_end`, over `tokens` tokens per model. One line per region:
/// `<model>: <N> instructions per token, <R> instructions per MAC`.
///
/// With `profile`, each line is followed by the functions the instructions
/// were spent in (inlined code counts to the function it was inlined
/// into), most first, down to 1%.
pub fn cost_report(board: Board, models: Models<'_>, tokens: usize, profile: bool) -> Result<String> {
    let elf = build(board, models)?;
    let so = plugin()?;
    let (begin, end) = (symbol(&elf, "lstm_cost_begin")?, symbol(&elf, "lstm_cost_end")?);
    let counts = scratch("cost.txt", b"")?;
    let profile_base = counts.with_file_name("cost-profile");
    // The per-block counts are always taken: the cycle estimate needs them.
    let plugin_arg = format!(
        "{},begin={begin:#x},end={end:#x},out={},profile={}",
        so.display(),
        counts.display(),
        profile_base.display()
    );
    let run = run_job(board, &elf, Job::Cost(tokens), false, &["-plugin", &plugin_arg, "-d", "plugin"]);
    let regions = std::fs::read_to_string(&counts);
    std::fs::remove_file(&counts).ok();
    let (run, regions) = (text(run?.stdout)?, regions?);
    let counts: Vec<u64> = regions.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse().ok()).collect();
    let mut report = String::new();
    let lines: Vec<&str> = run.lines().collect();
    if lines.len() != counts.len() {
        bail!("{} regions counted for {} reported:\n{run}{regions}", counts.len(), lines.len());
    }
    let functions = if profile { functions(&elf)? } else { Vec::new() };
    let code = disassembly(&elf)?;
    for (k, (l, insns)) in lines.iter().zip(counts).enumerate() {
        // `<model> tokens=<T> macs=<M> ...`
        let mut f = l.split_whitespace();
        let name = f.next().unwrap_or("?");
        let field = |f: Option<&str>, key: &str| -> Result<u64> {
            f.and_then(|s| s.strip_prefix(key)?.parse().ok()).ok_or_else(|| anyhow!("bad cost line: {l}"))
        };
        let t = field(f.next(), "tokens=")?;
        let macs = field(f.next(), "macs=")?;
        let path = PathBuf::from(format!("{}.{k}", profile_base.display()));
        let blocks = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        std::fs::remove_file(&path).ok();
        let cycles = region_cycles(&code, &blocks);
        if name.ends_with("-finish") {
            let _ = writeln!(
                report,
                "{name}: {insns} instructions from the last token to the probability ({macs} MACs); \
                 ~{cycles} cycles (estimate), {:.1} us at {MHZ} MHz",
                cycles as f64 / f64::from(MHZ)
            );
        } else {
            let per = cycles / t.max(1);
            let _ = writeln!(
                report,
                "{name}: {} instructions per token, {:.3} instructions per MAC ({insns} instructions, {t} tokens, \
                 {macs} MACs); ~{per} cycles per token (estimate, {:.3} per MAC), {:.2} ms at {MHZ} MHz",
                insns / t.max(1),
                insns as f64 / macs.max(1) as f64,
                cycles as f64 / macs.max(1) as f64,
                per as f64 / f64::from(MHZ) / 1000.0
            );
        }
        if profile {
            report.push_str(&profile_lines(&functions, &blocks, insns, t.max(1)));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_model_reads_the_disassembly() {
        assert_eq!(register_count("{r4, r5, r6, r7, lr}"), 5);
        assert_eq!(register_count("{r4-r7, pc}"), 5);
        assert_eq!(m4_cycles("push", "{r4, r5, r6, r7, lr}", false), 6);
        assert_eq!(m4_cycles("pop", "{r4, r5, r6, r7, pc}", false), 8);
        assert_eq!(m4_cycles("ldrd", "r4, r6, [r2], #8", true), 3);
        assert_eq!(m4_cycles("ldr.w", "lr, [r5, r1]", false), 2);
        assert_eq!(m4_cycles("ldr", "lr, [r5], #4", true), 1);
        assert_eq!(m4_cycles("smlad", "r0, r1, r2, r0", false), 1);
        assert_eq!(m4_cycles("mla", "r4, r5, r4, r8", false), 2);
        assert_eq!(m4_cycles("bne", "0xab22", false), 2);
        assert_eq!(m4_cycles("bls", "0xab22", false), 2);
        assert_eq!(m4_cycles("bl", "0xb478", false), 3);
        assert_eq!(m4_cycles("b.w", "0xb478", false), 3);
        // One block of three instructions run twice: LDR 2, LDR after it
        // 1, ADD 1.
        let code: BTreeMap<u64, (String, String)> = [
            (0x10, ("ldr".to_string(), "r0, [r1]".to_string())),
            (0x12, ("ldr".to_string(), "r2, [r1, #4]".to_string())),
            (0x14, ("adds".to_string(), "r0, r0, r2".to_string())),
            (0x16, ("bx".to_string(), "lr".to_string())),
        ]
        .into_iter()
        .collect();
        assert_eq!(region_cycles(&code, "0x10 3 2\n"), 8);
        assert_eq!(region_cycles(&code, "0x10 4 1\n"), 7);
    }
}
