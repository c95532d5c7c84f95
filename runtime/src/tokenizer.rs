//! The tokenizers: one definition, used by the trainer on the host and by the
//! runtime on the device, so that both see exactly the same token ids.
//!
//! Both are byte-at-a-time state machines with a few bytes of state: text of
//! any length streams through them in constant memory.
//!
//! # Words (sentiment)
//! [`WordTokenizer`] turns review text into hashed word ids:
//! - ASCII letters are lower-cased; ASCII letters, digits and every byte
//!   `>= 0x80` (the bytes of non-ASCII UTF-8 characters) are word bytes;
//! - an apostrophe (`'`) is dropped without ending the word (`don't` is
//!   `dont`);
//! - an HTML tag, `<` followed by a letter or `/`, up to and including the
//!   next `>`, is a separator: IMDb's `<br />` line breaks. A tag is at most
//!   [`MAX_TAG_LEN`] bytes counting the `<`; if no `>` comes by then, the
//!   tag ends there and the next byte is text again. A `<` not followed by a
//!   letter or `/` is a separator like any punctuation (and `<<b>` is a
//!   separator and the tag `<b>`);
//! - every other byte (space, punctuation, control) ends the current word.
//!
//! A word's id is `1 + (fnv1a32(word) ^ seed) % buckets`, FNV-1a over the
//! lower-cased word bytes (the hashing trick: no vocabulary table on the
//! device). Id 0 is never produced; the trainer uses it for padding.
//!
//! # Characters (language model)
//! [`CharTokenizer`] maps each byte to its index in the model's charset.
//! Bytes outside the charset have no id: [`CharTokenizer::id`] returns
//! `None`, and priming skips them.

/// The longest HTML tag, in bytes from its `<`, that is skipped as a
/// separator; a longer run after `<` is read as ordinary text again from the
/// byte after this limit.
pub const MAX_TAG_LEN: u8 = 64;

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// Hashing parameters of the word tokenizer, stored in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordHashing {
    /// Number of hash buckets; ids run from 1 to `buckets` inclusive.
    pub buckets: u32,
    /// Seed, XORed into the word's FNV-1a hash.
    pub seed: u32,
}

impl WordHashing {
    /// The number of distinct ids including the padding id 0: the embedding
    /// table has this many rows.
    pub const fn vocab_size(&self) -> u32 {
        self.buckets + 1
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between words or inside a word.
    Text,
    /// Just read `<`: a tag if the next byte is a letter or `/`.
    AfterLt,
    /// Inside a tag, with the number of bytes read since `<`.
    Tag(u8),
}

/// Streaming word tokenizer (see the module docs for the rules): the
/// hashing parameters (from the model) and six bytes of state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordTokenizer {
    params: WordHashing,
    hash: u32,
    in_word: bool,
    mode: Mode,
}

impl WordTokenizer {
    /// A tokenizer at the start of a text.
    pub const fn new(params: WordHashing) -> Self {
        Self { params, hash: FNV_OFFSET, in_word: false, mode: Mode::Text }
    }

    /// The hashing parameters.
    pub const fn params(&self) -> WordHashing {
        self.params
    }

    /// Forget any partial word: start a new text.
    pub fn reset(&mut self) {
        *self = Self::new(self.params);
    }

    /// Feed one byte; returns the id of the word this byte ended, if any.
    pub fn push(&mut self, byte: u8) -> Option<u32> {
        match self.mode {
            Mode::Tag(n) => {
                // `n` bytes of the tag are read; this one is byte `n + 1`.
                if byte == b'>' || n + 1 >= MAX_TAG_LEN {
                    self.mode = Mode::Text;
                } else {
                    self.mode = Mode::Tag(n + 1);
                }
                None
            }
            Mode::AfterLt => {
                if byte == b'<' {
                    // `<<`: the first is a separator, the second may open a tag.
                    None
                } else if byte.is_ascii_alphabetic() || byte == b'/' {
                    self.mode = Mode::Tag(2);
                    None
                } else {
                    self.mode = Mode::Text;
                    self.text_byte(byte)
                }
            }
            Mode::Text => {
                if byte == b'<' {
                    let ended = self.end_word();
                    self.mode = Mode::AfterLt;
                    ended
                } else {
                    self.text_byte(byte)
                }
            }
        }
    }

    /// End of text: returns the id of the last word, if one was open.
    pub fn finish(&mut self) -> Option<u32> {
        let id = self.end_word();
        self.mode = Mode::Text;
        id
    }

