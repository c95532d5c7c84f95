//! Endless streams: a 1,000,000-token review and 1,000,000 generated
//! characters run in constant memory (no allocation at all while streaming)
//! and without overflow or wrap-around (this test profile has overflow
//! checks on, so an overflow panics).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use host::run::{HostCharLm, HostCharLmState, HostClassifier, HostClassifierState};
use host::{quantize, Calibration};
use runtime::format::{ModelKind, Pooling};
use runtime::{Rng, Sampler};
use tests::{random_ids, random_model, Dims};

/// Counts the allocations of threads that ask for it, to show that
/// streaming allocates nothing (other tests run on other threads).
struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f`, counting the allocations this thread makes in it.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(Some(0)));
    let r = f();
    let n = COUNT.with(|c| c.replace(None)).unwrap_or(0);
    (r, n)
}

const SENTIMENT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/sentiment.lstm"));
const CHARLM: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/charlm.lstm"));

/// Review-like text of exactly `words` words, from a fixed word list.
fn review(words: usize) -> Vec<u8> {
    let list =
        ["a", "truly", "awful", "film", "great", "acting", "boring", "plot", "<br />", "I", "loved", "it", "not"];
    let mut rng = Rng::new(5);
    let mut text = Vec::new();
    let mut n = 0;
    while n < words {
        let w = list[rng.next_u32() as usize % list.len()];
        text.extend_from_slice(w.as_bytes());
        text.push(if rng.next_u32().is_multiple_of(7) { b',' } else { b' ' });
        n += usize::from(w != "<br />");
    }
    text
}

/// A classifier that reads the last 400 tokens (a random network of the
/// previous shipped model's shape: 16,000 hashed buckets, E 24, H 96, mean
/// and max): a review of a million and three tokens (not a multiple of the
/// window, so the ring's oldest slot is not its first), streamed in 4 KiB
/// pieces, gets exactly the probability of its last 400 words alone.
#[test]
fn million_token_review_equals_its_last_window() {
    let float = random_model(
        ModelKind::Classifier,
        Dims { vocab: 16_001, embed: 24, hidden: 96, layers: 1 },
        Pooling::MeanMax,
        400,
        4,
        1.0,
    );
    let mut rng = Rng::new(8);
    let cal = Calibration::run(&float, &[random_ids(&mut rng, 400, 1, 16_001)]);
    let bytes = quantize(&float, &cal, 8).expect("quantizes");
    let clf = HostClassifier::from_bytes(&bytes).unwrap();
    let window = clf.window();
    assert_eq!(window, 400);
    let text = review(1_000_003);
    let mut state = Box::new(HostClassifierState::new());
    let (p, allocs) = allocations_in(|| {
        let mut review = clf.start(&mut state).unwrap();
        for piece in text.chunks(4096) {
            review.feed(piece);
        }
        let tokens = review.tokens();
        (review.finish(), tokens)
    });
    let (p, tokens) = p;
    assert_eq!(allocs, 0, "streaming allocated");
    assert_eq!(tokens, 1_000_003);
    // The last 400 words' ids, tokenized from the whole text.
    let mut ids = Vec::new();
    clf.word_ids().for_each_id(&text, |id| ids.push(id));
    assert_eq!(ids.len(), 1_000_003);
    let last = clf.classify_ids(&mut state, &ids[ids.len() - window..]).unwrap();
    assert_eq!(p, last);
}

/// The shipped classifier reads every token as it arrives (no window): a
/// review of a million words (and its commas, which are tokens), streamed
/// in 4 KiB pieces, allocates nothing and gets exactly the probability of
/// its ids fed one by one.
#[test]
fn shipped_model_streams_a_million_token_review() {
    let clf = HostClassifier::from_bytes(SENTIMENT).unwrap();
    assert_eq!(clf.window(), 0);
    let text = review(1_000_000);
    let mut state = Box::new(HostClassifierState::new());
    let ((p, tokens), allocs) = allocations_in(|| {
        let mut review = clf.start(&mut state).unwrap();
        for piece in text.chunks(4096) {
            review.feed(piece);
        }
        let tokens = review.tokens();
        (review.finish(), tokens)
    });
    assert_eq!(allocs, 0, "streaming allocated");
    let mut ids = Vec::new();
    clf.word_ids().for_each_id(&text, |id| ids.push(id));
    assert!(ids.len() > 1_000_000, "{} tokens: the commas are tokens too", ids.len());
    assert_eq!(tokens, ids.len() as u64);
    assert_eq!(clf.classify_ids(&mut state, &ids).unwrap(), p);
}

/// A model that reads every token (no window; the last state, or the mean
/// and max over all of them, summed in 64 bits): a million LSTM steps with
/// biases that hold the cell at saturation, and the integer probability
/// still matches the float model's.
#[test]
fn million_token_review_without_a_window() {
    for (pooling, seed) in [(Pooling::Last, 9), (Pooling::MeanMax, 10)] {
        let mut m = random_model(
            ModelKind::Classifier,
            Dims { vocab: 40, embed: 4, hidden: 5, layers: 1 },
            pooling,
            0,
            seed,
            0.3,
        );
        m.layers[0].bias.iter_mut().for_each(|b| *b = 3.0);
        let mut rng = Rng::new(3);
        let ids = random_ids(&mut rng, 1_000_000, 1, 40);
        let cal = Calibration::run(&m, &[ids[..2000].to_vec()]);
        let bytes = quantize(&m, &cal, 8).expect("quantizes");
        let clf = HostClassifier::from_bytes(&bytes).unwrap();
        let mut state = Box::new(HostClassifierState::new());
        let (p, allocs) = allocations_in(|| clf.classify_ids(&mut state, &ids).unwrap());
        assert_eq!(allocs, 0, "streaming allocated");
        // `start` resets every part of the state: the same review again, on
        // the state the first one left, gives the same probability.
        assert_eq!(clf.classify_ids(&mut state, &ids).unwrap(), p, "the state was not reset");
        let float = 1.0 / (1.0 + (-m.class_logits(&ids)[0]).exp());
        let p1 = tests::p_class1(p);
        assert!((p1 - float).abs() < 0.02, "{pooling:?}: integer {p1} vs float {float}");
    }
}

/// A million characters from the shipped language model: constant memory,
/// every byte from the charset, and the same text whether generated in one
/// call or in pieces.
#[test]
fn million_character_generation() {
    let lm = HostCharLm::from_bytes(CHARLM).unwrap();
    let charset: Vec<u8> = (0..lm.chars().len() as u16).map(|i| lm.chars().byte(i).unwrap()).collect();
    let mut seen = [0u64; 256];
    let mut state = Box::new(HostCharLmState::new());
    let mut sampler = Sampler::new(11, 256, 5);
    let ((), allocs) = allocations_in(|| {
        lm.prime(&mut state, b"The ");
        lm.generate(&mut state, &mut sampler, 1_000_000, |b| seen[usize::from(b)] += 1);
    });
    assert_eq!(allocs, 0, "generation allocated");
    assert_eq!(seen.iter().sum::<u64>(), 1_000_000);
    for (b, &n) in seen.iter().enumerate() {
        assert!(n == 0 || charset.contains(&(b as u8)), "byte {b} is not in the charset");
    }
    // Not stuck on one character: the text keeps its variety.
    assert!(seen.iter().filter(|&&n| n > 1000).count() > 20, "{seen:?}");

    // Streaming: 100,000 characters in one call equal 1,000 calls of 100.
    let run = |pieces: usize, each: usize| {
        let mut s = Box::new(HostCharLmState::new());
        let mut sampler = Sampler::new(12, 256, 5);
        let mut out = Vec::new();
        lm.prime(&mut s, b"The ");
        for _ in 0..pieces {
            lm.generate(&mut s, &mut sampler, each, |b| out.push(b));
        }
        out
    };
    assert_eq!(run(1, 100_000), run(1000, 100));
}

/// A model whose window is larger than the state's `N` is refused where
/// the window is set, by `start` (and `feed_lines`), with an error: never a
/// panic, never a review read with a wrong window.
#[test]
fn a_window_larger_than_the_state_is_an_error() {
    let files = tests::small_model_files();
    let clf = HostClassifier::from_bytes(&files[1]).unwrap();
    assert_eq!(clf.window(), 30);
    let mut small = Box::new(runtime::ClassifierState::<{ host::run::HOST_H }, { host::run::HOST_L }, 29>::new());
    let want = runtime::Error::DimensionMismatch { what: "token window", compiled: 29, model: 30 };
    assert_eq!(clf.start(&mut small).err(), Some(want));
    assert_eq!(clf.classify(&mut small, b"a fine film").err(), Some(want));
    assert_eq!(clf.feed_lines(&mut small, b"a fine film\n", |_| panic!("classified")).err(), Some(want));
    let mut fits = Box::new(runtime::ClassifierState::<{ host::run::HOST_H }, { host::run::HOST_L }, 30>::new());
    assert!(clf.classify(&mut fits, b"a fine film").is_ok());
}
