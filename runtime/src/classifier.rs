//! Text classification: stream a text's bytes in, get its class and the
//! class's probability out (two classes through a sigmoid, as the IMDb
//! sentiment model; 3 to [`crate::format::MAX_CLASSES`] through a softmax).
//!
//! Memory: the [`ClassifierState`] holds the LSTM state, the tokenizer state,
//! the pooling sums and, when the model reads only the last `max_tokens`
//! tokens, a ring of the last `N` token ids (`N >= max_tokens`, checked when
//! the classifier is built). A review of any length streams through it in
//! constant memory.

use crate::fixed::{exp_neg_q16, gap_q12};
use crate::format::{ClassNames, Model, ModelKind, Pooling, ValidModel};
use crate::head::{dense_output, dense_outputs};
use crate::kernel::PrepBuf;
use crate::lstm::{Lstm, LstmState};
use crate::tokenizer::{WordIds, WordTokenizer};
use crate::Error;

/// A probability in Q0.15 (`0..=32767`, 32768 = 1.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Probability(pub i16);

impl Probability {
    /// The probability in units of 1/10,000, rounded half up.
    pub fn per_10k(self) -> u32 {
        ((i32::from(self.0).max(0) as u32) * 10_000 + (1 << 14)) >> 15
    }

    /// The probability as `f32` (for display only).
    pub fn to_f32(self) -> f32 {
        f32::from(self.0) / 32768.0
    }
}

/// The probability with four decimals, for example `0.8123`.
impl core::fmt::Display for Probability {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let p = self.per_10k();
        write!(f, "{}.{:04}", p / 10_000, p % 10_000)
    }
}

/// The class a text is given: its index, its name and its probability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prediction<'a> {
    /// Index of the class (in the model's class order).
    pub class: usize,
    /// The class's name, from the model file.
    pub label: &'a str,
    /// The probability the model gives the class.
    pub probability: Probability,
}

/// One prediction line: the probability, then the class name, for example
/// `0.8123 positive`. The host and the firmware both print this.
impl core::fmt::Display for Prediction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}", self.probability, self.label)
    }
}

/// Every class's probability, for up to `C` classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scores<'a, const C: usize> {
    probabilities: [Probability; C],
    best: usize,
    names: ClassNames<'a>,
}

impl<'a, const C: usize> Scores<'a, C> {
    /// The most probable class (the first of equal logits; for two classes,
    /// class 1 from probability 0.5 on).
    pub fn best(&self) -> Prediction<'a> {
        self.prediction(self.best)
    }

    /// Class `i` with its probability (`i` below the class count).
    pub fn prediction(&self, i: usize) -> Prediction<'a> {
        Prediction {
            class: i,
            label: self.names.get(i).unwrap_or(""),
            probability: self.probabilities.get(i).copied().unwrap_or_default(),
        }
    }

    /// The probabilities in class order, one a class.
    pub fn probabilities(&self) -> &[Probability] {
        &self.probabilities[..self.names.len().min(C)]
    }

    /// The class names.
    pub fn names(&self) -> ClassNames<'a> {
        self.names
    }
}

/// Softmax of integer logits (Q.f with `out_frac` = f) into Q0.15
/// probabilities: weights `exp(-(z_max - z))` from the exp table (the
/// sampler's, at temperature 1), each divided by their sum in 32 bits.
/// Returns the index of the first largest logit.
pub fn softmax_q15(logits: &[i32], out_frac: u8, out: &mut [Probability]) -> usize {
    let Some(zmax) = logits.iter().copied().max() else { return 0 };
    let best = logits.iter().position(|&z| z == zmax).unwrap_or(0);
    let weight = |z: i32| exp_neg_q16(gap_q12(zmax, z, out_frac).min(i64::from(u32::MAX)) as u32);
    // At most MAX_CLASSES weights of at most 2^16: the sum fits in 27 bits.
    let total: u32 = logits.iter().map(|&z| weight(z)).sum();
    for (p, &z) in out.iter_mut().zip(logits) {
        // w * 2^15 <= 2^31, plus half the total: below 2^32.
        let q = ((weight(z) << 15) + total / 2) / total.max(1);
        *p = Probability(q.min(32_767) as i16);
    }
    best
}