    fn text_byte(&mut self, byte: u8) -> Option<u32> {
        if byte.is_ascii_alphanumeric() || byte >= 0x80 {
            self.hash = (self.hash ^ u32::from(byte.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
            self.in_word = true;
            None
        } else if byte == b'\'' {
            None
        } else {
            self.end_word()
        }
    }

    fn end_word(&mut self) -> Option<u32> {
        if !self.in_word {
            return None;
        }
        let id = 1 + (self.hash ^ self.params.seed) % self.params.buckets.max(1);
        self.hash = FNV_OFFSET;
        self.in_word = false;
        Some(id)
    }

    /// Tokenize a whole text, calling `f` with each word id in order.
    pub fn for_each_id(params: WordHashing, text: &[u8], mut f: impl FnMut(u32)) {
        let mut t = Self::new(params);
        for &b in text {
            if let Some(id) = t.push(b) {
                f(id);
            }
        }
        if let Some(id) = t.finish() {
            f(id);
        }
    }
}

/// Character tokenizer over a model's charset (id = index in the charset).
#[derive(Clone, Copy, Debug)]
pub struct CharTokenizer<'a> {
    charset: &'a [u8],
}

impl<'a> CharTokenizer<'a> {
    /// A tokenizer over `charset`: distinct bytes, id `i` is `charset[i]`.
    pub const fn new(charset: &'a [u8]) -> Self {
        Self { charset }
    }

    /// The id of `byte`, or `None` if it is outside the charset.
    pub fn id(&self, byte: u8) -> Option<u16> {
        self.charset.iter().position(|&c| c == byte).map(|i| i as u16)
    }

    /// The byte of id `id`, or `None` if out of range.
    pub fn byte(&self, id: u16) -> Option<u8> {
        self.charset.get(usize::from(id)).copied()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.charset.len()
    }

    /// True for an empty charset.
    pub fn is_empty(&self) -> bool {
        self.charset.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: WordHashing = WordHashing { buckets: 1 << 20, seed: 7 };

    fn ids(text: &str) -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        WordTokenizer::for_each_id(P, text.as_bytes(), |id| v.push(id));
        v
    }

    #[test]
    fn lowercase_punctuation_and_apostrophes() {
        assert_eq!(ids("Great movie!"), ids("great   MOVIE"));
        assert_eq!(ids("don't"), ids("dont"));
        assert_eq!(ids("a,b.c").len(), 3);
        assert!(ids("").is_empty());
        assert!(ids(" ,.;!? ").is_empty());
    }

    #[test]
    fn html_breaks_are_separators() {
        assert_eq!(ids("good<br /><br />bad"), ids("good bad"));
        assert_eq!(ids("good</i>bad"), ids("good bad"));
        // `<` not followed by a letter or `/` is a plain separator.
        assert_eq!(ids("i <3 it"), ids("i 3 it"));
    }

    #[test]
    fn unterminated_tag_is_bounded() {
        let mut text = std::string::String::from("a <b");
        for _ in 0..100 {
            text.push('x');
        }
        text.push_str(" end");
        // The tag swallows at most MAX_TAG_LEN bytes; text after it is read.
        let v = ids(&text);
        assert_eq!(v.first(), ids("a").first());
        assert_eq!(v.last(), ids("end").first());
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn tag_is_at_most_max_tag_len_bytes() {
        let tag = |body: usize, tail: &str| {
            let mut t = std::string::String::from("<b");
            t.extend(core::iter::repeat_n('x', body));
            t.push_str(tail);
            ids(&t)
        };
        let n = usize::from(MAX_TAG_LEN);
        // `<b`, n - 2 bytes: the tag ends at its n-th byte; the rest is text.
        assert_eq!(tag(n - 2, "zz"), ids("zz"));
        assert_eq!(tag(n - 3, "zz"), ids("z"));
        // A `>` as the n-th byte closes it.
        assert_eq!(tag(n - 3, ">zz"), ids("zz"));
    }

    #[test]
    fn lt_lt_opens_a_tag_with_the_second() {
        assert_eq!(ids("a<<b>c"), ids("a c"));
        assert_eq!(ids("a<<<br />c"), ids("a c"));
        assert_eq!(ids("a<<3"), ids("a 3"));
    }

    #[test]
    fn ids_in_range_and_streaming_equals_whole() {
        let p = WordHashing { buckets: 10, seed: 0 };
        let text = b"The quick brown fox, <br />jumped over the lazy dog's back.";
        let mut whole = std::vec::Vec::new();
        WordTokenizer::for_each_id(p, text, |id| whole.push(id));
        assert!(whole.iter().all(|&id| (1..=10).contains(&id)));
        assert_eq!(whole.len(), 10);
        // Split anywhere: same ids.
        for split in 0..text.len() {
            let mut t = WordTokenizer::new(p);
            let mut v = std::vec::Vec::new();
            for &b in &text[..split] {
                v.extend(t.push(b));
            }
            let mut t2 = t.clone();
            for &b in &text[split..] {
                v.extend(t2.push(b));
            }
            v.extend(t2.finish());
            assert_eq!(v, whole, "split at {split}");
        }
    }

    #[test]
    fn fnv_known_value() {
        // FNV-1a 32 of "a" with the standard basis is 0xe40c292c.
        let p = WordHashing { buckets: u32::MAX, seed: 0 };
        let mut v = std::vec::Vec::new();
        WordTokenizer::for_each_id(p, b"a", |id| v.push(id));
        assert_eq!(v, std::vec![1 + 0xe40c_292c]);
    }

    #[test]
    fn charset() {
        let t = CharTokenizer::new(b"ab\n");
        assert_eq!(t.id(b'b'), Some(1));
        assert_eq!(t.id(b'z'), None);
        assert_eq!(t.byte(2), Some(b'\n'));
        assert_eq!(t.byte(3), None);
    }
}
