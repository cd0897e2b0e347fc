//! `tlsmatrix explain`: a plain-language diagnosis of a cell, computed from both configs, the PKI and what each side
//! observed, with the change that would fix it.
//!
//! The evidence always comes from the configuration and the certificates, never from parsing a library's error text:
//! "client offers tls1.2 only; server accepts tls1.3 only" is derived from both `versions` (or the library defaults
//! of docs/backends.md), "issued by root-b, which the client does not trust" from the fixtures' issuer chain. The
//! observed alerts only order the findings (the one the handshake actually tripped over comes first) and confirm them
//! ("Observed: the server sent protocol_version."). Each rule is one small function; a rule that cannot be sure (a
//! library default list we cannot enumerate, a library that tolerates the problem) stays silent rather than guess,
//! and a failed cell no rule explains still gets one finding naming the side, its alert and the library's own words.

use std::net::IpAddr;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509Ref;
use serde::Serialize;

use crate::backend::{Capabilities, Registry};
use crate::expect::Status;
use crate::observation::{Failure, Observation, SideOutcome};
use crate::pki::{Eku, KeyType, NameConstraints, Pki};
use crate::runner::CellResult;
use crate::scenario::{ChainShape, ClientAuth, ClientConfig, FixtureName, Knob, Scenario, ServerConfig, SideConfig};
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role};

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
/// server cannot enable TLS 1.3, rustls cannot enable TLS 1.0). A cell the harness could not run gets one finding
/// with the fault; an unsupported cell, which never ran, gets none.
pub fn diagnose_with(scenario: &Scenario, pki: &Pki, registry: &Registry, cell: &CellResult) -> Vec<Finding> {
    let Some(observed) = &cell.observed else {
        return harness_fault(cell).into_iter().collect();
    };
    if observed.client.failure().is_none() && observed.server.failure().is_none() {
        return Vec::new();
    }
    let pair = Pair::new(scenario, pki, registry, cell.client, cell.server);
    let mut found: Vec<Candidate> = [
        pair.no_common_version(),
        pair.legacy_version_needs_level_0(),
        pair.no_common_cipher_suite(),
        pair.dhe_without_parameters(),
        pair.no_common_group(),
        pair.no_common_alpn(),
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

/// One side's settings with the library defaults filled in where the scenario leaves a knob out.
struct Side<'a> {
    role: Role,
    backend: BackendId,
    caps: Option<&'a Capabilities>,
    versions: Option<&'a [ProtocolVersion]>,
    tls12_suites: Option<&'a [CipherSuite]>,
    tls13_suites: Option<&'a [CipherSuite]>,
    groups: Option<&'a [Group]>,
    security_level: Option<u8>,
    alpn: Option<&'a [String]>,
}

/// A list a side uses, and where it comes from (`None`: the scenario sets it).
struct Effective<T> {
    items: Vec<T>,
    default: Option<String>,
}

impl<'a> Side<'a> {
    fn new<C: SideConfig>(cfg: &'a C, backend: BackendId, registry: &'a Registry) -> Self {
        Side {
            role: C::ROLE,
            backend,
            caps: registry.get(backend).map(|b| b.capabilities(C::ROLE)),
            versions: cfg.versions(),
            tls12_suites: cfg.cipher_suites(),
            tls13_suites: cfg.tls13_cipher_suites(),
            groups: cfg.groups(),
            security_level: cfg.security_level(),
            alpn: cfg.alpn(),
        }
    }

    /// "offers" for the client, "accepts" for the server.
    fn verb(&self) -> &'static str {
        match self.role {
            Role::Client => "offers",
            Role::Server => "accepts",
        }
    }

    /// The enabled versions: the scenario's range, or the library default (docs/backends.md, "Defaults").
    fn versions(&self) -> Effective<ProtocolVersion> {
        use ProtocolVersion::*;
        if let Some(v) = self.versions {
            return Effective { items: v.to_vec(), default: None };
        }
        let (range, why): (&[ProtocolVersion], &str) = match (self.backend, self.role) {
            (BackendId::Openssl, _) => (&[Tls10, Tls11, Tls12, Tls13], "openssl's default"),
            (BackendId::NativeTls, Role::Client) => (&[Tls12, Tls13], "native-tls's default minimum is TLS 1.2"),
            (BackendId::NativeTls, Role::Server) => (
                &[Tls12],
                "native-tls's default: minimum TLS 1.2, and its SslAcceptor::mozilla_intermediate disables TLS 1.3",
            ),
            (BackendId::Rustls, _) => (&[Tls12, Tls13], "rustls's default"),
            (BackendId::OpensslCli, _) => (&[Tls10, Tls11, Tls12, Tls13], "openssl s_server/s_client's default"),
            (BackendId::Jsse, _) => {
                (&[Tls12, Tls13], "Java 17's default: jdk.tls.disabledAlgorithms disables TLSv1 and TLSv1.1")
            }
            (BackendId::Gnutls, _) => (&[Tls12, Tls13], "GnuTLS's NORMAL priority string"),
            (BackendId::Python, _) => (&[Tls12, Tls13], "Python's default: SSLContext's minimum is TLS 1.2 (3.10+)"),
        };
        Effective { items: range.to_vec(), default: Some(why.into()) }
    }

    /// The OpenSSL security level in force, for the OpenSSL-based backends (rustls has no such concept).
    fn effective_security_level(&self) -> Option<u8> {
        match self.backend {
            BackendId::Openssl | BackendId::NativeTls | BackendId::OpensslCli | BackendId::Python => {
                Some(self.security_level.unwrap_or(2))
            }
            BackendId::Rustls | BackendId::Jsse | BackendId::Gnutls => None,
        }
    }

    /// The suites for `version`, or `None` when the library default is a list we cannot enumerate here (OpenSSL's
    /// `DEFAULT` cipher string for TLS 1.2).
    fn suites(&self, version: ProtocolVersion) -> Option<Effective<CipherSuite>> {
        let tls13 = version == ProtocolVersion::Tls13;
        let set = if tls13 { self.tls13_suites } else { self.tls12_suites };
        if let Some(s) = set {
            return Some(Effective { items: s.to_vec(), default: None });
        }
        let (items, why) = match (self.backend, tls13) {
            (BackendId::Rustls, _) => {
                (rustls_default_suites().into_iter().filter(|s| s.is_tls13() == tls13).collect(), "rustls's default")
            }
            // OpenSSL's default TLS_CIPHERSUITES (docs/backends.md); native-tls does not change it.
            (_, true) => (vec![CipherSuite(0x1302), CipherSuite(0x1303), CipherSuite(0x1301)], "OpenSSL's default"),
            (_, false) => return None,
        };
        Some(Effective { items, default: Some(why.into()) })
    }

    /// The key-exchange groups: the scenario's, or the library default.
    fn groups(&self) -> Effective<Group> {
        if let Some(g) = self.groups {
            return Effective { items: g.to_vec(), default: None };
        }
        match self.backend {
            BackendId::Rustls => Effective { items: rustls_default_groups(), default: Some("rustls's default".into()) },
            // native-tls does not change OpenSSL's list.
            _ => Effective {
                items: OPENSSL_DEFAULT_GROUPS.iter().filter_map(|n| n.parse().ok()).collect(),
                default: Some("OpenSSL's default".into()),
            },
        }
    }

    /// Whether this side's backend can enable every version of `range`, or why not.
    fn can_enable(&self, range: &[ProtocolVersion]) -> Result<(), String> {
        let Some(caps) = self.caps else { return Ok(()) };
        match range.iter().find(|v| !caps.versions.contains(v)) {
            Some(v) => Err(format!("{} as {} cannot enable {v} ({})", self.backend, self.role, caps.versions_reason)),
            None => Ok(()),
        }
    }

    /// Whether this side's backend can set the OpenSSL security level.
    fn can_set_security_level(&self) -> bool {
        self.caps.is_none_or(|c| !c.lacks.iter().any(|(k, _)| *k == Knob::SecurityLevel))
    }

    /// Whether the backend implements `suite` (so a fix may ask this side to enable it).
    fn implements_suite(&self, suite: CipherSuite) -> bool {
        self.caps.is_none_or(|c| c.cipher_suites.contains(&suite))
    }

    /// Whether the backend implements `group`.
    fn implements_group(&self, group: Group) -> bool {
        self.caps.is_none_or(|c| c.groups.contains(&group))
    }
}

/// OpenSSL 3.0's default supported_groups, in its order (docs/backends.md).
const OPENSSL_DEFAULT_GROUPS: &[&str] = &[
    "x25519",
    "secp256r1",
    "x448",
    "secp521r1",
    "secp384r1",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
];

/// The rustls backend's provider defaults (it uses `aws_lc_rs::default_provider()` unchanged when a list is left out).
fn rustls_default_suites() -> Vec<CipherSuite> {
    let p = rustls::crypto::aws_lc_rs::default_provider();
    p.cipher_suites.iter().map(|s| CipherSuite(u16::from(s.suite()))).collect()
}

/// The rustls provider's default groups, X25519MLKEM768 first.
fn rustls_default_groups() -> Vec<Group> {
    let p = rustls::crypto::aws_lc_rs::default_provider();
    p.kx_groups.iter().map(|g| Group(u16::from(g.name()))).collect()
}

/// One side checking the certificate the other presents.
#[derive(Clone)]
struct CertCheck<'a> {
    /// Who verifies.
    verifier: Role,
    /// The verifier's library (whether a non-self-signed trust anchor is enough depends on it).
    backend: BackendId,
    /// The fixture presented.
    cert: String,
    /// Which of its issuers are sent with it.
    shape: ChainShape,
    /// The verifier's trust store.
    trust: &'a [FixtureName],
}

