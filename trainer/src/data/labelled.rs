//! Labelled text for classifiers, from the files a user has: CSV or TSV
//! with a header row, JSON Lines, a directory of class folders, or the
//! IMDb archive (see [`InputFormat`] and `trainer classify train --help`).
//!
//! Labels are strings. A training set's classes are its distinct labels in
//! byte order (for two classes, the second is the sigmoid's class 1); a
//! validation, test or evaluation set is read against given classes.
//!
//! Every bad row is reported, each as one `file:line:column: reason` line
//! ([`RowError`]), and nothing is returned, so no command that reads bad
//! data writes anything.

use std::collections::BTreeSet;
use std::path::Path;

use crate::data::imdb::{read_imdb, Split};
use crate::data::text::{visible_entries, Text};
use crate::error::{Error, Result, RowError};

/// How a labelled data file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
pub enum InputFormat {
    /// From the path: a directory holding `aclImdb/` (or `train/pos`) is
    /// IMDb, another directory is class folders; `.csv`, `.tsv`/`.tab`,
    /// `.jsonl`/`.ndjson` files by their extension; `.tar.gz`/`.tgz` is
    /// the IMDb archive.
    Auto,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// Tab-separated values with a header row (the same quoting).
    Tsv,
    /// One JSON object a line with a text and a label field.
    Jsonl,
    /// A directory with one folder per class, one text a file.
    Folders,
    /// The IMDb Large Movie Review Dataset (archive or directory).
    Imdb,
}

/// Where a classifier's labelled text comes from, beside the path.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
pub struct InputArgs {
    /// Layout of the data files (see the formats below).
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// CSV, TSV, JSON Lines: the column (field) holding the text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// CSV, TSV, JSON Lines: the column (field) holding the label.
    #[arg(long, default_value = "label")]
    pub label_column: String,
}

impl Default for InputArgs {
    fn default() -> Self {
        Self { format: InputFormat::Auto, text_column: "text".into(), label_column: "label".into() }
    }
}

/// A labelled data set: the class names and the texts.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    /// Class names, in class order.
    pub classes: Vec<String>,
    /// The texts, each with its class index.
    pub texts: Vec<Text>,
}

