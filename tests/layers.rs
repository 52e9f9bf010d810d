//! The crate's layering, read from the sources: a library module imports (`crate::<module>`) only modules
//! of a lower layer, the files of a folder whose `mod.rs` is a table of contents never import each other
//! in a cycle (nor through that `mod.rs`), and such a `mod.rs` holds nothing but module docs, `mod` and
//! `pub use` lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's modules from the bottom up. A module may import modules of a lower layer only; two
/// modules of one layer never import each other (the reference and the fast path stay independent, so
/// each checks the other).
const LAYERS: &[&[&str]] = &[
    // What everything shares: the error type, named tolerances, the test-only fault switches.
    &["error", "tolerance", "fault"],
    // Vocabulary: the seeded RNG, presets and shapes, rank statistics, gradient checkers, reading plotted
    // figures back.
    &["rng", "model", "stats", "check", "figures"],
    // Parameters, files and data: initialization, safetensors, Theorem 1, Fashion-MNIST, proptest strategies.
    &["init", "interop", "theorem", "data", "testing"],
    // The two implementations of every network.
    &["reference", "fast"],
    // Choosing one.
    &["backend"],
    // Training runs, and the CLI's case table of a backend against the reference.
    &["train", "devcheck"],
    // Sweeps, claims and reports; the CLI's benchmark.
    &["experiment", "bench"],
];

