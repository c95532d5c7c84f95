//! The crates' modules are layers: each names only the modules declared
//! before it.
//!
//! In `trainer`, `runtime` and `host`, `lib.rs` (and each folder's
//! `mod.rs`) declares its modules in layer order, leaves first. A module
//! may name (`crate::x`, `super::x`) only itself and modules declared
//! before it at the same level; a file inside a folder names its siblings
//! by their own paths, never through the folder's re-exports (which could
//! hide a later sibling). Unit tests (`#[cfg(test)]` to the end of a file),
//! comments and doc links are not counted. No source file there is over
//! 800 lines.

use std::path::{Path, PathBuf};

/// The modules a `lib.rs` or `mod.rs` declares, in order (not test ones).
fn declared(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out = Vec::new();
    let mut cfg_test = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[cfg(test)]") {
            cfg_test = true;
            continue;
        }
        let rest = line.strip_prefix("pub ").or_else(|| line.strip_prefix("pub(crate) ")).unwrap_or(line);
        if let Some(name) = rest.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            if !cfg_test {
                out.push(name.trim().to_owned());
            }
        }
        if !line.starts_with("#[") {
            cfg_test = false;
        }
    }
    out
}

/// A file's code: comments dropped, unit tests (from `#[cfg(test)]`
/// before `mod tests` to the end) cut off.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines().map(|l| l.find("//").map_or(l, |c| &l[..c])).collect::<Vec<_>>().join("\n")
}

/// Every name that follows `prefix` in `code`, through `{a, b::c}` groups
/// (their first segments).
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = code[at..].find(prefix) {
        let start = at + i;
        at = start + prefix.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push(name);
        }
    }
    out
}

/// The source files of module `name` in `dir`: `name.rs`, or every file
/// under `name/`.
fn files_of(dir: &Path, name: &str) -> Vec<PathBuf> {
    let file = dir.join(format!("{name}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.join(name)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())).flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Checks the modules declared by `decl` (`lib.rs` or a `mod.rs` in
/// `dir`, the module at `path`, e.g. `crate::fit`), then each folder
/// module's own children; returns the violations.
fn check_level(dir: &Path, decl: &Path, path: &str) -> Vec<String> {
    let order = declared(decl);
    let mut bad = Vec::new();
    for (k, name) in order.iter().enumerate() {
        for file in files_of(dir, name) {
            let code = code(&file);
            // Names of this level: `crate::x` at the top, `crate::a::b::x`
            // below; and `super::x` from a file directly in the folder.
            let mut names = named_after(&code, &format!("{path}::"));
            // `super::` is this level in `name.rs` and `name/mod.rs` only.
            if file == dir.join(format!("{name}.rs")) || file == dir.join(name).join("mod.rs") {
                names.extend(named_after(&code, "super::"));
            }
            for n in names {
                match order.iter().position(|m| *m == n) {
                    Some(j) if j > k => bad.push(format!(
                        "{}: names {path}::{n}, a later layer than {name} ({} comes before {n})",
                        file.display(),
                        name
                    )),
                    // Within a folder, an item of the folder's own
                    // re-exports could hide a later sibling.
                    None if path != "crate" && n != "self" => bad.push(format!(
                        "{}: names {path}::{n}, through its folder's re-exports: name the module",
                        file.display()
                    )),
                    _ => {}
                }
            }
        }
        let sub = dir.join(name).join("mod.rs");
        if sub.is_file() {
            bad.extend(check_level(&dir.join(name), &sub, &format!("{path}::{name}")));
        }
    }
    bad
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name).join("src")
}

#[test]
fn every_module_names_only_earlier_layers() {
    let mut bad = Vec::new();
    for krate in ["trainer", "runtime", "host"] {
        let src = crate_src(krate);
        bad.extend(check_level(&src, &src.join("lib.rs"), "crate"));
    }
    assert!(bad.is_empty(), "{} layer violations:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut long = Vec::new();
    for krate in ["trainer", "runtime", "host"] {
        let src = crate_src(krate);
        for file in files_of(src.parent().unwrap(), "src") {
            let n = std::fs::read_to_string(&file).unwrap().lines().count();
            if n > 800 {
                long.push(format!("{}: {n} lines", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "files over 800 lines:\n{}", long.join("\n"));
}

/// The check itself: a later layer named, and a sibling named through its
/// folder's re-exports, are both found.
#[test]
fn the_check_finds_a_later_layer() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n#[cfg(test)]\nmod tests;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "// crate::b in a comment is fine\nuse crate::b::y;\n").unwrap();
    std::fs::write(dir.join("b/mod.rs"), "pub mod x;\npub mod y;\npub use y::Y;\n").unwrap();
    std::fs::write(dir.join("b/x.rs"), "use crate::a;\nuse crate::b::{y::Y, Y as Z};\n").unwrap();
    std::fs::write(dir.join("b/y.rs"), "use crate::b::x;\nuse super::x::X;\n").unwrap();
    let bad = check_level(&dir, &dir.join("lib.rs"), "crate");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(bad.len(), 3, "{bad:#?}");
    assert!(bad[0].ends_with("a.rs: names crate::b, a later layer than a (a comes before b)"), "{}", bad[0]);
    assert!(bad.iter().any(|b| b.contains("b/x.rs: names crate::b::y, a later layer than x")), "{bad:#?}");
    assert!(bad.iter().any(|b| b.contains("b/x.rs: names crate::b::Y, through its folder's re-exports")), "{bad:#?}");
}
