//! `trainer inspect FILE`: what a model file holds.

use std::fmt::Write as _;
use std::path::Path;

use runtime::format::{padded_cols, Tokenizer, Weights};

use crate::files::{decode, read};
use crate::Error;

/// `trainer inspect FILE`: kind, version, dimensions, sizes by part, CRC.
pub fn inspect(path: &Path) -> Result<String, Error> {
    let bytes = read(path)?;
    let m = decode(path, &bytes)?;
    let h = &m.header;
    let mut s = String::new();
    let crc = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes"));
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    let _ = writeln!(
        s,
        "{}: {} ({} bytes), format version {version}, CRC-32 {crc:08x}",
        path.display(),
        h.kind,
        bytes.len()
    );
    let _ = writeln!(
        s,
        "dimensions: vocab {}, embedding {} x {}-bit, {} LSTM layer(s) of {}, {} output(s), {:?} pooling{}",
        h.vocab,
        h.embed_dim,
        m.embedding.bits,
        h.layers,
        h.hidden,
        h.outputs,
        m.head.pooling,
        if m.head.max_tokens > 0 { format!(" over the last {} tokens", m.head.max_tokens) } else { String::new() }
    );
    if m.classes() > 0 {
        let head = if m.classes() == 2 { "a sigmoid" } else { "a softmax" };
        let names: Vec<&str> = m.class_names().iter().collect();
        let _ = writeln!(s, "classes: {} ({head}): {}", m.classes(), names.join(", "));
    }
    match m.tokenizer {
        Tokenizer::Words(w) => {
            let _ = writeln!(s, "tokenizer: hashed words, {} buckets, seed {}", w.buckets, w.seed);
        }
        Tokenizer::Chars(c) => {
            let _ = writeln!(s, "tokenizer: {} characters {:?}", c.len(), String::from_utf8_lossy(c));
        }
        Tokenizer::Vocab(v) => {
            let marks = if v.punctuation { ", punctuation marks as tokens" } else { "" };
            let _ = writeln!(
                s,
                "tokenizer: vocabulary of {} tokens (table {} B) and one out-of-vocabulary id{marks}",
                v.hashes.len(),
                v.hashes.0.len()
            );
        }
    }
    let _ = writeln!(s, "sizes: embedding {} B", m.embedding.table.len());
    for (i, l) in m.layers.iter().enumerate() {
        let scales = |r: &runtime::format::RowScales<'_>| r.multipliers.0.len() + r.len();
        let shift = |s: i8| if s < 0 { format!("<< {}", -s) } else { format!(">> {s}") };
        let (n, weights) = match l.weights {
            Weights::Split { w_x, w_h, scale_x, scale_h } => (
                w_x.len() + w_h.len() + l.bias.0.len() + scales(&scale_x) + scales(&scale_h),
                format!("split rows: w_x {}, w_h {}", w_x.len(), w_h.len()),
            ),
            Weights::Fused { x_shift, h_shift, w, scale, .. } => (
                w.len() + l.bias.0.len() + scales(&scale),
                format!(
                    "rows over [x {}; h {}]: {} B, {} columns padded",
                    shift(x_shift),
                    shift(h_shift),
                    w.len(),
                    padded_cols(l.bits, usize::from(l.input) + usize::from(m.header.hidden))
                ),
            ),
        };
        let _ = writeln!(
            s,
            "       lstm layer {i}: {n} B ({}-bit weights, {weights}), cell Q{}.{}",
            l.bits,
            15 - l.cell_frac,
            l.cell_frac
        );
    }
    let head = m.head.w.len() + m.head.bias.0.len() + m.head.scale.multipliers.0.len() + m.head.scale.len();
    let _ = writeln!(s, "       dense: {head} B, logits Q{}.{}", 31 - m.head.out_frac, m.head.out_frac);
    Ok(s)
}
