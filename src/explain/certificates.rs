//! The certificate rules: one side verifying the certificate the other presents, as its library would (the path to
//! a trust anchor, CA flags, name constraints, validity, purpose), and the fixtures a fix may suggest instead.

use openssl::asn1::Asn1Time;

use super::hostname::{common_name, san_names};
use super::render::{describe, span, with};
use super::side::Side;
use super::strength::{accepting_level, level_bits, weaknesses};
use super::{Candidate, Finding, PATH_ALERTS, Pair};
use crate::backend::{Behaviour, Strength};
use crate::pki::{Eku, NameConstraints, Pki};
use crate::scenario::{ChainShape, FixtureName};
use crate::vocab::{Alert, BackendId, Role};

/// One side checking the certificate the other presents.
#[derive(Clone)]
pub(super) struct CertCheck<'a> {
    /// Who verifies.
    pub(super) verifier: Role,
    /// The verifier's library, by name.
    pub(super) backend: BackendId,
    /// What the verifier's library does (whether a non-self-signed trust anchor is enough, whether it reads the CN).
    pub(super) lib: &'a Behaviour,
    /// The fixture presented.
    pub(super) cert: String,
    /// Which of its issuers are sent with it.
    pub(super) shape: ChainShape,
    /// The verifier's trust store.
    pub(super) trust: &'a [FixtureName],
}