/// The ids a classifier reads of a review: the last `max_tokens`
/// (0 = all). The one windowing rule: the trainer cuts its examples with it,
/// the float reference reads through it, and the device's ring of the last
/// `N` ids gives the same tokens.
pub fn window<T>(ids: &[T], max_tokens: usize) -> &[T] {
    if max_tokens > 0 && ids.len() > max_tokens {
        &ids[ids.len() - max_tokens..]
    } else {
        ids
    }
}

/// Streaming state of one review: `H` units, `L` layers, a window of `N`
/// token ids. It is only read and written through a [`Review`], which
/// [`Classifier::start`] returns after resetting all of it.
#[derive(Clone, Debug)]
pub struct ClassifierState<const H: usize, const L: usize, const N: usize> {
    lstm: LstmState<H, L>,
    tokenizer: WordTokenizer,
    /// Tokens seen in this review (a u64 never wraps: 2^64 tokens is
    /// centuries at a million a second).
    count: u64,
    /// The last `min(count, max_tokens)` ids, a ring: the next id goes to
    /// `window[next]`, and once full the oldest is there.
    window: [u32; N],
    /// Slot of `window` for the next id, below `max_tokens`.
    next: usize,
    /// Sum over time of the top layer's h (mean pooling), Q0.15, in 64
    /// bits: without a window a review of any length is summed (2^48
    /// tokens before it could overflow).
    sum: [i64; H],
    /// Max over time of the top layer's h (max pooling), Q0.15.
    max: [i16; H],
    /// [`Classifier::feed_lines`]: a review (line) has begun.
    line_open: bool,
    /// A review has started and not finished ([`Classifier::resume`]).
    started: bool,
}

impl<const H: usize, const L: usize, const N: usize> ClassifierState<H, L, N> {
    /// An empty state, for a `static`.
    pub const fn new() -> Self {
        Self {
            lstm: LstmState::new(),
            tokenizer: WordTokenizer::new(false),
            count: 0,
            window: [0; N],
            next: 0,
            sum: [0; H],
            max: [i16::MIN; H],
            line_open: false,
            started: false,
        }
    }

    /// Every field back to its start, with the model's tokenizer (in place:
    /// no copy of the state on the stack).
    fn reset(&mut self, ids: &WordIds<'_>) {
        self.lstm.reset();
        self.tokenizer = ids.tokenizer();
        self.count = 0;
        self.window.fill(0);
        self.next = 0;
        self.sum = [0; H];
        self.max = [i16::MIN; H];
        self.line_open = false;
        self.started = false;
    }
}

impl<const H: usize, const L: usize, const N: usize> Default for ClassifierState<H, L, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A text classifier over a validated model, compiled for embedding width
/// up to `E`, up to `H` units, up to `L` layers (see [`Lstm`]) and up to
/// `C` classes (2 by default: the finished review's logits and
/// probabilities are `C`-sized arrays on the stack).
#[derive(Clone, Debug)]
pub struct Classifier<'a, const E: usize, const H: usize, const L: usize, const C: usize = 2> {
    lstm: Lstm<'a, E, H, L>,
    ids: WordIds<'a>,
}

/// One review being read: returned by [`Classifier::start`], fed any number
/// of times, consumed by [`Review::finish`]. It holds the classifier and the
/// state, so a review cannot be fed before it has started, nor after it has
/// finished.
#[derive(Debug)]
pub struct Review<'r, 'a, const E: usize, const H: usize, const L: usize, const N: usize, const C: usize = 2> {
    clf: &'r Classifier<'a, E, H, L, C>,
    state: &'r mut ClassifierState<H, L, N>,
}

