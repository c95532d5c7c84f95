//! The shipped models' metadata (`models/*.json`) names its data by file
//! name, size and SHA-256, never by a path of the machine that trained.

mod common;

use std::path::{Path, PathBuf};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("models")
}

fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn shipped_metadata_names_data_by_file_and_hash() {
    let dir = common::data_dir("shipped_metadata_names_data_by_file_and_hash");
    let mut checked = 0;
    for (name, data_file) in [("sentiment", "aclImdb-labeled.tar.gz"), ("charlm", "pg2265.txt")] {
        for file in [format!("{name}.json"), format!("{name}-training.json")] {
            let text = std::fs::read_to_string(models().join(&file)).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut all = Vec::new();
            strings(&v, &mut all);
            for s in all {
                assert!(!s.contains('/') && !s.contains('\\'), "{file}: {s:?} looks like a path");
            }
            checked += 1;
        }
        let text = std::fs::read_to_string(models().join(format!("{name}-training.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let data = &v["config"]["data"];
        assert_eq!(data["file"], data_file, "{name}: {data}");
        assert!(v["config"].get("out").is_none(), "{name}: the output folder is recorded");
        if let Some(dir) = &dir {
            let actual = trainer::files::file_identity(&dir.join(data_file)).unwrap();
            assert_eq!(data, &actual, "{name} was not trained on this {data_file}");
        }
    }
    assert_eq!(checked, 4);
}
