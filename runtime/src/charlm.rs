//! Character language model: prime with text, then sample characters.
//!
//! Sampling is integer-only and driven by [`Rng`], a seedable SplitMix64, so
//! that the host and the device print the same text for the same seed:
//! temperature in Q8.8 (256 = 1.0; 0 = greedy), top-k (0 = all), weights
//! `exp(-(z_max - z) / T)` from the exp table, and an index drawn as
//! `(u32 * total) >> 32` over their cumulative sum.
//!
//! Bytes outside the model's charset are skipped: they neither advance the
//! state nor fail (see [`CharLm::feed`]).

use crate::fixed::{exp_neg_q16, gap_q12};
use crate::format::{Model, ModelKind, Tokenizer, ValidModel};
use crate::head::dense_outputs;
use crate::kernel::PrepBuf;
use crate::lstm::{Lstm, LstmState};
use crate::tokenizer::CharTokenizer;
use crate::Error;

/// SplitMix64's increment: 2^64 divided by the golden ratio.
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64: a small, seedable PRNG with the same output on every target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        Self::mix(self.0)
    }

    /// SplitMix64's output function: a bijective mix of 64 bits (the
    /// trainer derives its seeds with it too).
    pub const fn mix(z: u64) -> u64 {
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// How to draw the next character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampler {
    /// The random source.
    pub rng: Rng,
    /// Temperature in Q8.8 (256 = 1.0); 0 picks the most likely character.
    pub temperature_q8: u16,
    /// Draw only among the `top_k` most likely characters (0 = all).
    pub top_k: u16,
}

impl Sampler {
    /// A sampler with a seed, a temperature in Q8.8 and a top-k.
    pub const fn new(seed: u64, temperature_q8: u16, top_k: u16) -> Self {
        Self { rng: Rng::new(seed), temperature_q8, top_k }
    }

    /// Pick an index from `logits` (Q(31-f).f with `out_frac` = f).
    pub fn pick(&mut self, logits: &[i32], out_frac: u8) -> usize {
        let Some(zmax) = logits.iter().copied().max() else {
            return 0;
        };
        if self.temperature_q8 == 0 {
            return logits.iter().position(|&z| z == zmax).unwrap_or(0);
        }
        let k = if self.top_k == 0 { logits.len() } else { usize::from(self.top_k).min(logits.len()) };
        // The k-th largest value: scan down through distinct values (one
        // pass for each; with every character kept, the smallest).
        let mut threshold = i32::MAX;
        let mut taken = 0;
        if k >= logits.len() {
            threshold = logits.iter().copied().min().unwrap_or(zmax);
            taken = k;
        }
        while taken < k {
            let Some(next) = logits.iter().copied().filter(|&z| z < threshold).max() else {
                break;
            };
            taken += logits.iter().filter(|&&z| z == next).count();
            threshold = next;
        }
        // Everything above the threshold, then ties at it by index, k in all.
        let above = logits.iter().filter(|&&z| z > threshold).count();
        let ties_left = k.saturating_sub(above);
        let weight = |z: i32| -> u64 {
            let num = gap_q12(zmax, z, out_frac) * 256;
            // The same quotient; a 32-bit division is one instruction on a
            // Cortex-M3/M4, a 64-bit one a library call.
            let scaled = match u32::try_from(num) {
                Ok(n) => i64::from(n / u32::from(self.temperature_q8)),
                Err(_) => num / i64::from(self.temperature_q8),
            };
            u64::from(exp_neg_q16(scaled.min(i64::from(u32::MAX)) as u32))
        };
        // Two passes over the same selection: the total, then the draw.
        let kept = || {
            let mut ties = ties_left;
            logits.iter().enumerate().filter(move |&(_, &z)| {
                let keep = z > threshold || (z == threshold && ties > 0);
                if z == threshold && keep {
                    ties -= 1;
                }
                keep
            })
        };
        let total: u64 = kept().map(|(_, &z)| weight(z)).sum();
        let r = (u64::from(self.rng.next_u32()) * total) >> 32;
        let mut acc = 0u64;
        let mut last = 0;
        for (i, &z) in kept() {
            acc += weight(z);
            last = i;
            if r < acc {
                return i;
            }
        }
        last
    }
}

/// Streaming state of a generation: `H` units, `L` layers, `V` characters.
#[derive(Clone, Debug)]
pub struct CharLmState<const H: usize, const L: usize, const V: usize> {
    lstm: LstmState<H, L>,
    /// Logits of the next character, Q(31-f).f.
    logits: [i32; V],
}