impl<'a, const E: usize, const H: usize, const L: usize, const N: usize, const C: usize> Review<'_, 'a, E, H, L, N, C> {
    /// Feed the next bytes of the review (any split of the text gives the
    /// same result).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.clf.feed_bytes(self.state, bytes);
    }

    /// Feed one token id directly (ids the tokenizer made elsewhere, e.g.
    /// the trainer's evaluation). An id outside the vocabulary is an error
    /// and changes nothing.
    pub fn push_id(&mut self, id: u32) -> Result<(), Error> {
        self.clf.lstm.check_id(id)?;
        self.clf.token(self.state, id);
        Ok(())
    }

    /// Tokens read so far.
    pub fn tokens(&self) -> u64 {
        self.state.count
    }

    /// End the review: run the window (if any), pool, and classify.
    pub fn finish(self) -> Prediction<'a> {
        self.clf.finish_review(self.state).best()
    }

    /// End the review, with every class's probability.
    pub fn finish_scores(self) -> Scores<'a, C> {
        self.clf.finish_review(self.state)
    }
}

impl<'a, const E: usize, const H: usize, const L: usize, const C: usize> Classifier<'a, E, H, L, C> {
    /// Build from a decoded, validated model; checks kind and sizes once.
    pub fn new(model: ValidModel<'a>) -> Result<Self, Error> {
        if model.header.kind != ModelKind::Classifier {
            return Err(Error::WrongKind { expected: ModelKind::Classifier, found: model.header.kind });
        }
        if model.classes() > C {
            return Err(Error::DimensionMismatch { what: "classes", compiled: C, model: model.classes() });
        }
        let Some(ids) = model.tokenizer.word_ids() else {
            return Err(Error::Inconsistent { what: "tokenizer does not fit the model kind" });
        };
        Ok(Self { lstm: Lstm::new(model)?, ids })
    }

