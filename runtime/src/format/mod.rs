//! The model file format, version 5 (the spec is `runtime/FORMAT.md`):
//! version 5 fuses each gate's input and recurrent rows into one row over
//! `[x; h]` with one scale ([`Weights::Fused`]); version 4 added 4-bit LSTM
//! weights ([`LstmLayer::bits`]); version 3 added
//! the class names and classifiers of 3 to [`MAX_CLASSES`] classes (a
//! softmax head). Version 1 to 4 files (split rows; before 4, 8-bit LSTM
//! weights; before 3, two classes and no names) still load, and run on
//! their own path.
//!
//! ```text
//! offset 0   4 bytes   magic "LSTM"
//! offset 4   2 bytes   format version, u16 little-endian
//! offset 6   n bytes   postcard encoding of `Body`
//! offset 6+n 4 bytes   CRC-32 (ISO-HDLC) of bytes 0..6+n, u32 little-endian
//! ```
//!
//! The same types are written by the trainer (postcard serialisation) and
//! read by the runtime without copying: every weight array is a borrowed
//! byte slice of the file. [`Model::from_bytes`] validates every length,
//! range and dimension that inference indexes with and returns a
//! [`ValidModel`], the only type the networks take: a model that decodes
//! cannot make inference go out of bounds or overflow, and a model that has
//! not decoded cannot be run.

use serde::{Deserialize, Serialize, Serializer};

mod bytes;
mod check;

pub use crate::kind::{ModelKind, OLDEST_VERSION, VERSION};
use crate::tokenizer::{WordHashing, WordIds, WordVocab};
use crate::Error;
pub use bytes::{embed_shift, fused_bias_limit, padded_cols, row_bytes, shift_value, I32s, I8s, RowScales, MAX_BIAS};
use check::{
    check_bias, check_fused_weights, check_layer_weights, check_len, check_range, check_scales, check_weights,
};

/// The four bytes every model file starts with.
pub const MAGIC: [u8; 4] = *b"LSTM";
/// Most classes of a classifier (3 and more use a softmax head).
pub const MAX_CLASSES: usize = 1024;
/// Longest class name, in bytes.
pub const MAX_LABEL_LEN: usize = 64;
/// The class names of a two-class model of format version 1 or 2 (the
/// IMDb sentiment classifier): class 0, then class 1.
pub const DEFAULT_BINARY_LABELS: [&str; 2] = ["negative", "positive"];
/// Most LSTM layers in a model.
pub const MAX_LAYERS: usize = 4;
/// Widest LSTM layer. With int8 weights in `[-127, 127]` and int16 inputs,
/// dot products over at most `2 * MAX_HIDDEN` terms stay below `2^31`.
pub const MAX_HIDDEN: usize = 256;
/// Widest embedding.
pub const MAX_EMBED: usize = 256;
/// Largest vocabulary (embedding rows).
pub const MAX_VOCAB: u32 = 1 << 20;
/// Bytes of the fixed prefix (magic, version).
pub const PREFIX_LEN: usize = 6;
/// Bytes of the CRC trailer.
pub const CRC_LEN: usize = 4;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, as zlib and PNG) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// How the LSTM outputs over time become the dense layer's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pooling {
    /// The last hidden state (features = H).
    Last,
    /// The mean over time, then the max over time, of the last layer's hidden
    /// state (features = 2H); both stream in constant memory.
    MeanMax,
}

impl Pooling {
    /// Feature count of the dense layer for hidden width `hidden`.
    pub const fn features(self, hidden: usize) -> usize {
        match self {
            Pooling::Last => hidden,
            Pooling::MeanMax => 2 * hidden,
        }
    }
}

/// The tokenizer a model reads its input with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tokenizer<'a> {
    /// Hashed words (see [`crate::tokenizer::WordTokenizer`]).
    Words(WordHashing),
    /// A charset: id `i` is byte `charset[i]`; bytes must be distinct.
    Chars(#[serde(borrow)] &'a [u8]),
    /// Words (and, if the vocabulary says so, punctuation marks) looked up
    /// in a table of the kept tokens' hashes (version 2).
    Vocab(#[serde(borrow)] WordVocab<'a>),
}

impl<'a> Tokenizer<'a> {
    /// Number of token ids, including the padding id 0 of the word
    /// tokenizers.
    pub fn vocab_size(&self) -> u32 {
        match self {
            Tokenizer::Words(h) => h.vocab_size(),
            Tokenizer::Chars(c) => c.len() as u32,
            Tokenizer::Vocab(v) => v.vocab_size(),
        }
    }

    /// How word tokens become ids (`None` for a charset).
    pub fn word_ids(&self) -> Option<WordIds<'a>> {
        match *self {
            Tokenizer::Words(h) => Some(WordIds::Hashed(h)),
            Tokenizer::Vocab(v) => Some(WordIds::Vocab(v)),
            Tokenizer::Chars(_) => None,
        }
    }
}

