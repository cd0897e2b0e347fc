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
use openssl::x509::X509Ref;
use serde::Serialize;

use crate::backend::{Capabilities, Registry};
use crate::expect::Status;
use crate::observation::{Failure, Observation, SideOutcome};
use crate::pki::{Eku, KeyType, Pki};
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
            "no rule matched (versions, cipher suites, groups, ALPN, certificate trust, validity, names and client \
             certificates all look compatible); start from the {role}'s own error above"
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
        };
        Effective { items: range.to_vec(), default: Some(why.into()) }
    }

    /// The OpenSSL security level in force, for the OpenSSL-based backends (rustls has no such concept).
    fn effective_security_level(&self) -> Option<u8> {
        match self.backend {
            BackendId::Openssl | BackendId::NativeTls => Some(self.security_level.unwrap_or(2)),
            BackendId::Rustls => None,
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

/// A fixture the client could use: a valid leaf allowed for client authentication that chains to the server's trust.
fn suggest_client_certificate(pki: &Pki, trust: &[FixtureName], verifier: BackendId) -> Option<String> {
    pki.names().into_iter().find(|name| {
        let Some(spec) = pki.spec(name) else { return false };
        let for_clients = spec.eku.as_ref().is_none_or(|e| e.contains(&Eku::ClientAuth));
        let check =
            CertCheck { verifier: Role::Server, backend: verifier, cert: name.clone(), shape: ChainShape::Full, trust };
        !spec.ca && for_clients && chain_problem(pki, &check).is_none() && validity_problem(pki, &check).is_none()
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
        let ctx = Context { registry: registry.clone(), pki: Arc::new(pki), timeout: Duration::from_secs(10) };
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
        // No rule covers a serverAuth-less EKU: the finding falls back to what the failing side said.
        let f = only("certificates/client_eku_as_server.yaml", Openssl, Openssl).await;
        assert_eq!(f.cause, "no specific diagnosis: the client (openssl) sent unsupported_certificate");
        assert!(f.detail.starts_with("client (openssl): failed (Handshake, local)"), "{}", f.detail);
        assert!(f.detail.contains("certificate verify failed"), "{}", f.detail);
        assert!(f.fix.ends_with("start from the client's own error above"), "{}", f.fix);
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
