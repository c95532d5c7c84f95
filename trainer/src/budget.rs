//! A flash budget (`--max-bytes`): the model file's exact size for a
//! shape, measured on the export path itself (a stand-in network of that
//! shape, quantized as a trained one would be), and the largest shape that
//! fits: first the weight bits (8, then a 4-bit embedding, then 4-bit LSTM
//! weights), then a smaller vocabulary (down to a quarter), then narrower
//! embedding and LSTM widths. What the user gives stays fixed.

use std::str::FromStr;

use dfdx::prelude::Cpu;
use host::{Bits, Calibration, Words};

use crate::error::{Error, Result};
use crate::float::to_float_model;
use crate::net::{Checkpoint, NetConfig, Network, Progress, Task};

/// A size in bytes, from `65536`, `64KiB`, `64K` (both 1,024 bytes a
/// kibibyte), `1MiB` or `1M`; `kB` and `MB` are powers of ten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ByteSize(pub usize);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a size (for example 65536, 64KiB, 1MiB)"))?;
        let k = match unit.trim() {
            "" | "B" => 1.0,
            "K" | "KiB" | "k" => 1024.0,
            "M" | "MiB" => 1024.0 * 1024.0,
            "kB" | "KB" => 1000.0,
            "MB" => 1e6,
            u => return Err(format!("{s:?}: unknown unit {u:?} (B, KiB, MiB, kB, MB)")),
        };
        Ok(ByteSize((n * k).round() as usize))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// The exact size of the model file a network of `cfg` exports to for
/// `task` at `bits` (its values do not change it).
pub fn file_bytes(task: &Task, cfg: &NetConfig, bits: Bits) -> Result<usize> {
    let net = Network::new(&Cpu::default(), cfg.clone(), 7)?;
    let ckpt = Checkpoint::new(task.clone(), &net, None, serde_json::Value::Null, Progress::default());
    let model = to_float_model(&ckpt);
    let cal = Calibration { cell_abs_max: vec![1.0; cfg.layers] };
    let bytes = host::quantize::quantize_bits(&model, &cal, bits)
        .map_err(|source| Error::Quantize { path: "(the budget's stand-in network)".into(), source })?;
    Ok(bytes.len())
}

/// What a shape search may change: `None` is free, `Some` is the user's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fixed {
    /// Vocabulary size.
    pub vocab: Option<usize>,
    /// Embedding width.
    pub embed_dim: Option<usize>,
    /// LSTM width.
    pub hidden: Option<usize>,
    /// Embedding bits.
    pub embed_bits: Option<u8>,
    /// LSTM bits.
    pub lstm_bits: Option<u8>,
}

/// A shape that fits, and its file size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Vocabulary size (a classifier's kept tokens; a charset's bytes).
    pub vocab: usize,
    /// Embedding width.
    pub embed_dim: usize,
    /// LSTM width.
    pub hidden: usize,
    /// Weight bits.
    pub bits: Bits,
    /// The file's size.
    pub bytes: usize,
}