/// Dimensions of the network, first in the body so tools can read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What the model does.
    pub kind: ModelKind,
    /// Embedding rows (token ids).
    pub vocab: u32,
    /// Embedding width E.
    pub embed_dim: u16,
    /// LSTM width H (all layers).
    pub hidden: u16,
    /// Number of LSTM layers.
    pub layers: u8,
    /// Dense outputs: a classifier's 1 logit (two classes: a sigmoid) or
    /// one logit a class (3 to [`MAX_CLASSES`]: a softmax); `vocab` for the
    /// language model.
    pub outputs: u16,
}

/// The embedding table, `[vocab][E]`, with values in Q0.7 scaled by the
/// layer-0 input requantization (the value is the int8 itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embedding<'a> {
    /// 8: one int8 a value; 4: two int4 a byte, low nibble first, E even.
    pub bits: u8,
    /// The packed table.
    #[serde(borrow)]
    pub table: &'a [u8],
}

/// A layer's weights and requantization, in one of two layouts. Rows are
/// ordered unit-major: row `4*j + g` is gate `g` (0 = i, 1 = f, 2 = g,
/// 3 = o) of unit `j`, so one unit's four gates are adjacent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights<'a> {
    /// Versions 1 to 4: the input and the recurrent rows apart, each with
    /// its own scale (two accumulators and two requantizations a gate).
    /// 4-bit nibbles are signed (two's complement, `[-7, 7]`).
    Split {
        /// Input weights `[4H][I]`, rows of [`row_bytes`]`(bits, I)` bytes.
        w_x: I8s<'a>,
        /// Recurrent weights `[4H][H]`, rows of [`row_bytes`]`(bits, H)` bytes.
        w_h: I8s<'a>,
        /// Input accumulator (plus bias) to gate pre-activation Q3.12, `[4H]`.
        scale_x: RowScales<'a>,
        /// Recurrent accumulator to gate pre-activation Q3.12, `[4H]`.
        scale_h: RowScales<'a>,
    },
    /// Version 5: one row a gate over the concatenated `[x; h]` (the
    /// textbook's `[W_x W_h]`), with one scale: one accumulator and one
    /// requantization a gate. Row `r` is [`padded_cols`]`(bits, I + H)`
    /// columns: the I input columns, the H recurrent ones, zeros; the
    /// vector they multiply is `[x >> x_shift; h >> h_shift; 0...]`. A
    /// unit's four rows are stored interleaved word by word (a word: four
    /// columns at 8 bits, eight at 4 bits): word `k` of rows i, f, g, o,
    /// then word `k + 1` of each, so that one pointer walks all four rows
    /// (the Cortex-M4 loads two rows' words with one `LDRD`) and a host
    /// vector of 16 bytes holds the four rows' word.
    /// - 8 bits: int8 in `[-127, 127]`, padding 0;
    /// - 4 bits: offset binary, the nibble is `w + 8` for `w` in
    ///   `[-7, 7]` (nibble 0 is not allowed), padding nibbles 8 (zero),
    ///   in the nibble order of version 4 (byte `k` of a group of eight
    ///   columns holds column `k` low and `k + 4` high). The Cortex-M4
    ///   multiplies the unsigned nibbles and subtracts `8 * sum(x)` once,
    ///   which keeps the sums in 32 bits.
    Fused {
        /// How the layer's input enters the vector: shifted right by this
        /// many bits with rounding, or left by minus this many
        /// ([`shift_value`]). Layer 0 (the embedding's integers): in
        /// `-`[`embed_shift`]` ..= 15`; later layers (Q0.15): `0..=15`.
        x_shift: i8,
        /// How the layer's own `h` (Q0.15) enters the vector: shifted right
        /// by this many bits with rounding, `0..=15`. The quantizer picks
        /// both shifts so that a row's input and recurrent parts have
        /// weights of about one size, on one grid.
        h_shift: i8,
        /// Zero to three zero bytes before `w`, so that the rows start at a
        /// multiple of 4 bytes from the start of the file (then a file
        /// placed on a word boundary, as the firmware places it, has
        /// word-aligned rows, which the Cortex-M4 reads two words at a
        /// time). The encoder sets it ([`Model::aligned`]).
        pad: I8s<'a>,
        /// `[H]` units of four interleaved rows, each row
        /// [`row_bytes`]`(bits, `[`padded_cols`]`(bits, I + H))` bytes.
        w: I8s<'a>,
        /// Accumulator (from the bias) to gate pre-activation Q3.12, `[4H]`.
        scale: RowScales<'a>,
    },
}

