//! The matrix as data, and one renderer per format (each a pure function from a [`Report`] to text).

mod baseline;
mod catalog;
mod compare;
mod html;
mod json;
mod junit;
mod markdown;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::backend::Registry;
use crate::expect::Status;
use crate::observation::{ErrorClass, SideOutcome};
use crate::runner::CellResult;

pub use baseline::{Change, ChangeKind, Diff, Stability, unstable};
pub use catalog::{Catalog as CatalogData, Entry as CatalogEntry, render as catalog};
pub use compare::render as compare;
pub use html::render as html;
pub use json::render as json;
pub use junit::render as junit;
pub use markdown::render as markdown;
pub use table::{
    Options as TableOptions, View, render as table, render_opts as table_opts, render_styled as table_styled,
    render_with as table_with, terminal_width,
};

/// Reasons grouped by their first line, with how many cells gave each, the most frequent first: the unsupported
/// cells of a run are a handful of causes repeated over many cells (an install hint for every cell of a backend).
pub fn group_reasons<'a>(reasons: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in reasons {
        *counts.entry(r.lines().next().unwrap_or("").trim()).or_default() += 1;
    }
    let mut out: Vec<(String, usize)> = counts.into_iter().map(|(r, n)| (r.to_string(), n)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The cell's wire transcript, one line per message, connections numbered when there are several.
pub fn transcript(c: &CellResult) -> Vec<String> {
    let many = c.wire.len() > 1;
    let mut out = Vec::new();
    for (i, w) in c.wire.iter().enumerate() {
        if many {
            out.push(format!("connection {}:", i + 1));
        }
        let indent = if many { "  " } else { "" };
        out.extend(w.transcript.iter().map(|l| format!("{indent}{l}")));
        out.extend(w.malformed.iter().map(|m| format!("{indent}malformed: {m}")));
    }
    out
}

/// A cell's outcome in a few words: `tls1.3`, `C→S unknown_ca`, `S→C protocol_version`, `n/a`.
pub fn outcome(c: &CellResult) -> String {
    match (&c.status, &c.observed) {
        (Status::Unsupported, _) => "n/a".into(),
        (Status::Error, _) | (_, None) => "error".into(),
        (status, Some(o)) => {
            let mut s = match (&o.client, &o.server) {
                (SideOutcome::Established(a), SideOutcome::Established(b)) => {
                    let version = a.version.or(b.version).map_or("ok".to_string(), |v| v.to_string());
                    let alpn = a.alpn.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
                    let resumed = if a.resumed == Some(true) || b.resumed == Some(true) { " resumed" } else { "" };
                    format!("{version}{alpn}{resumed}")
                }
                (client, server) => {
                    let mut parts = Vec::new();
                    if let Some(a) = client.sent_alert() {
                        parts.push(format!("C→S {a}"));
                    }
                    if let Some(a) = server.sent_alert() {
                        parts.push(format!("S→C {a}"));
                    }
                    if parts.is_empty() {
                        let class = client.failure().or(server.failure()).map(|f| f.error);
                        parts.push(match class {
                            Some(ErrorClass::Timeout) => "timeout".into(),
                            Some(ErrorClass::Eof) => "closed, no alert".into(),
                            _ => "failed, no alert".into(),
                        });
                    }
                    parts.join(", ")
                }
            };
            if *status == Status::Fail {
                s.push_str(" (FAIL)");
            }
            s
        }
    }
}

/// What a cell observed, reduced to what can be compared across pairs: negotiated parameters (each `None` where
/// neither side reports it) or the alert each side sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Behaviour {
    /// Connected.
    Connected {
        /// The version, if reported.
        version: Option<crate::ProtocolVersion>,
        /// The suite, if reported.
        cipher: Option<crate::CipherSuite>,
        /// The ALPN protocol.
        alpn: Option<String>,
        /// Whether it resumed, if reported.
        resumed: Option<bool>,
    },
    /// Failed.
    Failed {
        /// The client's sent alert.
        client_sent: Option<crate::Alert>,
        /// The server's sent alert.
        server_sent: Option<crate::Alert>,
    },
}

impl Behaviour {
    /// The behaviour of a judged cell; `None` for unsupported and error cells.
    pub(crate) fn of(c: &CellResult) -> Option<Behaviour> {
        let o = c.observed.as_ref()?;
        Some(match (&o.client, &o.server) {
            (SideOutcome::Established(a), SideOutcome::Established(b)) => Behaviour::Connected {
                version: a.version.or(b.version),
                cipher: a.cipher.or(b.cipher),
                alpn: a.alpn.clone(),
                resumed: a.resumed.or(b.resumed),
            },
            (client, server) => {
                Behaviour::Failed { client_sent: client.sent_alert(), server_sent: server.sent_alert() }
            }
        })
    }

    /// Equal, counting a value one of them does not know as matching (native-tls reports no version or cipher).
    pub(crate) fn agrees(&self, other: &Behaviour) -> bool {
        fn eq<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        match (self, other) {
            (
                Behaviour::Connected { version: v1, cipher: c1, alpn: a1, resumed: r1 },
                Behaviour::Connected { version: v2, cipher: c2, alpn: a2, resumed: r2 },
            ) => eq(v1, v2) && eq(c1, c2) && a1 == a2 && eq(r1, r2),
            (a, b) => a == b,
        }
    }

