//! The tokenizers: one definition, used by the trainer on the host and by the
//! runtime on the device, so that both see exactly the same token ids.
//!
//! Both are byte-at-a-time state machines with a few bytes of state: text of
//! any length streams through them in constant memory.
//!
//! # Words (sentiment)
//! [`WordTokenizer`] turns review text into 32-bit token hashes:
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
//! - every other byte (space, punctuation, control) ends the current word;
//! - with `punctuation` on, each ASCII punctuation byte outside a tag
//!   (other than the apostrophe) is also a token of its own, after the word
//!   it ended: `great!` is `great`, `!` (a `<` that opens no tag included).
//!
//! A token's hash is FNV-1a 32 over its lower-cased bytes. [`WordIds`]
//! makes it an id: either hashed into buckets,
//! `1 + (hash ^ seed) % buckets` (the hashing trick: no table on the
//! device), or looked up in the model's sorted table of the kept tokens'
//! hashes (a binary search; 4 bytes a token, no strings): id `2 + i` for
//! entry `i`, id 1 for any token not kept. Id 0 is never produced; the
//! trainer uses it for padding.
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

    /// The id of a token hash: `1 + (hash ^ seed) % buckets`.
    pub const fn id(&self, hash: u32) -> u32 {
        let buckets = if self.buckets == 0 { 1 } else { self.buckets };
        1 + (hash ^ self.seed) % buckets
    }
}

/// Little-endian `u32` values stored as bytes, borrowed (the model file's
/// sorted token hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U32s<'a>(pub &'a [u8]);

impl serde::Serialize for U32s<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for U32s<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(d).map(U32s)
    }
}

impl U32s<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    /// Value `i`, or `None` out of range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u32> {
        let b = self.0.get(4 * i..4 * i + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A vocabulary of kept tokens, stored in the model file: their hashes,
/// sorted ascending and distinct (checked when the model is validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordVocab<'a> {
    /// Punctuation marks are tokens of their own.
    pub punctuation: bool,
    /// The kept tokens' FNV-1a hashes, `u32` little-endian, ascending.
    #[serde(borrow)]
    pub hashes: U32s<'a>,
}

/// The id of a token not in a [`WordVocab`].
pub const OOV: u32 = 1;

impl WordVocab<'_> {
    /// Ids including padding (0) and out-of-vocabulary (1).
    pub fn vocab_size(&self) -> u32 {
        self.hashes.len() as u32 + 2
    }

    /// The id of a token hash: `2 + i` for the kept token `i`, else [`OOV`]
    /// (a binary search: about 13 probes for 8,000 tokens).
    pub fn id(&self, hash: u32) -> u32 {
        let (mut lo, mut hi) = (0, self.hashes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.hashes.get(mid) {
                Some(v) if v < hash => lo = mid + 1,
                Some(v) if v > hash => hi = mid,
                Some(_) => return 2 + mid as u32,
                None => break,
            }
        }
        OOV
    }
}

/// How a model's word tokens become ids: hashed into buckets (format
/// version 1 models), or looked up in a vocabulary (version 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordIds<'a> {
    /// The hashing trick, punctuation dropped.
    Hashed(WordHashing),
    /// The kept tokens' table.
    Vocab(WordVocab<'a>),
}

impl WordIds<'_> {
    /// Whether punctuation marks are tokens.
    pub fn punctuation(&self) -> bool {
        matches!(self, WordIds::Vocab(v) if v.punctuation)
    }

    /// The id of a token hash.
    #[inline]
    pub fn id(&self, hash: u32) -> u32 {
        match self {
            WordIds::Hashed(h) => h.id(hash),
            WordIds::Vocab(v) => v.id(hash),
        }
    }

    /// Embedding rows: every id below this.
    pub fn vocab_size(&self) -> u32 {
        match self {
            WordIds::Hashed(h) => h.vocab_size(),
            WordIds::Vocab(v) => v.vocab_size(),
        }
    }

    /// A tokenizer with these rules, at the start of a text.
    pub fn tokenizer(&self) -> WordTokenizer {
        WordTokenizer::new(self.punctuation())
    }

    /// Tokenize a whole text, calling `f` with each token's id in order.
    pub fn for_each_id(&self, text: &[u8], mut f: impl FnMut(u32)) {
        WordTokenizer::for_each_token(self.punctuation(), text, |h| f(self.id(h)));
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

/// The FNV-1a hash of a one-byte token.
const fn byte_hash(b: u8) -> u32 {
    (FNV_OFFSET ^ b as u32).wrapping_mul(FNV_PRIME)
}

/// Streaming word tokenizer (see the module docs for the rules): seven
/// bytes of state. It yields token hashes; [`WordIds`] makes them ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordTokenizer {
    punctuation: bool,
    hash: u32,
    in_word: bool,
    mode: Mode,
}

