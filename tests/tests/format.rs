//! The model file format: golden bytes pin the encoding; each error
//! variant has a test that provokes exactly it.

use runtime::format::{
    crc32, Embedding, Head, Header, I32s, I8s, LstmLayer, ModelKind, Pooling, RowScales, Tokenizer, Weights, CRC_LEN,
    MAGIC, VERSION,
};
use runtime::tokenizer::{U32s, WordVocab};
use runtime::{CharLm, Classifier, Error, Model};

const W_X: [u8; 8] = [1, 2, 3, 4, 0xff, 0xfe, 0x7f, 0x81];
const W_H: [u8; 4] = [5, 6, 7, 8];
const BIAS: [u8; 16] = [1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
const MULT4: [u8; 16] = [0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0x40];
const SHIFT4: [u8; 4] = [1, 2, 3, 0xff];
const HEAD_W: [u8; 3] = [10, 20, 30];
const HEAD_B: [u8; 12] = [0; 12];
const MULT3: [u8; 12] = [0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0x40];
const SHIFT3: [u8; 3] = [4, 4, 4];
const EMB: [u8; 6] = [1, 0xff, 2, 0xfe, 3, 0xfd];

/// A hand-made language model of split rows (version 4): charset "ab\n",
/// E = 2, H = 1, one layer.
fn tiny() -> Model<'static> {
    let mut layers = runtime::heapless::Vec::new();
    layers
        .push(LstmLayer {
            input: 2,
            bits: 8,
            weights: Weights::Split {
                w_x: I8s(&W_X),
                w_h: I8s(&W_H),
                scale_x: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
                scale_h: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
            },
            bias: I32s(&BIAS),
            cell_frac: 11,
        })
        .unwrap();
    Model {
        header: Header { kind: ModelKind::CharLm, vocab: 3, embed_dim: 2, hidden: 1, layers: 1, outputs: 3 },
        tokenizer: Tokenizer::Chars(b"ab\n"),
        embedding: Embedding { bits: 8, table: &EMB },
        layers,
        head: Head {
            pooling: Pooling::Last,
            max_tokens: 0,
            w: I8s(&HEAD_W),
            bias: I32s(&HEAD_B),
            scale: RowScales { multipliers: I32s(&MULT3), shifts: I8s(&SHIFT3) },
            out_frac: 12,
        },
        labels: "",
    }
}

/// The split rows of a version 1 to 4 layer, to edit: `w_x`, `w_h`,
/// `scale_h`.
fn split<'m>(
    layer: &'m mut LstmLayer<'static>,
) -> (&'m mut I8s<'static>, &'m mut I8s<'static>, &'m mut RowScales<'static>) {
    match &mut layer.weights {
        Weights::Split { w_x, w_h, scale_h, .. } => (w_x, w_h, scale_h),
        Weights::Fused { .. } => panic!("a fused layer"),
    }
}

/// The encoding of `tiny()` in version 4: version 3's with the layer's
/// weight bits (`08`) after its input width.
const GOLDEN: &[&str] = &[
    "4c53544d 0400",
    "01 03 02 01 01 03 01 03 61620a 08 06 01ff02fe03fd 01 02 08 08 01020304fffe7f81 04 05060708",
    "10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b 00 00 03 0a141e 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "00",       // labels: none (a language model)
    "df2816dc", // CRC-32
];

/// The encoding of `tiny()` in version 3: version 2's with the version
/// 3 and an empty label list (one zero byte) before the CRC. It loads.
const GOLDEN_V3: &[&str] = &[
    "4c53544d 0300",
    "01 03 02 01 01 03 01 03 61620a 08 06 01ff02fe03fd 01 02 08 01020304fffe7f81 04 05060708",
    "10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b 00 00 03 0a141e 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "00",       // labels: none (a language model)
    "98d75002", // CRC-32
];

/// The encoding of `tiny()` in version 2, field by field as FORMAT.md describes it
/// (checked by hand): postcard writes integers as varints, enum variants as
/// a varint index, byte arrays as a varint length and the bytes.
const GOLDEN_V2: &[&str] = &[
    "4c53544d",                                           // magic "LSTM"
    "0200",                                               // version 2, u16 LE
    "01 03 02 01 01 03",                                  // header: CharLm, vocab 3, E 2, H 1, 1 layer, 3 outputs
    "01 03 61620a",                                       // tokenizer: Chars, 3 bytes "ab\n"
    "08 06 01ff02fe03fd",                                 // embedding: 8 bits, 6 bytes
    "01",                                                 // 1 layer:
    "02",                                                 //   input 2
    "08 01020304fffe7f81",                                //   w_x, 8 bytes
    "04 05060708",                                        //   w_h, 4 bytes
    "10 01000000 02000000 ffffffff 00000000",             // bias, 4 x i32 LE
    "10 00000040 00000040 00000040 00000040 04 010203ff", // scale_x
    "10 00000040 00000040 00000040 00000040 04 010203ff", // scale_h
    "0b",                                                 //   cell_frac 11
    "00 00",                                              // head: Last, max_tokens 0
    "03 0a141e",                                          //   w
    "0c 000000000000000000000000",                        //   bias
    "0c 000000400000004000000040 03 040404",              // scale
    "0c",                                                 //   out_frac 12
    "9fca6f0d",                                           // CRC-32, u32 LE
];

