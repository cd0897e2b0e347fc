//! Markdown for pull requests and CI summaries: the matrix, then what did not pass, then what cannot run (folded).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use crate::expect::Status;
use crate::vocab::BackendId;

/// Escapes text for Markdown outside code spans: HTML-significant characters, table pipes and Markdown punctuation
/// (library messages and scenario errors contain backticks, `<b>` and `|`).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "**FAIL**",
        Status::Unsupported => "n/a",
        Status::Error => "**ERROR**",
    }
}

/// Renders the report as GitHub-flavoured Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## tlsmatrix: {}\n", report.summary);
    let mut pairs: Vec<(BackendId, BackendId)> = report.cells.iter().map(|c| (c.client, c.server)).collect();
    pairs.sort();
    pairs.dedup();
    let mut rows: BTreeMap<&str, BTreeMap<(BackendId, BackendId), Status>> = BTreeMap::new();
    for c in &report.cells {
        rows.entry(c.scenario.as_str()).or_default().insert((c.client, c.server), c.status);
    }
    let _ = write!(out, "| scenario |");
    for (c, s) in &pairs {
        let _ = write!(out, " {c} → {s} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in &pairs {
        let _ = write!(out, "---|");
    }
    out.push('\n');
    for (id, cells) in &rows {
        let _ = write!(out, "| `{id}` |");
        for p in &pairs {
            let _ = write!(out, " {} |", cells.get(p).map_or("", |s| mark(*s)));
        }
        out.push('\n');
    }
    let bad: Vec<_> = report.cells.iter().filter(|c| matches!(c.status, Status::Fail | Status::Error)).collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "\n### Cells that did not pass\n");
        for c in bad {
            let _ = writeln!(out, "- `{}` ({})", c.name(), c.status);
            for m in c.mismatches.iter().map(|m| &m.text).chain(c.reason.iter()) {
                let _ = writeln!(out, "  - {}", esc(m));
            }
            if let Some(o) = &c.observed {
                let (client, server) = (esc(&o.client.to_string()), esc(&o.server.to_string()));
                let _ = writeln!(out, "  - observed client: {client}\n  - observed server: {server}");
            }
        }
    }
    let unsupported: Vec<_> = report.cells.iter().filter(|c| c.status == Status::Unsupported).collect();
    if !unsupported.is_empty() {
        let _ = writeln!(out, "\n<details><summary>{} unsupported cells</summary>\n", unsupported.len());
        for c in unsupported {
            let _ = writeln!(out, "- `{}`: {}", c.name(), esc(c.reason.as_deref().unwrap_or("")));
        }
        let _ = writeln!(out, "\n</details>");
    }
    if !report.load_errors.is_empty() {
        let _ = writeln!(out, "\n### Scenario files that failed to load\n");
        for e in &report.load_errors {
            let _ = writeln!(out, "- {}", esc(e));
        }
    }
    out
}
