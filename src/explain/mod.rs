//! `tlsmatrix explain`: a plain-language diagnosis of a cell, computed from both configs, the PKI and what each side
//! observed, with the change that would fix it.
//!
//! The evidence always comes from the configuration and the certificates, never from parsing a library's error text:
//! "client offers tls1.2 only; server accepts tls1.3 only" is derived from both `versions` (or the library defaults
//! each backend declares, docs/backends.md), "issued by root-b, which the client does not trust" from the fixtures' issuer chain. The
//! observed alerts only order the findings (the one the handshake actually tripped over comes first) and confirm them
//! ("Observed: the server sent protocol_version."). Each rule is one small function; a rule that cannot be sure (a
//! library default list we cannot enumerate, a library that tolerates the problem) stays silent rather than guess,
//! and a failed cell no rule explains still gets one finding naming the side, its alert and the library's own words.
//!
//! What each library does on its own (its default versions, suites and groups, its security level, whether its
//! verifier takes a trusted intermediate as anchor or falls back to the CN, ...) is not known here: every backend
//! declares it as its [`crate::backend::Behaviour`], and the rules read that, so no rule names a library.
//!
//! The rules by concern: `negotiation` (versions, security level, suites, DHE, groups, ALPN), `certificates` (the
//! path to a trust anchor, validity, CA flags, name constraints, purpose), `strength` (keys and signature digests),
//! `hostname`, `client_auth`; `render` writes their evidence.

mod certificates;
mod client_auth;
mod hostname;
mod negotiation;
mod render;
mod side;
mod strength;
#[cfg(test)]
mod tests;

use serde::Serialize;

use self::side::Side;
use crate::backend::Registry;
use crate::expect::Status;
use crate::observation::{Failure, Observation, SideOutcome};
use crate::pki::Pki;
use crate::runner::CellResult;
use crate::scenario::{ClientConfig, Scenario, ServerConfig};
use crate::vocab::{Alert, BackendId, Role};

/// One finding about a cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The cause, in one line ("no protocol version in common").
    pub cause: String,
    /// The evidence from both configs and the observation.
    pub detail: String,
    /// The change that would make the pair connect.
    pub fix: String,
}

/// Diagnoses one judged cell of `scenario` against every backend compiled in: [`diagnose_with`] with
/// [`Registry::all`].
pub fn diagnose(scenario: &Scenario, pki: &Pki, cell: &CellResult) -> Vec<Finding> {
    diagnose_with(scenario, pki, &Registry::all(), cell)
}

/// Diagnoses one judged cell of `scenario`: empty when both sides connected, else at least one finding.
///
/// `registry` supplies what each backend can enable, so a suggested fix is one the library can express (a native-tls
/// server cannot enable TLS 1.3, rustls cannot enable TLS 1.0), and what it does by default (its
/// [`crate::backend::Behaviour`]); a backend missing from it leaves only the unexplained finding. A cell the harness could not run gets one finding
/// with the fault; an unsupported cell, which never ran, gets none.
pub fn diagnose_with(scenario: &Scenario, pki: &Pki, registry: &Registry, cell: &CellResult) -> Vec<Finding> {
    let Some(observed) = &cell.observed else {
        return harness_fault(cell).into_iter().collect();
    };
    if observed.client.failure().is_none() && observed.server.failure().is_none() {
        return Vec::new();
    }
    // Without a side's library facts no rule can judge it: the failure is reported as the library put it.
    let Some(pair) = Pair::new(scenario, pki, registry, cell.client, cell.server) else {
        return vec![unexplained(observed, cell)];
    };
    let mut found: Vec<Candidate> = [
        pair.no_common_version(),
        pair.legacy_version_needs_level_0(),
        pair.no_common_cipher_suite(),
        pair.dhe_without_parameters(),
        pair.no_common_group(),
        pair.no_common_alpn(),
        pair.ed25519_refused(),
    ]
    .into_iter()
    .flatten()
    .collect();
    found.extend(pair.certificate_problems(&pair.server_certificate_check()));
    found.extend(pair.hostname_mismatch());
    found.extend(pair.client_certificate_missing());
    if let Some(check) = pair.client_certificate_check() {
        found.extend(pair.certificate_problems(&check));
    }
    if found.is_empty() {
        return vec![unexplained(observed, cell)];
    }
    confirm_with_alerts(found, observed)
}

/// A finding with the alerts that would show it, for matching against the observation.
struct Candidate {
    finding: Finding,
    alerts: &'static [Alert],
}

/// Alerts a certificate-path failure is reported with: OpenSSL's `ssl_x509err2alert` and rustls's
/// `impl From<CertificateError> for AlertDescription` use these for untrusted, incomplete or unusable chains.
const PATH_ALERTS: &[Alert] =
    &[Alert::UNKNOWN_CA, Alert::CERTIFICATE_UNKNOWN, Alert::BAD_CERTIFICATE, Alert::DECRYPT_ERROR];