/// The tokens one byte ends: none, one or two (a word, then a punctuation
/// mark), in order.
pub type Tokens = [Option<u32>; 2];

impl WordTokenizer {
    /// A tokenizer at the start of a text; `punctuation`: punctuation marks
    /// are tokens.
    pub const fn new(punctuation: bool) -> Self {
        Self { punctuation, hash: FNV_OFFSET, in_word: false, mode: Mode::Text }
    }

    /// Forget any partial word: start a new text.
    pub fn reset(&mut self) {
        *self = Self::new(self.punctuation);
    }

    /// Feed one byte; returns the hashes of the tokens it ended.
    pub fn push(&mut self, byte: u8) -> Tokens {
        match self.mode {
            Mode::Tag(n) => {
                // `n` bytes of the tag are read; this one is byte `n + 1`.
                if byte == b'>' || n + 1 >= MAX_TAG_LEN {
                    self.mode = Mode::Text;
                } else {
                    self.mode = Mode::Tag(n + 1);
                }
                [None, None]
            }
            Mode::AfterLt => {
                // The `<` before this byte opened no tag: a mark of its own.
                let lt = self.mark(b'<');
                if byte == b'<' {
                    // `<<`: the first is a separator, the second may open a tag.
                    [lt, None]
                } else if byte.is_ascii_alphabetic() || byte == b'/' {
                    self.mode = Mode::Tag(2);
                    [None, None]
                } else {
                    self.mode = Mode::Text;
                    let [a, b] = self.text_byte(byte);
                    match lt {
                        // After a `<` no word is open: `a` is a mark or nothing.
                        Some(lt) => [Some(lt), a.or(b)],
                        None => [a, b],
                    }
                }
            }
            Mode::Text => {
                if byte == b'<' {
                    let ended = self.end_word();
                    self.mode = Mode::AfterLt;
                    [ended, None]
                } else {
                    self.text_byte(byte)
                }
            }
        }
    }

    /// End of text: returns the hash of the last token, if one was open.
    pub fn finish(&mut self) -> Option<u32> {
        let lt = if self.mode == Mode::AfterLt { self.mark(b'<') } else { None };
        let id = self.end_word().or(lt);
        self.mode = Mode::Text;
        id
    }

    /// A punctuation mark's token, when marks are tokens.
    fn mark(&self, byte: u8) -> Option<u32> {
        self.punctuation.then_some(byte_hash(byte))
    }