impl<const H: usize, const L: usize, const V: usize> CharLmState<H, L, V> {
    /// The zero state, for a `static`.
    pub const fn new() -> Self {
        Self { lstm: LstmState::new(), logits: [0; V] }
    }

    /// Back to the start of a text.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Logits of the next character after what was fed, `[V]` (the first
    /// `vocab` are the model's; see [`CharLm::logits`]).
    pub fn logits(&self) -> &[i32; V] {
        &self.logits
    }

    /// The LSTM state.
    pub fn lstm(&self) -> &LstmState<H, L> {
        &self.lstm
    }
}

impl<const H: usize, const L: usize, const V: usize> Default for CharLmState<H, L, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// A character language model compiled for embedding width up to `E`, up to
/// `H` units, `L` layers and `V` characters (see [`Lstm`]).
#[derive(Clone, Debug)]
pub struct CharLm<'a, const E: usize, const H: usize, const L: usize, const V: usize> {
    lstm: Lstm<'a, E, H, L>,
    chars: CharTokenizer<'a>,
}

impl<'a, const E: usize, const H: usize, const L: usize, const V: usize> CharLm<'a, E, H, L, V> {
    /// Build from a decoded, validated model; checks kind and sizes once.
    pub fn new(model: ValidModel<'a>) -> Result<Self, Error> {
        if model.header.kind != ModelKind::CharLm {
            return Err(Error::WrongKind { expected: ModelKind::CharLm, found: model.header.kind });
        }
        let Tokenizer::Chars(charset) = model.tokenizer else {
            return Err(Error::Inconsistent { what: "tokenizer does not fit the model kind" });
        };
        crate::lstm::check_dim("charset size", V, charset.len())?;
        Ok(Self { lstm: Lstm::new(model)?, chars: CharTokenizer::new(charset) })
    }

    /// Decode and build in one go ([`Model::from_bytes`], then `new`).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::new(Model::from_bytes(bytes)?)
    }

    /// The model.
    pub fn model(&self) -> &ValidModel<'a> {
        self.lstm.model()
    }

    /// The charset tokenizer.
    pub fn chars(&self) -> CharTokenizer<'a> {
        self.chars
    }

    /// The next character's logits after what `state` was fed, Q(31-f).f
    /// with the head's `out_frac` f, one per charset byte.
    pub fn logits<'s>(&self, state: &'s CharLmState<H, L, V>) -> &'s [i32] {
        &state.logits[..self.chars.len()]
    }

    /// Feed one character id (below the charset size) and compute the next
    /// logits.
    pub fn step_id(&self, state: &mut CharLmState<H, L, V>, id: u16) -> Result<(), Error> {
        self.lstm.step(&mut state.lstm, u32::from(id))?;
        self.dense(state);
        Ok(())
    }

    /// The dense layer over the top hidden state into `state.logits`. A
    /// function of its own, so that its vector is on the stack only after
    /// the LSTM's step has returned, not beneath it.
    #[inline(never)]
    fn dense(&self, state: &mut CharLmState<H, L, V>) {
        let mut buf = PrepBuf::<H>::new();
        let h = buf.prepare(self.lstm.top(&state.lstm));
        dense_outputs(&self.model().head, h, &mut state.logits[..self.chars.len()]);
    }

    /// Feed one byte; returns false (and changes nothing) for a byte
    /// outside the charset.
    pub fn feed(&self, state: &mut CharLmState<H, L, V>, byte: u8) -> bool {
        match self.chars.id(byte) {
            Some(id) => self.step_id(state, id).is_ok(),
            None => false,
        }
    }

    /// Feed a prime; bytes outside the charset are skipped.
    pub fn prime(&self, state: &mut CharLmState<H, L, V>, text: &[u8]) {
        for &b in text {
            self.feed(state, b);
        }
    }

    /// Draw the next character from the current logits and feed it back.
    pub fn next_byte(&self, state: &mut CharLmState<H, L, V>, sampler: &mut Sampler) -> u8 {
        let id = sampler.pick(&state.logits[..self.chars.len()], self.model().head.out_frac) as u16;
        // `id < V` by construction, so the step cannot fail.
        let _ = self.step_id(state, id);
        self.chars.byte(id).unwrap_or(b'?')
    }

    /// Generate `n` characters after what was fed, calling `out` with each.
    pub fn generate(&self, state: &mut CharLmState<H, L, V>, sampler: &mut Sampler, n: usize, mut out: impl FnMut(u8)) {
        for _ in 0..n {
            out(self.next_byte(state, sampler));
        }
    }
}