/// The format `format` means for `path` (resolving [`InputFormat::Auto`]).
pub fn resolve(path: &Path, format: InputFormat) -> Result<InputFormat> {
    if format != InputFormat::Auto {
        return Ok(format);
    }
    if path.is_dir() {
        let imdb = path.join("aclImdb").is_dir() || path.join("train").join("pos").is_dir();
        return Ok(if imdb { InputFormat::Imdb } else { InputFormat::Folders });
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let by_ext = [
        (".csv", InputFormat::Csv),
        (".tsv", InputFormat::Tsv),
        (".tab", InputFormat::Tsv),
        (".jsonl", InputFormat::Jsonl),
        (".ndjson", InputFormat::Jsonl),
        (".tar.gz", InputFormat::Imdb),
        (".tgz", InputFormat::Imdb),
    ];
    match by_ext.iter().find(|(ext, _)| name.ends_with(ext)) {
        Some(&(_, f)) => Ok(f),
        None if !path.exists() => Err(Error::io(path, std::io::ErrorKind::NotFound.into())),
        None => Err(Error::Config(format!(
            "{}: cannot tell the format from the name (.csv, .tsv, .jsonl, a directory of class folders, or the \
             IMDb .tar.gz); give --format",
            path.display()
        ))),
    }
}

/// Reads a labelled file. With `classes`, labels must be among them (an
/// evaluation set read against a model's classes); without, the classes
/// are the labels found, in byte order. For IMDb, `split` says which
/// official split (the classes are `negative`, `positive`).
pub fn read(path: &Path, input: &InputArgs, classes: Option<&[String]>, split: Split) -> Result<DataSet> {
    let format = resolve(path, input.format)?;
    if format == InputFormat::Imdb {
        let texts = read_imdb(path, split)?;
        let names = imdb_classes();
        if let Some(c) = classes.filter(|c| *c != names.as_slice()) {
            return Err(Error::Config(format!(
                "{}: IMDb has the classes negative and positive, the model {}",
                path.display(),
                c.join(", ")
            )));
        }
        return Ok(DataSet { classes: names, texts });
    }
    let rows = match format {
        InputFormat::Csv => delimited(path, b',', input)?,
        InputFormat::Tsv => delimited(path, b'\t', input)?,
        InputFormat::Jsonl => json_lines(path, input)?,
        _ => folders(path)?,
    };
    assign(path, rows, classes)
}

/// IMDb's class names: class 1 is a positive review.
pub fn imdb_classes() -> Vec<String> {
    runtime::format::DEFAULT_BINARY_LABELS.iter().map(|s| s.to_string()).collect()
}

/// A row as read: where it starts, the text, the label, and the column of
/// the label (for an error about it).
struct Row {
    /// `file.csv:12`, or `class/file.txt` in class folders.
    origin: String,
    line: usize,
    label_column: usize,
    text: String,
    label: String,
}

/// Rows to a data set: empty texts, and labels outside `classes` when
/// given, are row errors.
fn assign(path: &Path, rows: Vec<Row>, classes: Option<&[String]>) -> Result<DataSet> {
    let classes: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => rows.iter().map(|r| r.label.clone()).collect::<BTreeSet<_>>().into_iter().collect(),
    };
    let mut errors = Vec::new();
    let mut texts = Vec::with_capacity(rows.len());
    for r in rows {
        match classes.iter().position(|c| *c == r.label) {
            Some(class) => texts.push(Text { name: r.origin, text: r.text, class }),
            None => errors.push(RowError {
                path: path.to_owned(),
                line: r.line,
                column: r.label_column,
                reason: format!("label {:?} is not one of the model's classes ({})", r.label, classes.join(", ")),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::BadRows { rows: errors });
    }
    if texts.is_empty() {
        return Err(Error::Empty { path: path.to_owned(), what: "the data set".into() });
    }
    if classes.len() < 2 {
        return Err(Error::Config(format!(
            "{}: a classifier needs at least two classes; found {}",
            path.display(),
            classes.join(", ")
        )));
    }
    if classes.len() > runtime::format::MAX_CLASSES {
        return Err(Error::Config(format!(
            "{}: {} classes; a model holds at most {}",
            path.display(),
            classes.len(),
            runtime::format::MAX_CLASSES
        )));
    }
    Ok(DataSet { classes, texts })
}

/// The file as UTF-8 (a BOM dropped), or one row error for each invalid
/// byte sequence, by line and byte column.
fn utf8_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").map(<[u8]>::to_vec).unwrap_or(bytes);
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut errors = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                match std::str::from_utf8(&bytes[at..]) {
                    Ok(_) => break,
                    Err(e) => {
                        let bad = at + e.valid_up_to();
                        let line_start = bytes[..bad].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                        let line = 1 + bytes[..bad].iter().filter(|&&b| b == b'\n').count();
                        errors.push(RowError {
                            path: path.to_owned(),
                            line,
                            column: bad - line_start + 1,
                            reason: format!("not valid UTF-8 (byte 0x{:02x})", bytes[bad]),
                        });
                        at = bad + e.error_len().unwrap_or(bytes.len() - bad).max(1);
                    }
                }
            }
            Err(Error::BadRows { rows: errors })
        }
    }
}