    fn text_byte(&mut self, byte: u8) -> Tokens {
        if byte.is_ascii_alphanumeric() || byte >= 0x80 {
            self.hash = (self.hash ^ u32::from(byte.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
            self.in_word = true;
            [None, None]
        } else if byte == b'\'' {
            [None, None]
        } else {
            let word = self.end_word();
            let mark = if byte.is_ascii_punctuation() { self.mark(byte) } else { None };
            match word {
                Some(w) => [Some(w), mark],
                None => [mark, None],
            }
        }
    }

    fn end_word(&mut self) -> Option<u32> {
        if !self.in_word {
            return None;
        }
        let h = self.hash;
        self.hash = FNV_OFFSET;
        self.in_word = false;
        Some(h)
    }

    /// Tokenize a whole text, calling `f` with each token's hash in order.
    pub fn for_each_token(punctuation: bool, text: &[u8], mut f: impl FnMut(u32)) {
        let mut t = Self::new(punctuation);
        for &b in text {
            t.push(b).into_iter().flatten().for_each(&mut f);
        }
        if let Some(h) = t.finish() {
            f(h);
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

    const P: WordIds<'static> = WordIds::Hashed(WordHashing { buckets: 1 << 20, seed: 7 });

    fn ids(text: &str) -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        P.for_each_id(text.as_bytes(), |id| v.push(id));
        v
    }

    /// Token hashes with punctuation marks as tokens.
    fn marks(text: &str) -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        WordTokenizer::for_each_token(true, text.as_bytes(), |h| v.push(h));
        v
    }

    fn hash(token: &str) -> u32 {
        let mut v = std::vec::Vec::new();
        WordTokenizer::for_each_token(false, token.as_bytes(), |h| v.push(h));
        assert_eq!(v.len(), 1, "{token:?} is not one word");
        v[0]
    }

    #[test]
    fn punctuation_marks_are_tokens_after_their_word() {
        let bang = byte_hash(b'!');
        assert_eq!(marks("Great!"), std::vec![hash("great"), bang]);
        assert_eq!(marks("great !!"), std::vec![hash("great"), bang, bang]);
        assert_eq!(marks("don't, ok"), std::vec![hash("dont"), byte_hash(b','), hash("ok")]);
        // Tags are still separators, not marks; a `<` that opens none is one.
        assert_eq!(marks("a<br />b"), std::vec![hash("a"), hash("b")]);
        assert_eq!(marks("i <3 it"), std::vec![hash("i"), byte_hash(b'<'), hash("3"), hash("it")]);
        assert_eq!(marks("a<<b>c"), std::vec![hash("a"), byte_hash(b'<'), hash("c")]);
        assert_eq!(marks("a <"), std::vec![hash("a"), byte_hash(b'<')]);
        assert_eq!(marks("<!"), std::vec![byte_hash(b'<'), bang]);
        assert_eq!(marks(":)"), std::vec![byte_hash(b':'), byte_hash(b')')]);
        // Spaces and control bytes are no tokens.
        assert!(marks(" \t\n").is_empty());
    }

    #[test]
    fn vocabulary_lookup() {
        let mut kept = [hash("good"), hash("bad"), byte_hash(b'!')];
        kept.sort_unstable();
        let bytes: std::vec::Vec<u8> = kept.iter().flat_map(|h| h.to_le_bytes()).collect();
        let v = WordIds::Vocab(WordVocab { punctuation: true, hashes: U32s(&bytes) });
        assert_eq!(v.vocab_size(), 5);
        for (i, h) in kept.iter().enumerate() {
            assert_eq!(v.id(*h), 2 + i as u32);
        }
        assert_eq!(v.id(hash("film")), OOV);
        let mut got = std::vec::Vec::new();
        v.for_each_id(b"Good film!", |id| got.push(id));
        assert_eq!(got, std::vec![v.id(hash("good")), OOV, v.id(byte_hash(b'!'))]);
        let empty = WordVocab { punctuation: false, hashes: U32s(&[]) };
        assert_eq!(empty.id(5), OOV);
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
        let p = WordIds::Hashed(WordHashing { buckets: 10, seed: 0 });
        let text = b"The quick brown fox, <br />jumped over the lazy dog's back <3.";
        let mut whole = std::vec::Vec::new();
        p.for_each_id(text, |id| whole.push(id));
        assert!(whole.iter().all(|&id| (1..=10).contains(&id)));
        assert_eq!(whole.len(), 11);
        // Split anywhere, with or without marks: the same tokens.
        for punctuation in [false, true] {
            let mut all = std::vec::Vec::new();
            WordTokenizer::for_each_token(punctuation, text, |h| all.push(h));
            assert_eq!(all.len(), if punctuation { 14 } else { 11 });
            for split in 0..text.len() {
                let mut t = WordTokenizer::new(punctuation);
                let mut v = std::vec::Vec::new();
                for &b in &text[..split] {
                    v.extend(t.push(b).into_iter().flatten());
                }
                let mut t2 = t.clone();
                for &b in &text[split..] {
                    v.extend(t2.push(b).into_iter().flatten());
                }
                v.extend(t2.finish());
                assert_eq!(v, all, "split at {split}");
            }
        }
    }

    #[test]
    fn fnv_known_value() {
        // FNV-1a 32 of "a" with the standard basis is 0xe40c292c.
        assert_eq!(hash("a"), 0xe40c_292c);
        assert_eq!(byte_hash(b'a'), 0xe40c_292c);
        let p = WordHashing { buckets: u32::MAX, seed: 0 };
        assert_eq!(p.id(hash("a")), 1 + 0xe40c_292c);
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