    /// With the cipher suite, for the places where that is the difference.
    pub(crate) fn describe(&self) -> String {
        match self {
            Behaviour::Connected { version, cipher, alpn, resumed } => {
                let mut parts = vec![version.map_or("connected".to_string(), |v| v.to_string())];
                parts.extend(cipher.map(|c| c.to_string()));
                parts.extend(alpn.as_ref().map(|a| format!("alpn {a}")));
                if *resumed == Some(true) {
                    parts.push("resumed".into());
                }
                parts.join(" ")
            }
            Behaviour::Failed { client_sent, server_sent } => {
                let mut parts = Vec::new();
                parts.extend(client_sent.map(|a| format!("C→S {a}")));
                parts.extend(server_sent.map(|a| format!("S→C {a}")));
                if parts.is_empty() {
                    parts.push("failed, no alert".into());
                }
                parts.join(", ")
            }
        }
    }
}

/// The report format version; bumped on any incompatible change to the JSON shape.
pub const REPORT_VERSION: u32 = 1;

/// The largest JSON report `diff` and `--baseline` read (128 MiB; the whole default matrix is some 25 MB).
pub const MAX_REPORT_BYTES: u64 = 128 << 20;

/// Which libraries produced the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    /// tlsmatrix's own version.
    pub tlsmatrix: String,
    /// Each backend with its library version.
    pub backends: Vec<BackendInfo>,
}

/// One backend's library.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Backend name.
    pub name: String,
    /// Library and version.
    pub library: String,
}

impl Environment {
    /// The environment of this build.
    pub fn of(registry: &Registry) -> Self {
        Environment {
            tlsmatrix: env!("CARGO_PKG_VERSION").to_string(),
            backends: registry.iter().map(|b| BackendInfo { name: b.id().to_string(), library: b.version() }).collect(),
        }
    }
}

/// Counts by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cells that matched.
    pub pass: usize,
    /// Cells that did not.
    pub fail: usize,
    /// Cells a backend cannot express.
    pub unsupported: usize,
    /// Cells the harness could not run.
    pub error: usize,
}

/// `855 cells: 613 passed, 0 failed, 242 unsupported, 0 errors`, the line every view ends or starts with.
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.pass + self.fail + self.unsupported + self.error;
        let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
        write!(
            f,
            "{}: {} passed, {} failed, {} unsupported, {}",
            plural(total, "cell"),
            self.pass,
            self.fail,
            self.unsupported,
            plural(self.error, "error")
        )
    }
}

impl Summary {
    /// Counts the cells.
    pub fn of(cells: &[CellResult]) -> Self {
        let mut s = Summary::default();
        for c in cells {
            s.add(c.status);
        }
        s
    }

    /// Counts one more cell.
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Unsupported => self.unsupported += 1,
            Status::Error => self.error += 1,
        }
    }
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// Library versions.
    pub environment: Environment,
    /// Every cell, in scenario order.
    pub cells: Vec<CellResult>,
    /// Counts.
    pub summary: Summary,
    /// Scenario files that failed to load (`file:line:column: message`).
    #[serde(default)]
    pub load_errors: Vec<String>,
}

impl Report {
    /// Builds the report of a run.
    pub fn new(environment: Environment, cells: Vec<CellResult>, load_errors: Vec<String>) -> Self {
        let summary = Summary::of(&cells);
        Report { version: REPORT_VERSION, environment, cells, summary, load_errors }
    }

    /// The same report with counts kept elsewhere (a streamed run keeps no cells).
    pub fn with_summary(mut self, summary: Summary) -> Self {
        self.summary = summary;
        self
    }

    /// Reads a JSON report written by `tlsmatrix run --format json`, of at most [`MAX_REPORT_BYTES`].
    pub fn load(path: &std::path::Path) -> Result<Report, crate::Error> {
        let bad = |m: String| crate::Error::Load(crate::LoadError::file(path, m));
        // Bounded: a path that never ends (`/dev/zero`, a FIFO nobody closes) or a file far beyond any real report is
        // refused instead of read forever into memory.
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot read the report: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_REPORT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("cannot read the report: {e}")))?;
        if bytes.len() as u64 > MAX_REPORT_BYTES {
            return Err(bad(format!(
                "larger than {} MiB: not a tlsmatrix report (or a run far bigger than any catalog)",
                MAX_REPORT_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 text: {e}")))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            crate::Error::Load(crate::LoadError::at(
                path,
                Some(e.line()),
                Some(e.column()),
                format!("not a tlsmatrix JSON report: {e}"),
            ))
        })?;
        if report.version != REPORT_VERSION {
            return Err(bad(format!(
                "report format version {} (this tlsmatrix reads version {REPORT_VERSION})",
                report.version
            )));
        }
        Ok(report)
    }

    /// The process exit code the contract promises: 2 for bad input or a harness fault, 1 for a mismatch, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.load_errors.is_empty() || self.summary.error > 0 {
            2
        } else if self.summary.fail > 0 {
            1
        } else {
            0
        }
    }
}
