//! Library-reported alerts against the wire: the check that makes every backend's alert reporting honest.
//!
//! The in-process openssl backend sees alerts through OpenSSL's message callback, but native-tls, rustls and the
//! external peers infer what they sent from an error value. The relay's bytes settle it: each side's fatal alert on
//! the wire must be the one its backend reported, and an alert a backend reports receiving must be on the wire from
//! the other side. Where the wire cannot tell (records encrypted and no side exported its secrets), the cell says
//! so in a note instead of pretending it checked. The same holds where a fault scenario's relay cut one side off
//! (see [`cut`]): what that side says afterwards never reaches the wire.

use super::{Mismatch, Verdict, Witness};
use crate::observation::SideOutcome;
use crate::scenario::Fault;
use crate::vocab::{Alert, BackendId, Role};
use crate::wire::Wire;

/// Where a fault leaves the relay unable to record what one side sends, how. Both cuts come before that side can
/// have sent an alert, so an alert it reports sending and the wire lacks was sent after the cut. Every other fault
/// keeps reading both sides to their end (bytes that no longer reach the peer are still recorded).
fn cut(fault: Option<Fault>, role: Role) -> Option<&'static str> {
    match (fault?, role) {
        (Fault::ResetAfterClientHello, Role::Client) => Some(
            "the relay reset the client's connection after its ClientHello, so nothing the client sent later could be read",
        ),
        (Fault::HttpResponse, Role::Server) => Some(
            "the relay closed the server's connection without forwarding a byte and answered the client with HTTP in \
             its place, so the server's own answer is not on the wire",
        ),
        _ => None,
    }
}

