//! The command line, parsed the same on every board:
//!
//! ```text
//! [--stack] info                      the embedded models (the default)
//! [--stack] classify SOURCE           one line per text (line) of SOURCE: the
//!                                     probability and the class name
//!                                     (`sentiment SOURCE`, its old name, is
//!                                     the same)
//! [--stack] generate [len=N] [seed=S] [temperature=T] [top_k=K]
//!           [prime-file=PATH | prime-bytes=N | prime=TEXT...]
//! [--stack] cost [tokens=N]           marked runs for instruction counting
//! kernel-check                        digest of the dot-product kernel's
//!                                     results over a fixed battery
//! ```
//!
//! A board says what a SOURCE is: a host file's path over semihosting, a
//! byte count over a serial port (the bytes follow the line).

use crate::io::Failure;

/// The words of a command line.
pub struct Args<'a> {
    line: &'a str,
    rest: &'a str,
}

/// Every command's first word.
pub const COMMANDS: [&str; 8] = ["info", "classify", "sentiment", "generate", "cost", "kernel-check", "panic", "fault"];

impl<'a> Args<'a> {
    /// The words of `line`. A first word that is neither a command nor a
    /// flag is skipped: QEMU puts the `-kernel` path first on the
    /// semihosting command line.
    pub fn new(line: &'a str) -> Self {
        let line = line.trim();
        let first = line.split(' ').next().unwrap_or("");
        let rest =
            if COMMANDS.contains(&first) || first.starts_with("--") { line } else { line[first.len()..].trim_start() };
        Self { line, rest }
    }

    /// The words of `line`, all of them (a serial port's command line:
    /// an unknown first word is an unknown command).
    pub fn exact(line: &'a str) -> Self {
        let line = line.trim();
        Self { line, rest: line }
    }

    /// Take a leading `--flag`.
    pub fn flag(&mut self, name: &str) -> bool {
        match self.rest.strip_prefix(name) {
            Some(r) if r.is_empty() || r.starts_with(' ') => {
                self.rest = r.trim_start();
                true
            }
            _ => false,
        }
    }

    /// The next word.
    pub fn word(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find(' ').unwrap_or(self.rest.len());
        let (w, r) = self.rest.split_at(end);
        self.rest = r.trim_start();
        Some(w)
    }

    /// The line from `word` (a piece of it) to its end; nothing is left.
    fn line_from(&mut self, word: &'a str) -> &'a str {
        self.rest = "";
        let start = (word.as_ptr() as usize).saturating_sub(self.line.as_ptr() as usize);
        self.line.get(start..).unwrap_or("")
    }
}

/// Where `generate` reads its prime from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prime<'a> {
    /// No prime: sampling starts from the reset state.
    None,
    /// The rest of the command line (`prime=TEXT...`).
    Text(&'a str),
    /// A host file (`prime-file=PATH`, semihosting boards).
    File(&'a str),
    /// The N bytes after the command line (`prime-bytes=N`, serial boards).
    Bytes(usize),
}

/// The sampler's settings of `generate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// Characters to sample.
    pub len: usize,
    /// The sampler's seed.
    pub seed: u64,
    /// Temperature in Q8.8 (256 = 1.0, 0 = greedy).
    pub temperature: u16,
    /// Sample among the K most likely (0 = all).
    pub top_k: u16,
}

/// A command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// The embedded models.
    Info,
    /// Classify the texts of a source, one a line.
    Classify(&'a str),
    /// Print the prime, then sampled characters.
    Generate(Sampling, Prime<'a>),
    /// Marked runs for instruction counting, of N tokens.
    Cost(usize),
    /// The dot-product kernel's digest.
    KernelCheck,
    /// Panic (to exercise the failure exit).
    Panic,
    /// Fault (to exercise the failure exit).
    Fault,
}

/// The usage line of every command.
pub const USAGE: &str = "info | classify SOURCE | generate [len=N] [seed=S] [temperature=Q8] [top_k=K] \
                         [prime-file=PATH | prime-bytes=N | prime=TEXT...] | cost [tokens=N] | kernel-check";
const GENERATE: &str = "generate [len=N] [seed=S] [temperature=Q8] [top_k=K] [prime-file=PATH | prime-bytes=N | \
                        prime=TEXT...] (Q8: 256 = 1.0)";

fn number<T: core::str::FromStr>(value: &str, usage: &'static str) -> Result<T, Failure> {
    value.parse().map_err(|_| Failure::Usage(usage))
}

impl<'a> Command<'a> {
    /// The command of `args` (after its flags).
    pub fn parse(args: &mut Args<'a>) -> Result<Self, Failure> {
        Ok(match args.word().unwrap_or("info") {
            "info" => Command::Info,
            // `sentiment`: the command's old name.
            "classify" | "sentiment" => Command::Classify(args.word().ok_or(Failure::Usage("classify SOURCE"))?),
            "generate" => {
                let mut s = Sampling { len: 200, seed: 0, temperature: 256, top_k: 0 };
                let mut prime = Prime::None;
                while let Some(word) = args.word() {
                    let (key, value) = word.split_once('=').ok_or(Failure::Usage(GENERATE))?;
                    match key {
                        "len" => s.len = number(value, GENERATE)?,
                        "seed" => s.seed = number(value, GENERATE)?,
                        "temperature" => s.temperature = number(value, GENERATE)?,
                        "top_k" => s.top_k = number(value, GENERATE)?,
                        // The rest of the line, spaces included.
                        "prime" => prime = Prime::Text(args.line_from(value)),
                        "prime-file" => prime = Prime::File(value),
                        "prime-bytes" => prime = Prime::Bytes(number(value, GENERATE)?),
                        _ => return Err(Failure::Usage(GENERATE)),
                    }
                }
                Command::Generate(s, prime)
            }
            "cost" => {
                let mut tokens = 256;
                while let Some(word) = args.word() {
                    match word.split_once('=') {
                        Some(("tokens", v)) => tokens = number(v, "cost [tokens=N]")?,
                        _ => return Err(Failure::Usage("cost [tokens=N]")),
                    }
                }
                Command::Cost(tokens)
            }
            "kernel-check" => Command::KernelCheck,
            "panic" => Command::Panic,
            "fault" => Command::Fault,
            _ => return Err(Failure::Usage(USAGE)),
        })
    }
}