/// The largest shape within `budget`, from `start` (the shape the data
/// chose) down, each free part as [`Fixed`] allows; `bytes` gives the
/// file size of a shape. One clear error when even the smallest does not
/// fit.
pub fn fit(
    budget: ByteSize,
    start: Fit,
    fixed: Fixed,
    min_vocab: usize,
    mut bytes: impl FnMut(&Fit) -> Result<usize>,
) -> Result<Fit> {
    let bit_options: Vec<Bits> = [(8, 8), (4, 8), (4, 4)]
        .into_iter()
        .filter(|&(e, l)| fixed.embed_bits.is_none_or(|b| b == e) && fixed.lstm_bits.is_none_or(|b| b == l))
        .map(|(embed, lstm)| Bits { embed, lstm })
        .collect();
    let bit_options = if bit_options.is_empty() {
        vec![Bits { embed: fixed.embed_bits.unwrap_or(8), lstm: fixed.lstm_bits.unwrap_or(8) }]
    } else {
        bit_options
    };
    let mut smallest: Option<Fit> = None;
    for scale in [1.0, 0.75, 0.5, 0.375, 0.25, 0.125] {
        let width = |given: Option<usize>, w: usize, floor: usize| {
            given.unwrap_or_else(|| ((w as f64 * scale).round() as usize).max(floor.min(w)))
        };
        // An even embedding width (a 4-bit table packs two values a byte).
        let e = match fixed.embed_dim {
            Some(e) => e,
            None if start.embed_dim > 0 => width(None, start.embed_dim, 4).div_ceil(2) * 2,
            None => 0,
        };
        let h = width(fixed.hidden, start.hidden, 8);
        if scale < 1.0 && e == start.embed_dim && h == start.hidden {
            continue;
        }
        for &bits in &bit_options {
            let mut f = Fit { embed_dim: e, hidden: h, bits, ..start };
            f.bytes = bytes(&f)?;
            if f.bytes <= budget.0 {
                return Ok(f);
            }
        }
        // The most compact bits, then the largest vocabulary that fits.
        let bits = *bit_options.last().expect("one option");
        let lo = min_vocab.min(start.vocab).max((start.vocab / 4).min(start.vocab));
        if fixed.vocab.is_none() && lo < start.vocab {
            let at = |v: usize, b: &mut dyn FnMut(&Fit) -> Result<usize>| -> Result<Fit> {
                let mut f = Fit { vocab: v, embed_dim: e, hidden: h, bits, bytes: 0 };
                f.bytes = b(&f)?;
                Ok(f)
            };
            let low = at(lo, &mut bytes)?;
            if low.bytes <= budget.0 {
                let (mut good, mut bad) = (low, start.vocab);
                while bad - good.vocab > 1.max(start.vocab / 64) {
                    let mid = (good.vocab + bad) / 2;
                    let f = at(mid, &mut bytes)?;
                    if f.bytes <= budget.0 {
                        good = f;
                    } else {
                        bad = mid;
                    }
                }
                return Ok(good);
            }
            smallest = Some(low);
        } else {
            let mut f = Fit { embed_dim: e, hidden: h, bits, ..start };
            f.bytes = bytes(&f)?;
            smallest = Some(f);
        }
    }
    let s = smallest.expect("one shape tried");
    Err(Error::Config(format!(
        "--max-bytes {}: no model fits; the smallest tried (vocabulary {}, embedding {}, LSTM {}, {}-bit embedding, \
         {}-bit LSTM) is {} bytes{}",
        budget.0,
        s.vocab,
        s.embed_dim,
        s.hidden,
        s.bits.embed,
        s.bits.lstm,
        s.bytes,
        if fixed == Fixed::default() { "" } else { " with the sizes you gave" }
    )))
}

/// The stand-in task of a classifier with `vocab` kept tokens.
pub fn classifier_task(vocab: usize, punctuation: bool, max_tokens: usize, classes: &[String]) -> Task {
    let words = Words::Vocab { punctuation, hashes: (0..vocab as u32).collect() };
    Task::Classifier { words, max_tokens, classes: classes.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Readout;

    #[test]
    fn sizes_parse_with_their_units() {
        assert_eq!("65536".parse(), Ok(ByteSize(65536)));
        assert_eq!("64KiB".parse(), Ok(ByteSize(65536)));
        assert_eq!("64K".parse(), Ok(ByteSize(65536)));
        assert_eq!("1MiB".parse(), Ok(ByteSize(1 << 20)));
        assert_eq!("1.5MB".parse(), Ok(ByteSize(1_500_000)));
        assert_eq!("200kB".parse(), Ok(ByteSize(200_000)));
        assert!("lots".parse::<ByteSize>().is_err() && "3 parsecs".parse::<ByteSize>().is_err());
    }

    /// The search's file sizes are the export's, and a found shape is
    /// never above the budget; a budget below the smallest is an error.
    #[test]
    fn the_shape_found_fits_the_budget() {
        let classes = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let bytes = |f: &Fit| {
            let cfg = NetConfig {
                vocab: f.vocab + 2,
                embed_dim: f.embed_dim,
                hidden: f.hidden,
                layers: 1,
                dropout: 0.0,
                outputs: 3,
                readout: Readout::Pooled(runtime::format::Pooling::MeanMax),
            };
            file_bytes(&classifier_task(f.vocab, true, 0, &classes), &cfg, f.bits)
        };
        let start = Fit { vocab: 3000, embed_dim: 24, hidden: 64, bits: Bits::INT8, bytes: 0 };
        let full = bytes(&start).unwrap();
        // Over 3,000 x 24 embedding bytes, and the 4-byte hash of each kept token.
        assert!(full > 3000 * 24 + 3000 * 4, "{full}");
        for budget in [full, full - 1, full / 2, 30_000, 12_000] {
            let f = fit(ByteSize(budget), start, Fixed::default(), 100, bytes).unwrap();
            assert!(f.bytes <= budget && bytes(&f).unwrap() == f.bytes, "{budget}: {f:?}");
        }
        assert_eq!(fit(ByteSize(full), start, Fixed::default(), 100, bytes).unwrap().bits, Bits::INT8);
        let half = fit(ByteSize(full / 2), start, Fixed::default(), 100, bytes).unwrap();
        assert_eq!((half.embed_dim, half.hidden, half.bits.embed), (24, 64, 4));
        let given = Fixed { hidden: Some(64), embed_bits: Some(8), ..Fixed::default() };
        let err = fit(ByteSize(2_000), start, given, 100, bytes).unwrap_err().to_string();
        assert!(err.contains("--max-bytes 2000: no model fits") && err.contains("with the sizes you gave"), "{err}");
    }
}