/// Puts the findings the observed alerts confirm first (the handshake tripped over those), keeping handshake order
/// otherwise, and adds the observation to their detail.
fn confirm_with_alerts(found: Vec<Candidate>, observed: &Observation) -> Vec<Finding> {
    let seen = observed_alerts(observed);
    let (mut confirmed, rest): (Vec<Candidate>, Vec<Candidate>) =
        found.into_iter().partition(|c| c.alerts.iter().any(|a| seen.contains(a)));
    let summary = alert_summary(observed);
    for c in &mut confirmed {
        if let Some(s) = &summary {
            c.finding.detail.push_str(&format!(" Observed: {s}."));
        }
    }
    confirmed.into_iter().chain(rest).map(|c| c.finding).collect()
}

/// Every alert either side sent or received.
fn observed_alerts(o: &Observation) -> Vec<Alert> {
    [&o.client, &o.server].into_iter().flat_map(|s| [s.sent_alert(), s.received_alert()]).flatten().collect()
}

/// "the server sent protocol_version", from the side that sent an alert (or received one, if none was seen sent).
fn alert_summary(o: &Observation) -> Option<String> {
    let sides = [(Role::Client, &o.client), (Role::Server, &o.server)];
    let sent = sides.iter().find_map(|(r, s)| s.sent_alert().map(|a| format!("the {r} sent {a}")));
    sent.or_else(|| sides.iter().find_map(|(r, s)| s.received_alert().map(|a| format!("the {r} received {a}"))))
}

/// The finding for a cell the harness could not play: the fault is the diagnosis.
fn harness_fault(cell: &CellResult) -> Option<Finding> {
    (cell.status == Status::Error).then(|| Finding {
        cause: "the harness could not run this cell".into(),
        detail: cell.reason.clone().unwrap_or_else(|| "no reason was recorded".into()),
        fix: "fix the harness fault above (a backend refused the configuration, or a socket failed); it says \
              nothing about TLS compatibility yet"
            .into(),
    })
}

/// The finding when no rule matched: which side failed first, with which alert, in the library's own words.
fn unexplained(o: &Observation, cell: &CellResult) -> Finding {
    let sides = [(Role::Client, cell.client, &o.client), (Role::Server, cell.server, &o.server)];
    let failed: Vec<(Role, BackendId, &Failure)> =
        sides.iter().filter_map(|(r, b, s)| s.failure().map(|f| (*r, *b, f))).collect();
    // The side that gave up (sent an alert, or failed on its own) is where the cause is; its peer only reports it.
    let first = failed
        .iter()
        .find(|(_, _, f)| f.sent_alert.is_some())
        .or_else(|| failed.iter().find(|(_, _, f)| f.received_alert.is_none()))
        .or(failed.first());
    let Some((role, backend, f)) = first else {
        return Finding {
            cause: "no failure recorded".into(),
            detail: "neither side reported a failure".into(),
            fix: "nothing to fix".into(),
        };
    };
    let how = match (f.sent_alert, f.received_alert) {
        (Some(a), _) => format!("sent {a}"),
        (None, Some(a)) => format!("received {a}"),
        (None, None) => format!("failed without an alert ({})", f.error),
    };
    let detail = failed
        .iter()
        .map(|(r, b, f)| format!("{r} ({b}): {}", SideOutcome::Failed((*f).clone())))
        .collect::<Vec<_>>()
        .join("; ");
    Finding {
        cause: format!("no specific diagnosis: the {role} ({backend}) {how}"),
        detail,
        fix: format!(
            "no rule matched (versions, cipher suites, groups, ALPN, certificate trust, validity, key usage, key and \
             digest strength, names and client certificates all look compatible); start from the {role}'s own error \
             above"
        ),
    }
}

/// Both sides of a cell, with the scenario and the PKI.
struct Pair<'a> {
    scenario: &'a Scenario,
    pki: &'a Pki,
    client: Side<'a>,
    server: Side<'a>,
}

impl<'a> Pair<'a> {
    /// The pair, with each side's capabilities and behaviour from `registry`; `None` if either backend is not in it.
    fn new(scenario: &'a Scenario, pki: &'a Pki, registry: &'a Registry, c: BackendId, s: BackendId) -> Option<Self> {
        Some(Pair {
            scenario,
            pki,
            client: Side::new::<ClientConfig>(&scenario.client, registry.get(c)?.as_ref()),
            server: Side::new::<ServerConfig>(&scenario.server, registry.get(s)?.as_ref()),
        })
    }

    /// The certificate the server presents to this client: the one its SNI selects, else `certificate`.
    fn served_certificate(&self) -> String {
        // Only a name the client actually sends as SNI can select a certificate (`sni: false` sends none).
        let sent = self.scenario.client.server_name.as_ref().filter(|_| self.scenario.client.sni != Some(false));
        let sni = sent.and_then(|n| self.scenario.server.sni_certificates.get(n));
        sni.unwrap_or(&self.scenario.server.certificate).0.clone()
    }
}
