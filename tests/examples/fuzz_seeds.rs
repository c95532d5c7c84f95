//! Writes the fuzzers' seed corpus: `cargo run -p tests --example fuzz_seeds -- DIR`.
//!
//! `DIR/model/`: the shipped models and the small random models (8-bit and
//! 4-bit LSTM weights), each as a
//! whole file (mode byte 0) and as a body whose CRC the target appends (mode
//! byte 1); `DIR/tokenizer/`: hashing parameters and review-like text.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz_seeds DIR"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = tests::small_model_files();
    for name in ["models/sentiment.lstm", "models/charlm.lstm"] {
        files.push(std::fs::read(root.join(name))?);
    }
    let model = dir.join("model");
    std::fs::create_dir_all(&model)?;
    for (i, f) in files.iter().enumerate() {
        let body = &f[..f.len() - runtime::format::CRC_LEN];
        std::fs::write(model.join(format!("file-{i}")), [&[0u8][..], f].concat())?;
        std::fs::write(model.join(format!("body-{i}")), [&[1u8][..], body].concat())?;
    }
    let tok = dir.join("tokenizer");
    std::fs::create_dir_all(&tok)?;
    let texts: [&[u8]; 4] = [
        b"This movie was great!<br /><br />I don't think it's <i>bad</i> at all.",
        b"a<<b>c <3 <xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx end",
        "caf\u{e9} na\u{ef}ve \u{201c}quoted\u{201d}".as_bytes(),
        b"\x00\xff\x80'''<>/<//>",
    ];
    for (i, t) in texts.iter().enumerate() {
        // Buckets, seed, the punctuation flag (odd = on), the split.
        let params = [16000u32.to_le_bytes(), (i as u32).to_le_bytes()].concat();
        std::fs::write(tok.join(format!("text-{i}")), [&params[..], &[i as u8, i as u8 * 7], t].concat())?;
    }
    println!("seed corpus in {}: {} model files, {} texts", dir.display(), 2 * files.len(), texts.len());
    Ok(())
}
