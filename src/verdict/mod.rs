//! Judging a played cell: one place decides whether what the two sides observed is what the scenario expects, and
//! whether each backend told the truth about it.
//!
//! Two judges feed one [`Verdict`]: the expectation (each field of each side against the scenario, the
//! parameters a library cannot report checked on the wire instead, an inferred alert checked against an exact peer)
//! in `verdict::expectation`, and the wire (each alert a backend reports sending or receiving against the bytes) in
//! `verdict::wire`. Every disagreement is a typed [`Mismatch`] naming the field, both values and the witness that settled it,
//! so a report or a tool can tell "the library said X, the scenario wanted Y" from "the library said X, the bytes say
//! Y". The runner only plays cells and hands them here.

mod expectation;
mod wire;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

pub use self::expectation::{Side, judge};
pub use self::wire::check as check_wire;
use crate::observation::Observation;
use crate::plan::Cell;
use crate::scenario::{Expectation, Fault};
use crate::vocab::{BackendId, Role};
use crate::wire::Wire;

/// The status of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Observed what was expected.
    Pass,
    /// Observed something else (or an unmapped native error).
    Fail,
    /// Not run: a backend cannot express the scenario.
    Unsupported,
    /// Not judged: the harness itself failed (socket, config the library refused, a panic in a backend).
    Error,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unsupported => "unsupported",
            Status::Error => "error",
        })
    }
}

/// Who settled a mismatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Witness {
    /// The side's own library reported the observed value (its API, or its error inferred into an alert).
    Library(BackendId),
    /// The bytes on the wire (decrypted where a key log was written).
    Wire,
    /// The other side, whose library observes alerts exactly.
    Peer(Role, BackendId),
    /// Not recorded (a report written before mismatches were typed).
    Unknown,
}

/// One disagreement. For an expectation, `expected` is the scenario's value and `observed` what the witness saw; for a
/// backend's honesty (the wire, an exact peer), `expected` is what the library reported and `observed` what the
/// witness saw instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `server.sent_alert`, `client.version`, `client` (the whole outcome).
    pub field: String,
    /// What should have been seen.
    pub expected: String,
    /// What was seen.
    pub observed: String,
    /// Who saw it.
    pub witness: Witness,
    /// The sentence a report prints: "server.sent_alert: expected unknown_ca, observed bad_certificate".
    pub text: String,
}

impl Mismatch {
    /// A value the side's library reported, against the scenario.
    pub(crate) fn of(
        field: String,
        expected: impl fmt::Display,
        observed: impl fmt::Display,
        backend: BackendId,
    ) -> Mismatch {
        let (expected, observed) = (expected.to_string(), observed.to_string());
        let text = format!("{field}: expected {expected}, observed {observed}");
        Mismatch { field, expected, observed, witness: Witness::Library(backend), text }
    }

    /// Whether the sentence mentions `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A sentence alone (reports written before mismatches were typed, hand-built test data).
impl From<&str> for Mismatch {
    fn from(text: &str) -> Mismatch {
        Mismatch {
            field: String::new(),
            expected: String::new(),
            observed: String::new(),
            witness: Witness::Unknown,
            text: text.to_string(),
        }
    }
}

/// Either the typed form or a plain sentence (a JSON report from an earlier version, read by `diff` or `--baseline`).
impl<'de> Deserialize<'de> for Mismatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Typed {
            field: String,
            expected: String,
            observed: String,
            witness: Witness,
            text: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Typed(Typed),
            Text(String),
        }
        Ok(match Either::deserialize(d)? {
            Either::Typed(t) => Mismatch {
                field: t.field,
                expected: t.expected,
                observed: t.observed,
                witness: t.witness,
                text: t.text,
            },
            Either::Text(s) => Mismatch::from(s.as_str()),
        })
    }
}

/// What judging found: mismatches fail the cell; notes are checks that could not be made, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Each disagreement.
    pub mismatches: Vec<Mismatch>,
    /// Checks skipped because a backend cannot report the field or the wire could not be read.
    pub notes: Vec<String>,
}

impl Verdict {
    /// Both judges on a played cell: the expectation (with the cross-check between the sides where the wire was
    /// faithful), then the wire of the last connection against what each side reported.
    pub fn of(
        expectation: &Expectation,
        client: Side<'_>,
        server: Side<'_>,
        wire: Option<&Wire>,
        fault: Option<Fault>,
    ) -> Verdict {
        let pair = (client.backend, server.backend);
        let outcomes = (client.outcome, server.outcome);
        let mut v = judge(expectation, client, server, wire, fault.is_none());
        if let Some(last) = wire {
            let w = check_wire(outcomes, last, pair, fault);
            v.mismatches.extend(w.mismatches);
            v.notes.extend(w.notes);
        }
        v
    }

    /// Pass without mismatches, fail with any.
    pub fn status(&self) -> Status {
        if self.mismatches.is_empty() { Status::Pass } else { Status::Fail }
    }
}

/// A judged cell: what was expected, what was seen, and the verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellResult {
    /// The scenario id.
    pub scenario: String,
    /// The client backend.
    pub client: BackendId,
    /// The server backend.
    pub server: BackendId,
    /// pass, fail, unsupported or error.
    pub status: Status,
    /// Why the cell is unsupported, or why an override changed its expectation, or what the harness fault was.
    pub reason: Option<String>,
    /// The expectation the cell was judged against.
    pub expected: Option<Expectation>,
    /// Both sides' observations.
    pub observed: Option<Observation>,
    /// What the relay saw on the wire, one entry per connection (two for `mode: resume`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wire: Vec<Wire>,
    /// What did not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    /// Checks that could not be made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Wall time of the cell.
    pub duration_ms: f64,
}

impl CellResult {
    /// The cell's test name: `seed::legacy_tls10_server::openssl->rustls`.
    pub fn name(&self) -> String {
        format!("{}::{}->{}", self.scenario, self.client, self.server)
    }

    /// A cell not judged (yet): `status` with `reason`, nothing observed.
    pub(crate) fn new(cell: &Cell, status: Status, reason: Option<String>) -> Self {
        CellResult {
            scenario: cell.scenario.id.clone(),
            client: cell.client,
            server: cell.server,
            status,
            reason,
            expected: None,
            observed: None,
            wire: Vec::new(),
            mismatches: Vec::new(),
            notes: Vec::new(),
            duration_ms: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_reads_back_typed_or_from_an_older_reports_sentence() {
        let typed = Mismatch::of("client.version".into(), "tls1.3", "tls1.2", BackendId::Rustls);
        assert_eq!(typed.text, "client.version: expected tls1.3, observed tls1.2");
        let json = serde_json::to_string(&typed).unwrap();
        assert!(json.contains(r#""witness":{"library":"rustls"}"#), "{json}");
        assert_eq!(serde_json::from_str::<Mismatch>(&json).unwrap(), typed);
        let old: Mismatch = serde_json::from_str(r#""client.version: expected tls1.3, observed tls1.2""#).unwrap();
        assert_eq!((old.text.as_str(), &old.witness), (typed.text.as_str(), &Witness::Unknown));
    }
}
