//! Sentiment: stream a review's bytes in, get a probability out.
//!
//! Memory: the [`SentimentState`] holds the LSTM state, the tokenizer state,
//! the pooling sums and, when the model reads only the last `max_tokens`
//! tokens, a ring of the last `N` token ids (`N >= max_tokens`, checked when
//! the classifier is built). A review of any length streams through it in
//! constant memory.

use crate::format::{ModelKind, Pooling};
use crate::head::dense_output;
use crate::kernel::PrepBuf;
use crate::lstm::{Lstm, LstmState};
use crate::tokenizer::{WordIds, WordTokenizer};
use crate::{Error, Model};

/// A probability in Q0.15 (`0..=32767`, 32768 = 1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

    /// True when the review is classified positive (`p >= 0.5`).
    pub fn is_positive(self) -> bool {
        self.0 >= 1 << 14
    }

    /// `"positive"` or `"negative"`.
    pub fn label(self) -> &'static str {
        if self.is_positive() {
            "positive"
        } else {
            "negative"
        }
    }
}

/// One prediction line: the probability with four decimals and the label,
/// for example `0.8123 positive`. The host and the firmware both print this.
impl core::fmt::Display for Probability {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let p = self.per_10k();
        write!(f, "{}.{:04} {}", p / 10_000, p % 10_000, self.label())
    }
}

/// The ids a sentiment model reads of a review: the last `max_tokens`
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
pub struct SentimentState<const H: usize, const L: usize, const N: usize> {
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
}

impl<const H: usize, const L: usize, const N: usize> SentimentState<H, L, N> {
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
    }
}

impl<const H: usize, const L: usize, const N: usize> Default for SentimentState<H, L, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A sentiment classifier over a validated model, compiled for embedding
/// width up to `E`, up to `H` units and up to `L` layers (see [`Lstm`]).
#[derive(Clone, Debug)]
pub struct Classifier<'a, const E: usize, const H: usize, const L: usize> {
    lstm: Lstm<'a, E, H, L>,
    ids: WordIds<'a>,
}

/// One review being read: returned by [`Classifier::start`], fed any number
/// of times, consumed by [`Review::finish`]. It holds the classifier and the
/// state, so a review cannot be fed before it has started, nor after it has
/// finished.
#[derive(Debug)]
pub struct Review<'r, 'a, const E: usize, const H: usize, const L: usize, const N: usize> {
    clf: &'r Classifier<'a, E, H, L>,
    state: &'r mut SentimentState<H, L, N>,
}

impl<const E: usize, const H: usize, const L: usize, const N: usize> Review<'_, '_, E, H, L, N> {
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
    pub fn finish(self) -> Probability {
        self.clf.finish_review(self.state)
    }
}

impl<'a, const E: usize, const H: usize, const L: usize> Classifier<'a, E, H, L> {
    /// Build from a decoded model; checks kind and sizes once.
    pub fn new(model: Model<'a>) -> Result<Self, Error> {
        if model.header.kind != ModelKind::Sentiment {
            return Err(Error::WrongKind { expected: ModelKind::Sentiment, found: model.header.kind });
        }
        let Some(ids) = model.tokenizer.word_ids() else {
            return Err(Error::Inconsistent { what: "tokenizer does not fit the model kind" });
        };
        Ok(Self { lstm: Lstm::new(model)?, ids })
    }

