//! `cargo xtask cost`: guest instructions of the firmware's marked regions,
//! counted under QEMU by the TCG plugin `firmware-example/qemu-plugin/insn_count.c`,
//! and cycles estimated from the Cortex-M4's timings over the executed
//! blocks' disassembly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::firmware::{build, firmware_dir, llvm_tool, run_job, scratch, text, Board, Job, Models};

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
