//! What a library does on its own: the defaults and policies `tlsmatrix explain` reasons with.
//!
//! [`super::Capabilities`] says what a backend *can be told* to do; a [`Behaviour`] says what it *does* when a
//! scenario leaves a knob out, and how its verifier judges what it is shown. Each backend declares one per role next
//! to its capabilities ([`super::Backend::behaviour`], no default), so a new backend has to state its facts instead
//! of inheriting OpenSSL's. The values come from the backends' code and from the observed behaviour recorded in
//! `scenarios/` (docs/catalog.md); a fact nobody has established is declared unknown, and the rule that needs it
//! stays silent rather than guess.

use super::Capabilities;
use crate::settings::Knob;
use crate::vocab::{CipherSuite, Group, ProtocolVersion};

/// A list a library uses when the scenario does not set it, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preset<T> {
    /// The items, in the library's preference order.
    pub items: Vec<T>,
    /// Where they come from, as a diagnosis quotes it: "rustls's default".
    pub origin: &'static str,
}

impl<T> Preset<T> {
    /// `items` from `origin`.
    pub fn new(items: impl IntoIterator<Item = T>, origin: &'static str) -> Self {
        Preset { items: items.into_iter().collect(), origin }
    }
}

/// How a verifier judges the strength of the keys and signatures of a certificate chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    /// OpenSSL: the security level in force (the scenario's `security_level`, else [`Behaviour::security_level`])
    /// sets the floor for every key and signature of the chain, except a root's own self-signature.
    SecurityLevel,
    /// A floor no setting moves: keys and signatures rated under `bits` of security (as OpenSSL 3 rates them: RSA
    /// 1024 at 80, RSA 2048 at 112, SHA-1 signatures at 63) are refused.
    Floor {
        /// The security bits a key or signature needs.
        bits: u32,
        /// What the library refuses, as a diagnosis says it after the backend's name.
        rule: &'static str,
    },
    /// Not modelled: explain says nothing about key or signature strength for this verifier.
    Unknown,
}

/// Why an OpenSSL server has no DH parameters, so that it selects no finite-field DHE suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoDhParameters {
    /// Why it has none ("the openssl backend's plain SSL_CTX has none (...)"), completing "DHE needs DH parameters,
    /// and ...".
    pub why: &'static str,
    /// The fix that gives it some.
    pub remedy: &'static str,
}

/// What one backend does in one role when the scenario does not say, as far as a diagnosis depends on it.
///
/// Facts marked *client* or *server* only apply to that role; the other role declares `false` / `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// The versions enabled when `versions` is left out, oldest first, with the reason: disjoint defaults are the
    /// commonest version failure (native-tls's server stops at TLS 1.2, a default OpenSSL client still offers
    /// TLS 1.0), and a diagnosis must name the range each side really offered.
    pub versions: Preset<ProtocolVersion>,
    /// The TLS 1.2 suites enabled when `cipher_suites` is left out, or `None` when the list cannot be enumerated
    /// here (OpenSSL's `DEFAULT` cipher string): the no-common-suite rule then stays silent.
    pub tls12_suites: Option<Preset<CipherSuite>>,
    /// The TLS 1.3 suites enabled when `tls13_cipher_suites` is left out, or `None` when unknown.
    pub tls13_suites: Option<Preset<CipherSuite>>,
    /// The key-exchange groups enabled when `groups` is left out, or `None` when unknown: decides whether a
    /// restricted peer still shares a group (rustls has no P-521, OpenSSL no ML-KEM).
    pub groups: Option<Preset<Group>>,
    /// The OpenSSL security level in force when `security_level` is left out (2, the system default), or `None`
    /// for a library without security levels. Level 1 and up forbid the SHA-1 signatures TLS 1.0/1.1 need, so a
    /// legacy overlap fails late with internal_error instead of protocol_version.
    pub security_level: Option<u8>,
    /// How its verifier judges key and signature strength along a chain (RSA-1024, SHA-1).
    pub strength: Strength,
    /// `None` when its verifier takes any trusted certificate as a trust anchor, a trusted intermediate included
    /// (webpki, Java's PKIX validator, GnuTLS's trust list); otherwise why it needs a self-signed root, completing
    /// "openssl ..." in a diagnosis. Trusting only the issuing CA works with the former and fails with the latter.
    pub self_signed_anchor_only: Option<&'static str>,
    /// *Client*: its host name check falls back to the subject CN when the certificate has no DNS SAN (OpenSSL's
    /// X509_check_host does, webpki never reads the CN), so a CN-only certificate matches or does not.
    pub cn_fallback: bool,
    /// Its verifier holds a host-like CN to the issuers' DNS name constraints when the certificate has no DNS SAN
    /// (OpenSSL does; webpki never reads the CN).
    pub cn_name_constraints: bool,
    /// *Server*: with no ALPN protocol in common it continues without ALPN instead of sending
    /// no_application_protocol (RFC 7301 section 3.2), so a mismatch is no cause of failure there.
    pub ignores_alpn_mismatch: bool,
    /// *Server*: it has no DH parameters, so a TLS 1.2 config with only finite-field DHE suites selects no suite
    /// and answers every ClientHello with handshake_failure; `None` when it has parameters (or no DHE at all).
    pub dhe_without_parameters: Option<NoDhParameters>,
    /// *Client*: why it cannot take a server certificate with an Ed25519 key (it offers no ed25519 signature
    /// scheme, so a server holding only such a key has nothing to sign with: handshake_failure), or `None` when it
    /// can. Re-issuing a certificate with Ed25519 is a change that breaks exactly these clients.
    pub no_ed25519: Option<&'static str>,
}