impl CertCheck<'_> {
    /// The side presenting the certificate.
    fn presenter(&self) -> Role {
        match self.verifier {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// rustls (webpki) takes any trusted certificate as an anchor; OpenSSL, and so native-tls, need a self-signed
    /// root unless X509_V_FLAG_PARTIAL_CHAIN is set, which neither backend sets.
    fn partial_chain_ok(&self) -> bool {
        self.backend == BackendId::Rustls
    }

    fn trusts(&self, name: &str) -> bool {
        self.trust.iter().any(|t| t.0 == name)
    }

    /// `client.trust: [root-a, root-b]`: the verifier's trust with `add` appended.
    fn trust_with(&self, add: &str) -> String {
        let mut names: Vec<&str> = self.trust.iter().map(|t| t.0.as_str()).collect();
        names.push(add);
        format!("{}.trust: [{}]", self.verifier, names.join(", "))
    }

    /// "root-a (CN ...)" for each trusted name, or "nothing".
    fn trust_list(&self, pki: &Pki) -> String {
        if self.trust.is_empty() {
            return format!("nothing ({}.trust is empty)", self.verifier);
        }
        self.trust.iter().map(|t| describe(pki, &t.0)).collect::<Vec<_>>().join(", ")
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
    fn new(scenario: &'a Scenario, pki: &'a Pki, registry: &'a Registry, c: BackendId, s: BackendId) -> Self {
        Pair {
            scenario,
            pki,
            client: Side::new::<ClientConfig>(&scenario.client, c, registry),
            server: Side::new::<ServerConfig>(&scenario.server, s, registry),
        }
    }

    /// The versions both sides enable.
    fn common_versions(&self) -> Vec<ProtocolVersion> {
        let s = self.server.versions().items;
        self.client.versions().items.into_iter().filter(|v| s.contains(v)).collect()
    }

    /// The version the handshake would settle on: the highest both enable.
    fn negotiated_version(&self) -> Option<ProtocolVersion> {
        self.common_versions().into_iter().max()
    }

    /// Disjoint version ranges: the ClientHello offers nothing the server accepts, so the server refuses it
    /// (protocol_version; handshake_failure from rustls for a pre-TLS 1.2 ClientHello). The fix moves the older side
    /// up to the newer side's floor, since lowering the newer side weakens it; the other direction is offered as the
    /// fallback, and either is only suggested if the library can enable those versions.
    fn no_common_version(&self) -> Option<Candidate> {
        if !self.common_versions().is_empty() {
            return None;
        }
        let (c, s) = (self.client.versions(), self.server.versions());
        let (c_lo, s_lo) = (*c.items.first()?, *s.items.first()?);
        let (older, newer) = if c_lo < s_lo { (&self.client, &self.server) } else { (&self.server, &self.client) };
        let (old_v, new_v) = (older.versions().items, newer.versions().items);
        let up = version_span(*old_v.first()?, *new_v.first()?);
        let down = version_span(*old_v.last()?, *new_v.last()?);
        let target = *new_v.first()?;
        let raise = older
            .can_enable(&up)
            .map(|()| format!("enable {target} on the {} ({}.versions: {})", older.role, older.role, list(&up)));
        let lower = self.lower_versions(newer, &down);
        let fix = match (raise, lower) {
            (Ok(r), Ok(l)) => format!("{r}; or, if the {} cannot change, {l}", older.role),
            (Ok(r), Err(_)) => r,
            (Err(why), Ok(l)) => format!("{why}; instead {l}"),
            (Err(a), Err(b)) => format!("no setting of these libraries overlaps: {a}; {b}"),
        };
        let detail = format!("{}; {}.", range_text(&self.client, &c), range_text(&self.server, &s));
        Some(Candidate {
            finding: Finding { cause: "no protocol version in common".into(), detail, fix },
            alerts: &[Alert::PROTOCOL_VERSION, Alert::HANDSHAKE_FAILURE],
        })
    }

    /// The fallback fix of [`Self::no_common_version`]: the newer side also enables the older side's highest version,
    /// with security level 0 when that version is TLS 1.0 or 1.1 on OpenSSL.
    fn lower_versions(&self, newer: &Side, range: &[ProtocolVersion]) -> Result<String, String> {
        newer.can_enable(range)?;
        let lowest = range.first().copied().unwrap_or(ProtocolVersion::Tls12);
        let legacy = lowest <= ProtocolVersion::Tls11 && newer.effective_security_level().is_some_and(|l| l > 0);
        if legacy && !newer.can_set_security_level() {
            return Err(format!("{} cannot lower its OpenSSL security level, which {lowest} needs", newer.backend));
        }
        let level = if legacy { ", security_level: 0" } else { "" };
        let weaker = if lowest <= ProtocolVersion::Tls11 { ", which weakens it" } else { "" };
        Ok(format!("enable {lowest} on the {} ({}.versions: {}{level}){weaker}", newer.role, newer.role, list(range)))
    }

    /// A common version exists but is TLS 1.0/1.1, whose handshake signatures use SHA-1 (or MD5+SHA-1), which
    /// OpenSSL refuses at security level 1 and up (the system default is 2). The handshake then fails late with
    /// internal_error or handshake_failure, a confusing message for what is a version problem.
    fn legacy_version_needs_level_0(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        if v > ProtocolVersion::Tls11 {
            return None;
        }
        let blocking: Vec<(&Side, u8)> = [&self.client, &self.server]
            .into_iter()
            .filter_map(|s| s.effective_security_level().filter(|l| *l > 0).map(|l| (s, l)))
            .collect();
        if blocking.is_empty() {
            return None;
        }
        let levels = blocking
            .iter()
            .map(|(s, l)| {
                let origin = if s.security_level.is_some() { "" } else { " (OpenSSL's default)" };
                format!("the {} runs at level {l}{origin}", s.role)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (c, s) = (self.client.versions(), self.server.versions());
        let detail = format!(
            "{}; {}; so {v} would be negotiated, whose handshake signatures need SHA-1, which OpenSSL refuses at security \
             level 1 and up: {levels}.",
            range_text(&self.client, &c),
            range_text(&self.server, &s)
        );
        let mut fixes: Vec<String> = [&self.client, &self.server]
            .into_iter()
            .filter(|side| side.versions().items.last().is_some_and(|hi| *hi <= ProtocolVersion::Tls11))
            .filter_map(|side| {
                let lo = *side.versions().items.first()?;
                let range = version_span(lo, ProtocolVersion::Tls12);
                side.can_enable(&range).ok()?;
                Some(format!("enable tls1.2 on the {} ({}.versions: {})", side.role, side.role, list(&range)))
            })
            .collect();
        let lower: Vec<String> =
            blocking.iter().filter(|(s, _)| s.can_set_security_level()).map(|(s, _)| s.role.to_string()).collect();
        if !lower.is_empty() {
            fixes.push(format!("set security_level: 0 on the {} (which weakens it)", lower.join(" and the ")));
        }
        let fix = if fixes.is_empty() {
            "use a library that can enable TLS 1.2 on both sides".into()
        } else {
            fixes.join("; or ")
        };
        Some(Candidate {
            finding: Finding { cause: "the only common versions need OpenSSL security level 0".into(), detail, fix },
            alerts: &[Alert::INTERNAL_ERROR, Alert::HANDSHAKE_FAILURE, Alert::PROTOCOL_VERSION],
        })
    }

    /// No cipher suite for the negotiated version in both lists: the server finds nothing to pick and sends
    /// handshake_failure ("no shared cipher"). TLS 1.2 suites (`cipher_suites`) and TLS 1.3 suites
    /// (`tls13_cipher_suites`) are separate lists; only the negotiated version's list matters. Silent when a side
    /// uses a default list we cannot enumerate (OpenSSL's TLS 1.2 `DEFAULT`).
    fn no_common_cipher_suite(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        let (c, s) = (self.client.suites(v)?, self.server.suites(v)?);
        if c.items.iter().any(|x| s.items.contains(x)) {
            return None;
        }
        let field = if v == ProtocolVersion::Tls13 { "tls13_cipher_suites" } else { "cipher_suites" };
        let detail = format!(
            "both enable {v}, so its suites decide; {}; {}.",
            list_text(&self.client, &c, field),
            list_text(&self.server, &s, field)
        );
        // A suggested suite must also suit the server's certificate (ECDSA suites need an EC key, RSA suites RSA).
        let key = self.pki.spec(&self.served_certificate()).map(|spec| spec.key);
        let pick = |from: &[CipherSuite], to: &Side| {
            let usable = |x: &CipherSuite| to.implements_suite(*x) && key.is_none_or(|k| suite_fits_key(*x, k));
            from.iter().copied().find(usable)
        };
        let fix = if let Some(p) = pick(&s.items, &self.client) {
            format!("add one of the server's suites to the client: client.{field}: {}", list(&with(&c.items, p)))
        } else if let Some(p) = pick(&c.items, &self.server) {
            format!(
                "{} implements none of the server's suites; add one of the client's to the server: server.{field}: {}",
                self.client.backend,
                list(&with(&s.items, p))
            )
        } else {
            format!(
                "no suite is implemented by both {} and {} and fits the server's certificate",
                self.client.backend, self.server.backend
            )
        };
        Some(Candidate {
            finding: Finding { cause: "no cipher suite in common".into(), detail, fix },
            alerts: &[Alert::HANDSHAKE_FAILURE],
        })
    }

    /// No key-exchange group in both lists. TLS 1.3 always needs one (there is nothing for a HelloRetryRequest to
    /// ask for). TLS 1.2 needs a common curve for ECDHE, which every suite usable with an ECDSA or EdDSA certificate
    /// requires; with an RSA certificate a non-ECDHE suite might still work, so the rule stays silent there.
    fn no_common_group(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        let relevant = |g: &Group| v == ProtocolVersion::Tls13 || is_ec_group(*g);
        let c = self.client.groups();
        let s = self.server.groups();
        let (cg, sg): (Vec<Group>, Vec<Group>) =
            (c.items.iter().copied().filter(relevant).collect(), s.items.iter().copied().filter(relevant).collect());
        if cg.iter().any(|g| sg.contains(g)) {
            return None;
        }
        let why = if v == ProtocolVersion::Tls13 {
            "tls1.3 would be negotiated and needs a common group for its key share".to_string()
        } else {
            let kind = match self.pki.spec(&self.served_certificate()).map(|s| s.key) {
                Some(KeyType::EcP256 | KeyType::EcP384) => "ECDSA",
                Some(KeyType::Ed25519) => "EdDSA",
                Some(KeyType::Rsa2048 | KeyType::Rsa1024) | None => return None,
            };
            format!(
                "{v} would be negotiated and every suite usable with the server's {kind} certificate needs an ECDHE curve"
            )
        };
        let detail =
            format!("{why}; {}; {}.", list_text(&self.client, &c, "groups"), list_text(&self.server, &s, "groups"));
        let fix = match sg.iter().copied().find(|g| self.client.implements_group(*g)) {
            Some(pick) => {
                format!("add one of the server's groups to the client: client.groups: {}", list(&with(&c.items, pick)))
            }
            None => match cg.iter().copied().find(|g| self.server.implements_group(*g)) {
                Some(pick) => format!(
                    "add one of the client's groups to the server: server.groups: {}",
                    list(&with(&s.items, pick))
                ),
                None => format!("no group is implemented by both {} and {}", self.client.backend, self.server.backend),
            },
        };
        Some(Candidate {
            finding: Finding { cause: "no key-exchange group in common".into(), detail, fix },
            alerts: &[Alert::HANDSHAKE_FAILURE],
        })
    }

    /// The server enables only finite-field DHE suites for TLS 1.2 and has no DH parameters: OpenSSL enables kDHE
    /// only with parameters, a parameter callback or dh_auto (`ssl_set_masks`), and the openssl backend's plain
    /// `SSL_CTX` sets none (docs/backends.md), so no suite is usable and every ClientHello gets handshake_failure ("no
    /// shared cipher"), even one offering that very suite. native-tls's acceptor sets ffdhe2048 parameters, so only
    /// the openssl server is concerned.
    fn dhe_without_parameters(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        if self.server.backend != BackendId::Openssl || v == ProtocolVersion::Tls13 {
            return None;
        }
        let s = self.server.suites(v)?;
        if s.items.is_empty() || !s.items.iter().all(|x| is_dhe(*x)) {
            return None;
        }
        let detail = format!(
            "{v} would be negotiated and the {}; DHE needs DH parameters, and the openssl backend's plain SSL_CTX has \
             none (no dhparam file, no SSL_CTX_set_dh_auto), so OpenSSL never selects these suites, whatever the \
             client offers.",
            list_text(&self.server, &s, "cipher_suites").replacen("accepts", "accepts only the DHE suites", 1)
        );
        // The ECDHE form of each suite, kept if it fits the certificate and the library implements it.
        let key = self.pki.spec(&self.served_certificate()).map(|spec| spec.key);
        let auth = if matches!(key, Some(KeyType::Rsa2048 | KeyType::Rsa1024) | None) { "RSA" } else { "ECDSA" };
        let ecdhe: Vec<CipherSuite> = s
            .items
            .iter()
            .filter_map(|x| {
                let (_, tail) = x.name()?.strip_prefix("TLS_DHE_")?.split_once("_WITH_")?;
                format!("TLS_ECDHE_{auth}_WITH_{tail}").parse::<CipherSuite>().ok()
            })
            .filter(|x| self.server.implements_suite(*x) && key.is_none_or(|k| suite_fits_key(*x, k)))
            .collect();
        let params = "give the server DH parameters (a dhparam file or SSL_CTX_set_dh_auto), which the harness's \
                      openssl backend does not set";
        let fix = if ecdhe.is_empty() {
            format!("enable ECDHE suites on the server (server.cipher_suites), which need no parameters; or {params}")
        } else {
            format!(
                "use the ECDHE form of the suites, which needs no parameters (server.cipher_suites: {}); or {params}",
                list(&ecdhe)
            )
        };
        Some(Candidate {
            finding: Finding {
                cause: "the server enables only DHE suites but has no DH parameters".into(),
                detail,
                fix,
            },
            alerts: &[Alert::HANDSHAKE_FAILURE],
        })
    }

    /// Both sides set ALPN and share no protocol: RFC 7301 section 3.2 has the server answer no_application_protocol.
    /// native-tls's server ignores the mismatch instead (`AlpnError::NOACK`), so it is no cause there.
    fn no_common_alpn(&self) -> Option<Candidate> {
        let (c, s) = (self.client.alpn?, self.server.alpn?);
        let (theirs, ours) = (s.first()?, c.first()?);
        if self.server.backend == BackendId::NativeTls || c.iter().any(|p| s.contains(p)) {
            return None;
        }
        let detail = format!(
            "client offers {} (client.alpn); server accepts {} (server.alpn) and answers a mismatch with \
             no_application_protocol (RFC 7301 section 3.2).",
            c.join(", "),
            s.join(", ")
        );
        let fix = format!(
            "offer {theirs} on the client (client.alpn: {}), or accept {ours} on the server (server.alpn: {})",
            list(&with(c, theirs.clone())),
            list(&with(s, ours.clone()))
        );
        Some(Candidate {
            finding: Finding { cause: "no ALPN protocol in common".into(), detail, fix },
            alerts: &[Alert::NO_APPLICATION_PROTOCOL],
        })
    }

    /// The certificate the server presents to this client: the one its SNI selects, else `certificate`.
    fn served_certificate(&self) -> String {
        // Only a name the client actually sends as SNI can select a certificate (`sni: false` sends none).
        let sent = self.scenario.client.server_name.as_ref().filter(|_| self.scenario.client.sni != Some(false));
        let sni = sent.and_then(|n| self.scenario.server.sni_certificates.get(n));
        sni.unwrap_or(&self.scenario.server.certificate).0.clone()
    }

    /// The client verifying the server's certificate.
    fn server_certificate_check(&self) -> CertCheck<'a> {
        CertCheck {
            verifier: Role::Client,
            backend: self.client.backend,
            cert: self.served_certificate(),
            shape: self.scenario.server.chain,
            trust: &self.scenario.client.trust,
        }
    }

    /// The server verifying the client's certificate, when it asks for one and the client has one (sent with its
    /// full chain).
    fn client_certificate_check(&self) -> Option<CertCheck<'a>> {
        if self.scenario.server.client_auth == ClientAuth::None {
            return None;
        }
        Some(CertCheck {
            verifier: Role::Server,
            backend: self.server.backend,
            cert: self.scenario.client.certificate.as_ref()?.0.clone(),
            shape: ChainShape::Full,
            trust: &self.scenario.server.trust,
        })
    }

    /// Everything wrong with one presented certificate and its path, in the order a verifier meets it: the path to
    /// a trust anchor, an issuer that is no CA, name constraints, validity, key and digest strength, purpose.
    fn certificate_problems(&self, check: &CertCheck) -> Vec<Candidate> {
        [
            chain_problem(self.pki, check),
            issuer_not_a_ca(self.pki, check),
            name_constraints_violated(self.pki, check),
            validity_problem(self.pki, check),
            self.weak_certificate(check),
            wrong_purpose(self.pki, check),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The side that verifies `check`'s certificate.
    fn verifier(&self, check: &CertCheck) -> &Side<'a> {
        match check.verifier {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }

    /// The first certificate on the presented path whose key or signature digest is weaker than the verifier
    /// accepts. OpenSSL holds every certificate of the chain to its security level (level 2, the system default,
    /// needs 112-bit security, so RSA 2048 at least; OpenSSL 3 rates SHA-1 signatures at 63 bits, refused from level
    /// 1 up); only a root's own self-signature goes unchecked. rustls has no level to lower: its webpki algorithms
    /// refuse SHA-1 signatures and RSA keys under 2048 bits at any setting. OpenSSL reports bad_certificate ("EE key
    /// too small", "CA md too weak"), rustls decrypt_error.
    fn weak_certificate(&self, check: &CertCheck) -> Option<Candidate> {
        let verifier = self.verifier(check);
        let level = verifier.effective_security_level();
        let who = check.presenter();
        let path = issuer_path(self.pki, &check.cert);
        let (k, weak) = path.iter().enumerate().find_map(|(k, name)| {
            let cert = &self.pki.get(name)?.cert;
            let issuer = path.get(k + 1).map(String::as_str);
            let weak = weaknesses(cert, issuer, level);
            (!weak.is_empty()).then_some((k, weak))
        })?;
        let name = &path[k];
        let whose = if k == 0 {
            format!("the {who}'s certificate")
        } else {
            format!("the CA certificate in the {who}'s chain")
        };
        let what = weak.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(", and ");
        let rule = match level {
            Some(l) => {
                let origin = if verifier.security_level.is_some() { "" } else { " (OpenSSL's default)" };
                format!(
                    "the {} ({}) runs at OpenSSL security level {l}{origin}, which needs {}-bit security from every \
                     key and signature in the chain",
                    verifier.role,
                    verifier.backend,
                    level_bits(l)
                )
            }
            None => format!(
                "the {} (rustls) refuses SHA-1 signatures and RSA keys under 2048 bits at any setting",
                verifier.role
            ),
        };
        let detail = format!("{whose} {} has {what}; {rule}.", describe(self.pki, name));
        let subject = if k == 0 { name.clone() } else { format!("the CA certificate {name}") };
        // rustls's floor is RSA 2048 and SHA-256, level 2's too; higher levels need stronger keys and digests.
        let need = level.map_or(112, level_bits);
        let mut remedies: Vec<&str> = Vec::new();
        if weak.iter().any(|w| w.key) {
            remedies.push(match need {
                ..=112 => "a 2048-bit RSA or an EC key (key: rsa2048 or ec-p256)",
                113..=128 => "an EC key (key: ec-p256)",
                _ => "a P-384 key (key: ec-p384)",
            });
        }
        if weak.iter().any(|w| !w.key) {
            remedies.push(if need <= 128 {
                "a SHA-256 signature (digest: sha256, the default)"
            } else {
                "a SHA-384 signature (digest: sha384)"
            });
        }
        let mut fix = format!("reissue {subject} with {}", remedies.join(" and "));
        if let Some(l) = level {
            let ok = weak.iter().map(|w| w.bits).min().map_or(0, accepting_level);
            if l > ok && verifier.can_set_security_level() {
                fix.push_str(&format!(
                    "; or, OpenSSL only, lower the {} to security_level: {ok} (which weakens it)",
                    verifier.role
                ));
            }
        }
        Some(Candidate {
            finding: Finding {
                cause: format!(
                    "the {who}'s certificate chain has a key or signature too weak for the {}",
                    verifier.role
                ),
                detail,
                fix,
            },
            alerts: &[Alert::BAD_CERTIFICATE, Alert::DECRYPT_ERROR],
        })
    }

    /// The certificate does not name the host the client verifies: its `server_name`, or 127.0.0.1 (checked against
    /// the IP address SANs). OpenSSL-based clients fall back to the subject CN when there is no DNS SAN; rustls
    /// never reads the CN.
    fn hostname_mismatch(&self) -> Option<Candidate> {
        let name = self.served_certificate();
        let cert = &self.pki.get(&name)?.cert;
        let host = self.scenario.client.server_name.as_deref().unwrap_or("127.0.0.1");
        let (dns, ips) = san_names(cert);
        let cn = common_name(cert);
        let matched = match host.parse::<IpAddr>() {
            Ok(ip) => ips.contains(&ip),
            Err(_) if dns.is_empty() && self.client.backend != BackendId::Rustls => {
                cn.as_deref().is_some_and(|cn| dns_matches(cn, host))
            }
            Err(_) => dns.iter().any(|d| dns_matches(d, host)),
        };
        if matched {
            return None;
        }
        let expected = match &self.scenario.client.server_name {
            Some(n) => format!("the client verifies the name {n} (client.server_name)"),
            None => "the client connects to 127.0.0.1 without server_name and verifies the IP address".into(),
        };
        let mut sans: Vec<String> = dns.iter().map(|d| format!("DNS:{d}")).collect();
        sans.extend(ips.iter().map(|ip| format!("IP:{ip}")));
        let sans =
            if sans.is_empty() { "no subjectAltName".into() } else { format!("subjectAltName {}", sans.join(", ")) };
        let cn_text = match (&cn, self.client.backend) {
            (Some(cn), BackendId::Rustls) => format!("CN {cn}, which rustls never checks"),
            (Some(cn), _) if !dns.is_empty() => format!("CN {cn}, ignored because DNS SANs are present"),
            (Some(cn), _) => format!("CN {cn}"),
            (None, _) => "no CN".into(),
        };
        let detail = format!("{expected}; the server's certificate {name} has {sans} ({cn_text}).");
        let entry = if host.parse::<IpAddr>().is_ok() { format!("IP:{host}") } else { format!("DNS:{host}") };
        let mut fix = format!("give the server a certificate whose subjectAltName includes {entry}");
        if let Some(other) = self.name_it_covers(&dns, &ips, cn.as_deref()) {
            fix.push_str(&format!(", or {other}"));
        }
        Some(Candidate {
            finding: Finding { cause: "the certificate does not match the host name".into(), detail, fix },
            alerts: &[Alert::BAD_CERTIFICATE, Alert::CERTIFICATE_UNKNOWN],
        })
    }

    /// How this client could reach the server under a name the certificate does cover, if there is one: a plain DNS
    /// SAN, the loopback address when the certificate has that IP SAN, or the CN for an OpenSSL-based client when
    /// there is no DNS SAN.
    fn name_it_covers(&self, dns: &[String], ips: &[IpAddr], cn: Option<&str>) -> Option<String> {
        let set = |n: &str| format!("connect with a name it covers (client.server_name: {n})");
        let hostlike = |n: &&str| !n.is_empty() && !n.contains([' ', '*']);
        if let Some(d) = dns.iter().find(|d| !d.contains('*')) {
            return Some(set(d));
        }
        if self.scenario.client.server_name.is_some() && ips.contains(&IpAddr::from([127, 0, 0, 1])) {
            return Some("leave client.server_name out, so the client verifies its IP SAN 127.0.0.1".into());
        }
        let cn_fallback = dns.is_empty() && self.client.backend != BackendId::Rustls;
        cn.filter(|_| cn_fallback).filter(hostlike).map(set)
    }

    /// The server requires a client certificate and the client has none: the server aborts with
    /// certificate_required (TLS 1.3) or handshake_failure (OpenSSL in TLS 1.2).
    fn client_certificate_missing(&self) -> Option<Candidate> {
        let server = &self.scenario.server;
        if server.client_auth != ClientAuth::Required || self.scenario.client.certificate.is_some() {
            return None;
        }
        let trust: Vec<&str> = server.trust.iter().map(|t| t.0.as_str()).collect();
        let detail = format!(
            "the server requires a client certificate (server.client_auth: required) from {}, but the client has \
             none (client.certificate is not set).",
            trust.join(", ")
        );
        let fix = match suggest_client_certificate(self.pki, &server.trust, self.server.backend) {
            Some(name) => format!(
                "give the client a certificate issued under {} (client.certificate: {name})",
                trust.join(" or ")
            ),
            None => format!("give the client a certificate issued under {}", trust.join(" or ")),
        };
        Some(Candidate {
            finding: Finding { cause: "client certificate required but not sent".into(), detail, fix },
            alerts: &[Alert::CERTIFICATE_REQUIRED, Alert::HANDSHAKE_FAILURE],
        })
    }
}

/// What stops the verifier from building a path from the presented certificate to a trust anchor, walking the
/// fixtures' issuers: a self-signed certificate, an issuer nobody trusts, a trusted intermediate without its root
/// (OpenSSL), or an anchor that is trusted but an intermediate that is neither sent nor trusted.
fn chain_problem(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
    let path = issuer_path(pki, &check.cert);
    if path.is_empty() || check.trusts(&path[0]) {
        return None;
    }
    let root = path.len() - 1;
    let anchor = (1..path.len()).find(|&k| check.trusts(&path[k]) && (check.partial_chain_ok() || k == root));
    match anchor {
        None if path.len() == 1 => Some(self_signed(pki, check)),
        None => match (1..path.len()).find(|&k| check.trusts(&path[k])) {
            Some(k) => Some(root_not_trusted(pki, check, &path[k], &path[root])),
            None => Some(untrusted_issuer(pki, check, &path)),
        },
        Some(a) => {
            let sent = |k: usize| check.shape != ChainShape::LeafOnly && k < root;
            let missing: Vec<&str> =
                (1..a).filter(|&k| !sent(k) && !check.trusts(&path[k])).map(|k| path[k].as_str()).collect();
            (!missing.is_empty()).then(|| missing_intermediate(pki, check, &missing, &path[a]))
        }
    }
}

/// A self-signed certificate the verifier does not trust: nothing vouches for it.
fn self_signed(pki: &Pki, check: &CertCheck) -> Candidate {
    let who = check.presenter();
    Candidate {
        finding: Finding {
            cause: format!("the {who}'s certificate is self-signed"),
            detail: format!(
                "the {who}'s certificate {} is its own issuer; the {} trusts {}.",
                describe(pki, &check.cert),
                check.verifier,
                check.trust_list(pki)
            ),
            fix: format!(
                "give the {who} a certificate issued by a CA the {} trusts, or, if this certificate is meant to be \
                 pinned, trust it ({})",
                check.verifier,
                check.trust_with(&check.cert)
            ),
        },
        alerts: PATH_ALERTS,
    }
}

/// The presented certificate chains to a root the verifier does not trust (a private CA, another hierarchy).
fn untrusted_issuer(pki: &Pki, check: &CertCheck, path: &[String]) -> Candidate {
    let who = check.presenter();
    let (issuer, root) = (&path[1], &path[path.len() - 1]);
    let chain = if issuer == root {
        format!("is issued by {}", describe(pki, root))
    } else {
        format!("is issued by {}, which chains to the root {}", describe(pki, issuer), describe(pki, root))
    };
    // A trusted CA with the very same subject name is the trap of a re-keyed or impostor CA: the names match, the
    // keys do not.
    let twin = check.trust.iter().find(|t| same_subject(pki, &t.0, root)).map(|t| {
        format!(
            " {} has the same subject name as the trusted {}, but another key, so it is not the same CA.",
            root, t.0
        )
    });
    Candidate {
        finding: Finding {
            cause: format!("the {who}'s certificate is issued by a CA the {} does not trust", check.verifier),
            detail: format!(
                "the {who}'s certificate {} {chain}; the {} trusts {}.{}",
                describe(pki, &check.cert),
                check.verifier,
                check.trust_list(pki),
                twin.unwrap_or_default()
            ),
            fix: format!(
                "add {root} to the {}'s trust ({}), or give the {who} a certificate issued by a CA the {} trusts",
                check.verifier,
                check.trust_with(root),
                check.verifier
            ),
        },
        alerts: PATH_ALERTS,
    }
}

/// The verifier trusts an intermediate of the path but not its root, and its library needs a self-signed anchor.
fn root_not_trusted(pki: &Pki, check: &CertCheck, trusted: &str, root: &str) -> Candidate {
    Candidate {
        finding: Finding {
            cause: format!("the {} trusts an intermediate CA but not its root", check.verifier),
            detail: format!(
                "the {}'s certificate {} chains through the trusted {} to the root {}, which the {} does not trust; \
                 {} (OpenSSL underneath) accepts only a self-signed trust anchor, as X509_V_FLAG_PARTIAL_CHAIN is not \
                 set.",
                check.presenter(),
                describe(pki, &check.cert),
                trusted,
                describe(pki, root),
                check.verifier,
                check.backend
            ),
            fix: format!("add the root {root} to the {}'s trust ({})", check.verifier, check.trust_with(root)),
        },
        alerts: PATH_ALERTS,
    }
}

/// A trusted root is reachable only through intermediates the presenter does not send (`chain: leaf_only`) and the
/// verifier does not hold: libraries do not fetch missing intermediates, browsers often hide this by caching them.
fn missing_intermediate(pki: &Pki, check: &CertCheck, missing: &[&str], anchor: &str) -> Candidate {
    let who = check.presenter();
    let names = missing.iter().map(|m| describe(pki, m)).collect::<Vec<_>>().join(", ");
    let sent = match check.shape {
        ChainShape::LeafOnly => format!("the {who} sends only its leaf ({who}.chain: leaf_only)"),
        _ => format!("the {who} does not send it"),
    };
    let fix = match (who, check.shape) {
        (Role::Server, ChainShape::LeafOnly) => {
            "send the full chain (server.chain: full, the default), so the intermediate goes with the leaf".to_string()
        }
        _ => format!(
            "send the intermediates with the {who}'s certificate, or add {} to the {}'s trust",
            missing.join(", "),
            check.verifier
        ),
    };
    Candidate {
        finding: Finding {
            cause: format!("the {who} does not send the intermediate CA certificate"),
            detail: format!(
                "the {who}'s certificate {} is issued by {names}; {sent}, and the {} trusts only {}, so it cannot \
                 build a path to {anchor}.",
                describe(pki, &check.cert),
                check.verifier,
                check.trust_list(pki)
            ),
            fix,
        },
        alerts: PATH_ALERTS,
    }
}

/// The first certificate on the presented path that is expired or not yet valid, against the current time. Rustls
/// reports both as certificate_expired; OpenSSL sends bad_certificate for "not yet valid".
fn validity_problem(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
    let now = Asn1Time::days_from_now(0).ok()?;
    let now_text = (*now).to_string();
    let who = check.presenter();
    for name in issuer_path(pki, &check.cert) {
        let Some(cert) = pki.get(&name).map(|c| &c.cert) else { continue };
        let leaf = name == check.cert;
        let whose = if leaf { format!("the {who}'s certificate") } else { "its issuing CA".into() };
        let what =
            if leaf { format!("the {who}'s certificate") } else { format!("a CA certificate in the {who}'s chain") };
        let window = format!("valid from {} to {}", cert.not_before(), cert.not_after());
        if cert.not_after() < now {
            return Some(Candidate {
                finding: Finding {
                    cause: format!("{what} has expired"),
                    detail: format!(
                        "{whose} {} expired on {} ({} ago; {window}, now {now_text}).",
                        describe(pki, &name),
                        cert.not_after(),
                        span(&now, cert.not_after())
                    ),
                    fix: if leaf {
                        format!("renew {name}: issue the {who} a certificate valid now")
                    } else {
                        format!("renew the CA certificate {name} and send the renewed one with the {who}'s certificate")
                    },
                },
                alerts: &[Alert::CERTIFICATE_EXPIRED],
            });
        }
        if cert.not_before() > now {
            return Some(Candidate {
                finding: Finding {
                    cause: format!("{what} is not yet valid"),
                    detail: format!(
                        "{whose} {} becomes valid on {} (in {}; {window}, now {now_text}).",
                        describe(pki, &name),
                        cert.not_before(),
                        span(&now, cert.not_before())
                    ),
                    fix: format!(
                        "issue {name} with a notBefore in the past, or correct the clock of whichever machine is \
                         behind"
                    ),
                },
                alerts: &[Alert::BAD_CERTIFICATE, Alert::CERTIFICATE_EXPIRED],
            });
        }
    }
    None
}

/// An issuer on the path whose own certificate says basicConstraints CA:FALSE (`mark_ca: false` in
/// fixtures/pki.yaml), as when a leaf's key signs another certificate: it may not issue certificates, so the chain
/// is invalid although it reaches a trusted root. OpenSSL reports X509_V_ERR_INVALID_CA (unknown_ca); webpki
/// EndEntityUsedAsCa, which rustls sends as certificate_unknown.
fn issuer_not_a_ca(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
    let path = issuer_path(pki, &check.cert);
    let k = (1..path.len()).find(|&k| pki.spec(&path[k]).is_some_and(|s| !s.mark_ca.unwrap_or(s.ca)))?;
    let who = check.presenter();
    let (issuer, signed, root) = (&path[k], &path[k - 1], &path[path.len() - 1]);
    let cert = describe(pki, &check.cert);
    let chain = if k == 1 {
        format!("the {who}'s certificate {cert} is issued by {}", describe(pki, issuer))
    } else {
        format!("the {who}'s certificate {cert} chains through {signed}, issued by {}", describe(pki, issuer))
    };
    let anchor = if check.trusts(root) { format!(", which the {} trusts", check.verifier) } else { String::new() };
    let detail = format!(
        "{chain}, whose certificate says basicConstraints CA:FALSE: it is not a CA and may not issue certificates, \
         although the chain goes on to {root}{anchor}."
    );
    let such = unrestricted_ca(pki, root).map(|ca| format!(", such as {ca}")).unwrap_or_default();
    let subject = if k == 1 { format!("the {who}'s certificate") } else { signed.clone() };
    Some(Candidate {
        finding: Finding {
            cause: format!("the {who}'s certificate is issued by a certificate that is not a CA"),
            detail,
            fix: format!("issue {subject} from a real CA (basicConstraints CA:TRUE){such}, instead of {issuer}"),
        },
        alerts: &[Alert::UNKNOWN_CA, Alert::CERTIFICATE_UNKNOWN],
    })
}

/// A CA on the path whose nameConstraints (RFC 5280 section 4.2.1.10) the leaf's names break: a DNS name outside
/// every permitted subtree, or inside an excluded one. OpenSSL (X509_V_ERR_PERMITTED_VIOLATION) and webpki
/// (NameConstraintViolation) both end in certificate_unknown. Without a DNS SAN OpenSSL holds the CN to the
/// constraints instead; webpki never reads it.
fn name_constraints_violated(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
    let names = constrained_names(pki, &check.cert, check.backend)?;
    let path = issuer_path(pki, &check.cert);
    let (ca, nc, outside) = path.iter().skip(1).find_map(|ca| {
        let nc = pki.spec(ca)?.name_constraints.as_ref()?;
        let outside: Vec<&String> = names.iter().filter(|n| !nc_allows(nc, n)).collect();
        (!outside.is_empty()).then_some((ca, nc, outside))
    })?;
    let who = check.presenter();
    let mut rules = Vec::new();
    if !nc.permitted_dns.is_empty() {
        rules.push(format!(
            "permitted DNS {}",
            nc.permitted_dns.iter().map(|b| subtree(b)).collect::<Vec<_>>().join(", ")
        ));
    }
    if !nc.excluded_dns.is_empty() {
        rules.push(format!(
            "excluded DNS {}",
            nc.excluded_dns.iter().map(|b| subtree(b)).collect::<Vec<_>>().join(", ")
        ));
    }
    let bad = outside.iter().map(|n| format!("DNS:{n}")).collect::<Vec<_>>().join(", ");
    let by = if path.get(1) == Some(ca) { "its issuer" } else { "the CA in its chain" };
    let detail = format!(
        "the {who}'s certificate {} is for {bad}, but {by} {} may only certify names allowed by its nameConstraints: \
         {}.",
        describe(pki, &check.cert),
        describe(pki, ca),
        rules.join("; ")
    );
    let root = &path[path.len() - 1];
    let such = unrestricted_ca(pki, root).map(|c| format!(" (such as {c})")).unwrap_or_default();
    let mut fix = format!("issue the {who}'s certificate for {bad} from a CA without these name constraints{such}");
    // Or keep the constrained CA and move the server to a name it may certify, with a fixture that has one.
    let inside = (who == Role::Server)
        .then(|| {
            pki.names().into_iter().find_map(|name| {
                let candidate = CertCheck { cert: name.clone(), ..check.clone() };
                let dns = constrained_names(pki, &name, check.backend)?;
                let ok = issuer_path(pki, &name).contains(ca)
                    && !dns.is_empty()
                    && dns.iter().all(|n| nc_allows(nc, n))
                    && sound(pki, &candidate);
                ok.then(|| (name, dns[0].clone()))
            })
        })
        .flatten();
    if let Some((name, host)) = inside {
        fix.push_str(&format!(
            ", or serve a name {ca} may certify (server.certificate: {name}, client.server_name: {host})"
        ));
    }
    Some(Candidate {
        finding: Finding {
            cause: format!("the {who}'s certificate names a host its CA may not certify (name constraints)"),
            detail,
            fix,
        },
        alerts: &[Alert::CERTIFICATE_UNKNOWN, Alert::BAD_CERTIFICATE],
    })
}

/// The names name constraints apply to: the DNS SANs, or, for an OpenSSL-based verifier, a host-like CN when there
/// is no DNS SAN.
fn constrained_names(pki: &Pki, name: &str, verifier: BackendId) -> Option<Vec<String>> {
    let cert = &pki.get(name)?.cert;
    let (mut dns, _) = san_names(cert);
    if dns.is_empty() && verifier != BackendId::Rustls {
        dns.extend(common_name(cert).filter(|cn| !cn.is_empty() && !cn.contains([' ', '*'])));
    }
    Some(dns)
}

/// Whether `name` passes DNS name constraints: inside a permitted subtree (when any is listed) and no excluded one.
fn nc_allows(nc: &NameConstraints, name: &str) -> bool {
    (nc.permitted_dns.is_empty() || nc.permitted_dns.iter().any(|b| in_subtree(name, b)))
        && !nc.excluded_dns.iter().any(|b| in_subtree(name, b))
}

/// RFC 5280 DNS subtree matching as OpenSSL does it: `example.com` covers itself and every name below it,
/// `.example.com` only the names below it; case-insensitive.
fn in_subtree(name: &str, base: &str) -> bool {
    let (n, b) = (name.trim_end_matches('.').to_ascii_lowercase(), base.to_ascii_lowercase());
    match b.strip_prefix('.') {
        Some(parent) => n.ends_with(&format!(".{parent}")),
        None => n == b || n.ends_with(&format!(".{b}")),
    }
}

/// "example.com (and the names below it)", "names below example.com" (for a leading dot).
fn subtree(base: &str) -> String {
    match base.strip_prefix('.') {
        Some(parent) => format!("names below {parent}"),
        None => format!("{base} (and the names below it)"),
    }
}

/// A CA under `root` (the root itself excluded) that may issue for any name: every certificate from it up to the
/// root is marked CA:TRUE and has no name constraints.
fn unrestricted_ca(pki: &Pki, root: &str) -> Option<String> {
    pki.names().into_iter().filter(|n| n != root).find(|n| {
        let path = issuer_path(pki, n);
        path.last().is_some_and(|r| r == root)
            && path
                .iter()
                .all(|p| pki.spec(p).is_some_and(|s| s.ca && s.mark_ca != Some(false) && s.name_constraints.is_none()))
    })
}

/// The presented leaf's extendedKeyUsage leaves out the purpose it is verified for: serverAuth for a server's
/// certificate, clientAuth for a client's (OpenSSL's X509_PURPOSE_SSL_SERVER / SSL_CLIENT check, webpki's required
/// KeyPurposeId). A leaf without the extension serves either. Both libraries answer unsupported_certificate
/// (X509_V_ERR_INVALID_PURPOSE; rustls's CertificateError::InvalidPurpose).
fn wrong_purpose(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
    let ekus = pki.spec(&check.cert)?.eku.as_ref()?;
    let who = check.presenter();
    let needed = match who {
        Role::Server => Eku::ServerAuth,
        Role::Client => Eku::ClientAuth,
    };
    if ekus.contains(&needed) {
        return None;
    }
    let has = if ekus.is_empty() {
        "no TLS purpose".to_string()
    } else {
        format!("{} only", ekus.iter().map(|e| eku_name(*e)).collect::<Vec<_>>().join(", "))
    };
    let detail = format!(
        "the {who}'s certificate {} has extendedKeyUsage {has}; the {} verifies it for TLS {who} authentication, \
         which needs {}.",
        describe(pki, &check.cert),
        check.verifier,
        eku_name(needed)
    );
    let other = match who {
        Role::Server => suggest_server_certificate(pki, check),
        Role::Client => suggest_client_certificate(pki, check.trust, check.backend),
    };
    let mut fix = format!("give the {who} a certificate whose extendedKeyUsage includes {}", eku_name(needed));
    if let Some(o) = other {
        fix.push_str(&format!(" ({who}.certificate: {o})"));
    }
    let fields = with(ekus, needed).iter().map(|e| eku_field(*e)).collect::<Vec<_>>().join(", ");
    fix.push_str(&format!(", or reissue {} with {} added (eku: [{fields}])", check.cert, eku_name(needed)));
    Some(Candidate {
        finding: Finding {
            cause: format!("the {who}'s certificate is not meant for TLS {who}s (extended key usage)"),
            detail,
            fix,
        },
        alerts: &[Alert::UNSUPPORTED_CERTIFICATE],
    })
}

/// The extendedKeyUsage name as certificates print it.
fn eku_name(e: Eku) -> &'static str {
    match e {
        Eku::ServerAuth => "serverAuth",
        Eku::ClientAuth => "clientAuth",
    }
}

/// The extendedKeyUsage as fixtures/pki.yaml spells it.
fn eku_field(e: Eku) -> &'static str {
    match e {
        Eku::ServerAuth => "server_auth",
        Eku::ClientAuth => "client_auth",
    }
}

/// One thing about a certificate a verifier refuses as too weak, with the security bits OpenSSL rates it at.
struct Weakness {
    /// The key (else the signature).
    key: bool,
    /// "a 1024-bit RSA key (80-bit security)".
    text: String,
    bits: u32,
}

/// What in `cert` the verifier refuses: at OpenSSL security `level`, a key or signature rated below the level's
/// bits; with rustls (`None`), an RSA key under 2048 bits or a SHA-1 or MD5 signature. `issuer` is the signer, `None`
/// for a root, whose self-signature nobody checks.
fn weaknesses(cert: &X509Ref, issuer: Option<&str>, level: Option<u8>) -> Vec<Weakness> {
    let mut found = Vec::new();
    if let Ok(key) = cert.public_key() {
        let bits = key.security_bits();
        let kind = match key.id() {
            Id::RSA => "RSA",
            Id::EC => "EC",
            Id::ED25519 => "Ed25519",
            _ => "",
        };
        let weak = match level {
            Some(l) => bits < level_bits(l),
            None => kind == "RSA" && key.bits() < 2048,
        };
        if weak {
            let text = format!("a {}-bit {kind} key ({bits}-bit security)", key.bits()).replace("  ", " ");
            found.push(Weakness { key: true, text, bits });
        }
    }
    let sig = cert.signature_algorithm().object().nid();
    let digest = sig.signature_algorithms().and_then(|a| digest_strength(a.digest));
    if let (Some(issuer), Some((digest, bits))) = (issuer, digest) {
        let weak = match level {
            Some(l) => bits < level_bits(l),
            None => bits < 112,
        };
        if weak {
            let alg = sig.long_name().unwrap_or("?");
            let text = format!("a {digest} signature from {issuer} ({alg}; {bits}-bit security as OpenSSL 3 rates it)");
            found.push(Weakness { key: false, text, bits });
        }
    }
    found
}

/// A signature digest's name and the security bits OpenSSL 3 gives signatures with it (SHA-1 and MD5 are rated
/// down to 63 and 39 bits, so level 1 already refuses them).
fn digest_strength(digest: Nid) -> Option<(&'static str, u32)> {
    Some(match digest {
        Nid::MD5 => ("MD5", 39),
        Nid::SHA1 => ("SHA-1", 63),
        Nid::SHA224 => ("SHA-224", 112),
        Nid::SHA256 => ("SHA-256", 128),
        Nid::SHA384 => ("SHA-384", 192),
        Nid::SHA512 => ("SHA-512", 256),
        _ => return None,
    })
}

/// The security bits an OpenSSL security level requires (SSL_CTX_set_security_level(3)).
fn level_bits(level: u8) -> u32 {
    [0, 80, 112, 128, 192, 256][usize::from(level.min(5))]
}

/// The highest security level that accepts `bits`.
fn accepting_level(bits: u32) -> u8 {
    (0..=5).rev().find(|l| level_bits(*l) <= bits).unwrap_or(0)
}

/// Whether a TLS 1.2 suite uses finite-field DHE key exchange.
fn is_dhe(suite: CipherSuite) -> bool {
    suite.name().is_some_and(|n| n.starts_with("TLS_DHE_"))
}

/// Whether the verifier of `check` would accept the certificate path (at OpenSSL's default security level, which
/// also covers what rustls refuses): the fixtures a fix suggests must not fail some other way.
fn sound(pki: &Pki, check: &CertCheck) -> bool {
    let path = issuer_path(pki, &check.cert);
    let strong = path.iter().enumerate().all(|(k, name)| {
        pki.get(name).is_some_and(|c| weaknesses(&c.cert, path.get(k + 1).map(String::as_str), Some(2)).is_empty())
    });
    strong
        && chain_problem(pki, check).is_none()
        && issuer_not_a_ca(pki, check).is_none()
        && name_constraints_violated(pki, check).is_none()
        && validity_problem(pki, check).is_none()
}

/// A fixture the server could use instead of `check.cert`: a leaf for serverAuth with the same subjectAltName (so the
/// host name still matches) that the client accepts, preferring the same key type, then the same issuer.
fn suggest_server_certificate(pki: &Pki, check: &CertCheck) -> Option<String> {
    let spec = pki.spec(&check.cert)?;
    let mut fits: Vec<(bool, bool, String)> = pki
        .names()
        .into_iter()
        .filter(|name| {
            let Some(s) = pki.spec(name) else { return false };
            let for_servers = s.eku.as_ref().is_none_or(|e| e.contains(&Eku::ServerAuth));
            !s.ca && for_servers && s.san == spec.san && sound(pki, &CertCheck { cert: name.clone(), ..check.clone() })
        })
        .map(|name| {
            let s = pki.spec(&name);
            (s.map(|s| s.key) != Some(spec.key), s.map(|s| &s.issuer) != Some(&spec.issuer), name)
        })
        .collect();
    fits.sort();
    fits.into_iter().next().map(|(_, _, name)| name)
}

/// A fixture the client could use: a valid leaf allowed for client authentication that chains to the server's trust.
fn suggest_client_certificate(pki: &Pki, trust: &[FixtureName], verifier: BackendId) -> Option<String> {
    pki.names().into_iter().find(|name| {
        let Some(spec) = pki.spec(name) else { return false };
        let for_clients = spec.eku.as_ref().is_none_or(|e| e.contains(&Eku::ClientAuth));
        let check =
            CertCheck { verifier: Role::Server, backend: verifier, cert: name.clone(), shape: ChainShape::Full, trust };
        !spec.ca && for_clients && sound(pki, &check)
    })
}

/// The fixture names from `name` up to its self-signed root, following `issuer` in fixtures/pki.yaml.
fn issuer_path(pki: &Pki, name: &str) -> Vec<String> {
    let mut path = vec![name.to_string()];
    // The PKI rejects issuer cycles; the bound only keeps a malformed spec from looping here.
    while path.len() < 16 {
        let Some(issuer) = path.last().and_then(|n| pki.spec(n)).and_then(|s| s.issuer.clone()) else { break };
        path.push(issuer);
    }
    path
}

/// `root-b (CN "tlsmatrix Root CA B")`.
fn describe(pki: &Pki, name: &str) -> String {
    let cn = pki.get(name).and_then(|c| common_name(&c.cert)).or_else(|| pki.spec(name).map(|s| s.cn.clone()));
    match cn {
        Some(cn) => format!("{name} (CN \"{cn}\")"),
        None => name.to_string(),
    }
}

/// Whether two fixtures are different certificates with the same subject name.
fn same_subject(pki: &Pki, a: &str, b: &str) -> bool {
    let der = |n: &str| pki.get(n).and_then(|c| c.cert.subject_name().to_der().ok());
    a != b && der(a).is_some() && der(a) == der(b)
}

/// The subject common name.
fn common_name(cert: &X509Ref) -> Option<String> {
    let entry = cert.subject_name().entries_by_nid(Nid::COMMONNAME).next()?;
    entry.data().to_string().ok()
}

/// The DNS names and IP addresses of the subjectAltName extension.
fn san_names(cert: &X509Ref) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in cert.subject_alt_names().into_iter().flatten() {
        if let Some(d) = name.dnsname() {
            dns.push(d.to_string());
        }
        match name.ipaddress() {
            Some(&[a, b, c, d]) => ips.push(IpAddr::from([a, b, c, d])),
            Some(bytes) => {
                if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                    ips.push(IpAddr::from(v6));
                }
            }
            None => {}
        }
    }
    (dns, ips)
}