/// CSV or TSV with a header row.
/// `file.csv:12`: where a row of `path` starts.
fn origin(path: &Path, line: usize) -> String {
    format!("{}:{line}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
}

fn delimited(path: &Path, delimiter: u8, input: &InputArgs) -> Result<Vec<Row>> {
    let text = utf8_text(path)?;
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(text.as_bytes());
    let err = |line: usize, column: usize, reason: String| RowError { path: path.to_owned(), line, column, reason };
    let header = reader.headers().map_err(|e| Error::BadRows { rows: vec![err(1, 1, e.to_string())] })?.clone();
    let find = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(t), Some(l)) = (find(&input.text_column), find(&input.label_column)) else {
        let missing = if find(&input.text_column).is_none() { &input.text_column } else { &input.label_column };
        let found: Vec<&str> = header.iter().collect();
        return Err(Error::BadRows {
            rows: vec![err(
                1,
                1,
                format!("the header has no column {missing:?} (it has {found:?}); see --text-column, --label-column"),
            )],
        });
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, 1, e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match (record.get(t), record.get(l)) {
            (Some(text), Some(label)) if !text.trim().is_empty() && !label.trim().is_empty() => {
                let (text, label) = (text.to_owned(), label.trim().to_owned());
                rows.push(Row { origin: origin(path, line), line, label_column: l + 1, text, label })
            }
            (Some(text), Some(_)) if text.trim().is_empty() => errors.push(err(line, t + 1, "empty text".into())),
            (Some(_), Some(_)) => errors.push(err(line, l + 1, "empty label".into())),
            _ => {
                let (col, name) =
                    if record.get(t).is_none() { (t, &input.text_column) } else { (l, &input.label_column) };
                errors.push(err(line, col + 1, format!("no {name:?} field: the row has {} fields", record.len())));
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::BadRows { rows: errors })
    }
}

/// JSON Lines: one object a line; blank lines are skipped.
fn json_lines(path: &Path, input: &InputArgs) -> Result<Vec<Row>> {
    let text = utf8_text(path)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |column: usize, reason: String| RowError { path: path.to_owned(), line: i + 1, column, reason };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(err(e.column().max(1), format!("not JSON: {e}")));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            errors.push(err(1, "not a JSON object".into()));
            continue;
        };
        let field = |name: &str| -> std::result::Result<String, String> {
            match obj.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => Ok(v.to_string()),
                Some(_) => Err(format!("field {name:?} is not a string")),
                None => Err(format!("no {name:?} field")),
            }
        };
        // The column of a field: where its key starts in the line.
        let column_of = |name: &str| line.find(&format!("\"{name}\"")).map_or(1, |c| c + 1);
        match (field(&input.text_column), field(&input.label_column)) {
            (Ok(text), Ok(label)) if !text.trim().is_empty() && !label.trim().is_empty() => rows.push(Row {
                origin: origin(path, i + 1),
                line: i + 1,
                label_column: column_of(&input.label_column),
                text,
                label: label.trim().to_owned(),
            }),
            (Ok(text), Ok(_)) if text.trim().is_empty() => {
                errors.push(err(column_of(&input.text_column), "empty text".into()))
            }
            (Ok(_), Ok(_)) => errors.push(err(column_of(&input.label_column), "empty label".into())),
            (Err(e), _) => errors.push(err(column_of(&input.text_column), e)),
            (_, Err(e)) => errors.push(err(column_of(&input.label_column), e)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::BadRows { rows: errors })
    }
}

/// A directory with one folder per class (the folder's name is the
/// label), one text a file; hidden files and folders are skipped.
fn folders(path: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for class_dir in visible_entries(path)?.into_iter().filter(|p| p.is_dir()) {
        let label = class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for file in visible_entries(&class_dir)?.into_iter().filter(|p| p.is_file()) {
            match utf8_text(&file) {
                Ok(text) if text.trim().is_empty() => {
                    errors.push(RowError { path: file.clone(), line: 1, column: 1, reason: "empty text".into() })
                }
                Ok(text) => {
                    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let origin = format!("{label}/{file_name}");
                    rows.push(Row { origin, line: 1, label_column: 1, text, label: label.clone() })
                }
                Err(Error::BadRows { rows }) => errors.extend(rows),
                Err(e) => return Err(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::BadRows { rows: errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_name() {
        let f = |n: &str| resolve(Path::new(n), InputFormat::Auto).ok();
        assert_eq!(f("a.CSV"), Some(InputFormat::Csv));
        assert_eq!(f("a.tsv"), Some(InputFormat::Tsv));
        assert_eq!(f("a.jsonl"), Some(InputFormat::Jsonl));
        assert_eq!(f("aclImdb_v1.tar.gz"), Some(InputFormat::Imdb));
        assert_eq!(resolve(Path::new("a.txt"), InputFormat::Csv).ok(), Some(InputFormat::Csv));
    }
}