/// One LSTM layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmLayer<'a> {
    /// Input width I (E for layer 0, H after).
    pub input: u16,
    /// Bits of a weight (version 4 and later; 8 before):
    /// - 8: one int8 in `[-127, 127]` a byte;
    /// - 4: int4 in `[-7, 7]`, each row in groups of eight columns, four
    ///   bytes a group: byte `k` of a group holds column `k` in its low
    ///   nibble and column `k + 4` in its high nibble (the pairs the
    ///   Cortex-M4's `SXTB16` makes); the last group of a row is padded
    ///   ([`row_bytes`]); the nibble's code depends on the layout
    ///   ([`Weights`]).
    pub bits: u8,
    /// The weights and their scales.
    pub weights: Weights<'a>,
    /// Bias `[4H]`, in the scale of the (input) accumulator.
    pub bias: I32s<'a>,
    /// Fractional bits of the int16 cell state (Q(15-f).f), in `0..=15`.
    pub cell_frac: u8,
}

impl LstmLayer<'_> {
    /// The format version this layer's layout is written in: 5 for fused
    /// rows, 4 for split ones.
    pub fn version(&self) -> u16 {
        match self.weights {
            Weights::Split { .. } => 4,
            Weights::Fused { .. } => 5,
        }
    }
}

/// Postcard writes a struct as its fields in order; a layer is written as
/// its version lays it out (version 4: `input bits w_x w_h bias scale_x
/// scale_h cell_frac`; version 5: `input bits x_shift h_shift pad w bias
/// scale cell_frac`).
impl Serialize for LstmLayer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        match self.weights {
            Weights::Split { w_x, w_h, scale_x, scale_h } => {
                let mut t = s.serialize_tuple(8)?;
                t.serialize_element(&self.input)?;
                t.serialize_element(&self.bits)?;
                t.serialize_element(&w_x)?;
                t.serialize_element(&w_h)?;
                t.serialize_element(&self.bias)?;
                t.serialize_element(&scale_x)?;
                t.serialize_element(&scale_h)?;
                t.serialize_element(&self.cell_frac)?;
                t.end()
            }
            Weights::Fused { x_shift, h_shift, pad, w, scale } => {
                let mut t = s.serialize_tuple(9)?;
                t.serialize_element(&self.input)?;
                t.serialize_element(&self.bits)?;
                t.serialize_element(&x_shift)?;
                t.serialize_element(&h_shift)?;
                t.serialize_element(&pad)?;
                t.serialize_element(&w)?;
                t.serialize_element(&self.bias)?;
                t.serialize_element(&scale)?;
                t.serialize_element(&self.cell_frac)?;
                t.end()
            }
        }
    }
}

/// The dense output layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head<'a> {
    /// Feature pooling.
    pub pooling: Pooling,
    /// Classifier: only the last `max_tokens` tokens are read, replayed from
    /// a ring when the review ends (0 = all, each step run as its token
    /// arrives; mean pooling's window is at most 65,535).
    pub max_tokens: u32,
    /// Weights `[outputs][features]`, int8 in `[-127, 127]`; features are the
    /// hidden state in Q0.15.
    #[serde(borrow)]
    pub w: I8s<'a>,
    /// Bias `[outputs]`, in the accumulator's scale.
    #[serde(borrow)]
    pub bias: I32s<'a>,
    /// Accumulator (plus bias) to output logit Q(31-f).f, `[outputs]`.
    #[serde(borrow)]
    pub scale: RowScales<'a>,
    /// Fractional bits `f` of the output logits, in `0..=15`.
    pub out_frac: u8,
}

