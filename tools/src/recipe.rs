//! The shipped models' training recipes, `models/<name>.toml`, which
//! `cargo xtask train` turns into trainer command lines.
//!
//! A recipe names the trainer command (`classify` or `charlm`), the data
//! file inside the data directory, one or more stages, and the export's
//! flags:
//!
//! ```toml
//! command = "charlm"
//! data = "pg2265.txt"            # or a list: the first file that exists
//!
//! [[stages]]
//! name = "charlm"                # its folder: target/train/charlm
//! [stages.flags]
//! hidden = 128                   # --hidden 128
//! random-offsets = true          # --random-offsets (false: left out)
//!
//! [[stages]]
//! name = "charlm-qat"
//! base = "charlm"                # that stage's flags, these set or added
//! init = "charlm"                # --init target/train/charlm/best.ckpt
//! [stages.flags]
//! qat-lstm-bits = 4
//!
//! [export]                       # the last stage exports models/<name>.lstm
//! lstm-bits = 4
//! ```
//!
//! Each stage is one process, `trainer <command> train --data DATA --out
//! target/train/<stage> FLAGS [--init CKPT]`, and the last one adds the
//! export flags and `--export models/<name>.lstm`. Flags keep the file's
//! order; a `base` stage's flag set again keeps its place, a new one goes
//! at the end. Values are strings, integers or floats (written as Rust
//! prints them: `0.00001`, never `1e-5`); booleans are switches.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// A recipe as the file spells it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    command: Command,
    data: Data,
    stages: Vec<StageFile>,
    #[serde(default)]
    export: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    name: String,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    init: Option<String>,
    #[serde(default)]
    flags: toml::Table,
}

/// One data file name, or several of which the first present is read.
#[derive(Deserialize)]
#[serde(untagged)]
enum Data {
    One(String),
    Any(Vec<String>),
}

/// The trainer command a recipe runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// `trainer classify train`: a text classifier.
    Classify,
    /// `trainer charlm train`: a character language model.
    Charlm,
}

impl Command {
    /// The trainer's subcommand.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Classify => "classify",
            Command::Charlm => "charlm",
        }
    }
}

/// A flag with its value, or a switch (`value` is `None`).
type Flag = (String, Option<String>);

/// A checked recipe.
#[derive(Debug)]
pub struct Recipe {
    /// The model's name: `models/<name>.lstm` is what it exports.
    pub name: String,
    /// The trainer command.
    pub command: Command,
    /// Data file names inside the data directory, the first present read.
    pub data: Vec<String>,
    stages: Vec<Stage>,
    export: Vec<Flag>,
}

#[derive(Debug)]
struct Stage {
    name: String,
    /// The stage whose best checkpoint it starts from.
    init: Option<String>,
    /// Its flags, a base stage's merged in.
    flags: Vec<Flag>,
}

/// One trainer process of a recipe.
#[derive(Debug)]
pub struct Run {
    /// The stage's name.
    pub stage: String,
    /// Its folder (`--out`).
    pub out: PathBuf,
    /// The trainer's arguments.
    pub args: Vec<OsString>,
    /// Files of its folder to copy into the models folder, `(from, to)`.
    pub copies: Vec<(String, String)>,
}

/// `value` as a command-line value; `None` for a switch, `Ok(None)` inside
/// for a switch that is off.
fn flag_value(name: &str, value: &toml::Value) -> Result<Option<Option<String>>> {
    Ok(match value {
        toml::Value::String(s) => Some(Some(s.clone())),
        toml::Value::Integer(i) => Some(Some(i.to_string())),
        toml::Value::Float(f) => Some(Some(f.to_string())),
        toml::Value::Boolean(true) => Some(None),
        toml::Value::Boolean(false) => None,
        other => bail!("flag {name}: a {} is not a command-line value", other.type_str()),
    })
}