/// RFC 6125 matching: case-insensitive, a `*` only as the whole leftmost label, standing for exactly one label.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.trim_end_matches('.').to_ascii_lowercase(), host.trim_end_matches('.').to_ascii_lowercase());
    match p.strip_prefix("*.") {
        Some(rest) => h.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => p == h,
    }
}

/// Whether a TLS 1.2 suite can authenticate with a certificate of this key type (TLS 1.3 suites do not care).
fn suite_fits_key(suite: CipherSuite, key: KeyType) -> bool {
    let name = suite.name().unwrap_or_default();
    let rsa = matches!(key, KeyType::Rsa2048 | KeyType::Rsa1024);
    suite.is_tls13() || (name.contains("_ECDSA_") && !rsa) || (name.contains("_RSA_") && rsa)
}

/// Groups usable for ECDHE in TLS 1.2 (finite-field and post-quantum groups are not).
fn is_ec_group(g: Group) -> bool {
    g.name().is_some_and(|n| n.starts_with("secp") || n == "x25519" || n == "x448")
}

/// Every version from `a` to `b` (either order), oldest first.
fn version_span(a: ProtocolVersion, b: ProtocolVersion) -> Vec<ProtocolVersion> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    ProtocolVersion::ALL.into_iter().filter(|v| (lo..=hi).contains(v)).collect()
}