    /// Decode and build in one go ([`Model::from_bytes`], then `new`).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::new(Model::from_bytes(bytes)?)
    }

    /// The model.
    pub fn model(&self) -> &ValidModel<'a> {
        self.lstm.model()
    }

    /// The class names, in class order.
    pub fn class_names(&self) -> ClassNames<'a> {
        self.model().class_names()
    }

    /// How the model's word tokens become ids.
    pub fn word_ids(&self) -> WordIds<'a> {
        self.ids
    }

    /// The window of ids the model reads (0 = all): a state needs
    /// `N >= window()`.
    pub fn window(&self) -> usize {
        self.model().head.max_tokens as usize
    }

    /// Start a review: check the state's window `N` against the model's,
    /// reset every part of `state`, and return the review to feed.
    pub fn start<'r, const N: usize>(
        &'r self,
        state: &'r mut ClassifierState<H, L, N>,
    ) -> Result<Review<'r, 'a, E, H, L, N, C>, Error> {
        self.begin(state)?;
        Ok(Review { clf: self, state })
    }

    /// The review `state` holds, to feed further or finish: the same
    /// review [`Classifier::start`] returned, for callers that cannot keep
    /// it between calls (the C API). `None` unless a review has started on
    /// `state` and not finished (so a state that was never started, or
    /// whose review finished, cannot be fed).
    pub fn resume<'r, const N: usize>(
        &'r self,
        state: &'r mut ClassifierState<H, L, N>,
    ) -> Option<Review<'r, 'a, E, H, L, N, C>> {
        (state.started && self.window() <= N).then_some(Review { clf: self, state })
    }

    fn begin<const N: usize>(&self, state: &mut ClassifierState<H, L, N>) -> Result<(), Error> {
        if self.window() > N {
            return Err(Error::DimensionMismatch { what: "token window", compiled: N, model: self.window() });
        }
        state.reset(&self.ids);
        state.started = true;
        Ok(())
    }

    // One copy, not one a caller (`feed_lines` has two): the tokenizer and
    // the LSTM step inlined twice cost a Cortex-M3 holding the shipped
    // language model the last 2 KiB of its flash.
    #[inline(never)]
    fn feed_bytes<const N: usize>(&self, state: &mut ClassifierState<H, L, N>, bytes: &[u8]) {
        for &b in bytes {
            for hash in state.tokenizer.push(b).into_iter().flatten() {
                self.token(state, self.ids.id(hash));
            }
        }
    }

    /// One id of a started review (`begin` checked `window() <= N`, so
    /// the ring's slot is in range).
    fn token<const N: usize>(&self, state: &mut ClassifierState<H, L, N>, id: u32) {
        let window = self.window();
        if window == 0 {
            self.advance(state, id);
        } else if let Some(slot) = state.window.get_mut(state.next) {
            *slot = id;
            state.next = if state.next + 1 >= window { 0 } else { state.next + 1 };
        }
        state.count += 1;
    }

    fn advance<const N: usize>(&self, state: &mut ClassifierState<H, L, N>, id: u32) {
        // Ids come from the model's own tokenizer or were checked: always
        // in range. Only mean pooling sums.
        if self.lstm.step(&mut state.lstm, id).is_ok() && self.model().head.pooling == Pooling::MeanMax {
            let top = self.lstm.top(&state.lstm);
            for ((sum, max), &h) in state.sum.iter_mut().zip(state.max.iter_mut()).zip(top) {
                *sum += i64::from(h);
                *max = (*max).max(h);
            }
        }
    }

    /// The end of a review: the window, the pooling, the dense layer and
    /// the sigmoid or the softmax.
    fn finish_review<const N: usize>(&self, state: &mut ClassifierState<H, L, N>) -> Scores<'a, C> {
        if let Some(hash) = state.tokenizer.finish() {
            self.token(state, self.ids.id(hash));
        }
        let window = self.window();
        let steps = if window == 0 {
            state.count
        } else {
            let n = state.count.min(window as u64);
            let mut slot = if n == window as u64 { state.next } else { 0 };
            for _ in 0..n {
                let id = state.window.get(slot).copied().unwrap_or(0);
                self.advance(state, id);
                slot = if slot + 1 >= window { 0 } else { slot + 1 };
            }
            n
        };
        let head = &self.model().head;
        let hd = self.lstm.hidden();
        let outputs = usize::from(self.model().header.outputs);
        // mean, max: [H] pooled features, Q0.15 (zero for an empty review).
        let mut mean = [0i16; H];
        let mut max = [0i16; H];
        // The logits, Q(31-f).f (`new` checked outputs <= classes <= C).
        let mut logits = [0i32; C];
        let logits = &mut logits[..outputs.min(C)];
        match head.pooling {
            Pooling::Last => {
                let mut a = PrepBuf::<H>::new();
                dense_outputs(head, a.prepare(self.lstm.top(&state.lstm)), logits);
            }
            Pooling::MeanMax => {
                if steps > 0 {
                    let n = steps.min(i64::MAX as u64) as i64;
                    // Below 2^30 (a review shorter than 32,768 tokens) the
                    // sum and the count divide in 32 bits, one SDIV on a
                    // Cortex-M4 instead of a 64-bit division routine: the
                    // same quotient.
                    let n32 = i32::try_from(n).ok().filter(|&n| n < 1 << 30);
                    for k in 0..hd {
                        // Mean rounded half away from zero; |mean| <= 32767.
                        let s = state.sum[k];
                        macro_rules! rounded_mean {
                            ($s:expr, $n:expr) => {
                                (if $s >= 0 { ($s + $n / 2) / $n } else { ($s - $n / 2) / $n }) as i16
                            };
                        }
                        mean[k] = match (i32::try_from(s), n32) {
                            (Ok(s), Some(n)) if s.unsigned_abs() < 1 << 30 => rounded_mean!(s, n),
                            _ => rounded_mean!(s, n),
                        };
                        max[k] = state.max[k];
                    }
                }
                let (mut a, mut b) = (PrepBuf::<H>::new(), PrepBuf::<H>::new());
                let (a, b) = (a.prepare(&mean[..hd]), b.prepare(&max[..hd]));
                for (r, z) in logits.iter_mut().enumerate() {
                    *z = dense_output(head, r, a, b);
                }
            }
        }
        let mut scores = Scores { probabilities: [Probability(0); C], best: 0, names: self.class_names() };
        if let [logit] = *logits {
            // Two classes: the sigmoid of the one logit is class 1's
            // probability. The logit is in Q.f; the sigmoid takes Q3.12.
            let f_bits = u32::from(head.out_frac);
            let z = if f_bits >= 12 {
                crate::fixed::round_shift(logit.clamp(i32::MIN / 2, i32::MAX / 2), f_bits - 12)
            } else {
                (i64::from(logit) << (12 - f_bits)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
            };
            let p1 = crate::fixed::sigmoid_q15(crate::fixed::sat16(z));
            let p0 = (32_768 - i32::from(p1)).min(32_767) as i16;
            if let [q0, q1, ..] = &mut scores.probabilities[..] {
                (*q0, *q1) = (Probability(p0), Probability(p1));
            }
            scores.best = usize::from(p1 >= 1 << 14);
        } else {
            scores.best = softmax_q15(logits, head.out_frac, &mut scores.probabilities);
        }
        state.started = false;
        scores
    }

    /// Feed text holding one review per line (`\n` ends a review), calling
    /// `out` with each finished review's probability, in order. Lines may
    /// be split anywhere across calls; call [`Classifier::end_lines`] at the
    /// end of the text for a last line without `\n`.
    pub fn feed_lines<const N: usize>(
        &self,
        state: &mut ClassifierState<H, L, N>,
        bytes: &[u8],
        mut out: impl FnMut(Scores<'a, C>),
    ) -> Result<(), Error> {
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if !state.line_open {
                self.begin(state)?;
                state.line_open = true;
            }
            match line.split_last() {
                Some((b'\n', text)) => {
                    self.feed_bytes(state, text);
                    out(self.finish_review(state));
                    state.line_open = false;
                }
                _ => self.feed_bytes(state, line),
            }
        }
        Ok(())
    }

    /// End of a text fed to [`Classifier::feed_lines`]: classify a last line
    /// that had no `\n`.
    pub fn end_lines<const N: usize>(&self, state: &mut ClassifierState<H, L, N>, mut out: impl FnMut(Scores<'a, C>)) {
        if state.line_open {
            out(self.finish_review(state));
            state.line_open = false;
        }
    }

    /// Classify a review given as token ids.
    pub fn classify_ids<const N: usize>(
        &self,
        state: &mut ClassifierState<H, L, N>,
        ids: &[u32],
    ) -> Result<Prediction<'a>, Error> {
        let mut review = self.start(state)?;
        for &id in ids {
            review.push_id(id)?;
        }
        Ok(review.finish())
    }

    /// Classify a whole review held in memory.
    pub fn classify<const N: usize>(
        &self,
        state: &mut ClassifierState<H, L, N>,
        text: &[u8],
    ) -> Result<Prediction<'a>, Error> {
        let mut review = self.start(state)?;
        review.feed(text);
        Ok(review.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn window_keeps_the_last_ids() {
        assert_eq!(window(&[1, 2, 3, 4, 5], 2), &[4, 5]);
        assert_eq!(window(&[1, 2, 3], 0), &[1, 2, 3]);
        assert_eq!(window(&[1, 2, 3], 3), &[1, 2, 3]);
        assert_eq!(window::<u32>(&[], 4), &[] as &[u32]);
    }
}