/// Compares both sides' reported alerts with the alerts on the wire of the same connection, knowing the scenario's
/// fault (if any).
pub fn check(
    (client_outcome, server_outcome): (&SideOutcome, &SideOutcome),
    wire: &Wire,
    (client, server): (BackendId, BackendId),
    fault: Option<Fault>,
) -> Verdict {
    let mut out = Verdict::default();
    let on_wire = |from: Role| wire.alerts.iter().find(|a| a.fatal && a.from == from).map(|a| a.alert);
    let blind = wire.opaque_records > 0;
    for (role, id, side, peer) in
        [(Role::Client, client, client_outcome, Role::Server), (Role::Server, server, server_outcome, Role::Client)]
    {
        let name = |a: Option<Alert>| a.map_or_else(|| "no alert".to_string(), |a| a.to_string());
        // What this side sent.
        match (side.sent_alert(), on_wire(role)) {
            (a, b) if a == b => {}
            (Some(reported), None) if cut(fault, role).is_some() => out.notes.push(format!(
                "wire: {role} ({id}) reports sending {reported}; not on the wire: {}",
                cut(fault, role).unwrap_or_default()
            )),
            (Some(reported), None) if blind => out.notes.push(format!(
                "wire: {role} ({id}) reports sending {reported}; not confirmed: {} encrypted record(s) could not be \
                 decrypted (no key log from either side)",
                wire.opaque_records
            )),
            (reported, seen) => out.mismatches.push(Mismatch {
                field: format!("{role}.sent_alert"),
                expected: name(reported),
                observed: name(seen),
                witness: Witness::Wire,
                text: format!(
                    "wire: {role} ({id}) reports sending {}, the wire shows {} from the {role}",
                    name(reported),
                    name(seen)
                ),
            }),
        }
        // What this side received: it must have been sent, fatal or as a warning (a stack may fail on a warning:
        // crypto/tls on TLS 1.3's user_canceled). (The reverse does not hold: a side that failed first may close
        // before reading the peer's alert.)
        if let (Some(reported), seen) = (side.received_alert(), on_wire(peer)) {
            let sent = wire.alerts.iter().any(|a| a.from == peer && a.alert == reported);
            if !(sent || seen.is_none() && blind) {
                out.mismatches.push(Mismatch {
                    field: format!("{role}.received_alert"),
                    expected: reported.to_string(),
                    observed: name(seen),
                    witness: Witness::Wire,
                    text: format!(
                        "wire: {role} ({id}) reports receiving {reported}, the wire shows {} from the {peer}",
                        name(seen)
                    ),
                });
            }
        }
        if matches!(side, SideOutcome::Failed(_)) && side.sent_alert().is_none() && on_wire(role).is_none() && blind {
            out.notes.push(format!("wire: whether the {role} sent an alert is unknown (encrypted, no key log)"));
        }
        // What this side says was negotiated: the ServerHello on the wire says it too, and a side that reports a
        // connection the bytes never carried (an adapter that answers `established` without a handshake) is lying.
        if let SideOutcome::Established(est) = side {
            let mut differs = |field: &str, reported: Option<String>, seen: Option<String>| {
                let (Some(reported), Some(seen)) = (reported, seen) else { return };
                if reported != seen {
                    out.mismatches.push(Mismatch {
                        field: format!("{role}.{field}"),
                        text: format!(
                            "wire: {role} ({id}) reports {field} {reported}, the ServerHello on the wire says {seen}"
                        ),
                        expected: reported,
                        observed: seen,
                        witness: Witness::Wire,
                    });
                }
            };
            differs("version", est.version.map(|v| v.to_string()), wire.version.map(|v| v.to_string()));
            differs("cipher", est.cipher.map(|c| c.to_string()), wire.cipher.map(|c| c.to_string()));
            if wire.version.is_none() && wire.cipher.is_none() {
                out.mismatches.push(Mismatch {
                    field: format!("{role}.result"),
                    expected: "established".into(),
                    observed: "no ServerHello on the wire".into(),
                    witness: Witness::Wire,
                    text: format!(
                        "wire: {role} ({id}) reports an established connection, but no ServerHello crossed the wire: \
                         no TLS handshake happened on it"
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Observation;
    use crate::observation::{ErrorClass, Failure, Phase};
    use crate::wire::WireAlert;

    fn failed(sent: Option<Alert>) -> SideOutcome {
        SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: sent,
            received_alert: None,
            error: ErrorClass::Eof,
            message: String::new(),
        })
    }

    const PAIR: (BackendId, BackendId) = (BackendId::Rustls, BackendId::OpensslCli);

    #[test]
    fn an_alert_sent_after_the_relay_cut_that_side_off_is_a_note() {
        let obs = Observation { client: failed(Some(Alert::DECODE_ERROR)), server: failed(Some(Alert::DECODE_ERROR)) };
        let client_alert = WireAlert { from: Role::Client, fatal: true, alert: Alert::DECODE_ERROR, encrypted: false };
        let wire = Wire { alerts: vec![client_alert], ..Wire::default() };
        let c = check((&obs.client, &obs.server), &wire, PAIR, Some(Fault::HttpResponse));
        assert!(c.mismatches.is_empty(), "{:?}", c.mismatches);
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].contains("server (openssl-cli) reports sending decode_error; not on the wire"), "{c:?}");
        // Without the fault, or where the relay kept reading that side, the same report is a mismatch.
        for fault in [None, Some(Fault::CloseAfterClientHello)] {
            let c = check((&obs.client, &obs.server), &wire, PAIR, fault);
            assert_eq!(c.mismatches.len(), 1, "{fault:?}: {c:?}");
        }
    }

    #[test]
    fn a_cut_side_whose_alert_is_on_the_wire_is_still_compared() {
        let obs = Observation { client: failed(Some(Alert::HANDSHAKE_FAILURE)), server: failed(None) };
        let seen = WireAlert { from: Role::Client, fatal: true, alert: Alert::DECODE_ERROR, encrypted: false };
        let wire = Wire { alerts: vec![seen], ..Wire::default() };
        let c = check((&obs.client, &obs.server), &wire, PAIR, Some(Fault::ResetAfterClientHello));
        assert_eq!(c.mismatches.len(), 1, "{c:?}");
        assert!(c.notes.is_empty(), "{c:?}");
    }
}
