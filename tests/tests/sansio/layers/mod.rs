//! The layering check, on the sources themselves (read from the workspace, not
//! compiled): no module of the core imports from a layer above its own, and no crate
//! of the workspace has an import circle between sibling source files.
//!
//! Layers of `core/src`, low to high: `time`, `backoff` and `small_map`, `model`, `wire`,
//! `error`, `store`, `connection`, `client`, `sim`, `testkit` (`lib.rs` is the façade and
//! exempt). A file
//! refers to a module by a `use` of a `crate::`, `super::` or `self::` path, or by such
//! a path in code; comments, doc links and string literals do not count. A name the
//! façade re-exports (`crate::ParkingStore`) counts as the module it comes from.
//!
//! A circle is counted between the children of one module: sibling files (`a.rs`,
//! `b.rs`) and sibling folders (`a/`, the files under it together). `mod x;`
//! declarations and references to the folder's own façade (`mod.rs`, `lib.rs`,
//! `main.rs`) are no edges.

mod graph;
mod lexer;

use graph::{a_cycle, strongly_connected};
use lexer::{ident, tokens, use_tree, Tok};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core's layers, low to high; the modules of one entry are on one level.
const LAYERS: &[&[&str]] = &[
    &["time", "backoff", "small_map"],
    &["model"],
    &["wire"],
    &["error"],
    &["store"],
    &["connection"],
    &["client"],
    &["sim"],
    &["testkit"],
];

/// The sources of one crate's `src`: path under `src` (`store/book.rs`) to text.
type Files = BTreeMap<String, String>;

/// A module path from the crate root (`["store", "book"]`).
type ModPath = Vec<String>;

/// One module path named in a file, with the line it is on and how it was written.
#[derive(Debug, Clone)]
struct Reference {
    line: usize,
    /// The path as written, `::`-joined (`crate::store::ParkingStore`).
    written: String,
    /// The same path from the crate root.
    target: ModPath,
}

/// The module path of the file at `key` (under `src`) and whether it is a façade
/// (`lib.rs`, `main.rs`, `mod.rs`: it speaks for its folder).
fn module_of(key: &str) -> (ModPath, bool) {
    let mut parts: Vec<String> = key.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    let last = parts.pop().unwrap_or_default();
    let facade = last == "mod" || (parts.is_empty() && (last == "lib" || last == "main"));
    if !facade {
        parts.push(last);
    }
    (parts, facade)
}

/// Every module path the files of one crate define (and their prefixes).
fn modules(files: &Files) -> BTreeSet<ModPath> {
    let mut all = BTreeSet::new();
    for key in files.keys() {
        let (m, _) = module_of(key);
        for n in 0..=m.len() {
            all.insert(m[..n].to_vec());
        }
    }
    all
}