/// OpenSSL 3.0's default TLS 1.3 suites (`TLS_CIPHERSUITES`, docs/backends.md), in its order.
pub(crate) const OPENSSL_TLS13_SUITES: [CipherSuite; 3] =
    [CipherSuite(0x1302), CipherSuite(0x1303), CipherSuite(0x1301)];

/// OpenSSL 3.0's default supported_groups, in its order (docs/backends.md).
const OPENSSL_GROUPS: &[&str] = &[
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

/// OpenSSL 3.0's default groups, for the backends that leave them as OpenSSL sets them.
pub(crate) fn openssl_groups() -> Preset<Group> {
    Preset::new(OPENSSL_GROUPS.iter().filter_map(|n| n.parse().ok()), "OpenSSL's default")
}

/// Why an OpenSSL verifier needs a self-signed trust anchor (none of the OpenSSL-based backends sets the flag).
pub(crate) const OPENSSL_ANCHOR: &str =
    "(OpenSSL underneath) accepts only a self-signed trust anchor, as X509_V_FLAG_PARTIAL_CHAIN is not set";

impl Behaviour {
    /// What OpenSSL itself does underneath a backend that leaves its defaults alone (the openssl crate, native-tls,
    /// s_server/s_client): its TLS 1.3 suites and groups, security level 2 from the system, a self-signed anchor, CN
    /// fallback for a client. The backend adds `versions` and its own server quirks.
    pub(crate) fn openssl_library(role: crate::vocab::Role, versions: Preset<ProtocolVersion>) -> Behaviour {
        Behaviour {
            versions,
            tls12_suites: None,
            tls13_suites: Some(Preset::new(OPENSSL_TLS13_SUITES, "OpenSSL's default")),
            groups: Some(openssl_groups()),
            security_level: Some(2),
            strength: Strength::SecurityLevel,
            self_signed_anchor_only: Some(OPENSSL_ANCHOR),
            cn_fallback: role == crate::vocab::Role::Client,
            cn_name_constraints: true,
            ignores_alpn_mismatch: false,
            dhe_without_parameters: None,
            no_ed25519: None,
        }
    }
}

impl Capabilities {
    /// Whether the backend can set `knob` at all (a fix may then suggest it).
    pub fn can_set(&self, knob: Knob) -> bool {
        self.settings.supports_knob(knob)
    }
}

#[cfg(test)]
mod tests {
    //! Each backend's declared behaviour against its own capabilities: a default it could not even enable, or a
    //! security level it claims without the notion, is a declaration error.

    use super::*;
    use crate::backend::Registry;
    use crate::vocab::Role;

    #[test]
    fn every_backend_declares_a_behaviour_its_capabilities_can_hold() {
        let registry = Registry::all();
        for backend in registry.iter() {
            for role in [Role::Client, Role::Server] {
                let (b, caps) = (backend.behaviour(role), backend.capabilities(role));
                let who = format!("{} as {role}", backend.id());
                // A runtime that is not installed has no capabilities to hold a behaviour, and no cells.
                if caps.unavailable.is_some() {
                    continue;
                }

                let v = &b.versions.items;
                assert!(!v.is_empty() && !b.versions.origin.is_empty(), "{who}: no default versions");
                assert!(v.iter().all(|x| caps.versions.contains(x)), "{who}: default {v:?} beyond {:?}", caps.versions);
                let span: Vec<ProtocolVersion> =
                    ProtocolVersion::ALL.into_iter().filter(|x| (v[0]..=v[v.len() - 1]).contains(x)).collect();
                assert_eq!(v, &span, "{who}: default versions must be one range, oldest first");

                for (preset, tls13, knob) in
                    [(&b.tls12_suites, false, Knob::CipherSuites), (&b.tls13_suites, true, Knob::Tls13CipherSuites)]
                {
                    let Some(p) = preset else { continue };
                    assert!(!p.items.is_empty() && !p.origin.is_empty(), "{who}: empty default suites");
                    assert!(p.items.iter().all(|s| s.is_tls13() == tls13), "{who}: {:?} in the wrong list", p.items);
                    // A backend that can set the list names every suite it implements; the defaults are among them.
                    if caps.can_set(knob) {
                        let missing: Vec<_> = p.items.iter().filter(|s| !caps.cipher_suites.contains(s)).collect();
                        assert!(missing.is_empty(), "{who}: default suites {missing:?} not implemented");
                    }
                }
                if let Some(g) = &b.groups {
                    assert!(!g.items.is_empty() && !g.origin.is_empty(), "{who}: empty default groups");
                    if caps.can_set(Knob::Groups) {
                        let missing: Vec<_> = g.items.iter().filter(|x| !caps.groups.contains(x)).collect();
                        assert!(missing.is_empty(), "{who}: default groups {missing:?} not implemented");
                    }
                }

                // A security level is the OpenSSL notion: declared together with the strength rule it drives, and
                // present whenever the scenario may set one.
                assert!(b.security_level.is_none_or(|l| l <= 5), "{who}: no such security level");
                assert_eq!(
                    b.security_level.is_some(),
                    b.strength == Strength::SecurityLevel,
                    "{who}: security level and strength rule disagree"
                );
                if caps.can_set(Knob::SecurityLevel) {
                    assert!(b.security_level.is_some(), "{who}: can set a security level but declares none");
                }
                if let Strength::Floor { bits, rule } = b.strength {
                    assert!(bits > 0 && !rule.is_empty(), "{who}: empty strength floor");
                }

                // Role-specific facts are left unset for the other role, so each declaration reads one way.
                match role {
                    Role::Client => {
                        assert!(!b.ignores_alpn_mismatch, "{who}: the ALPN mismatch policy is the server's");
                        assert!(b.dhe_without_parameters.is_none(), "{who}: DH parameters are the server's");
                    }
                    Role::Server => assert!(!b.cn_fallback, "{who}: only a client checks host names"),
                }
            }
        }
    }

    #[test]
    fn only_openssl_based_verifiers_need_a_self_signed_anchor() {
        // scenarios/certificates/trust_intermediate_only.yaml: rustls, jsse and gnutls clients connect trusting only
        // intermediate-a; openssl, native-tls and openssl-cli clients send unknown_ca.
        use crate::vocab::BackendId::*;
        let registry = Registry::all();
        for (id, partial) in
            [(Openssl, false), (NativeTls, false), (Rustls, true), (Jsse, true), (OpensslCli, false), (Gnutls, true)]
        {
            let b = registry.get(id).expect("compiled in").behaviour(Role::Client);
            assert_eq!(b.self_signed_anchor_only.is_none(), partial, "{id}");
        }
    }
}
