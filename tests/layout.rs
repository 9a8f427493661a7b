//! The rooms of `src/` import one another in one direction: no circle
//! between files. Two kinds of edge are left out of the graph: the shell
//! runs the builtins (edges from `src/shell/` and the registry in
//! `src/builtins/mod.rs` into `src/builtins/`) while every builtin is
//! handed the shell's context; and a room's `mod.rs` and the files inside
//! that room (the room's shared items and its dispatch) are its own
//! business. Any other circle fails here, with the imports that form it.
//!
//! What counts as an import: a path that starts with `crate::`, `super::`
//! or, in a `mod.rs` or `lib.rs`, with the name of a child module, in code
//! that is not a `#[cfg(test)]` module (tests may look anywhere). A path
//! names the longest file it reaches: `crate::host::sidecar::session::run`
//! is `src/host/sidecar/session.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, as a path relative to it.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(src()).unwrap().to_path_buf());
        }
    }
}

/// The module path of a file: `host/sidecar/mod.rs` is `["host", "sidecar"]`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file a module path reaches, longest prefix first.
fn file_of(path: &[String], known: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    (0..=path.len())
        .rev()
        .find_map(|n| known.get(&path[..n]).cloned())
}

/// The file's code without its test module (the convention here: tests
/// last, after `#[cfg(test)]`), and without comments.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths as written: `a::b::{c, d::e}` gives `a::b::c` and `a::b::d::e`,
/// enough to reach the files (items inside braces only go deeper).
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_start = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        if at_start && (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                if s == j {
                    break;
                }
                segs.push(code[s..j].to_string());
                if code[j..].starts_with("::") {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Every file of the library and the files it imports (itself and
/// `lib.rs` left out).
fn imports() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let known: BTreeMap<Vec<String>, PathBuf> =
        all.iter().map(|f| (module_of(f), f.clone())).collect();

    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &all {
        if file == Path::new("main.rs") {
            continue; // the binary is not part of the library's graph
        }
        let here = module_of(file);
        let is_dir_module = matches!(
            file.file_name().and_then(|n| n.to_str()),
            Some("mod.rs" | "lib.rs")
        );
        let text = fs::read_to_string(src().join(file)).unwrap();
        for path in paths(&code(&text)) {
            let resolved: Vec<String> = match path[0].as_str() {
                "crate" => path[1..].to_vec(),
                "super" => {
                    let mut base = here.clone();
                    let mut rest = &path[..];
                    // `super` from a mod.rs is its parent; from a.rs, a's parent.
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend(rest.iter().cloned());
                    base
                }
                "self" => here.iter().chain(&path[1..]).cloned().collect(),
                first if is_dir_module => {
                    let mut child = here.clone();
                    child.push(first.to_string());
                    if !known.contains_key(&child) {
                        continue;
                    }
                    here.iter().chain(&path).cloned().collect()
                }
                _ => continue,
            };
            let Some(to) = file_of(&resolved, &known) else {
                continue;
            };
            if &to != file && to != Path::new("lib.rs") {
                edges.entry(file.clone()).or_default().insert(to);
            }
        }
    }

    edges
}

#[test]
fn no_file_imports_itself_back() {
    let mut edges = imports();
    for (file, to) in edges.iter_mut() {
        // The shell, and the registry in builtins/mod.rs, run builtins:
        // the one circle allowed, since every builtin takes the shell's
        // context. A room's mod.rs and the files inside it are that
        // room's own business: the children use the room's shared items,
        // the room dispatches to its children.
        to.retain(|to| {
            let shell_runs_builtin = (file.starts_with("shell")
                || file == Path::new("builtins/mod.rs"))
                && to.starts_with("builtins");
            let within_room = room_of(file).is_some_and(|r| to.starts_with(r))
                || room_of(to).is_some_and(|r| file.starts_with(r));
            !shell_runs_builtin && !within_room
        });
    }
    let circles = strongly_connected(&edges);
    let mut report = String::new();
    for circle in &circles {
        let inside: BTreeSet<&PathBuf> = circle.iter().collect();
        report.push_str("these files import one another:\n");
        for from in circle {
            for to in edges[from].iter().filter(|t| inside.contains(t)) {
                report.push_str(&format!(
                    "  src/{} -> src/{}\n",
                    from.display(),
                    to.display()
                ));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "{report}move what both need to where both can import it"
    );
}

/// The directory a `mod.rs` heads (`host/direct/mod.rs`: `host/direct`).
fn room_of(file: &Path) -> Option<&Path> {
    (file.file_name()? == "mod.rs")
        .then(|| file.parent())
        .flatten()
}

/// The components of more than one file (Tarjan's algorithm).
fn strongly_connected(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_runtimes_of_direct_attach_do_not_import_the_attach() {
    let edges = imports();
    let attach = PathBuf::from("host/direct/mod.rs");
    let runtimes = ["host/direct/containerd.rs", "host/direct/containerd_api.rs"];
    for runtime in runtimes {
        let to = &edges[&PathBuf::from(runtime)];
        assert!(
            !to.contains(&attach),
            "src/{runtime} imports src/host/direct/mod.rs: what both need belongs in src/host/direct/error.rs"
        );
    }
}

#[test]
fn the_check_finds_a_circle_and_the_allowed_edge_is_not_one() {
    let e = |pairs: &[(&str, &str)]| {
        let mut m: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for (a, b) in pairs {
            m.entry(PathBuf::from(a))
                .or_default()
                .insert(PathBuf::from(b));
        }
        m
    };
    let circle = e(&[("a.rs", "b.rs"), ("b.rs", "c.rs"), ("c.rs", "a.rs")]);
    assert_eq!(strongly_connected(&circle).len(), 1);
    let line = e(&[("a.rs", "b.rs"), ("b.rs", "c.rs")]);
    assert!(strongly_connected(&line).is_empty());
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        paths("use crate::host::sidecar::{self, spec};\nlet x = super::y::z();"),
        vec![
            strs(&["crate", "host", "sidecar"]),
            strs(&["super", "y", "z"])
        ]
    );
    assert_eq!(
        module_of(Path::new("host/sidecar/mod.rs")),
        vec!["host", "sidecar"]
    );
}

/// README's layout names every room of `src/` and nothing that is gone.
#[test]
fn the_readme_layout_matches_the_tree() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Layout")
        .expect("README has a Layout section");
    let section = &readme[start..];
    let block = &section[section.find("```").unwrap() + 3..];
    let block = &block[..block.find("```").unwrap()];
    // Names in the block: `src/x/` at the start of a line, and indented
    // `y/` under `src/host/`.
    let mut named = BTreeSet::new();
    let mut parent = String::new();
    for line in block.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        if let Some(rest) = first.strip_prefix("src/") {
            named.insert(rest.trim_end_matches(',').to_string());
            parent = rest.to_string();
        } else if line.starts_with("  ") && first.ends_with('/') && !line.starts_with("   ") {
            named.insert(format!("{parent}{first}"));
        }
    }
    let mut rooms = BTreeSet::new();
    for dir in [src(), src().join("host")] {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let rel = path.strip_prefix(src()).unwrap().display().to_string();
                rooms.insert(format!("{rel}/"));
            }
        }
    }
    for room in &rooms {
        assert!(
            named.contains(room),
            "README's layout does not name src/{room}"
        );
    }
    for name in &named {
        assert!(
            src().join(name).exists(),
            "README's layout names src/{name}, which does not exist"
        );
    }
}
