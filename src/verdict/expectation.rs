//! Comparing an observation with its expectation, field by field, side by side, and the sides with each other.

use std::collections::BTreeMap;
use std::fmt;

use super::{Mismatch, Verdict, Witness};
use crate::backend::Capabilities;
use crate::observation::{ErrorClass, SideOutcome};
use crate::scenario::{Expectation, ExpectedResult, SideExpect};
use crate::vocab::{BackendId, Role};
use crate::wire::Wire;

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

/// Compares both sides with the expectation, then checks the sides against each other.
///
/// `wire` is the analysed bytes of the (last) connection: where a library cannot report a negotiated parameter (no
/// API: Java's group, native-tls's version and suite), the value the ServerHello / ServerKeyExchange carried is checked
/// instead, so the expectation is still held to the truth.
pub fn judge(
    exp: &Expectation,
    client: Side<'_>,
    server: Side<'_>,
    wire: Option<&Wire>,
    faithful_wire: bool,
) -> Verdict {
    let mut j = Verdict::default();
    for side in [&client, &server] {
        if let SideOutcome::Failed(f) = side.outcome {
            if f.error == ErrorClass::Unmapped {
                j.mismatches.push(Mismatch {
                    field: side.role.to_string(),
                    expected: "an error the backend's mapping knows".into(),
                    observed: f.message.clone(),
                    witness: Witness::Library(side.backend),
                    text: format!("{}: {}", side.role, f.message),
                });
            }
        }
    }
    match exp.result {
        ExpectedResult::Success => {
            for side in [&client, &server] {
                judge_success(exp, side, wire, &mut j);
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
        cross_check(&client, &server, wire, &mut j);
        cross_check(&server, &client, wire, &mut j);
    }
    j
}

fn judge_success(exp: &Expectation, side: &Side<'_>, wire: Option<&Wire>, j: &mut Verdict) {
    let role = side.role;
    // A side expected to fail at close: a failure in the data phase, judged by its block.
    if let Some(close) = exp.close.as_ref().and_then(|c| c.side(role)) {
        match side.outcome {
            SideOutcome::Failed(f) if f.phase == crate::observation::Phase::Data => judge_failure(close, side, j),
            _ => j.mismatches.push(Mismatch::of(role.to_string(), "a failure at close", side.outcome, side.backend)),
        }
        return;
    }
    let est = match side.outcome {
        SideOutcome::Established(e) => e,
        SideOutcome::Failed(_) => {
            j.mismatches.push(Mismatch::of(role.to_string(), "established", side.outcome, side.backend));
            return;
        }
    };
    let params = side.caps.reports_parameters;
    let mut field = |name: &str, want: Option<String>, got: Option<String>, seen: Option<String>| {
        let Some(want) = want else { return };
        match (got.filter(|_| params), seen) {
            (Some(got), _) if got == want => {}
            (Some(got), _) => j.mismatches.push(Mismatch::of(format!("{role}.{name}"), want, got, side.backend)),
            (None, Some(seen)) if seen == want => {}
            (None, Some(seen)) => j.mismatches.push(Mismatch {
                field: format!("{role}.{name}"),
                text: format!(
                    "{role}.{name}: expected {want}, the wire shows {seen} ({} does not report it)",
                    side.backend
                ),
                expected: want,
                observed: seen,
                witness: Witness::Wire,
            }),
            (None, None) if params => {
                j.mismatches.push(Mismatch::of(format!("{role}.{name}"), want, "none", side.backend))
            }
            (None, None) => j.notes.push(format!("{role}.{name} not checked: {} does not report it", side.backend)),
        }
    };
    let (v, c, g) = (wire.and_then(|w| w.version), wire.and_then(|w| w.cipher), wire.and_then(|w| w.group));
    field("version", text(exp.version), text(est.version), text(v));
    field("cipher", text(exp.cipher), text(est.cipher), text(c));
    field("group", text(exp.group), text(est.group), text(g));
    field("resumed", exp.resumed.map(|r| r.to_string()), est.resumed.map(|r| r.to_string()), None);
    if let Some(want) = &exp.alpn {
        if *want != est.alpn {
            let show = |a: &Option<String>| a.clone().unwrap_or_else(|| "none".into());
            j.mismatches.push(Mismatch::of(format!("{role}.alpn"), show(want), show(&est.alpn), side.backend));
        }
    }
}

fn text<T: fmt::Display>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

fn judge_failure(exp: &SideExpect, side: &Side<'_>, j: &mut Verdict) {
    let role = side.role;
    let SideOutcome::Failed(f) = side.outcome else {
        j.mismatches.push(Mismatch::of(role.to_string(), "a failure", side.outcome, side.backend));
        return;
    };
    if f.error == ErrorClass::Unmapped {
        return; // already reported, and its alerts are unknown
    }
    let show = |a: Option<crate::vocab::Alert>| a.map_or("none".to_string(), |a| a.to_string());
    if !exp.sent_alert.matches(f.sent_alert) {
        j.mismatches.push(Mismatch::of(
            format!("{role}.sent_alert"),
            &exp.sent_alert,
            show(f.sent_alert),
            side.backend,
        ));
    }
    if !exp.received_alert.matches(f.received_alert) {
        j.mismatches.push(Mismatch::of(
            format!("{role}.received_alert"),
            &exp.received_alert,
            show(f.received_alert),
            side.backend,
        ));
    }
    if let Some(want) = exp.error {
        if want != f.error {
            j.mismatches.push(Mismatch::of(format!("{role}.error"), want, f.error, side.backend));
        }
    }
    // The error text, whole (`message`) or a fragment of it (`message_contains`), on the backends named: a key
    // naming a family (`node`) covers its releases, as `when` does, and a pinned key (`node@8`) wins over it.
    let exact = keyed(&exp.message, side.backend).filter(|want| **want != f.message).map(|w| ("message", "", w));
    let part = keyed(&exp.message_contains, side.backend).filter(|want| !f.message.contains(want.as_str()));
    for (field, how, want) in exact.into_iter().chain(part.map(|w| ("message_contains", "a text containing ", w))) {
        j.mismatches.push(Mismatch {
            field: format!("{role}.{field}"),
            text: format!("{role}.message: expected {how}{want:?}, observed {:?}", f.message),
            expected: want.clone(),
            observed: f.message.clone(),
            witness: Witness::Library(side.backend),
        });
    }
}

/// The text a `message` or `message_contains` map gives `backend`: its own key, else its family's.
fn keyed(map: &BTreeMap<BackendId, String>, backend: BackendId) -> Option<&String> {
    map.get(&backend).or_else(|| map.get(&backend.family()))
}

/// A backend that infers its sent alert is checked against an exact peer's received alert: if they differ, the
/// inference (the backend's error-to-alert mapping) is wrong, whatever the expectation says.
///
/// Only where the wire cannot settle it (`wire::check` compares every reported alert with the bytes): when the
/// inferring side's alert is not on the wire and some records stayed encrypted. Elsewhere the peer is a poorer
/// witness than the bytes: a peer that failed first, or could not decrypt a plaintext alert (JSSE and GnuTLS after
/// OpenSSL's TLS 1.3 client rejects a certificate), never reads an alert that is there.
fn cross_check(inferring: &Side<'_>, witness: &Side<'_>, wire: Option<&Wire>, j: &mut Verdict) {
    if inferring.caps.exact_alerts || !witness.caps.exact_alerts {
        return;
    }
    let settled_by_wire =
        wire.is_some_and(|w| w.opaque_records == 0 || w.alerts.iter().any(|a| a.fatal && a.from == inferring.role));
    if settled_by_wire {
        return;
    }
    // A witness that gave up on the connection on its own account read nothing after it: one that sent its own
    // fatal alert (OpenSSL's TLS 1.3 client rejecting a certificate never reads the encrypted handshake_failure JSSE
    // answers with), or one that failed locally and closed without an alert (Node's client, rejecting the
    // certificate in JavaScript after OpenSSL's handshake callback, destroys the socket).
    let gave_up = |f: &crate::observation::Failure| {
        f.sent_alert.is_some() || (f.error == ErrorClass::Local && f.received_alert.is_none())
    };
    if witness.outcome.failure().is_some_and(|f| f.error == ErrorClass::Timeout || gave_up(f))
        || inferring.outcome.failure().is_some_and(|f| f.error == ErrorClass::Unmapped)
    {
        return;
    }
    let said = inferring.outcome.sent_alert();
    let seen = witness.outcome.received_alert();
    if said != seen {
        let show = |a: Option<crate::vocab::Alert>| a.map_or("none".to_string(), |a| a.to_string());
        j.mismatches.push(Mismatch {
            field: format!("{}.sent_alert", inferring.role),
            expected: show(said),
            observed: show(seen),
            witness: Witness::Peer(witness.role, witness.backend),
            text: format!(
                "{} ({}) reports sending {}, but the {} ({}) received {}: fix {}'s error-to-alert mapping",
                inferring.role,
                inferring.backend,
                show(said),
                witness.role,
                witness.backend,
                show(seen),
                inferring.backend
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{Failure, Phase};
    use crate::vocab::Alert;

    fn caps(exact_alerts: bool) -> Capabilities {
        Capabilities {
            versions: Default::default(),
            versions_reason: "",
            settings: Default::default(),
            cipher_suites: Default::default(),
            groups: Default::default(),
            exact_alerts,
            reports_parameters: true,
            unavailable: None,
        }
    }

    fn failed(sent: Option<Alert>) -> SideOutcome {
        SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: sent,
            received_alert: None,
            error: ErrorClass::Local,
            message: String::new(),
        })
    }

    #[test]
    fn a_witness_that_gave_up_first_does_not_judge_the_other_sides_alert() {
        let (exact, inferred) = (caps(true), caps(false));
        // The wire is blind (the server's alert is encrypted and nobody logged its key).
        let blind = Wire { opaque_records: 1, ..Wire::default() };
        let server_said = failed(Some(Alert::HANDSHAKE_FAILURE));
        let inferring = Side { role: Role::Server, backend: BackendId::Jsse, caps: &inferred, outcome: &server_said };
        // An OpenSSL client that had sent its own fatal alert read nothing after it.
        let gave_up = failed(Some(Alert::UNKNOWN_CA));
        let witness = Side { role: Role::Client, backend: BackendId::Openssl, caps: &exact, outcome: &gave_up };
        let mut j = Verdict::default();
        cross_check(&inferring, &witness, Some(&blind), &mut j);
        assert!(j.mismatches.is_empty(), "{:?}", j.mismatches);
        // So did one that failed on its own and closed without an alert (Node's client rejecting a certificate).
        let closed = failed(None);
        let witness = Side { role: Role::Client, backend: BackendId::Node, caps: &exact, outcome: &closed };
        cross_check(&inferring, &witness, Some(&blind), &mut j);
        assert!(j.mismatches.is_empty(), "{:?}", j.mismatches);
        // A witness that kept reading until the stream ended is held to what it received.
        let reading = SideOutcome::Failed(Failure { error: ErrorClass::Eof, ..closed.failure().unwrap().clone() });
        let witness = Side { role: Role::Client, backend: BackendId::Openssl, caps: &exact, outcome: &reading };
        cross_check(&inferring, &witness, Some(&blind), &mut j);
        assert_eq!(j.mismatches.len(), 1, "{:?}", j.mismatches);
    }

    /// `close`: the named side must fail in the data phase as its block says; an established side, or a failure in
    /// the handshake, does not match it.
    #[test]
    fn a_close_block_expects_a_failure_after_the_exchange() {
        let c = caps(true);
        let exp: Expectation = serde_json::from_value(serde_json::json!({
            "result": "success",
            "close": {"client": {"error": "local"}}
        }))
        .unwrap();
        assert_eq!(exp.check(), Ok(()));
        let at = |phase| {
            SideOutcome::Failed(Failure {
                phase,
                ..match failed(None) {
                    SideOutcome::Failed(f) => f,
                    SideOutcome::Established(_) => unreachable!(),
                }
            })
        };
        let judge = |outcome: &SideOutcome| {
            let mut j = Verdict::default();
            judge_success(
                &exp,
                &Side { role: Role::Client, backend: BackendId::Gnutls, caps: &c, outcome },
                None,
                &mut j,
            );
            j.mismatches
        };
        assert!(judge(&at(Phase::Data)).is_empty());
        assert_eq!(judge(&at(Phase::Handshake)).len(), 1);
        let established = SideOutcome::Established(Default::default());
        assert!(judge(&established)[0].text.contains("a failure at close"), "{:?}", judge(&established));
        // Both sides, or a failure expectation, are refused.
        let both: Expectation = serde_json::from_value(serde_json::json!({
            "result": "success", "close": {"client": {}, "server": {}}
        }))
        .unwrap();
        assert!(both.check().is_err());
    }

    #[test]
    fn message_contains_checks_a_fragment_on_the_backends_it_names() {
        let c = caps(true);
        let outcome = SideOutcome::Failed(Failure {
            message:
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)"
                    .into(),
            ..match failed(None) {
                SideOutcome::Failed(f) => f,
                SideOutcome::Established(_) => unreachable!(),
            }
        });
        let judge = |backend, fragment: &str| {
            let exp = SideExpect {
                message_contains: [(BackendId::Python, fragment.to_string())].into(),
                ..SideExpect::default()
            };
            let mut j = Verdict::default();
            judge_failure(&exp, &Side { role: Role::Client, backend, caps: &c, outcome: &outcome }, &mut j);
            j.mismatches
        };
        assert!(judge(BackendId::Python, "certificate verify failed: certificate has expired").is_empty());
        let m = judge(BackendId::Python, "certificate is not yet valid");
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].field, "client.message_contains");
        assert!(m[0].text.contains("expected a text containing"), "{}", m[0].text);
        // Another backend's cell is not held to python's fragment.
        assert!(judge(BackendId::Openssl, "certificate is not yet valid").is_empty());
    }

    #[test]
    fn a_family_key_covers_its_releases_and_a_pinned_key_wins() {
        let c = caps(true);
        let failed_with = |text: &str| {
            SideOutcome::Failed(Failure {
                message: text.into(),
                ..match failed(None) {
                    SideOutcome::Failed(f) => f,
                    SideOutcome::Established(_) => unreachable!(),
                }
            })
        };
        let exp = SideExpect {
            message: [
                (BackendId::Jsse, "Received fatal alert: unknown_ca".to_string()),
                (BackendId::Jsse25, "(unknown_ca) Received fatal alert: unknown_ca".to_string()),
            ]
            .into(),
            ..SideExpect::default()
        };
        let judge = |backend, text: &str| {
            let mut j = Verdict::default();
            let outcome = failed_with(text);
            judge_failure(&exp, &Side { role: Role::Server, backend, caps: &c, outcome: &outcome }, &mut j);
            j.mismatches.len()
        };
        // `jsse` holds Java 11 and 21 to its text; Java 25's pinned text replaces it for jsse@25 alone.
        assert_eq!(judge(BackendId::Jsse11, "Received fatal alert: unknown_ca"), 0);
        assert_eq!(judge(BackendId::Jsse21, "(unknown_ca) Received fatal alert: unknown_ca"), 1);
        assert_eq!(judge(BackendId::Jsse25, "(unknown_ca) Received fatal alert: unknown_ca"), 0);
        assert_eq!(judge(BackendId::Jsse25, "Received fatal alert: unknown_ca"), 1);
        // Another family is not held to it.
        assert_eq!(judge(BackendId::Node, "anything"), 0);
    }
}