/// Folders whose `mod.rs` is a table of contents: their files import each other without cycles, each
/// naming the sibling file it imports from.
const TABLE_OF_CONTENTS: &[&str] = &["experiment", "train"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, sorted.
fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `text` without comments (`//` to the end of a line, when it starts the line or follows a space, so that
/// `https://` in a string stays); string literals are kept, since serde attributes name paths in them.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l.find(" //").map_or(l, |i| &l[..i])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first name of every path that follows `prefix` in `code`: `prefix::a::b` gives `a`, and
/// `prefix::{a::X, b, c::{..}}` gives `a`, `b` and `c`.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let pat = format!("{prefix}::");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(&pat) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + pat.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(ident(group[start..j].trim()).to_string());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(group[start..j].trim()).to_string());
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest).to_string());
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::<module>` a library file names, as (importing module, imported module, file).
fn library_imports() -> Vec<(String, String, String)> {
    let root = src();
    let mut out = Vec::new();
    for f in rs_files(&root) {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("bin/") || rel == "lib.rs" {
            continue;
        }
        let module = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let text = code(&std::fs::read_to_string(&f).unwrap());
        for name in names_after(&text, "crate") {
            if name != module {
                out.push((module.clone(), name, rel.clone()));
            }
        }
    }
    out
}

/// The layering violations among `imports`: an import of a module that is not in a lower layer.
fn layering_violations(imports: &[(String, String, String)]) -> Vec<String> {
    imports
        .iter()
        .filter_map(|(from, to, file)| match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) if b < a => None,
            (Some(a), Some(b)) => Some(format!(
                "{file}: {from} (layer {a}) imports crate::{to} (layer {b}); a module imports lower layers only"
            )),
            (None, _) => Some(format!("{file}: module {from} is in no layer of LAYERS")),
            (_, None) => Some(format!("{file}: crate::{to} is in no layer of LAYERS")),
        })
        .collect()
}

#[test]
fn every_library_module_has_a_layer() {
    let lib = code(&std::fs::read_to_string(src().join("lib.rs")).unwrap());
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(modules.len() > 10, "{modules:?}");
    let unplaced: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules in no layer: {unplaced:?}");
    let listed: Vec<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let stale: Vec<_> = listed.iter().filter(|m| !modules.contains(m)).collect();
    assert!(
        stale.is_empty(),
        "layers name modules lib.rs lacks: {stale:?}"
    );
}

#[test]
fn library_modules_import_only_lower_layers() {
    let imports = library_imports();
    // The scan sees the imports it must judge (a scan that finds nothing passes vacuously).
    for (from, to) in [
        ("train", "backend"),
        ("experiment", "train"),
        ("fast", "model"),
    ] {
        assert!(
            imports.iter().any(|(f, t, _)| f == from && t == to),
            "no import of {to} by {from} found"
        );
    }
    let bad = layering_violations(&imports);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_lower_layer_importing_a_higher_one_is_caught() {
    let imports = [
        (
            "model".to_string(),
            "train".to_string(),
            "model/mod.rs".to_string(),
        ),
        (
            "reference".to_string(),
            "fast".to_string(),
            "reference/mod.rs".to_string(),
        ),
        (
            "train".to_string(),
            "model".to_string(),
            "train/config.rs".to_string(),
        ),
    ];
    let bad = layering_violations(&imports);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].contains("model (layer 1) imports crate::train"),
        "{}",
        bad[0]
    );
    assert!(
        bad[1].contains("reference (layer 3) imports crate::fast"),
        "{}",
        bad[1]
    );
}

/// The imports among the files of the folder `src/<folder>` (a subfolder counts as one file, named after
/// it): file → the sibling files it names through `super::` (`super::super::` from inside a subfolder) or
/// `crate::<folder>::`. A `super::<item>` that names no sibling is an import through `mod.rs`, recorded
/// as an import of `mod`.
fn sibling_imports(folder: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = src().join(folder);
    let files = rs_files(&dir);
    let node = |f: &Path| -> String {
        let rel = f.strip_prefix(&dir).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let siblings: BTreeSet<String> = files.iter().map(|f| node(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = node(f);
        if from == "mod" {
            continue;
        }
        // The folder's module is `super` of its files, `super::super` of the files of a subfolder (whose
        // own mod.rs is the subfolder's module, one level up).
        let rel = f.strip_prefix(&dir).unwrap();
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        let up = vec!["super"; depth].join("::");
        let text = code(&std::fs::read_to_string(f).unwrap());
        let mut names = names_after(&text, &format!("crate::{folder}"));
        let through_super = names_after(&text, &up);
        names.extend(through_super.iter().map(|n| {
            if siblings.contains(n) {
                n.clone()
            } else {
                "mod".to_string()
            }
        }));
        let targets = graph.entry(from.clone()).or_default();
        targets.extend(names.into_iter().filter(|n| *n != from));
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn files_of_a_table_of_contents_folder_never_import_each_other() {
    for folder in TABLE_OF_CONTENTS {
        let graph = sibling_imports(folder);
        assert!(
            graph.values().any(|t| !t.is_empty()),
            "{folder}: no imports between its files found: {graph:?}"
        );
        let via_mod: Vec<_> = graph
            .iter()
            .filter(|(_, t)| t.contains("mod"))
            .map(|(f, _)| f)
            .collect();
        assert!(
            via_mod.is_empty(),
            "src/{folder}: {via_mod:?} import through mod.rs; name the file that defines the item"
        );
        if let Some(c) = cycle(&graph) {
            panic!("src/{folder}: files import each other: {}", c.join(" → "));
        }
    }
}

#[test]
fn an_import_cycle_between_files_is_caught() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("run", &["grid", "lockstep"][..]),
        ("lockstep", &["run"][..]),
        ("grid", &[][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["lockstep".into(), "run".into(), "lockstep".into()])
    );
    assert_eq!(
        names_after(
            "use super::{grid::{Cell, Shard}, store};\nsuper::run::f()",
            "super"
        ),
        ["grid", "store", "run"]
    );
}

#[test]
fn a_table_of_contents_mod_rs_holds_only_docs_mod_and_pub_use() {
    for folder in TABLE_OF_CONTENTS {
        let text = code(&std::fs::read_to_string(src().join(folder).join("mod.rs")).unwrap());
        for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut item = stmt;
            while item.starts_with("#[") {
                item = item[item.find(']').unwrap() + 1..].trim_start();
            }
            assert!(
                ["mod ", "pub mod ", "pub use ", "pub(crate) use "]
                    .iter()
                    .any(|p| item.starts_with(p)),
                "src/{folder}/mod.rs is a table of contents, but holds: {stmt}"
            );
        }
    }
}
