//! `cargo xtask qemu | size | cost`: build `firmware-example` with given
//! models, run it under QEMU, and report its output, sizes and cost.
//!
//! The firmware is built by its own cargo invocation in its own folder (its
//! `.cargo/config.toml` sets the target) with the models passed through
//! `CLASSIFIER_MODEL` / `CHARLM_MODEL`, into `firmware-example/target`. QEMU
//! is started directly with the command on its `-append` line (see
//! `firmware-example/src/main.rs`); a non-zero exit of QEMU is an error that
//! carries the firmware's stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long one QEMU run may take before it is killed.
const QEMU_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// A QEMU machine the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// `mps2-an386`: Cortex-M4F, 4 MiB flash, 4 MiB RAM (`thumbv7em-none-eabihf`).
    Mps2An386,
    /// `lm3s6965evb`: Cortex-M3, 256 KiB flash, 64 KiB RAM (`thumbv7m-none-eabi`).
    Lm3s6965evb,
}

impl Board {
    /// The Rust target.
    pub fn target(self) -> &'static str {
        match self {
            Board::Mps2An386 => "thumbv7em-none-eabihf",
            Board::Lm3s6965evb => "thumbv7m-none-eabi",
        }
    }

    fn qemu_args(self) -> [&'static str; 4] {
        match self {
            Board::Mps2An386 => ["-cpu", "cortex-m4", "-machine", "mps2-an386"],
            Board::Lm3s6965evb => ["-cpu", "cortex-m3", "-machine", "lm3s6965evb"],
        }
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

/// The `firmware-example` folder.
pub fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("firmware-example")
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

/// Build the firmware for `board` with `models`; returns the ELF file.
pub fn build(board: Board, models: Models<'_>) -> Result<PathBuf> {
    let dir = firmware_dir();
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&dir).args(["build", "--release", "--quiet", "--target", board.target()]);
    // Its own target folder, and nothing of an outer cargo's settings.
    cmd.env("CARGO_TARGET_DIR", dir.join("target"));
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    for (var, model) in [("CLASSIFIER_MODEL", models.classifier), ("CHARLM_MODEL", models.charlm)] {
        match model {
            Some(p) => cmd.env(var, absolute(p)?),
            None => cmd.env(var, "none"),
        };
    }
    let status = cmd.status().context("running cargo to build firmware-example")?;
    if !status.success() {
        bail!("building firmware-example for {} failed ({status})", board.target());
    }
    Ok(dir.join("target").join(board.target()).join("release").join("firmware-example"))
}

/// What a QEMU run printed.
pub struct Run {
    /// The firmware's stdout.
    pub stdout: Vec<u8>,
    /// The firmware's stderr (and QEMU's).
    pub stderr: String,
}

/// Run `elf` under QEMU with `append` as its command line and `extra` QEMU
/// arguments; an error unless QEMU exits 0.
pub fn run_qemu(board: Board, elf: &Path, append: &str, extra: &[&str]) -> Result<Run> {
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(board.qemu_args())
        .args(["-nographic", "-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .args(["-append", append])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!("qemu-system-arm was not found: install QEMU (Debian: apt-get install qemu-system-arm)")
        } else {
            anyhow!("starting qemu-system-arm: {e}")
        }
    })?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).map(|_| v)
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).map(|_| v)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > QEMU_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            bail!("QEMU did not finish within {QEMU_TIMEOUT:?} (command line: {append})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_thread.join().map_err(|_| anyhow!("stdout reader panicked"))??;
    let stderr =
        String::from_utf8_lossy(&err_thread.join().map_err(|_| anyhow!("stderr reader panicked"))??).into_owned();
    if !status.success() {
        bail!("the firmware failed under QEMU ({status}), command line `{append}`:\n{stderr}");
    }
    Ok(Run { stdout, stderr })
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
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, contents)?;
    absolute(&path)
}

fn text(stdout: Vec<u8>) -> Result<String> {
    String::from_utf8(stdout).context("the firmware printed bytes that are not UTF-8")
}

/// `cargo xtask qemu classify`: classify each line of `texts` on the
/// Cortex-M4 under QEMU; the same text as `trainer classify predict`.
pub fn qemu_classify(model: &Path, texts: &Path) -> Result<String> {
    let elf = build(Board::Mps2An386, Models { classifier: Some(model), charlm: None })?;
    let run = run_qemu(Board::Mps2An386, &elf, &format!("classify {}", absolute(texts)?.display()), &[])?;
    text(run.stdout)
}

/// `cargo xtask qemu generate`: the prime, then `len` sampled characters,
/// on the Cortex-M4 under QEMU; the same text as `trainer charlm generate`.
pub fn qemu_generate(
    model: &Path,
    prime: &str,
    len: usize,
    seed: u64,
    temperature_q8: u16,
    top_k: u16,
) -> Result<String> {
    let elf = build(Board::Mps2An386, Models { classifier: None, charlm: Some(model) })?;
    let prime_file = scratch("prime.txt", prime.as_bytes())?;
    let append = format!(
        "generate len={len} seed={seed} temperature={temperature_q8} top_k={top_k} prime-file={}",
        prime_file.display()
    );
    let run = run_qemu(Board::Mps2An386, &elf, &append, &[]);
    std::fs::remove_file(&prime_file).ok();
    text(run?.stdout)
}

fn llvm_tool(name: &str) -> Result<PathBuf> {
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
/// (classifier: a few texts; language model: 200 characters).
pub fn size_report(board: Board, models: Models<'_>) -> Result<String> {
    let mut report = String::new();
    if let Some(model) = models.classifier {
        let elf = build(board, Models { classifier: Some(model), charlm: None })?;
        let texts = scratch(
            "texts.txt",
            b"A wonderful film, I loved every minute of it.\nDull, slow and far too long.\n\nOk.",
        )?;
        let run = run_qemu(board, &elf, &format!("--stack classify {}", texts.display()), &[]);
        std::fs::remove_file(&texts).ok();
        line(&mut report, "classifier", model, &elf, &run?.stderr)?;
    }
    if let Some(model) = models.charlm {
        let elf = build(board, Models { classifier: None, charlm: Some(model) })?;
        let run = run_qemu(board, &elf, "--stack generate len=200 seed=1 prime=The ", &[])?;
        line(&mut report, "charlm", model, &elf, &run.stderr)?;
    }
    Ok(report)
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
    let run = run_qemu(board, &elf, &format!("cost tokens={tokens}"), &["-plugin", &plugin_arg, "-d", "plugin"]);
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
