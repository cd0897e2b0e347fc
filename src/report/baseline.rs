//! Comparing two runs (`tlsmatrix diff OLD NEW`, `tlsmatrix run --baseline OLD`): which cells regressed, which were
//! fixed, and which changed what they observed, so a library upgrade that changes an alert is a visible change.
//!
//! Observations are compared without their native messages (those carry source line numbers that move with every
//! library release); everything else (result, version, cipher, group, ALPN, resumption, alerts, error class) counts.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::{Report, outcome};
use crate::expect::Status;
use crate::runner::CellResult;
use crate::vocab::BackendId;

/// How a cell differs between two runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Passed before, fails (or errors) now.
    Regression,
    /// Observed something else than before, whatever the status (an alert changed, a version changed, a cell became
    /// unsupported).
    Changed,
    /// Failed before, passes now.
    Fix,
    /// Not in the old run.
    New,
    /// Not in the new run.
    Removed,
}

/// One cell that differs.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// What kind of difference.
    pub kind: ChangeKind,
    /// `scenario::client->server`.
    pub cell: String,
    /// The old status and outcome.
    pub old: Option<String>,
    /// The new status and outcome.
    pub new: Option<String>,
}

/// Every difference between two runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    /// The changes, regressions first.
    pub changes: Vec<Change>,
}

fn summary(c: &CellResult) -> String {
    match c.mismatches.first() {
        Some(m) => format!("{}: {} ({m})", c.status, outcome(c)),
        None => format!("{}: {}", c.status, outcome(c)),
    }
}

/// The observation without native messages.
pub(crate) fn normalized(c: &CellResult) -> serde_json::Value {
    let mut v = serde_json::to_value(&c.observed).unwrap_or_default();
    for side in ["client", "server"] {
        if let Some(obj) = v.get_mut(side).and_then(|s| s.as_object_mut()) {
            obj.remove("message");
        }
    }
    v
}

/// Cells whose status or observation (messages aside) varied between repeated runs of the same selection, each with
/// the distinct outcomes seen: the flake detector behind `tlsmatrix run --repeat N`.
pub fn unstable(runs: &[Report]) -> Vec<(String, Vec<String>)> {
    let mut seen = Stability::default();
    for c in runs.iter().flat_map(|r| &r.cells) {
        seen.add(c);
    }
    seen.unstable()
}

/// The distinct outcomes each cell had over repeated runs, collected as results arrive (a streamed `--format
/// jsonl` run keeps no report, only this: one short entry per distinct outcome of a cell).
#[derive(Debug, Default)]
pub struct Stability {
    seen: BTreeMap<String, Vec<(serde_json::Value, String)>>,
}

impl Stability {
    /// One more result of a cell.
    pub fn add(&mut self, c: &CellResult) {
        let key = serde_json::json!([serde_json::json!(c.status), normalized(c)]);
        let entry = self.seen.entry(c.name()).or_default();
        if !entry.iter().any(|(k, _)| *k == key) {
            entry.push((key, summary(c)));
        }
    }

    /// How many cells were seen.
    pub fn cells(&self) -> usize {
        self.seen.len()
    }

    /// The cells that did not always do the same, each with its distinct outcomes.
    pub fn unstable(self) -> Vec<(String, Vec<String>)> {
        self.seen
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (k, v.into_iter().map(|(_, s)| s).collect()))
            .collect()
    }
}

/// `client.cipher: X -> Y` for every observed field that differs.
fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for side in ["client", "server"] {
        let (o, n) = (&old[side], &new[side]);
        let keys: std::collections::BTreeSet<&String> =
            o.as_object().into_iter().chain(n.as_object()).flat_map(|m| m.keys()).collect();
        for k in keys {
            if o[k.as_str()] != n[k.as_str()] {
                out.push(format!("{side}.{k}: {} -> {}", o[k.as_str()], n[k.as_str()]));
            }
        }
    }
    out
}

impl Diff {
    /// Keeps only the cells `keep` selects, on both sides: a run of a subset compared with a full baseline.
    pub fn restricted(mut self, keep: impl Fn(&str, BackendId, BackendId) -> bool) -> Diff {
        self.changes.retain(|c| {
            let Some((scenario, pair)) = c.cell.rsplit_once("::") else { return true };
            let Some((client, server)) = pair.split_once("->") else { return true };
            match (client.parse(), server.parse()) {
                (Ok(cl), Ok(sv)) => keep(scenario, cl, sv),
                _ => true,
            }
        });
        self
    }

    /// The differences from `old` to `new`.
    pub fn between(old: &Report, new: &Report) -> Diff {
        type Key = (String, BackendId, BackendId);
        let index = |r: &Report| -> BTreeMap<Key, CellResult> {
            r.cells.iter().map(|c| ((c.scenario.clone(), c.client, c.server), c.clone())).collect()
        };
        let (old, new) = (index(old), index(new));
        let mut changes = Vec::new();
        for (key, n) in &new {
            let name = n.name();
            let Some(o) = old.get(key) else {
                changes.push(Change { kind: ChangeKind::New, cell: name, old: None, new: Some(summary(n)) });
                continue;
            };
            let passed = |c: &CellResult| c.status == Status::Pass;
            let failed = |c: &CellResult| matches!(c.status, Status::Fail | Status::Error);
            let kind = if passed(o) && failed(n) {
                Some(ChangeKind::Regression)
            } else if failed(o) && passed(n) {
                Some(ChangeKind::Fix)
            } else if o.status != n.status || normalized(o) != normalized(n) {
                let what = changed_fields(&normalized(o), &normalized(n));
                if !what.is_empty() {
                    let new = format!("{} [{}]", summary(n), what.join(", "));
                    changes.push(Change {
                        kind: ChangeKind::Changed,
                        cell: name,
                        old: Some(summary(o)),
                        new: Some(new),
                    });
                    continue;
                }
                Some(ChangeKind::Changed)
            } else {
                None
            };
            if let Some(kind) = kind {
                changes.push(Change { kind, cell: name, old: Some(summary(o)), new: Some(summary(n)) });
            }
        }
        for (key, o) in &old {
            if !new.contains_key(key) {
                changes.push(Change { kind: ChangeKind::Removed, cell: o.name(), old: Some(summary(o)), new: None });
            }
        }
        changes.sort_by(|a, b| (a.kind, &a.cell).cmp(&(b.kind, &b.cell)));
        Diff { changes }
    }

    /// 1 when a cell regressed or observes something else than before (a behaviour change to look at), else 0.
    /// Fixes, new and removed cells alone do not fail a comparison.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.changes.iter().any(|c| matches!(c.kind, ChangeKind::Regression | ChangeKind::Changed)))
    }

    /// The differences as text, one line per cell with the old and new outcome.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("no differences from the baseline\n");
            return out;
        }
        let count = |k: ChangeKind| self.changes.iter().filter(|c| c.kind == k).count();
        let _ = writeln!(
            out,
            "differences from the baseline: {} regressions, {} changed, {} fixed, {} new, {} removed",
            count(ChangeKind::Regression),
            count(ChangeKind::Changed),
            count(ChangeKind::Fix),
            count(ChangeKind::New),
            count(ChangeKind::Removed)
        );
        for c in &self.changes {
            let label =
                serde_json::to_value(c.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {label:10} {}\n             was: {}\n             now: {}",
                c.cell,
                c.old.as_deref().unwrap_or("(absent)"),
                c.new.as_deref().unwrap_or("(absent)")
            );
        }
        out
    }
}
