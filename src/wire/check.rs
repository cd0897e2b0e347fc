//! Library-reported alerts against the wire: the check that makes every backend's alert reporting honest.
//!
//! The in-process openssl backend sees alerts through OpenSSL's message callback, but native-tls, rustls and the
//! external peers infer what they sent from an error value. The relay's bytes settle it: each side's fatal alert on
//! the wire must be the one its backend reported, and an alert a backend reports receiving must be on the wire from
//! the other side. Where the wire cannot tell (records encrypted and no side exported its secrets), the cell says
//! so in a note instead of pretending it checked.

use crate::observation::{Observation, SideOutcome};
use crate::vocab::{Alert, BackendId, Role};

use super::Wire;

/// What the comparison found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Disagreements: the cell fails on them.
    pub mismatches: Vec<String>,
    /// Checks that could not be made, and why.
    pub notes: Vec<String>,
}

/// Compares both sides' reported alerts with the alerts on the wire of the same connection.
pub fn check(obs: &Observation, wire: &Wire, (client, server): (BackendId, BackendId)) -> Check {
    let mut out = Check::default();
    let on_wire = |from: Role| wire.alerts.iter().find(|a| a.fatal && a.from == from).map(|a| a.alert);
    let blind = wire.opaque_records > 0;
    for (role, id, side, peer) in
        [(Role::Client, client, &obs.client, Role::Server), (Role::Server, server, &obs.server, Role::Client)]
    {
        let name = |a: Option<Alert>| a.map_or_else(|| "no alert".to_string(), |a| a.to_string());
        // What this side sent.
        match (side.sent_alert(), on_wire(role)) {
            (a, b) if a == b => {}
            (Some(reported), None) if blind => out.notes.push(format!(
                "wire: {role} ({id}) reports sending {reported}; not confirmed: {} encrypted record(s) could not be \
                 decrypted (no key log from either side)",
                wire.opaque_records
            )),
            (reported, seen) => out.mismatches.push(format!(
                "wire: {role} ({id}) reports sending {}, the wire shows {} from the {role}",
                name(reported),
                name(seen)
            )),
        }
        // What this side received: it must have been sent. (The reverse does not hold: a side that failed first
        // may close before reading the peer's alert.)
        if let (Some(reported), seen) = (side.received_alert(), on_wire(peer)) {
            if seen != Some(reported) && !(seen.is_none() && blind) {
                out.mismatches.push(format!(
                    "wire: {role} ({id}) reports receiving {reported}, the wire shows {} from the {peer}",
                    name(seen)
                ));
            }
        }
        if matches!(side, SideOutcome::Failed(_)) && side.sent_alert().is_none() && on_wire(role).is_none() && blind {
            out.notes.push(format!("wire: whether the {role} sent an alert is unknown (encrypted, no key log)"));
        }
    }
    out
}