/// `base` with `changes` applied: a flag set again keeps its place, a new
/// one goes at the end, a switch set to `false` goes.
fn merged(mut base: Vec<Flag>, changes: &toml::Table) -> Result<Vec<Flag>> {
    for (name, value) in changes {
        if name.starts_with('-') {
            bail!("flag {name}: write it without the leading dashes");
        }
        let flag = format!("--{name}");
        match (flag_value(name, value)?, base.iter().position(|(f, _)| *f == flag)) {
            (Some(v), Some(i)) => base[i].1 = v,
            (Some(v), None) => base.push((flag, v)),
            (None, Some(i)) => {
                base.remove(i);
            }
            (None, None) => {}
        }
    }
    Ok(base)
}

impl Recipe {
    /// Read and check `models/<name>.toml` (any path; the name is its stem).
    pub fn load(path: &Path) -> Result<Recipe> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow!("{}: no UTF-8 file name", path.display()))?;
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Recipe::parse(name, &text).with_context(|| format!("the recipe {}", path.display()))
    }

    /// Parse and check the recipe of the model `name`.
    pub fn parse(name: &str, text: &str) -> Result<Recipe> {
        let file: File = toml::from_str(text)?;
        let data = match file.data {
            Data::One(f) => vec![f],
            Data::Any(fs) => fs,
        };
        if data.is_empty() {
            bail!("`data` names no file");
        }
        if file.stages.is_empty() {
            bail!("no [[stages]]");
        }
        let mut stages: Vec<Stage> = Vec::new();
        for s in file.stages {
            let earlier = |what: &str, n: &Option<String>| -> Result<Option<usize>> {
                n.as_ref()
                    .map(|n| {
                        stages
                            .iter()
                            .position(|t| t.name == *n)
                            .ok_or_else(|| anyhow!("stage {}: its {what} {n:?} is not a stage before it", s.name))
                    })
                    .transpose()
            };
            let base = earlier("base", &s.base)?.map(|i| stages[i].flags.clone()).unwrap_or_default();
            earlier("init", &s.init)?;
            if stages.iter().any(|t| t.name == s.name) {
                bail!("two stages are named {:?}", s.name);
            }
            let flags = merged(base, &s.flags).with_context(|| format!("stage {}", s.name))?;
            stages.push(Stage { name: s.name, init: s.init, flags });
        }
        let export = merged(Vec::new(), &file.export).context("[export]")?;
        Ok(Recipe { name: name.to_owned(), command: file.command, data, stages, export })
    }

    /// The data file in `dir`: the first of [`Recipe::data`] that exists.
    pub fn data_file(&self, dir: &Path) -> Result<PathBuf> {
        self.data.iter().map(|f| dir.join(f)).find(|p| p.exists()).ok_or_else(|| {
            anyhow!("{} needs {} in the data directory {}", self.name, self.data.join(" or "), dir.display())
        })
    }

    /// The trainer processes, in order, that read `data`, work in
    /// `train_dir/<stage>` and export into `models`.
    pub fn runs(&self, data: &Path, train_dir: &Path, models: &Path) -> Vec<Run> {
        let last = self.stages.len() - 1;
        self.stages
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let out = train_dir.join(&s.name);
                let mut args: Vec<OsString> = [self.command.as_str(), "train", "--data"].map(OsString::from).into();
                args.push(data.into());
                args.push("--out".into());
                args.push(out.clone().into());
                let flag_args = |flags: &[Flag]| -> Vec<OsString> {
                    flags.iter().flat_map(|(f, v)| std::iter::once(f).chain(v)).map(OsString::from).collect()
                };
                args.extend(flag_args(&s.flags));
                if let Some(init) = &s.init {
                    args.push("--init".into());
                    args.push(train_dir.join(init).join("best.ckpt").into());
                }
                let mut copies = vec![
                    ("metrics.json".to_owned(), format!("{}-training.json", s.name)),
                    ("curves.png".to_owned(), format!("{}-curves.png", s.name)),
                ];
                if k == last {
                    args.extend(flag_args(&self.export));
                    args.push("--export".into());
                    args.push(models.join(format!("{}.lstm", self.name)).into());
                    copies.push(("eval.json".to_owned(), format!("{}.json", self.name)));
                }
                Run { stage: s.name.clone(), out, args, copies }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Recipe {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models").join(format!("{name}.toml"));
        Recipe::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn strings(run: &Run) -> Vec<String> {
        run.args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    fn expected(head: [&str; 6], parts: &[&[&str]]) -> Vec<String> {
        head.iter().chain(parts.iter().flat_map(|p| p.iter())).map(|s| s.to_string()).collect()
    }

    /// The flags the xtask pinned in `tools/src/main.rs` before the recipes
    /// were files (commit b0f142d), copied verbatim: editing a recipe by
    /// mistake fails this test. An intended change of a shipped model's
    /// recipe changes this test with it.
    #[test]
    fn the_shipped_recipes_give_the_pinned_command_lines() {
        const SENTIMENT_FLAGS: &[&str] = &[
            "--vocab",
            "8000",
            "--punctuation",
            "true",
            "--embed-dim",
            "20",
            "--hidden",
            "96",
            "--pooling",
            "mean-max",
            "--max-tokens",
            "0",
            "--dropout",
            "0.3",
            "--lr",
            "0.003",
            "--schedule",
            "cosine",
            "--warmup",
            "100",
            "--batch",
            "64",
            "--epochs",
            "5",
            "--patience",
            "5",
            "--val-fraction",
            "0.1",
            "--seed",
            "1",
        ];
        const CHARLM_FLAGS: &[&str] = &[
            "--start-marker",
            "The Tragedie of Hamlet",
            "--embed-dim",
            "16",
            "--hidden",
            "128",
            "--layers",
            "2",
            "--dropout",
            "0.25",
            "--weight-drop",
            "0.2",
            "--streams",
            "32",
            "--window",
            "100",
            "--lr",
            "0.006",
            "--schedule",
            "cosine",
            "--warmup",
            "100",
            "--lr-floor",
            "0.0001",
            "--random-offsets",
            "--clip",
            "5",
            "--epochs",
            "150",
            "--patience",
            "40",
            "--seed",
            "1",
        ];
        // `overridden(CHARLM_FLAGS, CHARLM_QAT_FLAGS)` as the old code
        // built it: the values of --lr, --schedule, --warmup, --lr-floor,
        // --epochs and --patience replaced in place, --qat-lstm-bits 4
        // appended.
        const CHARLM_QAT_FLAGS: &[&str] = &[
            "--start-marker",
            "The Tragedie of Hamlet",
            "--embed-dim",
            "16",
            "--hidden",
            "128",
            "--layers",
            "2",
            "--dropout",
            "0.25",
            "--weight-drop",
            "0.2",
            "--streams",
            "32",
            "--window",
            "100",
            "--lr",
            "0.0001",
            "--schedule",
            "cosine",
            "--warmup",
            "0",
            "--lr-floor",
            "0.00001",
            "--random-offsets",
            "--clip",
            "5",
            "--epochs",
            "20",
            "--patience",
            "20",
            "--seed",
            "1",
            "--qat-lstm-bits",
            "4",
        ];
        let (data, train, models) = (Path::new("/d/data.file"), Path::new("/t"), Path::new("/m"));

        let sentiment = shipped("sentiment");
        assert_eq!(sentiment.data, ["aclImdb-labeled.tar.gz", "aclImdb_v1.tar.gz"]);
        let runs = sentiment.runs(data, train, models);
        assert_eq!(runs.len(), 1);
        assert_eq!(
            strings(&runs[0]),
            expected(
                ["classify", "train", "--data", "/d/data.file", "--out", "/t/sentiment"],
                &[SENTIMENT_FLAGS, &["--embed-bits", "8", "--export", "/m/sentiment.lstm"]]
            )
        );
        let copies = [
            ("metrics.json", "sentiment-training.json"),
            ("curves.png", "sentiment-curves.png"),
            ("eval.json", "sentiment.json"),
        ];
        assert_eq!(runs[0].copies, copies.map(|(a, b)| (a.to_owned(), b.to_owned())));

        let charlm = shipped("charlm");
        assert_eq!(charlm.data, ["pg2265.txt"]);
        let runs = charlm.runs(data, train, models);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            strings(&runs[0]),
            expected(["charlm", "train", "--data", "/d/data.file", "--out", "/t/charlm"], &[CHARLM_FLAGS])
        );
        assert_eq!(
            strings(&runs[1]),
            expected(
                ["charlm", "train", "--data", "/d/data.file", "--out", "/t/charlm-qat"],
                &[
                    CHARLM_QAT_FLAGS,
                    &["--init", "/t/charlm/best.ckpt"],
                    &["--embed-bits", "8", "--lstm-bits", "4", "--export", "/m/charlm.lstm"]
                ]
            )
        );
        let copies = [("metrics.json", "charlm-training.json"), ("curves.png", "charlm-curves.png")];
        assert_eq!(runs[0].copies, copies.map(|(a, b)| (a.to_owned(), b.to_owned())));
        let copies = [
            ("metrics.json", "charlm-qat-training.json"),
            ("curves.png", "charlm-qat-curves.png"),
            ("eval.json", "charlm.json"),
        ];
        assert_eq!(runs[1].copies, copies.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }

    #[test]
    fn a_base_stage_is_overridden_in_place_and_switches_go_with_false() {
        let r = Recipe::parse(
            "m",
            r#"
            command = "charlm"
            data = "x.txt"
            [[stages]]
            name = "a"
            flags = { start-marker = "The Tragedie of Hamlet", lr = 0.002, random-offsets = true, epochs = 200 }
            [[stages]]
            name = "b"
            base = "a"
            flags = { epochs = 20, qat-lstm-bits = 4, lr = 3e-4, random-offsets = false }
            "#,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        let runs = r.runs(Path::new("x.txt"), Path::new("t"), Path::new("m"));
        assert_eq!(
            strings(&runs[1])[6..14],
            ["--start-marker", "The Tragedie of Hamlet", "--lr", "0.0003", "--epochs", "20", "--qat-lstm-bits", "4"]
                .map(String::from)
        );
        // No [export]: only the export itself.
        assert_eq!(strings(&runs[1])[14..], ["--export", "m/m.lstm"].map(String::from));
        assert_eq!(strings(&runs[0]).len(), 6 + 7, "the first stage exports nothing");
    }

    #[test]
    fn bad_recipes_say_what_is_wrong() {
        let err = |text: &str| format!("{:#}", Recipe::parse("m", text).expect_err("an error"));
        let head = "command = \"charlm\"\ndata = \"x\"\n";
        assert!(err("command = \"regress\"\ndata = \"x\"\n[[stages]]\nname = \"a\"\n").contains("regress"));
        assert!(err(head).contains("stages"));
        assert!(err(&format!("{head}[[stages]]\nname = \"a\"\nbase = \"z\"\n")).contains("not a stage before it"));
        assert!(err(&format!("{head}[[stages]]\nname = \"a\"\nflags = {{ lr = [1] }}\n"))
            .contains("not a command-line value"));
        assert!(err(&format!("{head}[[stages]]\nname = \"a\"\nflags = {{ \"--lr\" = 1 }}\n")).contains("dashes"));
        assert!(err(&format!("{head}[[stages]]\nname = \"a\"\n[[stages]]\nname = \"a\"\n")).contains("two stages"));
        assert!(err(&format!("{head}[[stages]]\nname = \"a\"\nflag = {{}}\n")).contains("flag"));
    }
}