/// "client offers tls1.2 only", "server accepts tls1.0-tls1.3 (openssl's default)".
fn range_text(side: &Side, v: &Effective<ProtocolVersion>) -> String {
    let range = match (v.items.first(), v.items.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} only"),
        (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
        _ => "no version".into(),
    };
    let origin = v.default.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
    format!("{} {} {range}{origin}", side.role, side.verb())
}

/// "client offers x25519 (client.groups)", "server accepts a, b (rustls's default)".
fn list_text<T: std::fmt::Display>(side: &Side, e: &Effective<T>, field: &str) -> String {
    let items = e.items.iter().map(T::to_string).collect::<Vec<_>>().join(", ");
    let origin = e.default.clone().unwrap_or_else(|| format!("{}.{field}", side.role));
    format!("{} {} {items} ({origin})", side.role, side.verb())
}

/// `[a, b]`, as YAML.
fn list<T: std::fmt::Display>(items: &[T]) -> String {
    format!("[{}]", items.iter().map(T::to_string).collect::<Vec<_>>().join(", "))
}

/// `items` with `extra` appended.
fn with<T: Clone>(items: &[T], extra: T) -> Vec<T> {
    let mut v = items.to_vec();
    v.push(extra);
    v
}

/// "1 day", "3 hours": the distance between two times, for people.
fn span(from: &Asn1Time, to: &Asn1TimeRef) -> String {
    let Ok(d) = from.diff(to) else { return "an unknown time".into() };
    let secs = i64::from(d.days).abs() * 86_400 + i64::from(d.secs).abs();
    let (n, unit) = match secs {
        s if s >= 84_600 => ((s + 43_200) / 86_400, "day"),
        s if s >= 3_600 => ((s + 1_800) / 3_600, "hour"),
        s if s >= 60 => ((s + 30) / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    //! Each diagnosis on a real cell: the project's scenario and PKI, played over loopback by the real backends, then
    //! explained. The cell must pass its own expectation first, so the finding explains the failure the scenario
    //! documents.

    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use rstest::rstest;

    use super::*;
    use crate::plan::Cell;
    use crate::runner::Context;

    use BackendId::{NativeTls, Openssl, Rustls};

    /// The findings for one cell of `scenarios/<file>`, and the run's PKI (for the certificates' real dates).
    async fn explain(file: &str, client: BackendId, server: BackendId) -> (Vec<Finding>, Arc<Pki>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios").join(file)]).expect("project loads");
        assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
        let scenario = Arc::new(catalog.scenarios.into_iter().next().expect("one scenario"));
        let registry = Arc::new(Registry::all());
        let ctx =
            Context { registry: registry.clone(), pki: Arc::new(pki), timeout: Duration::from_secs(10), pcap: None };
        let result = ctx.run_cell(&Cell { scenario: scenario.clone(), client, server }).await;
        assert_eq!(result.status, Status::Pass, "{}: {:?} {:?}", result.name(), result.mismatches, result.reason);
        (diagnose_with(&scenario, &ctx.pki, &registry, &result), ctx.pki)
    }

    /// The one finding of a cell with a single cause.
    async fn only(file: &str, client: BackendId, server: BackendId) -> Finding {
        let (mut findings, _) = explain(file, client, server).await;
        assert_eq!(findings.len(), 1, "{findings:#?}");
        findings.remove(0)
    }

    #[tokio::test]
    async fn a_connected_cell_has_nothing_to_explain() {
        let (findings, _) = explain("seed/tls13_success.yaml", Openssl, Openssl).await;
        assert_eq!(findings, Vec::new());
    }

    #[tokio::test]
    async fn disjoint_versions_name_both_ranges_and_move_the_legacy_server_up() {
        let f = only("seed/legacy_tls10_server.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no protocol version in common");
        assert_eq!(
            f.detail,
            "client offers tls1.2-tls1.3; server accepts tls1.0 only. Observed: the server sent protocol_version."
        );
        assert_eq!(
            f.fix,
            "enable tls1.2 on the server (server.versions: [tls1.0, tls1.1, tls1.2]); or, if the server cannot change, \
             enable tls1.0 on the client (client.versions: [tls1.0, tls1.1, tls1.2, tls1.3], security_level: 0), \
             which weakens it"
        );
    }

    #[tokio::test]
    async fn a_pinned_tls12_client_is_told_to_enable_tls13() {
        let f = only("seed/tls12_client_tls13_server.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no protocol version in common");
        assert!(f.detail.starts_with("client offers tls1.2 only; server accepts tls1.3 only."), "{}", f.detail);
        assert!(f.fix.starts_with("enable tls1.3 on the client (client.versions: [tls1.2, tls1.3])"), "{}", f.fix);
    }

    #[tokio::test]
    async fn library_defaults_fill_in_and_an_impossible_fix_is_not_offered() {
        // native-tls's server defaults to TLS 1.2 only and cannot enable TLS 1.3 at all.
        let f = only("versions/default_server_tls13_client.yaml", Openssl, NativeTls).await;
        assert_eq!(f.cause, "no protocol version in common");
        assert!(f.detail.contains("server accepts tls1.2 only (native-tls's default"), "{}", f.detail);
        assert!(f.fix.starts_with("native-tls as server cannot enable tls1.3 ("), "{}", f.fix);
        assert!(
            f.fix.ends_with("instead enable tls1.2 on the client (client.versions: [tls1.2, tls1.3])"),
            "{}",
            f.fix
        );
    }

    #[tokio::test]
    async fn a_legacy_overlap_blocked_by_the_security_level_says_so() {
        let f = only("versions/legacy_tls10_tls11_server_default_client.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the only common versions need OpenSSL security level 0");
        assert!(f.detail.contains("so tls1.1 would be negotiated"), "{}", f.detail);
        assert!(f.detail.contains("the client runs at level 2 (OpenSSL's default)"), "{}", f.detail);
        assert!(f.detail.ends_with("Observed: the client sent internal_error."), "{}", f.detail);
        assert_eq!(
            f.fix,
            "enable tls1.2 on the server (server.versions: [tls1.0, tls1.1, tls1.2]); or set security_level: 0 on the \
             client (which weakens it)"
        );
    }

    #[tokio::test]
    async fn no_common_tls12_suite_lists_both_and_adds_the_servers_suite_to_the_client() {
        let f = only("seed/no_common_cipher_tls12.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no cipher suite in common");
        assert_eq!(
            f.detail,
            "both enable tls1.2, so its suites decide; client offers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 \
             (client.cipher_suites); server accepts TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (server.cipher_suites). \
             Observed: the server sent handshake_failure."
        );
        assert_eq!(
            f.fix,
            "add one of the server's suites to the client: client.cipher_suites: \
             [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]"
        );
    }

    #[tokio::test]
    async fn a_default_suite_list_is_enumerated_and_the_suggestion_fits_the_certificate() {
        // rustls implements no static-RSA suite, so the server must add one of rustls's, and an RSA one at that.
        let f = only("cipher_suites/static_rsa_only_server.yaml", Rustls, Openssl).await;
        assert_eq!(f.cause, "no cipher suite in common");
        assert!(
            f.detail.contains("(rustls's default); server accepts TLS_RSA_WITH_AES_128_GCM_SHA256"),
            "{}",
            f.detail
        );
        assert!(
            f.fix.ends_with(
                "server.cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]"
            ),
            "{}",
            f.fix
        );
    }

    #[tokio::test]
    async fn no_common_group_in_tls13_between_rustls_peers() {
        let f = only("groups/no_common_group_tls13.yaml", Rustls, Rustls).await;
        assert_eq!(f.cause, "no key-exchange group in common");
        assert_eq!(
            f.detail,
            "tls1.3 would be negotiated and needs a common group for its key share; client offers x25519 (client.groups); \
             server accepts secp384r1 (server.groups). Observed: the server sent handshake_failure."
        );
        assert_eq!(f.fix, "add one of the server's groups to the client: client.groups: [x25519, secp384r1]");
    }

    #[tokio::test]
    async fn no_common_curve_in_tls12_with_an_ecdsa_certificate() {
        let f = only("groups/no_common_group_tls12.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no key-exchange group in common");
        assert!(
            f.detail.starts_with("tls1.2 would be negotiated and every suite usable with the server's ECDSA"),
            "{}",
            f.detail
        );
    }

    #[tokio::test]
    async fn an_untrusted_issuer_is_named_with_what_the_client_trusts() {
        let f = only("seed/untrusted_ca.yaml", Openssl, Openssl).await;
        assert_eq!(
            f,
            Finding {
                cause: "the server's certificate is issued by a CA the client does not trust".into(),
                detail:
                    "the server's certificate server-root-b (CN \"localhost\") is issued by root-b (CN \"tlsmatrix \
                         Root CA B\"); the client trusts root-a (CN \"tlsmatrix Root CA A\"). Observed: the client \
                         sent unknown_ca."
                        .into(),
                fix: "add root-b to the client's trust (client.trust: [root-a, root-b]), or give the server a \
                      certificate issued by a CA the client trusts"
                    .into(),
            }
        );
    }

    #[tokio::test]
    async fn a_ca_with_a_trusted_name_but_another_key_is_called_out() {
        let f = only("certificates/same_subject_other_ca.yaml", Openssl, Openssl).await;
        assert!(f.detail.contains("root-a-twin has the same subject name as the trusted root-a"), "{}", f.detail);
        assert!(f.fix.starts_with("add root-a-twin to the client's trust"), "{}", f.fix);
    }

    #[tokio::test]
    async fn a_missing_intermediate_asks_for_the_full_chain() {
        let f = only("certificates/missing_intermediate.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server does not send the intermediate CA certificate");
        assert!(
            f.detail.starts_with(
                "the server's certificate server-ec (CN \"localhost\") is issued by intermediate-a (CN \"tlsmatrix \
                 Intermediate CA A1\"); the server sends only its leaf (server.chain: leaf_only)"
            ),
            "{}",
            f.detail
        );
        assert_eq!(
            f.fix,
            "send the full chain (server.chain: full, the default), so the intermediate goes with the leaf"
        );
    }

    #[tokio::test]
    async fn a_self_signed_server_certificate() {
        let f = only("certificates/self_signed.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate is self-signed");
        assert!(f.fix.ends_with("trust it (client.trust: [root-a, server-self-signed])"), "{}", f.fix);
    }

    #[tokio::test]
    async fn openssl_needs_the_root_not_just_the_intermediate() {
        let f = only("certificates/trust_intermediate_only.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the client trusts an intermediate CA but not its root");
        assert_eq!(f.fix, "add the root root-a to the client's trust (client.trust: [intermediate-a, root-a])");
    }

    #[tokio::test]
    async fn a_host_name_mismatch_lists_the_certificates_names() {
        let f = only("certificates/wrong_host.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the certificate does not match the host name");
        assert_eq!(
            f.detail,
            "the client verifies the name localhost (client.server_name); the server's certificate server-other-host \
             has subjectAltName DNS:other.example (CN other.example, ignored because DNS SANs are present). Observed: \
             the client sent bad_certificate."
        );
        assert_eq!(
            f.fix,
            "give the server a certificate whose subjectAltName includes DNS:localhost, or connect with a name it \
             covers (client.server_name: other.example)"
        );
    }

    #[tokio::test]
    async fn an_expired_leaf_shows_its_dates() {
        let (findings, pki) = explain("certificates/expired_leaf.yaml", Openssl, Openssl).await;
        let [f] = &findings[..] else { panic!("{findings:#?}") };
        let not_after = pki.get("server-expired").unwrap().cert.not_after().to_string();
        assert_eq!(f.cause, "the server's certificate has expired");
        assert!(
            f.detail.starts_with(&format!(
                "the server's certificate server-expired (CN \"localhost\") expired on {not_after} (1 day ago;"
            )),
            "{}",
            f.detail
        );
        assert!(f.detail.ends_with("Observed: the client sent certificate_expired."), "{}", f.detail);
        assert_eq!(f.fix, "renew server-expired: issue the server a certificate valid now");
    }

    #[tokio::test]
    async fn a_not_yet_valid_leaf_shows_when_it_starts_even_where_rustls_says_expired() {
        let (findings, pki) = explain("certificates/not_yet_valid.yaml", Rustls, Openssl).await;
        let [f] = &findings[..] else { panic!("{findings:#?}") };
        let not_before = pki.get("server-not-yet-valid").unwrap().cert.not_before().to_string();
        assert_eq!(f.cause, "the server's certificate is not yet valid");
        assert!(f.detail.contains(&format!("becomes valid on {not_before} (in 1 day;")), "{}", f.detail);
        assert!(f.detail.ends_with("Observed: the client sent certificate_expired."), "{}", f.detail);
        assert!(f.fix.starts_with("issue server-not-yet-valid with a notBefore in the past"), "{}", f.fix);
    }

    #[tokio::test]
    async fn a_required_client_certificate_that_is_not_sent_suggests_one() {
        let f = only("client_auth/required_not_sent_tls13.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "client certificate required but not sent");
        assert_eq!(
            f.detail,
            "the server requires a client certificate (server.client_auth: required) from root-a, but the client has \
             none (client.certificate is not set). Observed: the server sent certificate_required."
        );
        assert_eq!(f.fix, "give the client a certificate issued under root-a (client.certificate: client-a)");
    }

    #[tokio::test]
    async fn a_client_certificate_from_an_untrusted_ca() {
        let f = only("client_auth/untrusted_client_ca.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the client's certificate is issued by a CA the server does not trust");
        assert!(f.detail.ends_with("Observed: the server sent unknown_ca."), "{}", f.detail);
        assert!(f.fix.starts_with("add root-b to the server's trust (server.trust: [root-a, root-b])"), "{}", f.fix);
    }

    #[tokio::test]
    async fn an_expired_client_certificate() {
        let f = only("client_auth/expired_client_cert.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the client's certificate has expired");
        assert!(f.detail.starts_with("the client's certificate client-expired"), "{}", f.detail);
        assert_eq!(f.fix, "renew client-expired: issue the client a certificate valid now");
    }

    #[tokio::test]
    async fn a_server_certificate_for_client_auth_only_asks_for_server_auth() {
        let f = only("certificates/client_eku_as_server.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate is not meant for TLS servers (extended key usage)");
        assert_eq!(
            f.detail,
            "the server's certificate server-client-eku (CN \"localhost\") has extendedKeyUsage clientAuth only; the \
             client verifies it for TLS server authentication, which needs serverAuth. Observed: the client sent \
             unsupported_certificate."
        );
        // The suggested replacement keeps the names, key type and issuer, so nothing else breaks.
        assert_eq!(
            f.fix,
            "give the server a certificate whose extendedKeyUsage includes serverAuth (server.certificate: server-ec), \
             or reissue server-client-eku with serverAuth added (eku: [client_auth, server_auth])"
        );
    }

    #[tokio::test]
    async fn a_client_certificate_for_server_auth_only_asks_for_client_auth() {
        let f = only("client_auth/client_cert_server_eku.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the client's certificate is not meant for TLS clients (extended key usage)");
        assert!(f.detail.contains("has extendedKeyUsage serverAuth only; the server verifies it"), "{}", f.detail);
        assert!(f.detail.ends_with("Observed: the server sent unsupported_certificate."), "{}", f.detail);
        assert!(f.fix.starts_with("give the client a certificate whose extendedKeyUsage includes clientAuth (client.certificate: client-a)"), "{}", f.fix);
    }

    #[tokio::test]
    async fn an_issuer_marked_ca_false_is_named_even_though_the_root_is_trusted() {
        let f = only("certificates/intermediate_not_ca.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate is issued by a certificate that is not a CA");
        assert_eq!(
            f.detail,
            "the server's certificate server-under-non-ca (CN \"localhost\") is issued by not-a-ca (CN \"tlsmatrix Not \
             A CA\"), whose certificate says basicConstraints CA:FALSE: it is not a CA and may not issue certificates, \
             although the chain goes on to root-a, which the client trusts. Observed: the client sent unknown_ca."
        );
        assert_eq!(
            f.fix,
            "issue the server's certificate from a real CA (basicConstraints CA:TRUE), such as intermediate-a, instead \
             of not-a-ca"
        );
    }

    #[tokio::test]
    async fn a_name_outside_the_permitted_subtree_shows_both() {
        let f = only("certificates/name_constraints_violated.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate names a host its CA may not certify (name constraints)");
        assert_eq!(
            f.detail,
            "the server's certificate server-nc-violation (CN \"localhost\") is for DNS:localhost, but its issuer \
             intermediate-constrained (CN \"tlsmatrix Constrained CA\") may only certify names allowed by its \
             nameConstraints: permitted DNS example.com (and the names below it). Observed: the client sent \
             certificate_unknown."
        );
        assert_eq!(
            f.fix,
            "issue the server's certificate for DNS:localhost from a CA without these name constraints (such as \
             intermediate-a), or serve a name intermediate-constrained may certify (server.certificate: server-nc-ok, \
             client.server_name: www.example.com)"
        );
    }

    #[tokio::test]
    async fn a_1024_bit_key_below_the_default_security_level() {
        let f = only("certificates/rsa1024_leaf.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate chain has a key or signature too weak for the client");
        assert_eq!(
            f.detail,
            "the server's certificate server-rsa1024 (CN \"localhost\") has a 1024-bit RSA key (80-bit security); the \
             client (openssl) runs at OpenSSL security level 2 (OpenSSL's default), which needs 112-bit security from \
             every key and signature in the chain. Observed: the client sent bad_certificate."
        );
        // RSA 1024 rates 80 bits, exactly what level 1 asks: that level is enough (checked by hand on this cell).
        assert_eq!(
            f.fix,
            "reissue server-rsa1024 with a 2048-bit RSA or an EC key (key: rsa2048 or ec-p256); or, OpenSSL only, \
             lower the client to security_level: 1 (which weakens it)"
        );
    }

    #[tokio::test]
    async fn a_sha1_signature_below_the_default_security_level() {
        let f = only("certificates/sha1_leaf.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server's certificate chain has a key or signature too weak for the client");
        assert!(
            f.detail.starts_with(
                "the server's certificate server-sha1 (CN \"localhost\") has a SHA-1 signature from intermediate-rsa \
                 (sha1WithRSAEncryption; 63-bit security as OpenSSL 3 rates it); the client (openssl) runs at OpenSSL \
                 security level 2"
            ),
            "{}",
            f.detail
        );
        assert!(f.detail.ends_with("Observed: the client sent bad_certificate."), "{}", f.detail);
        assert_eq!(
            f.fix,
            "reissue server-sha1 with a SHA-256 signature (digest: sha256, the default); or, OpenSSL only, lower the \
             client to security_level: 0 (which weakens it)"
        );
    }

    #[tokio::test]
    async fn rustls_refuses_sha1_with_no_level_to_lower() {
        let f = only("certificates/sha1_leaf.yaml", Rustls, Openssl).await;
        assert!(
            f.detail
                .contains("the client (rustls) refuses SHA-1 signatures and RSA keys under 2048 bits at any setting"),
            "{}",
            f.detail
        );
        assert!(f.detail.ends_with("Observed: the client sent decrypt_error."), "{}", f.detail);
        assert_eq!(f.fix, "reissue server-sha1 with a SHA-256 signature (digest: sha256, the default)");
    }

    #[tokio::test]
    async fn a_dhe_only_openssl_server_without_parameters() {
        let f = only("cipher_suites/dhe_only_server.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "the server enables only DHE suites but has no DH parameters");
        assert_eq!(
            f.detail,
            "tls1.2 would be negotiated and the server accepts only the DHE suites TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 \
             (server.cipher_suites); DHE needs DH parameters, and the openssl backend's plain SSL_CTX has none (no \
             dhparam file, no SSL_CTX_set_dh_auto), so OpenSSL never selects these suites, whatever the client offers. \
             Observed: the server sent handshake_failure."
        );
        assert_eq!(
            f.fix,
            "use the ECDHE form of the suites, which needs no parameters (server.cipher_suites: \
             [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]); or give the server DH parameters (a dhparam file or \
             SSL_CTX_set_dh_auto), which the harness's openssl backend does not set"
        );
    }

    #[tokio::test]
    async fn alpn_without_overlap_lists_both() {
        let f = only("alpn/no_overlap.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no ALPN protocol in common");
        assert!(
            f.detail.starts_with("client offers http/1.1 (client.alpn); server accepts h2 (server.alpn)"),
            "{}",
            f.detail
        );
        assert_eq!(
            f.fix,
            "offer h2 on the client (client.alpn: [http/1.1, h2]), or accept http/1.1 on the server (server.alpn: \
             [h2, http/1.1])"
        );
    }

    #[tokio::test]
    async fn an_unexplained_failure_names_the_side_its_alert_and_its_message() {
        // No rule covers signature_algorithms without a scheme for the server's key: the finding falls back to what
        // the failing side said.
        let f = only("signatures/ecdsa_cert_rsa_only_client.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no specific diagnosis: the server (openssl) sent handshake_failure");
        assert!(f.detail.starts_with("client (openssl): failed (Handshake, peer_alert)"), "{}", f.detail);
        assert!(f.detail.contains("no suitable signature algorithm"), "{}", f.detail);
        assert!(f.fix.ends_with("start from the server's own error above"), "{}", f.fix);
    }

    #[test]
    fn a_harness_fault_is_reported_and_an_unsupported_cell_has_nothing() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios/seed/untrusted_ca.yaml")]).unwrap();
        let scenario = &catalog.scenarios[0];
        let mut cell = CellResult {
            scenario: scenario.id.clone(),
            client: Openssl,
            server: Openssl,
            status: Status::Error,
            reason: Some("bind 127.0.0.1:0: address in use".into()),
            expected: None,
            observed: None,
            wire: Vec::new(),
            mismatches: Vec::new(),
            notes: Vec::new(),
            duration_ms: 0.0,
        };
        let findings = diagnose(scenario, &pki, &cell);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].detail, "bind 127.0.0.1:0: address in use");
        cell.status = Status::Unsupported;
        assert_eq!(diagnose(scenario, &pki, &cell), Vec::new());
    }

    #[rstest]
    #[case("localhost", "localhost", true)]
    #[case("LocalHost.", "localhost", true)]
    #[case("*.example.test", "a.example.test", true)]
    #[case("*.example.test", "a.b.example.test", false)]
    #[case("*.example.test", "example.test", false)]
    #[case("other.example", "localhost", false)]
    fn host_names_match_like_rfc_6125(#[case] pattern: &str, #[case] host: &str, #[case] matches: bool) {
        assert_eq!(dns_matches(pattern, host), matches);
    }
}
