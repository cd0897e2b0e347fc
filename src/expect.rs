//! Comparing an observation with its expectation, field by field, side by side.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::backend::Capabilities;
use crate::observation::{ErrorClass, SideOutcome};
use crate::scenario::{Expectation, ExpectedResult, SideExpect};
use crate::vocab::{BackendId, Role};

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

/// One side, as the judge needs to see it.
pub struct Side<'a> {
    /// Client or server.
    pub role: Role,
    /// The backend.
    pub backend: BackendId,
    /// What it can report.
    pub caps: &'a Capabilities,
    /// What it observed.
    pub outcome: &'a SideOutcome,
}

/// The result of judging: what did not match, and what could not be checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Each mismatch, one line, naming the side and field: "server.sent_alert: expected X, observed Y".
    pub mismatches: Vec<String>,
    /// Checks skipped because a backend cannot report the field.
    pub notes: Vec<String>,
}

/// Compares both sides with the expectation, then checks the sides against each other.
pub fn judge(exp: &Expectation, client: Side<'_>, server: Side<'_>, faithful_wire: bool) -> Judgement {
    let mut j = Judgement::default();
    for side in [&client, &server] {
        if let SideOutcome::Failed(f) = side.outcome {
            if f.error == ErrorClass::Unmapped {
                j.mismatches.push(format!("{}: {}", side.role, f.message));
            }
        }
    }
    match exp.result {
        ExpectedResult::Success => {
            for side in [&client, &server] {
                judge_success(exp, side, &mut j);
            }
        }
        ExpectedResult::Failure => {
            let none = SideExpect::default();
            judge_failure(exp.client.as_ref().unwrap_or(&none), &client, &mut j);
            judge_failure(exp.server.as_ref().unwrap_or(&none), &server, &mut j);
        }
    }
    // A relay playing a fault changes what one side receives, so the other side is no witness of it then.
    if faithful_wire {
        cross_check(&client, &server, &mut j);
        cross_check(&server, &client, &mut j);
    }
    j
}

fn judge_success(exp: &Expectation, side: &Side<'_>, j: &mut Judgement) {
    let role = side.role;
    let est = match side.outcome {
        SideOutcome::Established(e) => e,
        SideOutcome::Failed(_) => {
            j.mismatches.push(format!("{role}: expected established, observed {}", side.outcome));
            return;
        }
    };
    let mut field = |name: &str, want: Option<String>, got: Option<String>, reported: bool| {
        let Some(want) = want else { return };
        if !reported {
            j.notes.push(format!("{role}.{name} not checked: {} does not report it", side.backend));
        } else if got.as_deref() != Some(want.as_str()) {
            j.mismatches
                .push(format!("{role}.{name}: expected {want}, observed {}", got.unwrap_or_else(|| "none".into())));
        }
    };
    let params = side.caps.reports_parameters;
    field("version", exp.version.map(|v| v.to_string()), est.version.map(|v| v.to_string()), params);
    field("cipher", exp.cipher.map(|c| c.to_string()), est.cipher.map(|c| c.to_string()), params);
    field("group", exp.group.map(|g| g.to_string()), est.group.map(|g| g.to_string()), params);
    field("resumed", exp.resumed.map(|r| r.to_string()), est.resumed.map(|r| r.to_string()), params);
    if let Some(want) = &exp.alpn {
        if *want != est.alpn {
            let show = |a: &Option<String>| a.clone().unwrap_or_else(|| "none".into());
            j.mismatches.push(format!("{role}.alpn: expected {}, observed {}", show(want), show(&est.alpn)));
        }
    }
}

fn judge_failure(exp: &SideExpect, side: &Side<'_>, j: &mut Judgement) {
    let role = side.role;
    let SideOutcome::Failed(f) = side.outcome else {
        j.mismatches.push(format!("{role}: expected a failure, observed {}", side.outcome));
        return;
    };
    if f.error == ErrorClass::Unmapped {
        return; // already reported, and its alerts are unknown
    }
    let show = |a: Option<crate::vocab::Alert>| a.map_or("none".to_string(), |a| a.to_string());
    if !exp.sent_alert.matches(f.sent_alert) {
        j.mismatches.push(format!("{role}.sent_alert: expected {}, observed {}", exp.sent_alert, show(f.sent_alert)));
    }
    if !exp.received_alert.matches(f.received_alert) {
        j.mismatches.push(format!(
            "{role}.received_alert: expected {}, observed {}",
            exp.received_alert,
            show(f.received_alert)
        ));
    }
    if let Some(want) = exp.error {
        if want != f.error {
            j.mismatches.push(format!("{role}.error: expected {want}, observed {}", f.error));
        }
    }
    if let Some(want) = exp.message.get(&side.backend) {
        if *want != f.message {
            j.mismatches.push(format!("{role}.message: expected {want:?}, observed {:?}", f.message));
        }
    }
}

/// A backend that infers its sent alert is checked against an exact peer's received alert: if they differ, the
/// inference (the backend's error-to-alert mapping) is wrong, whatever the expectation says.
fn cross_check(inferring: &Side<'_>, witness: &Side<'_>, j: &mut Judgement) {
    if inferring.caps.exact_alerts || !witness.caps.exact_alerts {
        return;
    }
    if witness.outcome.failure().is_some_and(|f| f.error == ErrorClass::Timeout)
        || inferring.outcome.failure().is_some_and(|f| f.error == ErrorClass::Unmapped)
    {
        return;
    }
    let said = inferring.outcome.sent_alert();
    let seen = witness.outcome.received_alert();
    if said != seen {
        let show = |a: Option<crate::vocab::Alert>| a.map_or("none".to_string(), |a| a.to_string());
        j.mismatches.push(format!(
            "{} ({}) reports sending {}, but the {} ({}) received {}: fix {}'s error-to-alert mapping",
            inferring.role,
            inferring.backend,
            show(said),
            witness.role,
            witness.backend,
            show(seen),
            inferring.backend
        ));
    }
}
