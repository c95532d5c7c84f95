//! Token ids from text: the shared tokenizer's ids, the window a model
//! reads, and the vocabulary counted on the training part.

use host::Words;
use runtime::tokenizer::{WordIds, WordTokenizer};

use crate::data::text::{Example, Text};

/// Tokenizes a review with the shared word tokenizer, keeping only the ids
/// the model reads ([`runtime::classifier::window`]: the last `max_tokens`,
/// 0 = all), as the device does.
pub fn tokenize(ids: WordIds<'_>, text: &str, max_tokens: usize) -> Vec<u32> {
    let mut v = Vec::new();
    ids.for_each_id(text.as_bytes(), |id| v.push(id));
    let keep = runtime::classifier::window(&v, max_tokens).len();
    v.drain(..v.len() - keep);
    v
}

/// Tokenizes reviews (see [`tokenize`]).
pub fn examples(reviews: &[Text], words: &Words, max_tokens: usize) -> Vec<Example> {
    words.with_ids(|ids| {
        reviews.iter().map(|r| Example { ids: tokenize(ids, &r.text, max_tokens), class: r.class }).collect()
    })
}

/// How often each token (by its hash, as the device looks it up) occurs in
/// `texts`.
pub fn token_counts(texts: &[Text], punctuation: bool) -> std::collections::HashMap<u32, u64> {
    let mut counts = std::collections::HashMap::<u32, u64>::new();
    for t in texts {
        WordTokenizer::for_each_token(punctuation, t.text.as_bytes(), |h| *counts.entry(h).or_default() += 1);
    }
    counts
}

/// The vocabulary of the `size` most frequent tokens of `reviews` (ties
/// broken by hash, so the choice is reproducible), counted by their hash,
/// exactly as the device will look them up.
pub fn build_vocab(reviews: &[Text], punctuation: bool, size: usize) -> Words {
    let counts = token_counts(reviews, punctuation);
    let mut by_count: Vec<(u32, u64)> = counts.into_iter().collect();
    by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut hashes: Vec<u32> = by_count.into_iter().take(size).map(|(h, _)| h).collect();
    hashes.sort_unstable();
    Words::Vocab { punctuation, hashes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_last_tokens() {
        let h = WordIds::Hashed(runtime::tokenizer::WordHashing { buckets: 1000, seed: 0 });
        let all = tokenize(h, "a b c d e", 0);
        assert_eq!(all.len(), 5);
        assert_eq!(tokenize(h, "a b c d e", 2), all[3..].to_vec());
    }

    #[test]
    fn vocabulary_keeps_the_most_frequent_tokens() {
        let review = |text: &str| Text { name: String::new(), text: text.into(), class: 1 };
        let reviews = [review("good good good film!"), review("bad film, good!")];
        let words = build_vocab(&reviews, true, 3);
        let Words::Vocab { hashes, .. } = &words else { panic!("a vocabulary") };
        assert_eq!(hashes.len(), 3);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        // good (4), film (2), ! (2) are kept; bad and , are not.
        let ids = words.ids(b"good film! bad,");
        assert_eq!(ids.len(), 5);
        assert!(ids[..3].iter().all(|&id| id >= 2));
        assert_eq!(&ids[3..], &[1, 1]);
        assert_eq!(words.vocab_size(), 5);
    }
}