/// The same model as written by format version 1 (a version 1 body is a
/// version 2 body without the vocabulary tokenizer): it still loads.
const GOLDEN_V1_PREFIX: &str = "4c53544d 0100";
const GOLDEN_V1_CRC: &str = "11b2ac4c";

const HASHES: [u8; 8] = [4, 3, 2, 1, 0xd0, 0xc0, 0xb0, 0xa0];
const EMB4: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const HEAD_W2: [u8; 2] = [10, 0xf6];
const HEAD_B1: [u8; 4] = [0; 4];
const MULT1: [u8; 4] = [0, 0, 0, 0x40];
const SHIFT1: [u8; 1] = [4];

/// A hand-made version 2 sentiment model: a vocabulary of two token
/// hashes (0x01020304 and 0xa0b0c0d0), punctuation marks as tokens,
/// E = 2, H = 1, mean and max over the last 5 tokens.
fn tiny_vocab() -> Model<'static> {
    let mut m = tiny();
    m.header = Header { kind: ModelKind::Classifier, vocab: 4, embed_dim: 2, hidden: 1, layers: 1, outputs: 1 };
    m.tokenizer = Tokenizer::Vocab(WordVocab { punctuation: true, hashes: U32s(&HASHES) });
    m.embedding = Embedding { bits: 8, table: &EMB4 };
    m.head = Head {
        pooling: Pooling::MeanMax,
        max_tokens: 5,
        w: I8s(&HEAD_W2),
        bias: I32s(&HEAD_B1),
        scale: RowScales { multipliers: I32s(&MULT1), shifts: I8s(&SHIFT1) },
        out_frac: 12,
    };
    m.labels = "neg\npos\n";
    m
}

const HEAD_W3: [u8; 6] = [10, 0xf6, 3, 4, 0x80 - 1, 0x81];
const HEAD_B3: [u8; 12] = [0; 12];

/// A three-class version of `tiny_vocab()` (softmax head, one output a
/// class).
fn tiny_classes() -> Model<'static> {
    let mut m = tiny_vocab();
    m.header.outputs = 3;
    m.head.w = I8s(&HEAD_W3);
    m.head.bias = I32s(&HEAD_B3);
    m.head.scale = RowScales { multipliers: I32s(&MULT3), shifts: I8s(&SHIFT3) };
    m.labels = "alarm\nlights\nweather\n";
    m
}

/// `tiny_vocab()`'s encoding in version 3: version 2's with the class
/// names.
const GOLDEN_VOCAB: &[&str] = &[
    "4c53544d 0400",
    "00 04 02 01 01 01 02 01 08 04030201 d0c0b0a0 08 08 0102030405060708",
    "01 02 08 08 01020304fffe7f81 04 05060708 10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b 01 05 02 0af6 04 00000000 04 00000040 01 04 0c",
    "08 6e65670a706f730a", // labels: 8 bytes, "neg\npos\n"
    "acd76d98",            // CRC-32
];

/// `tiny_vocab()` as version 2 wrote it (no class names): the header, the
/// tokenizer and the head differ from `tiny()`'s. It loads, its classes
/// named "negative" and "positive".
const GOLDEN_VOCAB_V2: &[&str] = &[
    "4c53544d 0200",                         // magic, version 2
    "00 04 02 01 01 01",                     // header: Sentiment, vocab 4, E 2, H 1, 1 layer, 1 output
    "02 01 08 04030201 d0c0b0a0",            // tokenizer: Vocab, punctuation on, 8 bytes of u32 LE hashes
    "08 08 0102030405060708",                // embedding: 8 bits, 8 bytes
    "01 02 08 01020304fffe7f81 04 05060708", // the layer as in tiny()
    "10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b",
    "01 05", // head: MeanMax over the last 5 tokens
    "02 0af6 04 00000000 04 00000040 01 04 0c",
    "fbda1c36", // CRC-32
];

/// `tiny_classes()`'s encoding: `tiny_vocab()`'s with 3 outputs, a head
/// of three rows and three names.
const GOLDEN_CLASSES: &[&str] = &[
    "4c53544d 0400",
    "00 04 02 01 01 03 02 01 08 04030201 d0c0b0a0 08 08 0102030405060708",
    "01 02 08 08 01020304fffe7f81 04 05060708 10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b 01 05 06 0af603047f81 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "15 616c61726d0a6c69676874730a776561746865720a", // 21 bytes: "alarm\nlights\nweather\n"
    "af358af7",                                      // CRC-32
];

// A 4-bit version of `tiny()`: E = 2 and H = 1 make one group of eight
// columns a row, four bytes, of which only the low nibbles of bytes 0 and
// 1 (columns 0 and 1; w_h: byte 0, column 0) are not padding.
const W_X4: [u8; 16] = [1, 2, 0, 0, 0xf, 0xe, 0, 0, 7, 9, 0, 0, 3, 4, 0, 0];
const W_H4: [u8; 16] = [5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0xf, 0, 0, 0];