    /// Decode and build in one go.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::new(Model::from_bytes(bytes)?)
    }

    /// The model.
    pub fn model(&self) -> &Model<'a> {
        self.lstm.model()
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
        state: &'r mut SentimentState<H, L, N>,
    ) -> Result<Review<'r, 'a, E, H, L, N>, Error> {
        self.begin(state)?;
        Ok(Review { clf: self, state })
    }

    fn begin<const N: usize>(&self, state: &mut SentimentState<H, L, N>) -> Result<(), Error> {
        if self.window() > N {
            return Err(Error::DimensionMismatch { what: "token window", compiled: N, model: self.window() });
        }
        state.reset(&self.ids);
        Ok(())
    }

    fn feed_bytes<const N: usize>(&self, state: &mut SentimentState<H, L, N>, bytes: &[u8]) {
        for &b in bytes {
            for hash in state.tokenizer.push(b).into_iter().flatten() {
                self.token(state, self.ids.id(hash));
            }
        }
    }

    /// One id of a started review (`begin` checked `window() <= N`, so
    /// the ring's slot is in range).
    fn token<const N: usize>(&self, state: &mut SentimentState<H, L, N>, id: u32) {
        let window = self.window();
        if window == 0 {
            self.advance(state, id);
        } else if let Some(slot) = state.window.get_mut(state.next) {
            *slot = id;
            state.next = if state.next + 1 >= window { 0 } else { state.next + 1 };
        }
        state.count += 1;
    }

    fn advance<const N: usize>(&self, state: &mut SentimentState<H, L, N>, id: u32) {
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
    /// the sigmoid.
    fn finish_review<const N: usize>(&self, state: &mut SentimentState<H, L, N>) -> Probability {
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
        // mean, max: [H] pooled features, Q0.15 (zero for an empty review).
        let mut mean = [0i16; H];
        let mut max = [0i16; H];
        let logit = match head.pooling {
            Pooling::Last => {
                let mut a = PrepBuf::<H>::new();
                dense_output(head, 0, a.prepare(self.lstm.top(&state.lstm)), PrepBuf::<0>::new().prepare(&[]))
            }
            Pooling::MeanMax => {
                if steps > 0 {
                    let n = steps.min(i64::MAX as u64) as i64;
                    for k in 0..hd {
                        // Mean rounded half away from zero; |mean| <= 32767.
                        let s = state.sum[k];
                        mean[k] = (if s >= 0 { (s + n / 2) / n } else { (s - n / 2) / n }) as i16;
                        max[k] = state.max[k];
                    }
                }
                let (mut a, mut b) = (PrepBuf::<H>::new(), PrepBuf::<H>::new());
                dense_output(head, 0, a.prepare(&mean[..hd]), b.prepare(&max[..hd]))
            }
        };
        // The logit is in Q.f; the sigmoid takes Q3.12.
        let f_bits = u32::from(head.out_frac);
        let z = if f_bits >= 12 {
            crate::fixed::round_shift(logit.clamp(i32::MIN / 2, i32::MAX / 2), f_bits - 12)
        } else {
            (i64::from(logit) << (12 - f_bits)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        };
        Probability(crate::fixed::sigmoid_q15(crate::fixed::sat16(z)))
    }

    /// Feed text holding one review per line (`\n` ends a review), calling
    /// `out` with each finished review's probability, in order. Lines may
    /// be split anywhere across calls; call [`Classifier::end_lines`] at the
    /// end of the text for a last line without `\n`.
    pub fn feed_lines<const N: usize>(
        &self,
        state: &mut SentimentState<H, L, N>,
        bytes: &[u8],
        mut out: impl FnMut(Probability),
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
    pub fn end_lines<const N: usize>(&self, state: &mut SentimentState<H, L, N>, mut out: impl FnMut(Probability)) {
        if state.line_open {
            out(self.finish_review(state));
            state.line_open = false;
        }
    }

    /// Classify a review given as token ids.
    pub fn classify_ids<const N: usize>(
        &self,
        state: &mut SentimentState<H, L, N>,
        ids: &[u32],
    ) -> Result<Probability, Error> {
        let mut review = self.start(state)?;
        for &id in ids {
            review.push_id(id)?;
        }
        Ok(review.finish())
    }

    /// Classify a whole review held in memory.
    pub fn classify<const N: usize>(
        &self,
        state: &mut SentimentState<H, L, N>,
        text: &[u8],
    ) -> Result<Probability, Error> {
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
