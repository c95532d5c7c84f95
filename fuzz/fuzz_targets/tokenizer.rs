//! The word tokenizer against a second, whole-text implementation written
//! from its documented rules (differential fuzzing), on any bytes, with and
//! without punctuation tokens, through both id mappings (hashed buckets,
//! and a vocabulary table checked against a linear search); plus the char
//! tokenizer's round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::tokenizer::{CharTokenizer, U32s, WordHashing, WordIds, WordTokenizer, WordVocab, MAX_TAG_LEN, OOV};

fn fnv(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The rules of `runtime::tokenizer`'s module docs, over a whole text: the
/// tokens' hashes.
fn reference(punctuation: bool, text: &[u8]) -> Vec<u32> {
    let mut tokens = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let flush = |word: &mut Vec<u8>, tokens: &mut Vec<u32>| {
        if !word.is_empty() {
            tokens.push(fnv(word));
            word.clear();
        }
    };
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b == b'<' && text.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'/') {
            flush(&mut word, &mut tokens);
            // A tag: through the next `>`, at most MAX_TAG_LEN bytes.
            let limit = i + usize::from(MAX_TAG_LEN);
            i = match (i + 2..limit.min(text.len())).find(|&j| text[j] == b'>') {
                Some(j) => j + 1,
                None => limit,
            };
            continue;
        }
        if b.is_ascii_alphanumeric() || b >= 0x80 {
            word.push(b.to_ascii_lowercase());
        } else if b != b'\'' {
            flush(&mut word, &mut tokens);
            if punctuation && b.is_ascii_punctuation() {
                tokens.push(fnv(&[b]));
            }
        }
        i += 1;
    }
    flush(&mut word, &mut tokens);
    tokens
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let hashing = WordHashing {
        buckets: u32::from_le_bytes(data[0..4].try_into().unwrap()),
        seed: u32::from_le_bytes(data[4..8].try_into().unwrap()),
    };
    let punctuation = data[8] & 1 == 1;
    let split = usize::from(data[9]);
    let text = &data[10..];

    let mut whole = Vec::new();
    WordTokenizer::for_each_token(punctuation, text, |h| whole.push(h));
    assert_eq!(whole, reference(punctuation, text), "tokenizer and its documented rules disagree");

    // Hashed ids: in range, and the documented formula.
    if !punctuation {
        let ids = WordIds::Hashed(hashing);
        let mut got = Vec::new();
        ids.for_each_id(text, |id| got.push(id));
        let want: Vec<u32> = whole.iter().map(|h| 1 + (h ^ hashing.seed) % hashing.buckets.max(1)).collect();
        assert_eq!(got, want);
        assert!(got.iter().all(|&id| id >= 1 && id <= hashing.buckets.max(1)));
    }

    // A vocabulary of every other distinct token: the binary search agrees
    // with a linear one, for kept and unkept tokens.
    let mut kept: Vec<u32> = whole.iter().copied().step_by(2).collect();
    kept.sort_unstable();
    kept.dedup();
    let bytes: Vec<u8> = kept.iter().flat_map(|h| h.to_le_bytes()).collect();
    let vocab = WordIds::Vocab(WordVocab { punctuation, hashes: U32s(&bytes) });
    let mut got = Vec::new();
    vocab.for_each_id(text, |id| got.push(id));
    let want: Vec<u32> =
        whole.iter().map(|h| kept.iter().position(|k| k == h).map_or(OOV, |i| 2 + i as u32)).collect();
    assert_eq!(got, want);

    // Streaming across a break (a clone carries the state) changes nothing.
    let split = split.min(text.len());
    let mut t = WordTokenizer::new(punctuation);
    let mut streamed: Vec<u32> = text[..split].iter().flat_map(|&b| t.push(b).into_iter().flatten()).collect();
    let mut t2 = t.clone();
    streamed.extend(text[split..].iter().flat_map(|&b| t2.push(b).into_iter().flatten()));
    streamed.extend(t2.finish());
    assert_eq!(streamed, whole);

    // The char tokenizer over the first distinct bytes of the text.
    let mut charset = Vec::new();
    for &b in text.iter().take(64) {
        if !charset.contains(&b) {
            charset.push(b);
        }
    }
    let chars = CharTokenizer::new(&charset);
    for &b in text {
        if let Some(id) = chars.id(b) {
            assert_eq!(chars.byte(id), Some(b));
        }
    }
});