/// `tiny()` with 4-bit LSTM weights.
fn tiny_q4() -> Model<'static> {
    let mut m = tiny();
    m.layers[0].bits = 4;
    *split(&mut m.layers[0]).0 = I8s(&W_X4);
    *split(&mut m.layers[0]).1 = I8s(&W_H4);
    m
}

/// `tiny_q4()`'s encoding: bits `04`, w_x and w_h 16 bytes each.
const GOLDEN_Q4: &[&str] = &[
    "4c53544d 0400",
    "01 03 02 01 01 03 01 03 61620a 08 06 01ff02fe03fd 01 02 04",
    "10 01020000 0f0e0000 07090000 03040000", // w_x: four rows of one group
    "10 05000000 06000000 07000000 0f000000", // w_h
    "10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b 00 00 03 0a141e 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "00",
    "42da7e3a",
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode(m: &Model<'_>) -> Vec<u8> {
    let bytes = host::to_bytes(m).expect("encodes");
    assert_eq!(bytes.len(), runtime::format::PREFIX_LEN + m.encoded_len().unwrap() + CRC_LEN);
    bytes
}

/// `m` as an older version wrote it: each layer without its weight bits
/// (version 3 and before), no class names (before 3), that version, a new
/// CRC. Postcard writes a tuple as its fields in order, as it does a struct.
fn as_version(m: &Model<'static>, version: u8) -> Vec<u8> {
    assert!(version < 4 && m.layers.iter().all(|l| l.bits == 8));
    let layers: Vec<_> = m
        .layers
        .iter()
        .map(|l| match l.weights {
            Weights::Split { w_x, w_h, scale_x, scale_h } => (l.input, w_x, w_h, l.bias, scale_x, scale_h, l.cell_frac),
            Weights::Fused { .. } => panic!("versions before 5 have split rows"),
        })
        .collect();
    let mut content = MAGIC.to_vec();
    content.extend_from_slice(&u16::from(version).to_le_bytes());
    let body = (m.header, m.tokenizer, m.embedding, layers, m.head);
    content.extend(postcard::to_allocvec(&body).unwrap());
    if version >= 3 {
        content.extend(postcard::to_allocvec(m.labels).unwrap());
    }
    with_crc(content)
}

#[test]
fn version_3_files_still_load_with_8_bit_weights() {
    assert_eq!(*Model::from_bytes(&unhex(&joined(GOLDEN_V3))).unwrap(), tiny());
    assert_eq!(as_version(&tiny(), 3), unhex(&joined(GOLDEN_V3)));
    for m in [tiny_vocab(), tiny_classes()] {
        assert_eq!(*Model::from_bytes(&as_version(&m, 3)).unwrap(), m);
    }
}

#[test]
fn golden_bytes_of_4_bit_weights() {
    let bytes = encode(&tiny_q4());
    assert_eq!(hex(&bytes), joined(GOLDEN_Q4), "the encoding changed: bump VERSION if it must");
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(*m, tiny_q4());
    // Only the weight bytes differ in size from the 8-bit file's (8 + 4
    // bytes against 16 + 16: every row is a whole group).
    assert_eq!(bytes.len() + 8 + 4, encode(&tiny()).len() + 16 + 16);
}

#[test]
fn four_bit_weight_errors() {
    let with = |f: &dyn Fn(&mut Model<'static>)| {
        let mut m = tiny_q4();
        f(&mut m);
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    assert!(with(&|_| ()).is_ok());
    assert_eq!(
        with(&|m| m.layers[0].bits = 5),
        Err(Error::OutOfRange { what: "lstm weight bits", value: 5, min: 4, max: 8 })
    );
    // 4-bit rows read as 8-bit ones have the wrong length, and back.
    assert_eq!(with(&|m| m.layers[0].bits = 8), Err(Error::LengthMismatch { what: "w_x", expected: 8, found: 16 }));
    assert_eq!(
        with(&|m| {
            *split(&mut m.layers[0]).0 = I8s(&W_X);
            *split(&mut m.layers[0]).1 = I8s(&W_H);
        }),
        Err(Error::LengthMismatch { what: "w_x", expected: 16, found: 8 })
    );
    // Nibble 0x8 (-8) is outside [-7, 7], in a column or in the padding.
    static MINUS8: [u8; 16] = [1, 0x82, 0, 0, 0xf, 0xe, 0, 0, 7, 9, 0, 0, 3, 4, 0, 0];
    assert_eq!(
        with(&|m| *split(&mut m.layers[0]).0 = I8s(&MINUS8)),
        Err(Error::OutOfRange { what: "w_x", value: -8, min: -7, max: 7 })
    );
    static MINUS8_H: [u8; 16] = [5, 0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0, 0xf, 0, 0, 0];
    assert_eq!(
        with(&|m| *split(&mut m.layers[0]).1 = I8s(&MINUS8_H)),
        Err(Error::OutOfRange { what: "w_h", value: -8, min: -7, max: 7 })
    );
    // Padding nibbles are zero.
    static PADDED: [u8; 16] = [1, 2, 0, 0x10, 0xf, 0xe, 0, 0, 7, 9, 0, 0, 3, 4, 0, 0];
    assert_eq!(
        with(&|m| *split(&mut m.layers[0]).0 = I8s(&PADDED)),
        Err(Error::Inconsistent { what: "4-bit row padding is not zero" })
    );
    static PADDED_H: [u8; 16] = [5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0xf, 0, 0, 0x01];
    assert_eq!(
        with(&|m| *split(&mut m.layers[0]).1 = I8s(&PADDED_H)),
        Err(Error::Inconsistent { what: "4-bit row padding is not zero" })
    );
    // Version 3 has no weight bits: a 4-bit model cannot be written as one.
    let v3 = as_version(&tiny(), 3);
    assert_eq!(Model::from_bytes(&v3).unwrap().layers[0].bits, 8);
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn joined(lines: &[&str]) -> String {
    lines.concat().chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn version_2_files_still_load_with_the_default_class_names() {
    assert_eq!(*Model::from_bytes(&unhex(&joined(GOLDEN_V2))).unwrap(), tiny());
    let v2 = unhex(&joined(GOLDEN_VOCAB_V2));
    let m = Model::from_bytes(&v2).unwrap();
    assert_eq!(*m, Model { labels: "", ..tiny_vocab() });
    let names: Vec<&str> = m.class_names().iter().collect();
    assert_eq!(names, ["negative", "positive"]);
    // A version 2 classifier has two classes.
    let v = as_version(&tiny_classes(), 2);
    assert_eq!(Model::from_bytes(&v), Err(Error::Inconsistent { what: "a version 1 or 2 classifier has two classes" }));
}

#[test]
fn golden_bytes_of_a_three_class_model() {
    let bytes = encode(&tiny_classes());
    assert_eq!(hex(&bytes), joined(GOLDEN_CLASSES), "the encoding changed: bump VERSION if it must");
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.classes(), 3);
    let names: Vec<&str> = m.class_names().iter().collect();
    assert_eq!(names, ["alarm", "lights", "weather"]);
    assert_eq!(m.class_names().position("weather"), Some(2));
    assert_eq!(m.class_names().get(3), None);
    assert!(Classifier::<2, 1, 1, 3>::new(m.clone()).is_ok());
    assert_eq!(
        Classifier::<2, 1, 1, 2>::new(m).err(),
        Some(Error::DimensionMismatch { what: "classes", compiled: 2, model: 3 })
    );
    // The head and the labels are all that differ from tiny_vocab()'s bytes.
    let two = encode(&tiny_vocab());
    let common = two.iter().zip(&bytes).take_while(|(a, b)| a == b).count();
    assert_eq!(common, 6 + 5); // prefix, kind, vocab, E, H, layers; then `outputs` differs
}

#[test]
fn class_name_errors() {
    let with = |f: &dyn Fn(&mut Model<'static>)| {
        let mut m = tiny_classes();
        f(&mut m);
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    assert!(with(&|_| ()).is_ok());
    assert_eq!(
        with(&|m| m.labels = "a\nb\n"),
        Err(Error::LengthMismatch { what: "class names", expected: 3, found: 2 })
    );
    assert_eq!(with(&|m| m.labels = "a\nb\na\n"), Err(Error::Inconsistent { what: "class names are not distinct" }));
    assert_eq!(
        with(&|m| m.labels = "a\n\nb\n"),
        Err(Error::OutOfRange { what: "class name length", value: 0, min: 1, max: 64 })
    );
    assert_eq!(
        with(&|m| m.labels = "a\nb\nc"),
        Err(Error::Inconsistent { what: "class names end with a newline each" })
    );
    assert_eq!(
        with(&|m| m.labels = ""),
        Err(Error::Inconsistent { what: "a classifier of version 3 or later names its classes" })
    );
    static LONG: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nb\nc\n";
    assert_eq!(
        with(&|m| m.labels = LONG),
        Err(Error::OutOfRange { what: "class name length", value: 65, min: 1, max: 64 })
    );
    // Two outputs is neither the sigmoid's one nor a softmax's three.
    assert_eq!(
        with(&|m| {
            m.header.outputs = 2;
            m.head.w = I8s(&HEAD_W3[..4]);
            m.head.bias = I32s(&HEAD_B3[..8]);
            m.head.scale = RowScales { multipliers: I32s(&MULT3[..8]), shifts: I8s(&SHIFT3[..2]) };
            m.labels = "a\nb\n";
        }),
        Err(Error::OutOfRange { what: "classes", value: 2, min: 3, max: 1024 })
    );
    // A language model has no class names.
    let lm = host::to_bytes(&Model { labels: "a\n", ..tiny() }).unwrap();
    assert_eq!(
        Model::from_bytes(&lm).map(|_| ()),
        Err(Error::LengthMismatch { what: "class names", expected: 0, found: 2 })
    );
}

#[test]
fn golden_bytes() {
    let bytes = encode(&tiny());
    let golden: String = GOLDEN.concat().chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(hex(&bytes), golden, "the encoding changed: bump VERSION if it must");
    // The trailer is the CRC-32 of the rest.
    let (content, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    assert_eq!(crc, crc32(content).to_le_bytes());
}

#[test]
fn golden_bytes_of_a_vocabulary_model() {
    let bytes = encode(&tiny_vocab());
    let golden: String = GOLDEN_VOCAB.concat().chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(hex(&bytes), golden, "the encoding changed: bump VERSION if it must");
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(*m, tiny_vocab());
    let ids = m.tokenizer.word_ids().unwrap();
    assert_eq!((ids.id(0x0102_0304), ids.id(0xa0b0_c0d0), ids.id(7)), (2, 3, 1));
    assert!(Classifier::<2, 1, 1>::new(m).is_ok());
}

#[test]
fn version_1_files_still_load() {
    let v2: String = GOLDEN_V2.concat().chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(as_version(&tiny(), 2), unhex(&v2));
    let body = &v2[12..v2.len() - 8];
    let v1 = format!("{}{body}{GOLDEN_V1_CRC}", GOLDEN_V1_PREFIX.replace(' ', ""));
    let bytes: Vec<u8> = (0..v1.len()).step_by(2).map(|i| u8::from_str_radix(&v1[i..i + 2], 16).unwrap()).collect();
    assert_eq!(*Model::from_bytes(&bytes).unwrap(), tiny());
    // But a version 1 file cannot hold a vocabulary table.
    let v = as_version(&tiny_vocab(), 1);
    assert_eq!(Model::from_bytes(&v), Err(Error::Inconsistent { what: "a version 1 model has no vocabulary table" }));
}

#[test]
fn vocabulary_errors() {
    let with = |f: &dyn Fn(&mut Model<'static>)| {
        let mut m = tiny_vocab();
        f(&mut m);
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    static DESCENDING: [u8; 8] = [0xd0, 0xc0, 0xb0, 0xa0, 4, 3, 2, 1];
    static REPEATED: [u8; 8] = [4, 3, 2, 1, 4, 3, 2, 1];
    static RAGGED: [u8; 7] = [4, 3, 2, 1, 0xd0, 0xc0, 0xb0];
    let vocab = |h: &'static [u8]| Tokenizer::Vocab(WordVocab { punctuation: false, hashes: U32s(h) });
    let unordered = Err(Error::Inconsistent { what: "vocabulary hashes are not ascending and distinct" });
    assert_eq!(with(&|m| m.tokenizer = vocab(&DESCENDING)), unordered);
    assert_eq!(with(&|m| m.tokenizer = vocab(&REPEATED)), unordered);
    assert_eq!(
        with(&|m| {
            m.tokenizer = vocab(&RAGGED);
            m.header.vocab = 3;
        }),
        Err(Error::LengthMismatch { what: "vocabulary table", expected: 4, found: 7 })
    );
    assert_eq!(
        with(&|m| m.header.vocab = 5),
        Err(Error::LengthMismatch { what: "tokenizer vocabulary", expected: 5, found: 4 })
    );
    // Mean pooling reads every token (0) or a window of at most 65,535.
    assert!(with(&|m| m.head.max_tokens = 0).is_ok());
    assert_eq!(
        with(&|m| m.head.max_tokens = 65_536),
        Err(Error::OutOfRange { what: "max_tokens of mean pooling", value: 65_536, min: 0, max: 65_535 })
    );
    // A language model cannot have a word vocabulary.
    let lm = {
        let mut m = tiny();
        m.tokenizer = vocab(&HASHES[..4]);
        m.header.vocab = 3;
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    assert_eq!(lm, Err(Error::Inconsistent { what: "tokenizer does not fit the model kind" }));
}

#[test]
fn round_trip_and_encode_into() {
    let bytes = encode(&tiny());
    assert_eq!(*Model::from_bytes(&bytes).unwrap(), tiny());
    let mut buf = [0u8; 512];
    let n = tiny().encode_into(&mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..]);
    // Decoding borrows: the weights point into the file's bytes.
    let m = Model::from_bytes(&bytes).unwrap();
    let range = bytes.as_ptr_range();
    let Weights::Split { w_x, .. } = m.layers[0].weights else { panic!("split rows") };
    assert!(range.contains(&w_x.0.as_ptr()));
}

fn with_crc(mut content: Vec<u8>) -> Vec<u8> {
    let crc = crc32(&content);
    content.extend_from_slice(&crc.to_le_bytes());
    content
}

/// Re-encode after editing the model (valid CRC over the edited contents).
fn edited(f: impl FnOnce(&mut Model<'static>)) -> Vec<u8> {
    let mut m = tiny();
    f(&mut m);
    host::to_bytes(&m).expect("encodes")
}

#[test]
fn error_truncated() {
    let bytes = encode(&tiny());
    assert_eq!(Model::from_bytes(&bytes[..9]), Err(Error::Truncated { len: 9, min: 10 }));
    assert_eq!(Model::from_bytes(&[]), Err(Error::Truncated { len: 0, min: 10 }));
}

#[test]
fn error_bad_magic() {
    let mut bytes = encode(&tiny());
    bytes[0] = b'X';
    assert_eq!(Model::from_bytes(&bytes), Err(Error::BadMagic { found: *b"XSTM" }));
}

#[test]
fn error_unsupported_version() {
    let mut bytes = encode(&tiny());
    bytes[4..6].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(Model::from_bytes(&bytes), Err(Error::UnsupportedVersion { found: VERSION + 1, supported: VERSION }));
    bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
    assert_eq!(Model::from_bytes(&bytes), Err(Error::UnsupportedVersion { found: 0, supported: VERSION }));
}

#[test]
fn error_crc_mismatch() {
    let mut bytes = encode(&tiny());
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    assert!(matches!(Model::from_bytes(&bytes), Err(Error::CrcMismatch { .. })));
}

#[test]
fn error_malformed_and_truncated_body() {
    let bytes = encode(&tiny());
    // Cut the body short but give it a valid CRC: postcard runs out.
    let content = bytes[..bytes.len() - CRC_LEN - 5].to_vec();
    assert_eq!(Model::from_bytes(&with_crc(content)), Err(Error::Malformed));
    // An enum tag that does not exist (ModelKind = 7).
    let mut content = bytes[..bytes.len() - CRC_LEN].to_vec();
    content[6] = 7;
    assert_eq!(Model::from_bytes(&with_crc(content)), Err(Error::Malformed));
}

#[test]
fn error_trailing_bytes() {
    let bytes = encode(&tiny());
    let mut content = bytes[..bytes.len() - CRC_LEN].to_vec();
    content.extend_from_slice(&[0, 0, 0]);
    assert_eq!(Model::from_bytes(&with_crc(content)), Err(Error::TrailingBytes { count: 3 }));
}

#[test]
fn error_length_mismatch() {
    static SHORT: [u8; 7] = [0; 7];
    let bytes = edited(|m| *split(&mut m.layers[0]).0 = I8s(&SHORT));
    assert_eq!(Model::from_bytes(&bytes), Err(Error::LengthMismatch { what: "w_x", expected: 8, found: 7 }));
    let bytes = edited(|m| m.header.layers = 2);
    assert_eq!(Model::from_bytes(&bytes), Err(Error::LengthMismatch { what: "layers", expected: 2, found: 1 }));
}

#[test]
fn error_out_of_range() {
    let bytes = edited(|m| m.layers[0].cell_frac = 16);
    assert_eq!(Model::from_bytes(&bytes), Err(Error::OutOfRange { what: "cell_frac", value: 16, min: 0, max: 15 }));
    // -128 is not a valid weight: it would let a dot product reach 2^31.
    static BAD: [u8; 4] = [0x80, 0, 0, 0];
    let bytes = edited(|m| *split(&mut m.layers[0]).1 = I8s(&BAD));
    assert_eq!(Model::from_bytes(&bytes), Err(Error::OutOfRange { what: "w_h", value: -128, min: -127, max: 127 }));
    static BIG_SHIFT: [u8; 4] = [40, 0, 0, 0];
    let bytes = edited(|m| split(&mut m.layers[0]).2.shifts = I8s(&BIG_SHIFT));
    assert_eq!(Model::from_bytes(&bytes), Err(Error::OutOfRange { what: "scale_h", value: 40, min: -30, max: 31 }));
}

#[test]
fn error_inconsistent() {
    let bytes = edited(|m| m.tokenizer = Tokenizer::Chars(b"aa\n"));
    assert_eq!(Model::from_bytes(&bytes), Err(Error::Inconsistent { what: "charset has a repeated byte" }));
    let bytes = edited(|m| m.head.pooling = Pooling::MeanMax);
    assert_eq!(Model::from_bytes(&bytes), Err(Error::Inconsistent { what: "a language model has no pooling" }));
}

#[test]
fn error_dimension_mismatch() {
    let bytes = encode(&tiny());
    // Compiled for H = 1 works; a capacity below the model's size does not.
    assert!(CharLm::<2, 1, 1, 3>::from_bytes(&bytes).is_ok());
    assert!(matches!(
        CharLm::<1, 1, 1, 3>::from_bytes(&bytes),
        Err(Error::DimensionMismatch { what: "embedding width", compiled: 1, model: 2 })
    ));
    assert!(matches!(
        CharLm::<2, 1, 1, 2>::from_bytes(&bytes),
        Err(Error::DimensionMismatch { what: "charset size", compiled: 2, model: 3 })
    ));
}

#[test]
fn error_wrong_kind() {
    let bytes = encode(&tiny());
    assert!(matches!(
        Classifier::<2, 1, 1>::from_bytes(&bytes),
        Err(Error::WrongKind { expected: ModelKind::Classifier, found: ModelKind::CharLm })
    ));
}

#[test]
fn error_buffer_too_small() {
    let mut buf = [0u8; 20];
    assert_eq!(tiny().encode_into(&mut buf), Err(Error::BufferTooSmall));
}

#[test]
fn every_error_has_a_sentence() {
    let e = Error::CrcMismatch { stored: 1, computed: 2 };
    assert_eq!(e.to_string(), "the model file is corrupt: CRC-32 is 00000002, the file says 00000001");
    assert!(Error::BadMagic { found: MAGIC }.to_string().starts_with("not a model file"));
}

// Version 5: fused rows over [x; h]. `tiny()`'s weights, each row its two
// input columns, its recurrent column, one zero column of padding (a
// multiple of 4 at 8 bits).
const W5: [u8; 16] = [1, 2, 5, 0, 3, 4, 6, 0, 0xff, 0xfe, 7, 0, 0x7f, 0x81, 8, 0];

/// `tiny()` with fused rows (version 5).
fn tiny_fused() -> Model<'static> {
    let mut m = tiny();
    m.layers[0].weights = Weights::Fused {
        x_shift: -8,
        h_shift: 1,
        pad: I8s(&[]),
        w: I8s(&W5),
        scale: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
    };
    m
}

/// The encoding of `tiny_fused()`: version 4's layer with one weight array
/// and one scale in place of two of each, the two parts' shifts (one byte
/// each, two's complement), and before the weights no padding: they start
/// at byte 32 of the file (a multiple of 4).
const GOLDEN_V5: &[&str] = &[
    "4c53544d 0500",
    "01 03 02 01 01 03 01 03 61620a 08 06 01ff02fe03fd",
    "01 02 08",                                           // 1 layer: input 2, 8 bits
    "f8 01",                                              // x_shift -8, h_shift 1
    "00",                                                 // pad: none
    "10 01020500 03040600 fffe0700 7f810800",             // w: four rows of x0 x1 h0 and a zero
    "10 01000000 02000000 ffffffff 00000000",             // bias
    "10 00000040 00000040 00000040 00000040 04 010203ff", // scale
    "0b",                                                 // cell_frac
    "00 00 03 0a141e 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "00",
    "9b3fb8f8",
];

// The same rows at 4 bits, offset binary (nibble w + 8), padded with
// nibbles 8 to one group of eight columns: rows (1, 2, 5), (-1, -2, 6),
// (7, -7, 7), (3, 4, -1); byte k holds column k (low) and k + 4 (high).
const W5Q4: [u8; 16] = [0x89, 0x8a, 0x8d, 0x88, 0x87, 0x86, 0x8e, 0x88, 0x8f, 0x81, 0x8f, 0x88, 0x8b, 0x8c, 0x87, 0x88];

fn tiny_fused_q4() -> Model<'static> {
    let mut m = tiny_fused();
    m.layers[0].bits = 4;
    m.layers[0].weights = Weights::Fused {
        x_shift: -8,
        h_shift: 1,
        pad: I8s(&[]),
        w: I8s(&W5Q4),
        scale: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
    };
    m
}

const GOLDEN_V5_Q4: &[&str] = &[
    "4c53544d 0500",
    "01 03 02 01 01 03 01 03 61620a 08 06 01ff02fe03fd",
    "01 02 04",
    "f8 01",
    "00",
    "10 898a8d88 87868e88 8f818f88 8b8c8788",
    "10 01000000 02000000 ffffffff 00000000",
    "10 00000040 00000040 00000040 00000040 04 010203ff",
    "0b",
    "00 00 03 0a141e 0c 000000000000000000000000 0c 000000400000004000000040 03 040404 0c",
    "00",
    "f5e0536a",
];

#[test]
fn golden_bytes_of_version_5() {
    assert_eq!(VERSION, 5);
    for (m, golden) in [(tiny_fused(), GOLDEN_V5), (tiny_fused_q4(), GOLDEN_V5_Q4)] {
        let bytes = encode(&m);
        assert_eq!(hex(&bytes), joined(golden), "the encoding changed: bump VERSION if it must");
        let aligned = m.clone().aligned().unwrap();
        assert_eq!(*Model::from_bytes(&bytes).unwrap(), aligned);
        assert_eq!(Model::from_bytes(&bytes).unwrap().version(), 5);
        let Weights::Fused { pad, w, .. } = aligned.layers[0].weights else { panic!("fused") };
        assert_eq!(pad.len(), 0);
        assert_eq!(&bytes[32..48], w.0, "the rows start at byte 32");
    }
    // A model of split rows is written as version 4, and loads as one.
    assert_eq!(encode(&tiny())[4..6], [4, 0]);
}

/// The fused rows' own errors: length, range, padding, the bias's room,
/// and one layout a model.
#[test]
fn version_5_weight_errors() {
    let with = |f: &dyn Fn(&mut Model<'static>)| {
        let mut m = tiny_fused();
        f(&mut m);
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    let fused = |w: &'static [u8]| Weights::Fused {
        x_shift: -8,
        h_shift: 1,
        pad: I8s(&[]),
        w: I8s(w),
        scale: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
    };
    assert!(with(&|_| ()).is_ok());
    // Unpadded rows (3 columns) are too short.
    static UNPADDED: [u8; 12] = [1, 2, 5, 3, 4, 6, 0xff, 0xfe, 7, 0x7f, 0x81, 8];
    assert_eq!(
        with(&|m| m.layers[0].weights = fused(&UNPADDED)),
        Err(Error::LengthMismatch { what: "w", expected: 16, found: 12 })
    );
    static MINUS128: [u8; 16] = [1, 2, 5, 0, 3, 4, 0x80, 0, 0xff, 0xfe, 7, 0, 0x7f, 0x81, 8, 0];
    assert_eq!(
        with(&|m| m.layers[0].weights = fused(&MINUS128)),
        Err(Error::OutOfRange { what: "w", value: -128, min: -127, max: 127 })
    );
    static PADDED: [u8; 16] = [1, 2, 5, 0, 3, 4, 6, 1, 0xff, 0xfe, 7, 0, 0x7f, 0x81, 8, 0];
    assert_eq!(
        with(&|m| m.layers[0].weights = fused(&PADDED)),
        Err(Error::Inconsistent { what: "row padding is not zero" })
    );
    // 4 bits: nibble 0 is -8; a padding nibble other than 8 is not zero.
    let with4 = |w: &'static [u8]| {
        let mut m = tiny_fused_q4();
        m.layers[0].weights = fused(w);
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    assert!(with4(&W5Q4).is_ok());
    static NIBBLE0: [u8; 16] =
        [0x89, 0x8a, 0x8d, 0x88, 0x87, 0x06, 0x8e, 0x88, 0x8f, 0x81, 0x8f, 0x88, 0x8b, 0x8c, 0x87, 0x88];
    assert_eq!(with4(&NIBBLE0), Err(Error::OutOfRange { what: "w", value: -8, min: -7, max: 7 }));
    static PAD4: [u8; 16] =
        [0x89, 0x8a, 0x8d, 0x88, 0x87, 0x86, 0x8e, 0x89, 0x8f, 0x81, 0x8f, 0x88, 0x8b, 0x8c, 0x87, 0x88];
    assert_eq!(with4(&PAD4), Err(Error::Inconsistent { what: "row padding is not zero" }));
    // The bias leaves room for the largest sum of the row: at 8 bits and
    // 512 columns, 2^31 - 1 - 127 * 2^15 * 512 (2^24 - 1).
    assert_eq!(runtime::format::fused_bias_limit(8, 512), (1 << 24) - 1);
    assert_eq!(runtime::format::fused_bias_limit(8, 3), runtime::format::MAX_BIAS);
    static BIG_BIAS: [u8; 16] = [0, 0, 0, 0x41, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert_eq!(
        with(&|m| m.layers[0].bias = I32s(&BIG_BIAS)),
        Err(Error::OutOfRange { what: "lstm bias", value: 0x4100_0000, min: -(1 << 30), max: 1 << 30 })
    );
    // The rows start at a multiple of 4 bytes: a pad of other bytes, or of
    // the wrong length, is an error.
    let bytes = encode(&tiny_fused());
    assert_eq!(&bytes[28..32], [0xf8, 1, 0, 16]);
    let mut shifted = bytes[..bytes.len() - CRC_LEN].to_vec();
    shifted[30] = 1; // one byte of padding: the rows move to byte 33
    shifted.insert(31, 0);
    assert_eq!(
        Model::from_bytes(&with_crc(shifted)).map(|_| ()),
        Err(Error::Inconsistent { what: "fused rows do not start at a multiple of 4 bytes" })
    );
    let mut nonzero = bytes[..bytes.len() - CRC_LEN].to_vec();
    nonzero[30] = 4; // four bytes of padding: the rows at byte 36
    nonzero.splice(31..31, [0, 0, 7, 0]);
    assert_eq!(
        Model::from_bytes(&with_crc(nonzero)).map(|_| ()),
        Err(Error::Inconsistent { what: "row alignment padding is not 0 to 3 zero bytes" })
    );
    // The shifts: layer 0's input at most 8 to the left (an 8-bit
    // embedding), either part at most 15 to the right.
    let shifts = |x_shift: i8, h_shift: i8| {
        let mut m = tiny_fused();
        m.layers[0].weights = Weights::Fused {
            x_shift,
            h_shift,
            pad: I8s(&[]),
            w: I8s(&W5),
            scale: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
        };
        Model::from_bytes(&host::to_bytes(&m).unwrap()).map(|_| ())
    };
    assert!(shifts(-8, 0).is_ok() && shifts(15, 15).is_ok());
    assert_eq!(shifts(-9, 0), Err(Error::OutOfRange { what: "x_shift", value: -9, min: -8, max: 15 }));
    assert_eq!(shifts(0, -1), Err(Error::OutOfRange { what: "h_shift", value: -1, min: 0, max: 15 }));
    assert_eq!(shifts(16, 0), Err(Error::OutOfRange { what: "x_shift", value: 16, min: -8, max: 15 }));
    // One layout a model: a fused layer over a split one.
    let mut two = tiny_fused();
    two.header.layers = 2;
    // Layer 1 reads H = 1 values; its split rows of one column each.
    let split_layer = LstmLayer {
        input: 1,
        weights: Weights::Split {
            w_x: I8s(&W_H),
            w_h: I8s(&W_H),
            scale_x: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
            scale_h: RowScales { multipliers: I32s(&MULT4), shifts: I8s(&SHIFT4) },
        },
        ..tiny().layers[0]
    };
    two.layers.push(split_layer).unwrap();
    // Written as version 5, its second layer does not parse as fused rows.
    assert!(Model::from_bytes(&host::to_bytes(&two).unwrap()).is_err());
    assert_eq!(two.validate(), Err(Error::Inconsistent { what: "layers of split and fused rows in one model" }));
}