impl CertCheck<'_> {
    /// The side presenting the certificate.
    pub(super) fn presenter(&self) -> Role {
        match self.verifier {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// Whether the verifier takes any trusted certificate as an anchor (webpki, Java's PKIX validator, GnuTLS's trust
    /// list); OpenSSL, and so native-tls and s_client, need a self-signed root unless X509_V_FLAG_PARTIAL_CHAIN is
    /// set, which none of those backends sets.
    fn partial_chain_ok(&self) -> bool {
        self.lib.self_signed_anchor_only.is_none()
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

impl<'a> Pair<'a> {
    /// The client verifying the server's certificate.
    pub(super) fn server_certificate_check(&self) -> CertCheck<'_> {
        CertCheck {
            verifier: Role::Client,
            backend: self.client.backend,
            lib: &self.client.lib,
            cert: self.served_certificate(),
            shape: self.scenario.server.chain,
            trust: &self.scenario.client.trust,
        }
    }

    /// Everything wrong with one presented certificate and its path, in the order a verifier meets it: the path to
    /// a trust anchor, an issuer that is no CA, name constraints, validity, key and digest strength, purpose.
    pub(super) fn certificate_problems(&self, check: &CertCheck) -> Vec<Candidate> {
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
    pub(super) fn verifier(&self, check: &CertCheck) -> &Side<'a> {
        match check.verifier {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }
}

/// What stops the verifier from building a path from the presented certificate to a trust anchor, walking the
/// fixtures' issuers: a self-signed certificate, an issuer nobody trusts, a trusted intermediate without its root
/// (a library that needs a self-signed anchor), or an anchor that is trusted but an intermediate that is neither sent
/// nor trusted.
pub(super) fn chain_problem(pki: &Pki, check: &CertCheck) -> Option<Candidate> {
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
                 {} {}.",
                check.presenter(),
                describe(pki, &check.cert),
                trusted,
                describe(pki, root),
                check.verifier,
                check.backend,
                check.lib.self_signed_anchor_only.unwrap_or("accepts only a self-signed trust anchor")
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
    let names = constrained_names(pki, &check.cert, check.lib)?;
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
                let dns = constrained_names(pki, &name, check.lib)?;
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

/// The names name constraints apply to: the DNS SANs, or, for a verifier that holds the CN to them (OpenSSL), a
/// host-like CN when there is no DNS SAN.
fn constrained_names(pki: &Pki, name: &str, verifier: &Behaviour) -> Option<Vec<String>> {
    let cert = &pki.get(name)?.cert;
    let (mut dns, _) = san_names(cert);
    if dns.is_empty() && verifier.cn_name_constraints {
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
        Role::Client => suggest_client_certificate(pki, check.trust, check.backend, check.lib),
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

/// Whether the verifier of `check` would accept the certificate path (at OpenSSL's default security level, which
/// also covers what rustls refuses): the fixtures a fix suggests must not fail some other way.
pub(super) fn sound(pki: &Pki, check: &CertCheck) -> bool {
    let path = issuer_path(pki, &check.cert);
    let strong = path.iter().enumerate().all(|(k, name)| {
        pki.get(name)
            .is_some_and(|c| weaknesses(&c.cert, path.get(k + 1).map(String::as_str), level_bits(2)).is_empty())
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

/// The fixture names from `name` up to its self-signed root, following `issuer` in fixtures/pki.yaml.
pub(super) fn issuer_path(pki: &Pki, name: &str) -> Vec<String> {
    let mut path = vec![name.to_string()];
    // The PKI rejects issuer cycles; the bound only keeps a malformed spec from looping here.
    while path.len() < 16 {
        let Some(issuer) = path.last().and_then(|n| pki.spec(n)).and_then(|s| s.issuer.clone()) else { break };
        path.push(issuer);
    }
    path
}

/// Whether two fixtures are different certificates with the same subject name.
fn same_subject(pki: &Pki, a: &str, b: &str) -> bool {
    let der = |n: &str| pki.get(n).and_then(|c| c.cert.subject_name().to_der().ok());
    a != b && der(a).is_some() && der(a) == der(b)
}

impl Pair<'_> {
    /// The first certificate on the presented path whose key or signature digest is weaker than the verifier
    /// accepts ([`crate::backend::Behaviour::strength`]). OpenSSL holds every certificate of the chain to its
    /// security level (level 2, the system default, needs 112-bit security, so RSA 2048 at least; OpenSSL 3 rates
    /// SHA-1 signatures at 63 bits, refused from level 1 up); only a root's own self-signature goes unchecked. rustls
    /// has no level to lower: its webpki algorithms refuse SHA-1 signatures and RSA keys under 2048 bits at any
    /// setting; GnuTLS's default profile stops at 80 bits. OpenSSL reports bad_certificate ("EE key too small", "CA
    /// md too weak"), rustls decrypt_error. A verifier whose rule is not modelled (Java's) gets no finding.
    pub(super) fn weak_certificate(&self, check: &CertCheck) -> Option<Candidate> {
        let verifier = self.verifier(check);
        let floor = verifier.strength_floor()?;
        let level = match verifier.lib.strength {
            Strength::SecurityLevel => verifier.effective_security_level(),
            Strength::Floor { .. } | Strength::Unknown => None,
        };
        let who = check.presenter();
        let path = issuer_path(self.pki, &check.cert);
        let (k, weak) = path.iter().enumerate().find_map(|(k, name)| {
            let cert = &self.pki.get(name)?.cert;
            let issuer = path.get(k + 1).map(String::as_str);
            let weak = weaknesses(cert, issuer, floor);
            (!weak.is_empty()).then_some((k, weak))
        })?;
        let name = &path[k];
        let whose = if k == 0 {
            format!("the {who}'s certificate")
        } else {
            format!("the CA certificate in the {who}'s chain")
        };
        let what = weak.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(", and ");
        let rule = match (level, verifier.lib.strength) {
            (Some(l), _) => {
                let origin = if verifier.security_level.is_some() { "" } else { " (OpenSSL's default)" };
                format!(
                    "the {} ({}) runs at OpenSSL security level {l}{origin}, which needs {}-bit security from every \
                     key and signature in the chain",
                    verifier.role,
                    verifier.backend,
                    level_bits(l)
                )
            }
            (None, Strength::Floor { rule, .. }) => format!("the {} ({}) {rule}", verifier.role, verifier.backend),
            (None, _) => format!("the {} ({}) refuses them", verifier.role, verifier.backend),
        };
        let detail = format!("{whose} {} has {what}; {rule}.", describe(self.pki, name));
        let subject = if k == 0 { name.clone() } else { format!("the CA certificate {name}") };
        // rustls's floor is RSA 2048 and SHA-256, level 2's too; higher levels need stronger keys and digests.
        let need = floor;
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
}

/// A fixture the client could use: a valid leaf allowed for client authentication that chains to the server's trust,
/// as the server's library (`backend`, behaving as `lib`) verifies it.
pub(super) fn suggest_client_certificate(
    pki: &Pki,
    trust: &[FixtureName],
    backend: BackendId,
    lib: &Behaviour,
) -> Option<String> {
    pki.names().into_iter().find(|name| {
        let Some(spec) = pki.spec(name) else { return false };
        let for_clients = spec.eku.as_ref().is_none_or(|e| e.contains(&Eku::ClientAuth));
        let check =
            CertCheck { verifier: Role::Server, backend, lib, cert: name.clone(), shape: ChainShape::Full, trust };
        !spec.ca && for_clients && sound(pki, &check)
    })
}

impl Pair<'_> {
    /// A server certificate with an Ed25519 key for a client that offers no ed25519 signature scheme: the server
    /// has nothing its key can sign with and refuses the handshake (handshake_failure, "no suitable signature
    /// algorithm"), which no alert names as a certificate problem.
    pub(super) fn ed25519_refused(&self) -> Option<Candidate> {
        let why = self.client.lib.no_ed25519?;
        let name = self.served_certificate();
        let key = self.pki.get(&name)?.cert.public_key().ok()?;
        (key.id() == openssl::pkey::Id::ED25519).then(|| Candidate {
            finding: Finding {
                cause: "the client cannot take a server certificate with an Ed25519 key".into(),
                detail: format!(
                    "the server's certificate {} has an Ed25519 key, and the client ({}) cannot verify an ed25519 \
                     signature: {why}. The server has no signature scheme in common with it.",
                    describe(self.pki, &name),
                    self.client.backend
                ),
                fix: "give the server an ECDSA P-256 or RSA certificate (alone, or beside the Ed25519 one where the \
                      server picks a certificate by the client's signature_algorithms, as OpenSSL does with one of \
                      each key type); or move the client to a release that offers ed25519"
                    .into(),
            },
            alerts: &[Alert::HANDSHAKE_FAILURE],
        })
    }
}