/// Everything between the prefix and the CRC.
///
/// Its fields are public, so that the host can lay one over its buffers
/// and [encode](Model::encode_into) it; a `Model` is therefore not known to
/// be safe to run. The networks take a [`ValidModel`], which only
/// [`Model::from_bytes`] makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Model<'a> {
    /// Dimensions.
    pub header: Header,
    /// Tokenizer tables.
    pub tokenizer: Tokenizer<'a>,
    /// Embedding.
    pub embedding: Embedding<'a>,
    /// LSTM layers, input first.
    pub layers: heapless::Vec<LstmLayer<'a>, MAX_LAYERS>,
    /// Dense output layer.
    pub head: Head<'a>,
    /// A classifier's class names, in class order, each followed by `\n`
    /// (version 3; empty for a language model, and for a two-class model
    /// of version 1 or 2, whose names are [`DEFAULT_BINARY_LABELS`]).
    pub labels: &'a str,
}

/// A [`Model`] that [`Model::from_bytes`] decoded and validated: every
/// length, range and dimension inference indexes with has been checked,
/// so running it cannot go out of bounds or overflow. It can be made in no
/// other way (its field is private), and it is read-only (it dereferences
/// to the `Model`, never mutably), so the networks (`Lstm::new`,
/// `Classifier::new`, `CharLm::new`) take this type and not a `Model`.
///
/// ```compile_fail,E0451
/// use runtime::{Model, ValidModel};
///
/// // A private field: only `Model::from_bytes` makes a `ValidModel`.
/// fn forge(model: Model<'_>) -> ValidModel<'_> {
///     ValidModel { model }
/// }
/// ```
///
/// ```compile_fail,E0308
/// // A plain `Model` (built by hand, say) does not run.
/// fn run(model: runtime::Model<'_>) {
///     let _ = runtime::Classifier::<20, 96, 1, 2>::new(model);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidModel<'a> {
    model: Model<'a>,
}

impl<'a> core::ops::Deref for ValidModel<'a> {
    type Target = Model<'a>;

    fn deref(&self) -> &Model<'a> {
        &self.model
    }
}

/// A classifier's class names (see [`Model::class_names`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassNames<'a> {
    labels: &'a str,
    classes: usize,
}

impl<'a> ClassNames<'a> {
    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes
    }

    /// True for a model without classes (a language model).
    pub fn is_empty(&self) -> bool {
        self.classes == 0
    }

    /// The name of class `i` (`None` past the last class).
    pub fn get(&self, i: usize) -> Option<&'a str> {
        if i >= self.classes {
            None
        } else if self.labels.is_empty() {
            DEFAULT_BINARY_LABELS.get(i).copied()
        } else {
            self.labels.split_terminator('\n').nth(i)
        }
    }

    /// The names in class order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let names = *self;
        (0..self.classes).filter_map(move |i| names.get(i))
    }

    /// The class named `name`, if any.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.iter().position(|n| n == name)
    }
}

/// Bytes of `v`'s postcard encoding.
fn encoded_size<T: Serialize + ?Sized>(v: &T) -> Result<usize, Error> {
    postcard::serialize_with_flavor(v, postcard::ser_flavors::Size::default()).map_err(|_| Error::Malformed)
}

/// The next postcard value of `bytes`, which is left at what follows it.
fn take<'a, T: Deserialize<'a>>(bytes: &mut &'a [u8]) -> Result<T, Error> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|_| Error::Malformed)?;
    *bytes = rest;
    Ok(value)
}

/// The layer list of a body of `version`: a postcard sequence (a varint
/// count, then each layer's fields in order): split rows without `bits`
/// before version 4, split rows with it in version 4, fused rows from
/// version 5.
fn take_layers<'a>(bytes: &mut &'a [u8], version: u16) -> Result<heapless::Vec<LstmLayer<'a>, MAX_LAYERS>, Error> {
    let count: usize = take(bytes)?;
    let mut layers = heapless::Vec::new();
    for _ in 0..count {
        let input = take(bytes)?;
        let bits = if version >= 4 { take(bytes)? } else { 8 };
        let layer = if version >= 5 {
            let (x_shift, h_shift) = (take(bytes)?, take(bytes)?);
            let (pad, w) = (take(bytes)?, take(bytes)?);
            let bias = take(bytes)?;
            let scale = take(bytes)?;
            let weights = Weights::Fused { x_shift, h_shift, pad, w, scale };
            LstmLayer { input, bits, weights, bias, cell_frac: take(bytes)? }
        } else {
            let (w_x, w_h) = (take(bytes)?, take(bytes)?);
            let bias = take(bytes)?;
            let (scale_x, scale_h) = (take(bytes)?, take(bytes)?);
            LstmLayer {
                input,
                bits,
                weights: Weights::Split { w_x, w_h, scale_x, scale_h },
                bias,
                cell_frac: take(bytes)?,
            }
        };
        layers.push(layer).map_err(|_| Error::Malformed)?;
    }
    Ok(layers)
}

