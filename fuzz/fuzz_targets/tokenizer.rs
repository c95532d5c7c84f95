//! The word tokenizer against a second, whole-text implementation written
//! from its documented rules (differential fuzzing), on any bytes and any
//! hashing parameters; plus the char tokenizer's round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime::tokenizer::{CharTokenizer, WordHashing, WordTokenizer, MAX_TAG_LEN};

/// The rules of `runtime::tokenizer`'s module docs, over a whole text.
fn reference(p: WordHashing, text: &[u8]) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut flush = |word: &mut Vec<u8>| {
        if !word.is_empty() {
            let mut h: u32 = 0x811c_9dc5;
            for &b in word.iter() {
                h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
            }
            ids.push(1 + (h ^ p.seed) % p.buckets.max(1));
            word.clear();
        }
    };
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b == b'<' && text.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'/') {
            flush(&mut word);
            // A tag: through the next `>`, at most MAX_TAG_LEN bytes.
            let limit = i + usize::from(MAX_TAG_LEN);
            i = match (i + 2..limit.min(text.len())).find(|&j| text[j] == b'>') {
                Some(j) => j + 1,
                None => limit,
            };
        } else {
            if b.is_ascii_alphanumeric() || b >= 0x80 {
                word.push(b.to_ascii_lowercase());
            } else if b != b'\'' {
                flush(&mut word);
            }
            i += 1;
        }
    }
    flush(&mut word);
    ids
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let p = WordHashing {
        buckets: u32::from_le_bytes(data[0..4].try_into().unwrap()),
        seed: u32::from_le_bytes(data[4..8].try_into().unwrap()),
    };
    let split = usize::from(data[8]);
    let text = &data[9..];

    let mut whole = Vec::new();
    WordTokenizer::for_each_id(p, text, |id| whole.push(id));
    assert_eq!(whole, reference(p, text), "tokenizer and its documented rules disagree");
    assert!(whole.iter().all(|&id| id >= 1 && id <= p.buckets.max(1)));

    // Streaming across a break (a clone carries the state) changes nothing.
    let split = split.min(text.len());
    let mut t = WordTokenizer::new(p);
    let mut streamed: Vec<u32> = text[..split].iter().filter_map(|&b| t.push(b)).collect();
    let mut t2 = t.clone();
    streamed.extend(text[split..].iter().filter_map(|&b| t2.push(b)));
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