/// The module paths a file names, resolved from the crate root: `crate::`, `super::`
/// and `self::` paths (in `use` or in code) and, in a `use`, paths that start with a
/// child module of the current one. Paths to other crates are left out.
fn references(key: &str, text: &str, mods: &BTreeSet<ModPath>) -> Vec<Reference> {
    let toks = tokens(text);
    let (file_mod, _) = module_of(key);
    let mut out = Vec::new();
    // Inline modules (`mod tests { .. }`) open at a brace depth.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope = |inline: &[(String, usize)]| -> ModPath {
        let mut s = file_mod.clone();
        s.extend(inline.iter().map(|(n, _)| n.clone()));
        s
    };
    // Resolves `segs` (as written) from module `scope`; None: another crate's path.
    let resolve = |segs: &[String], scope: &ModPath, in_use: bool| -> Option<ModPath> {
        let mut base = scope.clone();
        let mut rest = segs;
        match segs.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &segs[1..];
            }
            Some("self") => rest = &segs[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            Some(first) if in_use => {
                let mut child = scope.clone();
                child.push(first.to_owned());
                if !mods.contains(&child) {
                    return None;
                }
            }
            _ => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    };
    let mut i = 0;
    while i < toks.len() {
        let prev = i.checked_sub(1).map(|p| &toks[p].0);
        match &toks[i].0 {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(s) if s == "mod" => {
                if let (Some(name), Some((Tok::Punct('{'), _))) = (ident(toks.get(i + 1)), toks.get(i + 2)) {
                    inline.push((name.to_owned(), depth + 1));
                    depth += 1;
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Tok::Ident(s) if s == "use" && prev != Some(&Tok::Sep) => {
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::Sep) {
                    // `use ::other_crate`.
                    while i < toks.len() && toks[i].0 != Tok::Punct(';') {
                        i += 1;
                    }
                    continue;
                }
                let mut leaves = Vec::new();
                use_tree(&toks, &mut i, &[], &mut leaves);
                let here = scope(&inline);
                for (segs, _, line) in leaves {
                    if let Some(target) = resolve(&segs, &here, true) {
                        out.push(Reference { line, written: segs.join("::"), target });
                    }
                }
                // Read on past the statement's end.
                while i < toks.len() && !matches!(toks[i].0, Tok::Punct(';') | Tok::Punct('{')) {
                    i += 1;
                }
            }
            Tok::Ident(s)
                if matches!(s.as_str(), "crate" | "super" | "self")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Sep)
                    && prev != Some(&Tok::Sep) =>
            {
                // `pub(in crate::x)` is a visibility, not a reference.
                let visibility = matches!(prev, Some(Tok::Ident(p)) if p == "in")
                    && i >= 2
                    && toks[i - 2].0 == Tok::Punct('(');
                let line = toks[i].1;
                let mut segs = vec![s.clone()];
                i += 1;
                while toks.get(i).map(|t| &t.0) == Some(&Tok::Sep) {
                    match ident(toks.get(i + 1)) {
                        Some(n) => {
                            segs.push(n.to_owned());
                            i += 2;
                        }
                        None => break,
                    }
                }
                if !visibility {
                    if let Some(target) = resolve(&segs, &scope(&inline), false) {
                        out.push(Reference { line, written: segs.join("::"), target });
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// What the façade (`lib.rs`) re-exports: the name it brings in to the module path.
fn facade(files: &Files, mods: &BTreeSet<ModPath>) -> BTreeMap<String, ModPath> {
    let Some(text) = files.get("lib.rs") else { return BTreeMap::new() };
    let toks = tokens(text);
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        if ident(toks.get(i)) == Some("use") {
            i += 1;
            let mut leaves = Vec::new();
            use_tree(&toks, &mut i, &[], &mut leaves);
            for (mut segs, name, _) in leaves {
                if segs.first().map(String::as_str) == Some("crate") {
                    segs.remove(0);
                }
                if segs.first().is_some_and(|f| mods.contains(&vec![f.clone()])) && name != "*" {
                    map.insert(name, segs);
                }
            }
        } else {
            i += 1;
        }
    }
    map
}

/// Back-arrows in a core: every reference from a file to a module of a higher layer,
/// as `label/file:line: ...`. A top-level module missing from `layers` is reported too.
fn back_arrows(label: &str, files: &Files, layers: &[&[&str]]) -> Vec<String> {
    let mods = modules(files);
    let reexports = facade(files, &mods);
    let rank = |m: &str| layers.iter().position(|level| level.contains(&m));
    let mut found = Vec::new();
    for (key, text) in files {
        let (own, facade_file) = module_of(key);
        let Some(own_top) = own.first() else { continue };
        let Some(own_rank) = rank(own_top) else {
            if facade_file || own.len() == 1 {
                found.push(format!("{label}/{key}: module `{own_top}` is in no layer of the layering check"));
            }
            continue;
        };
        for r in references(key, text, &mods) {
            let mut target = r.target.clone();
            if let Some(via) = target.first().and_then(|t| reexports.get(t)) {
                target = via.iter().cloned().chain(target[1..].iter().cloned()).collect();
            }
            let Some(top) = target.first() else { continue };
            if let Some(r_rank) = rank(top) {
                if r_rank > own_rank {
                    found.push(format!(
                        "{label}/{key}:{}: `{own_top}` imports `{}` from `{top}`, a higher layer",
                        r.line, r.written
                    ));
                }
            }
        }
    }
    found
}

/// Import circles between the children of any module of one crate, one line each:
/// `label/dir: a.rs -> b.rs -> a.rs (a.rs:3 `crate::b::X`; b.rs:7 `super::a`)`.
fn circles(label: &str, files: &Files) -> Vec<String> {
    let mods = modules(files);
    // (parent module, from child, to child) -> first evidence.
    let mut edges: BTreeMap<(ModPath, String, String), String> = BTreeMap::new();
    for (key, text) in files {
        let (own, _) = module_of(key);
        for r in references(key, text, &mods) {
            let k = own.iter().zip(&r.target).take_while(|(a, b)| a == b).count();
            if k < own.len() && k < r.target.len() {
                let mut child = r.target[..k].to_vec();
                child.push(r.target[k].clone());
                if mods.contains(&child) {
                    edges
                        .entry((own[..k].to_vec(), own[k].clone(), r.target[k].clone()))
                        .or_insert_with(|| format!("{key}:{} `{}`", r.line, r.written));
                }
            }
        }
    }
    let groups: BTreeSet<ModPath> = edges.keys().map(|(g, _, _)| g.clone()).collect();
    let mut found = Vec::new();
    for group in groups {
        let graph: BTreeMap<&str, Vec<&str>> =
            edges.keys().filter(|(g, _, _)| *g == group).fold(BTreeMap::new(), |mut m, (_, a, b)| {
                m.entry(a.as_str()).or_default().push(b.as_str());
                m
            });
        let dir = if group.is_empty() { String::new() } else { format!("/{}", group.join("/")) };
        let show = |n: &str| {
            let file = format!("{}{n}.rs", group.iter().map(|g| format!("{g}/")).collect::<String>());
            if files.contains_key(&file) {
                format!("{n}.rs")
            } else {
                format!("{n}/")
            }
        };
        for component in strongly_connected(&graph) {
            if component.len() < 2 {
                continue;
            }
            // One circle through the component, and every edge inside it as evidence.
            let cycle = a_cycle(&graph, &component);
            let names: Vec<String> = cycle.iter().map(|n| show(n)).collect();
            let evidence: Vec<String> = edges
                .iter()
                .filter(|((g, a, b), _)| {
                    *g == group && component.contains(a.as_str()) && component.contains(b.as_str())
                })
                .map(|((_, a, b), e)| format!("{} -> {}: {e}", show(a), show(b)))
                .collect();
            found.push(format!(
                "{label}{dir}: import circle {} ({})",
                names.join(" -> "),
                evidence.join("; ")
            ));
        }
    }
    found
}

/// The `.rs` files under `dir`, keyed by their path under it.
fn read_sources(dir: &Path) -> Files {
    fn walk(root: &Path, dir: &Path, out: &mut Files) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let key = p.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                let text =
                    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                out.insert(key, text);
            }
        }
    }
    let mut out = Files::new();
    walk(dir, dir, &mut out);
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace's member crates, as listed in its `Cargo.toml`.
fn members() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).expect("the workspace manifest");
    let line = manifest.lines().find(|l| l.trim_start().starts_with("members")).expect("a members list");
    let list = &line[line.find('[').expect("members = [..]") + 1..line.rfind(']').expect("members = [..]")];
    list.split(',').map(|m| m.trim().trim_matches('"').to_owned()).filter(|m| !m.is_empty()).collect()
}

