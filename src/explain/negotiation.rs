//! The negotiation rules: versions, the security level TLS 1.0/1.1 need, cipher suites, DHE parameters, groups and
//! ALPN.

use super::render::{list, with};
use super::side::Side;
use super::side::{list_text, range_text};
use super::{Candidate, Finding, Pair};
use crate::pki::KeyType;
use crate::vocab::{Alert, CipherSuite, Group, ProtocolVersion};

impl Pair<'_> {
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
    pub(super) fn no_common_version(&self) -> Option<Candidate> {
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
    pub(super) fn legacy_version_needs_level_0(&self) -> Option<Candidate> {
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
    pub(super) fn no_common_cipher_suite(&self) -> Option<Candidate> {
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
    pub(super) fn no_common_group(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        let relevant = |g: &Group| v == ProtocolVersion::Tls13 || is_ec_group(*g);
        let (c, s) = (self.client.groups()?, self.server.groups()?);
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

    /// The server enables only finite-field DHE suites for TLS 1.2 and has no DH parameters
    /// ([`crate::backend::Behaviour::dhe_without_parameters`]): OpenSSL enables kDHE only with parameters, a
    /// parameter callback or dh_auto (`ssl_set_masks`), and the openssl backend's plain `SSL_CTX` sets none
    /// (docs/backends.md), so no suite is usable and every ClientHello gets handshake_failure ("no shared cipher"),
    /// even one offering that very suite. Servers with parameters of their own (native-tls's acceptor, s_server,
    /// GnuTLS, Java) are not concerned.
    pub(super) fn dhe_without_parameters(&self) -> Option<Candidate> {
        let v = self.negotiated_version()?;
        let no_dh = self.server.lib.dhe_without_parameters?;
        if v == ProtocolVersion::Tls13 {
            return None;
        }
        let s = self.server.suites(v)?;
        if s.items.is_empty() || !s.items.iter().all(|x| is_dhe(*x)) {
            return None;
        }
        let detail = format!(
            "{v} would be negotiated and the {}; DHE needs DH parameters, and {}.",
            list_text(&self.server, &s, "cipher_suites").replacen("accepts", "accepts only the DHE suites", 1),
            no_dh.why
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
        let params = no_dh.remedy;
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
    /// A server that ignores the mismatch instead ([`crate::backend::Behaviour::ignores_alpn_mismatch`]: native-tls's
    /// `AlpnError::NOACK`, gnutls-serv without `--alpn-fatal`) goes on without ALPN, so it is no cause there.
    pub(super) fn no_common_alpn(&self) -> Option<Candidate> {
        let (c, s) = (self.client.alpn?, self.server.alpn?);
        let (theirs, ours) = (s.first()?, c.first()?);
        if self.server.lib.ignores_alpn_mismatch || c.iter().any(|p| s.contains(p)) {
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
}

/// Whether a TLS 1.2 suite uses finite-field DHE key exchange.
fn is_dhe(suite: CipherSuite) -> bool {
    suite.name().is_some_and(|n| n.starts_with("TLS_DHE_"))
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
