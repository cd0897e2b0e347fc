//! The terminal view: scenarios as rows, client->server pairs as columns, then the details of every cell that did
//! not pass and the reason of every unsupported one.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use crate::expect::Status;
use crate::vocab::BackendId;

fn short(b: BackendId) -> &'static str {
    match b {
        BackendId::Openssl => "O",
        BackendId::NativeTls => "N",
        BackendId::Rustls => "R",
        BackendId::Jsse => "J",
        BackendId::OpensslCli => "C",
        BackendId::Gnutls => "G",
    }
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "ok",
        Status::Fail => "FAIL",
        Status::Unsupported => "-",
        Status::Error => "ERR",
    }
}

/// Renders the matrix and its details as plain text.
pub fn render(report: &Report) -> String {
    render_styled(report, false)
}

/// ANSI colours for the marks: green pass, red failure, yellow unsupported, magenta harness error.
fn paint(mark: &str, status: Status, colour: bool) -> String {
    if !colour {
        return mark.to_string();
    }
    let code = match status {
        Status::Pass => "32",
        Status::Fail => "1;31",
        Status::Unsupported => "33",
        Status::Error => "1;35",
    };
    format!("\x1b[{code}m{mark}\x1b[0m")
}

/// Like [`render`], with ANSI colours when `colour` is set (the CLI sets it for a terminal without `NO_COLOR`).
pub fn render_styled(report: &Report, colour: bool) -> String {
    render_with(report, colour, false)
}

/// Like [`render_styled`]; with `transcripts`, every cell that ran also shows what went over the wire (failing
/// cells always do).
pub fn render_with(report: &Report, colour: bool, transcripts: bool) -> String {
    let mut out = String::new();
    let mut pairs: Vec<(BackendId, BackendId)> = Vec::new();
    let mut rows: BTreeMap<&str, BTreeMap<(BackendId, BackendId), Status>> = BTreeMap::new();
    for c in &report.cells {
        if !pairs.contains(&(c.client, c.server)) {
            pairs.push((c.client, c.server));
        }
        rows.entry(c.scenario.as_str()).or_default().insert((c.client, c.server), c.status);
    }
    pairs.sort();
    const HEADER: &str = "scenario (client>server)";
    let width = rows.keys().map(|k| k.len()).max().unwrap_or(0).max(HEADER.len());
    let _ = write!(out, "{HEADER:width$}");
    for (c, s) in &pairs {
        let _ = write!(out, " {:>4}", format!("{}>{}", short(*c), short(*s)));
    }
    out.push('\n');
    for (id, cells) in &rows {
        let _ = write!(out, "{id:width$}");
        for p in &pairs {
            let text = cells.get(p).map_or(String::new(), |s| paint(&format!("{:>4}", mark(*s)), *s, colour));
            let _ = write!(out, " {text:>4}");
        }
        out.push('\n');
    }
    let mut present: Vec<BackendId> = pairs.iter().flat_map(|(c, s)| [*c, *s]).collect();
    present.sort();
    present.dedup();
    let legend: Vec<String> = present.iter().map(|b| format!("{}={b}", short(*b))).collect();
    let _ = writeln!(out, "\n{}; ok=pass FAIL=mismatch -=unsupported ERR=harness error", legend.join(" "));

    let failing: Vec<_> = report.cells.iter().filter(|c| matches!(c.status, Status::Fail | Status::Error)).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\nCells that did not pass:");
        for c in failing {
            let _ = writeln!(out, "\n  {} [{}]", c.name(), c.status);
            if let Some(r) = &c.reason {
                let _ = writeln!(out, "    because: {r}");
            }
            for m in &c.mismatches {
                let _ = writeln!(out, "    mismatch: {m}");
            }
            if let Some(o) = &c.observed {
                let _ = writeln!(out, "    observed client: {}", o.client);
                let _ = writeln!(out, "    observed server: {}", o.server);
            }
            for line in super::transcript(c) {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    if transcripts {
        let _ = writeln!(out, "\nTranscripts (what the relay saw):");
        for c in report.cells.iter().filter(|c| !c.wire.is_empty()) {
            let _ = writeln!(out, "\n  {} [{}]", c.name(), c.status);
            for line in super::transcript(c) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    let unsupported: Vec<_> = report.cells.iter().filter(|c| c.status == Status::Unsupported).collect();
    if !unsupported.is_empty() {
        let _ = writeln!(out, "\nUnsupported cells:");
        for c in unsupported {
            let _ = writeln!(out, "  {}: {}", c.name(), c.reason.as_deref().unwrap_or(""));
        }
    }
    if !report.load_errors.is_empty() {
        let _ = writeln!(out, "\nScenario files that failed to load:");
        for e in &report.load_errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    let _ = writeln!(out, "\n{}", report.summary);
    out
}
