//! The shape of the code base, checked: no import circles between modules, no file much over 800 lines, and no
//! library knowledge (`BackendId::` branches) in `explain` outside its tests. Each was a promise in
//! docs/architecture.md that nothing enforced; a regression now fails here, naming the files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
/// "About 800 lines": a little slack so a doc comment does not force a split.
const MAX_LINES: usize = 850;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `backend::cli::gnutls` for src/backend/cli/gnutls.rs, `backend` for src/backend/mod.rs, `` for lib.rs.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(SRC).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests { ... }` block (tests may import
/// anything).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Paths after `prefix` (`crate::`, `super::`): `a::b::C` as its segments.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        out.push(rest[..end].split("::").filter(|s| !s.is_empty()).collect());
    }
    out
}

fn is_within(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || b.starts_with(&format!("{a}::")) || a.starts_with(&format!("{b}::"))
}

#[test]
fn no_import_circles_between_modules() {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let modules: BTreeMap<String, String> =
        files.iter().map(|f| (module_of(f), code(&std::fs::read_to_string(f).unwrap()))).collect();
    // The longest known module a path names.
    let resolve = |segs: &[&str]| -> Option<String> {
        (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|m| modules.contains_key(m))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &modules {
        let parent: Vec<&str> = m.split("::").collect();
        let mut targets: Vec<Option<String>> = paths_after(text, "crate::").iter().map(|p| resolve(p)).collect();
        for p in paths_after(text, "super::") {
            let mut segs: Vec<&str> = parent[..parent.len().saturating_sub(1)].to_vec();
            segs.extend(p);
            targets.push(resolve(&segs));
        }
        for t in targets.into_iter().flatten() {
            // A module and its own submodules are one unit: a parent re-exports its children.
            if !is_within(m, &t) {
                edges.entry(m.clone()).or_default().insert(t);
            }
        }
    }
    // A circle is an edge a -> b with a path back b -> ... -> a.
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(edges.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    let circles: Vec<String> = edges
        .iter()
        .flat_map(|(a, bs)| bs.iter().map(move |b| (a, b)))
        .filter(|(a, b)| reaches(b, a))
        .map(|(a, b)| format!("{a} -> {b} (and back)"))
        .collect();
    assert!(circles.is_empty(), "import circles between modules:\n{}", circles.join("\n"));
}

#[test]
fn no_source_file_is_much_longer_than_800_lines() {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern:\n{}", long.join("\n"));
}

#[test]
fn explain_has_no_backend_branches() {
    let mut files = Vec::new();
    rust_files(&Path::new(SRC).join("explain"), &mut files);
    let hits: Vec<String> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .flat_map(|f| {
            let text = code(&std::fs::read_to_string(f).unwrap());
            let hits: Vec<String> = text
                .lines()
                .filter(|l| l.contains("BackendId::"))
                .map(|l| format!("{}: {}", f.display(), l.trim()))
                .collect();
            hits
        })
        .collect();
    assert!(
        hits.is_empty(),
        "library behaviour belongs in the backend's Behaviour (src/backend/behaviour.rs), not in explain:\n{}",
        hits.join("\n")
    );
}