impl<'a> Model<'a> {
    /// Decode and validate a model file in place (no copy, no allocation):
    /// the one way to a [`ValidModel`].
    ///
    /// Checks, in order: length, magic, version, CRC, postcard structure,
    /// then every dimension, length and range (see [`Model::validate`]).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<ValidModel<'a>, Error> {
        let min = PREFIX_LEN + CRC_LEN;
        if bytes.len() < min {
            return Err(Error::Truncated { len: bytes.len(), min });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion { found: version, supported: VERSION });
        }
        let (content, tail) = bytes.split_at(bytes.len() - CRC_LEN);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let computed = crc32(content);
        if stored != computed {
            return Err(Error::CrcMismatch { stored, computed });
        }
        let body = &content[PREFIX_LEN..];
        // Field by field (postcard writes a struct as its fields in
        // order): a version 1 or 2 body is a version 3 body without the
        // labels, a version 3 body a version 4 body without the layers'
        // weight bits, and one `Model` is built, in place, for every version.
        let mut rest = body;
        let model = Model {
            header: take(&mut rest)?,
            tokenizer: take(&mut rest)?,
            embedding: take(&mut rest)?,
            layers: take_layers(&mut rest, version)?,
            head: take(&mut rest)?,
            labels: if version >= 3 { take(&mut rest)? } else { "" },
        };
        if !rest.is_empty() {
            return Err(Error::TrailingBytes { count: rest.len() });
        }
        if version < 2 && matches!(model.tokenizer, Tokenizer::Vocab(_)) {
            return Err(Error::Inconsistent { what: "a version 1 model has no vocabulary table" });
        }
        if version < 3 && model.header.kind == ModelKind::Classifier && model.header.outputs != 1 {
            return Err(Error::Inconsistent { what: "a version 1 or 2 classifier has two classes" });
        }
        if version >= 3 && model.header.kind == ModelKind::Classifier && model.labels.is_empty() {
            return Err(Error::Inconsistent { what: "a classifier of version 3 or later names its classes" });
        }
        model.validate()?;
        for layer in model.layers.iter() {
            if let Weights::Fused { w, .. } = layer.weights {
                if !(w.0.as_ptr() as usize - bytes.as_ptr() as usize).is_multiple_of(4) {
                    return Err(Error::Inconsistent { what: "fused rows do not start at a multiple of 4 bytes" });
                }
            }
        }
        Ok(ValidModel { model })
    }

    /// Check every dimension, length and range that inference relies on
    /// ([`Model::from_bytes`] calls it; a model built by hand runs only
    /// once encoded and decoded, which adds the checks of its version).
    pub fn validate(&self) -> Result<(), Error> {
        let h = &self.header;
        let hidden = usize::from(h.hidden);
        let embed = usize::from(h.embed_dim);
        check_range("vocab", i64::from(h.vocab), 1, i64::from(MAX_VOCAB))?;
        check_range("hidden", hidden as i64, 1, MAX_HIDDEN as i64)?;
        check_range("embed_dim", embed as i64, 1, MAX_EMBED as i64)?;
        check_range("layers", i64::from(h.layers), 1, MAX_LAYERS as i64)?;
        check_len("layers", usize::from(h.layers), self.layers.len())?;
        check_len("tokenizer vocabulary", h.vocab as usize, self.tokenizer.vocab_size() as usize)?;
        match (h.kind, &self.tokenizer) {
            (ModelKind::Classifier, Tokenizer::Words(w)) => {
                check_range("hash buckets", i64::from(w.buckets), 1, i64::from(MAX_VOCAB - 1))?;
            }
            (ModelKind::Classifier, Tokenizer::Vocab(v)) => {
                check_len("vocabulary table", 4 * v.hashes.len(), v.hashes.0.len())?;
                check_range("vocabulary", v.hashes.len() as i64, 0, i64::from(MAX_VOCAB - 2))?;
                let mut prev = None;
                for i in 0..v.hashes.len() {
                    let h = v.hashes.get(i);
                    if h <= prev {
                        return Err(Error::Inconsistent { what: "vocabulary hashes are not ascending and distinct" });
                    }
                    prev = h;
                }
            }
            (ModelKind::CharLm, Tokenizer::Chars(cs)) => {
                for (i, c) in cs.iter().enumerate() {
                    if cs[..i].contains(c) {
                        return Err(Error::Inconsistent { what: "charset has a repeated byte" });
                    }
                }
            }
            _ => return Err(Error::Inconsistent { what: "tokenizer does not fit the model kind" }),
        }
        let e = &self.embedding;
        let rows = h.vocab as usize;
        match e.bits {
            8 => check_len("embedding table", rows * embed, e.table.len())?,
            4 => {
                if embed % 2 != 0 {
                    return Err(Error::Inconsistent { what: "4-bit embedding needs an even width" });
                }
                check_len("embedding table", rows * embed / 2, e.table.len())?
            }
            b => return Err(Error::OutOfRange { what: "embedding bits", value: i64::from(b), min: 4, max: 8 }),
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let input = if l == 0 { embed } else { hidden };
            check_len("layer input width", input, usize::from(layer.input))?;
            if !matches!(layer.bits, 4 | 8) {
                return Err(Error::OutOfRange {
                    what: "lstm weight bits",
                    value: i64::from(layer.bits),
                    min: 4,
                    max: 8,
                });
            }
            if layer.version() != self.version() {
                return Err(Error::Inconsistent { what: "layers of split and fused rows in one model" });
            }
            match layer.weights {
                Weights::Split { w_x, w_h, scale_x, scale_h } => {
                    check_layer_weights("w_x", layer.bits, w_x, 4 * hidden, input)?;
                    check_layer_weights("w_h", layer.bits, w_h, 4 * hidden, hidden)?;
                    check_bias("lstm bias", layer.bias, 4 * hidden)?;
                    check_scales("scale_x", scale_x, 4 * hidden)?;
                    check_scales("scale_h", scale_h, 4 * hidden)?;
                }
                Weights::Fused { x_shift, h_shift, pad, w, scale } => {
                    let lowest = if l == 0 { -i64::from(embed_shift(e.bits)) } else { 0 };
                    check_range("x_shift", i64::from(x_shift), lowest, 15)?;
                    check_range("h_shift", i64::from(h_shift), 0, 15)?;
                    if pad.len() > 3 || pad.0.iter().any(|&b| b != 0) {
                        return Err(Error::Inconsistent { what: "row alignment padding is not 0 to 3 zero bytes" });
                    }
                    check_fused_weights(w, layer.bits, 4 * hidden, input + hidden)?;
                    let limit = fused_bias_limit(layer.bits, input + hidden);
                    check_len("lstm bias", 4 * 4 * hidden, layer.bias.0.len())?;
                    for r in 0..4 * hidden {
                        check_range("lstm bias", i64::from(layer.bias.get(r)), -i64::from(limit), i64::from(limit))?;
                    }
                    check_scales("scale", scale, 4 * hidden)?;
                }
            }
            check_range("cell_frac", i64::from(layer.cell_frac), 0, 15)?;
        }
        let head = &self.head;
        let outputs = usize::from(h.outputs);
        match h.kind {
            ModelKind::Classifier => {
                if outputs != 1 {
                    check_range("classes", outputs as i64, 3, MAX_CLASSES as i64)?;
                }
                self.check_labels()?;
            }
            ModelKind::CharLm => {
                check_len("outputs", rows, outputs)?;
                if head.pooling != Pooling::Last || head.max_tokens != 0 {
                    return Err(Error::Inconsistent { what: "a language model has no pooling" });
                }
                check_len("class names", 0, self.labels.len())?;
            }
        }
        if head.pooling == Pooling::MeanMax && head.max_tokens > 65_535 {
            // A window is a ring of the last ids in the state: at most 65,535.
            return Err(Error::OutOfRange {
                what: "max_tokens of mean pooling",
                value: i64::from(head.max_tokens),
                min: 0,
                max: 65_535,
            });
        }
        let features = head.pooling.features(hidden);
        check_len("dense weights", outputs * features, head.w.len())?;
        check_weights("dense weights", head.w)?;
        check_bias("dense bias", head.bias, outputs)?;
        check_scales("dense scale", head.scale, outputs)?;
        check_range("out_frac", i64::from(head.out_frac), 0, 15)?;
        Ok(())
    }

    /// Number of classes of a classifier: 2 for one output (a sigmoid),
    /// else one a logit; 0 for a language model.
    pub fn classes(&self) -> usize {
        match (self.header.kind, self.header.outputs) {
            (ModelKind::CharLm, _) => 0,
            (ModelKind::Classifier, 1) => 2,
            (ModelKind::Classifier, n) => usize::from(n),
        }
    }

    /// The class names, in class order.
    pub fn class_names(&self) -> ClassNames<'a> {
        ClassNames { labels: self.labels, classes: self.classes() }
    }

    /// Names: empty (the default two), or one a class, each non-empty, at
    /// most [`MAX_LABEL_LEN`] bytes, without `\n`, distinct.
    fn check_labels(&self) -> Result<(), Error> {
        let classes = self.classes();
        if self.labels.is_empty() {
            return if classes == 2 {
                Ok(())
            } else {
                Err(Error::Inconsistent { what: "only a two-class model may leave its classes unnamed" })
            };
        }
        if !self.labels.ends_with('\n') {
            return Err(Error::Inconsistent { what: "class names end with a newline each" });
        }
        check_len("class names", classes, self.labels.split_terminator('\n').count())?;
        for (i, name) in self.labels.split_terminator('\n').enumerate() {
            check_range("class name length", name.len() as i64, 1, MAX_LABEL_LEN as i64)?;
            if self.labels.split_terminator('\n').take(i).any(|n| n == name) {
                return Err(Error::Inconsistent { what: "class names are not distinct" });
            }
        }
        Ok(())
    }

    /// The version this model is written in: its layers' layout
    /// ([`LstmLayer::version`]: 5 for fused rows, the current
    /// [`VERSION`]; 4 for split ones), which every layer shares.
    pub fn version(&self) -> u16 {
        self.layers.first().map_or(VERSION, LstmLayer::version)
    }

    /// Serialize into `buf` (prefix, body, CRC) in [`Model::version`];
    /// returns the bytes written.
    pub fn encode_into(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.len() < PREFIX_LEN + CRC_LEN {
            return Err(Error::BufferTooSmall);
        }
        buf[..4].copy_from_slice(&MAGIC);
        buf[4..6].copy_from_slice(&self.version().to_le_bytes());
        let end = buf.len() - CRC_LEN;
        let model = self.clone().aligned()?;
        let n = postcard::to_slice(&model, &mut buf[PREFIX_LEN..end]).map_err(|_| Error::BufferTooSmall)?.len();
        let content = PREFIX_LEN + n;
        let crc = crc32(&buf[..content]);
        buf[content..content + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
        Ok(content + CRC_LEN)
    }

    /// Bytes of the postcard body [`Model::encode_into`] writes (the file
    /// is [`PREFIX_LEN`] + this + [`CRC_LEN`] bytes).
    pub fn encoded_len(&self) -> Result<usize, Error> {
        encoded_size(&self.clone().aligned()?)
    }

    /// The model with each fused layer's `pad` set so that its rows start
    /// at a multiple of 4 bytes from the start of the file
    /// ([`Model::encode_into`] writes it so).
    pub fn aligned(mut self) -> Result<Self, Error> {
        const ZEROS: [u8; 3] = [0; 3];
        let mut offset = PREFIX_LEN
            + encoded_size(&(self.header, self.tokenizer, self.embedding))?
            + encoded_size(&self.layers.len())?;
        for layer in self.layers.iter_mut() {
            if let Weights::Fused { pad, w, .. } = &mut layer.weights {
                // input, bits, the two shifts (one byte each: at most 15
                // in zigzag), then the pad's length (one byte) and bytes,
                // then w's length.
                let before = offset + encoded_size(&layer.input)? + 1 + 2 + 1 + encoded_size(&w.len())?;
                *pad = I8s(&ZEROS[..(4 - before % 4) % 4]);
            }
            offset += encoded_size(layer)?;
        }
        Ok(self)
    }
}