#[test]
fn the_core_imports_from_no_higher_layer() {
    let files = read_sources(&workspace().join("core/src"));
    assert!(files.len() > 20 && files.contains_key("lib.rs"), "the core's sources were not found");
    let found = back_arrows("core/src", &files, LAYERS);
    assert!(found.is_empty(), "imports from a higher layer:\n{}", found.join("\n"));
}

#[test]
fn no_crate_has_an_import_circle() {
    let members = members();
    assert!(members.iter().any(|m| m == "core") && members.len() > 5, "members: {members:?}");
    let mut found = Vec::new();
    for m in &members {
        let src = workspace().join(m).join("src");
        if src.is_dir() {
            found.extend(circles(&format!("{m}/src"), &read_sources(&src)));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// The check can fail: a small crate with back-arrows (through the façade and through
/// a `use` group) and circles (between two files, and so between two folders), each
/// reported; and none once they are gone. Comments, doc links, strings and char
/// literals name no module.
#[test]
fn the_check_reports_a_back_arrow_and_a_circle() {
    let files: Files = [
        ("lib.rs", "mod model;\nmod store;\npub use store::Store;\n"),
        (
            "model/mod.rs",
            r##"//! Model. Not a reference: [`crate::store::Store`].
/* Nor /* this */ crate::store::X */
mod a;
mod b;
pub struct Call;
const Q: char = '\'';
const R: &str = r#"use crate::store::Store;"#;
const S: &str = "crate::store::\"Store\"";
fn f<'a>(x: &'a str) -> &'a str { x }
"##,
        ),
        ("model/a.rs", "use super::b::B;\n\n/// The store.\npub fn f() -> crate::Store { todo!() }\n"),
        (
            "model/b.rs",
            "use crate::{model::Call, store::{self, Store as S}};\n\
             pub struct B;\nimpl B { fn g() { crate::model::a::f(); } }\n",
        ),
        (
            "store/mod.rs",
            "use crate::model::Call;\npub struct Store;\n#[cfg(test)] mod tests { use super::*; }\n",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let layers: &[&[&str]] = &[&["model"], &["store"]];
    assert_eq!(
        back_arrows("x/src", &files, layers),
        [
            "x/src/model/a.rs:4: `model` imports `crate::Store` from `store`, a higher layer",
            "x/src/model/b.rs:1: `model` imports `crate::store` from `store`, a higher layer",
            "x/src/model/b.rs:1: `model` imports `crate::store::Store` from `store`, a higher layer",
        ]
    );
    assert_eq!(
        circles("x/src", &files),
        [
            "x/src: import circle model/ -> store/ -> model/ (model/ -> store/: model/b.rs:1 \
             `crate::store`; store/ -> model/: store/mod.rs:1 `crate::model::Call`)",
            "x/src/model: import circle a.rs -> b.rs -> a.rs (a.rs -> b.rs: model/a.rs:1 \
             `super::b::B`; b.rs -> a.rs: model/b.rs:3 `crate::model::a::f`)",
        ]
    );
    // Without them, nothing is reported.
    let mut clean = files.clone();
    clean.insert("model/a.rs".into(), "pub fn f() {}\n".into());
    clean.insert("model/b.rs".into(), "pub struct B;\n".into());
    assert_eq!(back_arrows("x/src", &clean, layers), Vec::<String>::new());
    assert_eq!(circles("x/src", &clean), Vec::<String>::new());
}
