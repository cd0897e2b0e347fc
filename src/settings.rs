//! Every scenario setting, declared once: its field, the sides it applies to, what it means and its default.
//!
//! Three things are derived from [`SETTINGS`]: which settings a side config uses ([`used`], read from the config's
//! own serialisation, so a new field is a setting the moment it exists), the descriptions in the JSON Schema
//! ([`crate::scenario::json_schema`]) and the reference table in the README ([`reference_table`]). Backends declare,
//! per role, a [`Decision`] for every setting ([`Settings`]); one they have not decided on makes their cells
//! `unsupported`, and `every_backend_decides_every_setting` fails the tests, so a setting added here can never be
//! silently ignored by a backend that was not taught it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::vocab::Role;

/// A setting a backend may or may not be able to express.
///
/// The variant order is the order in which a cell's settings are checked, so the first one a backend lacks is the
/// reason reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// `versions`.
    Versions,
    /// `cipher_suites`.
    CipherSuites,
    /// `tls13_cipher_suites`.
    Tls13CipherSuites,
    /// `groups`.
    Groups,
    /// `security_level`.
    SecurityLevel,
    /// `alpn`.
    Alpn,
    /// `alpn_mismatch: fatal` (server).
    AlpnMismatchFatal,
    /// `alpn_mismatch: ignore` (server).
    AlpnMismatchIgnore,
    /// `signature_algorithms`.
    SignatureAlgorithms,
    /// `chain` other than `full` (server).
    ChainShape,
    /// `client_auth` other than `none` (server).
    ClientAuth,
    /// `sni_certificates` (server).
    SniCertificates,
    /// `session_tickets` (server).
    SessionTickets,
    /// `certificate`: the server's own (always set), the client's when the server asks.
    Certificate,
    /// `mode: resume`: the backend keeps a session between two connections.
    Resumption,
    /// `trust`.
    Trust,
    /// `server_name` (client).
    ServerName,
    /// `sni` (client).
    Sni,
    /// `java_security` (both): Java security properties.
    JavaSecurity,
    /// `nginx` (server): nginx directives verbatim.
    Nginx,
}

/// Which sides a setting applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sides {
    /// `server:` and `client:`.
    Both,
    /// `server:` only.
    Server,
    /// `client:` only.
    Client,
    /// The scenario's top level; it asks something of both sides' backends.
    Scenario,
}

impl Sides {
    /// Whether a backend playing `role` has to decide on the setting.
    pub fn includes(self, role: Role) -> bool {
        match self {
            Sides::Both | Sides::Scenario => true,
            Sides::Server => role == Role::Server,
            Sides::Client => role == Role::Client,
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// What backends decide on.
    pub knob: Knob,
    /// The key in the scenario file (`mode: resume` for the top-level resumption mode).
    pub field: &'static str,
    /// Where it may be written.
    pub sides: Sides,
    /// The README's "side" column, when it says more than the sides (`server (required), client`).
    pub side_note: Option<&'static str>,
    /// What it means, in one paragraph (README and JSON Schema).
    pub meaning: &'static str,
    /// What a left-out setting means.
    pub default: &'static str,
}

impl Setting {
    /// The key in the scenario file: the field up to a `: value` (`alpn_mismatch` of `alpn_mismatch: fatal`).
    pub fn key(&self) -> &'static str {
        self.field.split(": ").next().unwrap_or(self.field)
    }

    /// The README's side column.
    pub fn side_label(&self) -> &'static str {
        self.side_note.unwrap_or(match self.sides {
            Sides::Both => "both",
            Sides::Server => "server",
            Sides::Client => "client",
            Sides::Scenario => "top level",
        })
    }
}

const fn row(knob: Knob, field: &'static str, sides: Sides, meaning: &'static str, default: &'static str) -> Setting {
    Setting { knob, field, sides, side_note: None, meaning, default }
}

/// Every setting, in README order.
pub const SETTINGS: &[Setting] = &[
    row(
        Knob::Versions,
        "versions",
        Sides::Both,
        "contiguous range, oldest first: `tls1.0`, `tls1.1`, `tls1.2`, `tls1.3`",
        "the library's default (docs/backends.md)",
    ),
    row(
        Knob::CipherSuites,
        "cipher_suites",
        Sides::Both,
        "TLS 1.2-and-earlier suites by IANA name, preference order",
        "library default",
    ),
    row(
        Knob::Tls13CipherSuites,
        "tls13_cipher_suites",
        Sides::Both,
        "TLS 1.3 suites (`TLS_AES_128_GCM_SHA256`, ...)",
        "library default",
    ),
    row(
        Knob::Groups,
        "groups",
        Sides::Both,
        "key-exchange groups: `x25519`, `secp256r1`, `secp384r1`, `secp521r1`, `x448`, `ffdhe2048`..., \
         `X25519MLKEM768`; the client's first gets the TLS 1.3 key share",
        "library default",
    ),
    row(
        Knob::SecurityLevel,
        "security_level",
        Sides::Both,
        "OpenSSL security level 0-5 (TLS 1.0/1.1 and SHA-1 need 0 on this OpenSSL)",
        "2 (system OpenSSL)",
    ),
    row(
        Knob::Alpn,
        "alpn",
        Sides::Both,
        "protocols offered (client) or accepted in preference order (server)",
        "no ALPN",
    ),
    row(
        Knob::AlpnMismatchFatal,
        "alpn_mismatch: fatal",
        Sides::Server,
        "a client ALPN list sharing nothing with the server's is refused with no_application_protocol (RFC 7301)",
        "the library's own choice (docs/backends.md)",
    ),
    row(
        Knob::AlpnMismatchIgnore,
        "alpn_mismatch: ignore",
        Sides::Server,
        "such a list is ignored: the handshake completes without ALPN",
        "the library's own choice",
    ),
    Setting {
        side_note: Some("server (required), client"),
        ..row(
            Knob::Certificate,
            "certificate",
            Sides::Both,
            "fixture name; the client's is sent when the server asks",
            "client: none",
        )
    },
    row(
        Knob::ChainShape,
        "chain",
        Sides::Server,
        "`full` (leaf + intermediates), `leaf_only`, `reversed` (intermediates root side first)",
        "`full`",
    ),
    row(
        Knob::SniCertificates,
        "sni_certificates",
        Sides::Server,
        "`{ host: fixture }`: certificates chosen by the client's SNI; `certificate` serves other names",
        "none",
    ),
    row(
        Knob::SessionTickets,
        "session_tickets",
        Sides::Server,
        "`true`: stateless tickets (RFC 5077 in TLS 1.2, self-contained tickets in TLS 1.3); `false`: no stateless \
         tickets (TLS 1.2 resumes by session id; TLS 1.3 tickets then name a server cache entry). OpenSSL's default \
         is `true`, rustls's `false`",
        "library default",
    ),
    row(
        Knob::SignatureAlgorithms,
        "signature_algorithms",
        Sides::Both,
        "signature schemes by IANA name (`rsa_pss_rsae_sha256`, `rsa_pkcs1_sha256`, `ecdsa_secp256r1_sha256`, \
         `ed25519`, ...)",
        "library default",
    ),
    row(Knob::ClientAuth, "client_auth", Sides::Server, "`none`, `optional`, `required`", "`none`"),
    row(
        Knob::Trust,
        "trust",
        Sides::Both,
        "fixture CA names: the client's trust store, or the CAs the server accepts client certificates from",
        "empty: trusts nothing",
    ),
    row(
        Knob::ServerName,
        "server_name",
        Sides::Client,
        "SNI and the name verified; left out, the client connects to `127.0.0.1`, sends no SNI and verifies the IP \
         SAN",
        "`127.0.0.1`",
    ),
    row(
        Knob::Sni,
        "sni",
        Sides::Client,
        "`false`: verify `server_name` but send no SNI (old Java 6 / Python 2 clients)",
        "`true`",
    ),
    row(
        Knob::JavaSecurity,
        "java_security",
        Sides::Both,
        "Java security properties for the `jsse` peer (`jdk.tls.disabledAlgorithms: \"...\"`), what a Java user puts \
         in a `java.security` override file; such cells run in a JVM of their own. A setting of Java's: other \
         stacks run the cell without it",
        "the JDK's `java.security`",
    ),
    row(
        Knob::Nginx,
        "nginx",
        Sides::Server,
        "the server's TLS settings as nginx directives (`\"ssl_protocols TLSv1.2; ssl_ciphers ECDHE+AESGCM;\"`): the \
         `nginx` backend runs them verbatim; they are imported into the block's settings (what they leave out is \
         nginx 1.22's default) for every other backend. A setting given both ways is refused",
        "none",
    ),
    row(
        Knob::Resumption,
        "mode: resume",
        Sides::Scenario,
        "two connections through the same client and server; the second offers the first one's session, and the \
         expectation (with `resumed`) is about the second",
        "`mode: single`",
    ),
];

impl Knob {
    /// Its row in [`SETTINGS`].
    pub fn setting(self) -> &'static Setting {
        SETTINGS.iter().find(|s| s.knob == self).expect("every knob has a row (settings_table_is_complete)")
    }

    /// The scenario field the knob stands for.
    pub fn field(self) -> &'static str {
        self.setting().field
    }
}

/// The rows of key `key` of a `role:` block: one, or one per value (`alpn_mismatch: fatal`, `alpn_mismatch: ignore`).
pub fn by_key(role: Role, key: &str) -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().filter(move |s| s.key() == key && s.sides != Sides::Scenario && s.sides.includes(role))
}

/// The setting behind key `field` of a `role:` block.
pub fn by_field(role: Role, field: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.field == field && s.sides != Sides::Scenario && s.sides.includes(role))
}

/// The settings a side config uses: the keys its serialisation keeps (defaults are skipped when serialising), in
/// check order.
///
/// # Panics
/// On a field without a row in [`SETTINGS`]: `every_config_field_has_a_row` makes that a test failure first.
pub fn used<C: Serialize>(role: Role, cfg: &C) -> Vec<Knob> {
    let value = serde_json::to_value(cfg).expect("a side config serialises to JSON");
    let mut knobs: Vec<Knob> = value
        .as_object()
        .map(|m| {
            m.iter().map(|(k, v)| {
                // A setting whose values backends decide on one by one has a row per value (`alpn_mismatch: fatal`).
                let valued = v.as_str().and_then(|v| by_field(role, &format!("{k}: {v}")));
                valued.or_else(|| by_field(role, k)).unwrap_or_else(|| panic!("{role}.{k} is not in SETTINGS")).knob
            })
        })
        .into_iter()
        .flatten()
        .collect();
    knobs.sort();
    knobs
}

/// What a backend does with one setting in one role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It applies the setting.
    Supports,
    /// It cannot express it: cells that use it are `unsupported` with this reason.
    Lacks(&'static str),
    /// The setting addresses another stack (Java's security properties); the backend runs the cell without it, for
    /// this reason, as an application on that stack would.
    NotApplicable(&'static str),
}

/// A backend's decisions for one role. Built by listing what it supports and what it lacks; anything left out is
/// undecided, which makes cells using it unsupported and fails `every_backend_decides_every_setting`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    decided: BTreeMap<Knob, Decision>,
}

impl Settings {
    /// Nothing decided yet.
    pub fn new() -> Self {
        Settings::default()
    }

    /// It applies these settings.
    pub fn supports(mut self, knobs: impl IntoIterator<Item = Knob>) -> Self {
        for k in knobs {
            self.decided.insert(k, Decision::Supports);
        }
        self
    }

    /// It cannot express `knob`, because `why`.
    pub fn lacks(mut self, knob: Knob, why: &'static str) -> Self {
        self.decided.insert(knob, Decision::Lacks(why));
        self
    }

    /// `knob` is another stack's setting; it runs without it, because `why`.
    pub fn not_applicable(mut self, knob: Knob, why: &'static str) -> Self {
        self.decided.insert(knob, Decision::NotApplicable(why));
        self
    }

    /// The decision on `knob`, if there is one.
    pub fn get(&self, knob: Knob) -> Option<&Decision> {
        self.decided.get(&knob)
    }

    /// Whether it applies `knob`.
    pub fn supports_knob(&self, knob: Knob) -> bool {
        self.get(knob) == Some(&Decision::Supports)
    }

    /// What it lacks, with the reasons, in check order.
    pub fn lacking(&self) -> impl Iterator<Item = (Knob, &'static str)> + '_ {
        self.decided.iter().filter_map(|(k, d)| match d {
            Decision::Lacks(why) => Some((*k, *why)),
            _ => None,
        })
    }

    /// The settings `role` has to decide on that are not decided.
    pub fn undecided(&self, role: Role) -> Vec<Knob> {
        SETTINGS
            .iter()
            .filter(|s| s.sides.includes(role) && !self.decided.contains_key(&s.knob))
            .map(|s| s.knob)
            .collect()
    }

    /// `Err(reason)` for the first of `knobs` it cannot run: one it lacks, or one it never decided on.
    pub fn check(&self, role: Role, knobs: &[Knob]) -> Result<(), String> {
        for &k in knobs {
            match self.get(k) {
                Some(Decision::Supports | Decision::NotApplicable(_)) => {}
                Some(Decision::Lacks(why)) => return Err(format!("{role}.{} cannot be set: {why}", k.field())),
                None => {
                    return Err(format!(
                        "does not support `{}` (the backend has not declared it: src/settings.rs)",
                        k.field()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The README's scenario reference table, generated from [`SETTINGS`] (the side settings; `mode` is described in
/// the README's prose).
pub fn reference_table() -> String {
    let mut out = String::from("| field | side | meaning | default when left out |\n|---|---|---|---|\n");
    for s in SETTINGS.iter().filter(|s| s.sides != Sides::Scenario) {
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", s.field, s.side_label(), s.meaning, s.default));
    }
    out
}

/// The text between `<!-- settings:begin -->` and `<!-- settings:end -->` in the README.
pub const README_MARKERS: (&str, &str) = ("<!-- settings:begin -->\n", "<!-- settings:end -->");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Registry};
    use crate::scenario::{ClientConfig, ServerConfig};

    /// The properties the JSON Schema of a side config has: the fields serde knows.
    fn schema_fields<T: schemars::JsonSchema>() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
        schema["properties"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_config_field_has_a_row() {
        for (role, fields) in
            [(Role::Server, schema_fields::<ServerConfig>()), (Role::Client, schema_fields::<ClientConfig>())]
        {
            for f in &fields {
                assert!(by_key(role, f).next().is_some(), "{role}.{f} has no row in settings::SETTINGS");
            }
            for s in SETTINGS.iter().filter(|s| s.sides != Sides::Scenario && s.sides.includes(role)) {
                assert!(
                    fields.iter().any(|f| f == s.key()),
                    "SETTINGS says `{}` is a {role} setting; it is not",
                    s.field
                );
            }
        }
    }

    #[test]
    fn settings_table_is_complete() {
        let mut knobs: Vec<Knob> = SETTINGS.iter().map(|s| s.knob).collect();
        knobs.sort();
        knobs.dedup();
        assert_eq!(knobs.len(), SETTINGS.len(), "a knob has two rows");
        // Knob's variants are listed by hand once more only here, so a variant without a row fails.
        let all = [
            Knob::Versions,
            Knob::CipherSuites,
            Knob::Tls13CipherSuites,
            Knob::Groups,
            Knob::SecurityLevel,
            Knob::Alpn,
            Knob::AlpnMismatchFatal,
            Knob::AlpnMismatchIgnore,
            Knob::SignatureAlgorithms,
            Knob::ChainShape,
            Knob::ClientAuth,
            Knob::SniCertificates,
            Knob::SessionTickets,
            Knob::Certificate,
            Knob::Resumption,
            Knob::Trust,
            Knob::ServerName,
            Knob::Sni,
            Knob::JavaSecurity,
            Knob::Nginx,
        ];
        assert_eq!(knobs, all);
    }

    /// The setting x backend test: every backend compiled in decides, for each role, every setting of that role.
    #[test]
    fn every_backend_decides_every_setting() {
        let mut missing = Vec::new();
        for b in Registry::all().iter() {
            for role in [Role::Client, Role::Server] {
                for k in b.capabilities(role).settings.undecided(role) {
                    missing.push(format!("{} as {role}: `{}`", b.id(), k.field()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "undecided settings (declare each in the backend's Settings):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn a_setting_nobody_declared_makes_cells_unsupported() {
        let caps = Settings::new().supports([Knob::Versions, Knob::Certificate]);
        assert_eq!(caps.check(Role::Server, &[Knob::Versions, Knob::Certificate]), Ok(()));
        let err = caps.check(Role::Server, &[Knob::Versions, Knob::SecurityLevel]).unwrap_err();
        assert!(err.contains("does not support `security_level`"), "{err}");
        assert_eq!(
            caps.undecided(Role::Server).len(),
            SETTINGS.iter().filter(|s| s.sides.includes(Role::Server)).count() - 2
        );
    }

    /// A config field a backend never declared: the cell is unsupported with the generated reason, through the same
    /// check the planner runs (the field is found by the config's serialisation, not by a hand-kept list).
    #[test]
    fn an_undeclared_setting_in_a_config_makes_the_cell_unsupported() {
        let openssl = crate::backend::OpensslBackend::new();
        let mut caps = openssl.capabilities(Role::Server).clone();
        caps.settings.decided.remove(&Knob::SessionTickets);
        let cfg = ServerConfig {
            session_tickets: Some(false),
            certificate: crate::scenario::FixtureName("server-ec".into()),
            ..Default::default()
        };
        let err = caps.check(&cfg, &[]).unwrap_err();
        assert!(err.contains("does not support `session_tickets`"), "{err}");
        let without = ServerConfig { session_tickets: None, ..cfg };
        assert_eq!(caps.check(&without, &[]), Ok(()));
    }

    #[test]
    fn used_reads_the_config_in_check_order() {
        let server = ServerConfig {
            signature_algorithms: Some(vec![]),
            security_level: Some(0),
            certificate: crate::scenario::FixtureName("server-ec".into()),
            ..Default::default()
        };
        assert_eq!(used(Role::Server, &server), [Knob::SecurityLevel, Knob::SignatureAlgorithms, Knob::Certificate]);
        let client = ClientConfig { sni: Some(false), server_name: Some("localhost".into()), ..Default::default() };
        assert_eq!(used(Role::Client, &client), [Knob::ServerName, Knob::Sni]);
    }

    #[test]
    fn readme_reference_table_is_current() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let (begin, end) = README_MARKERS;
        let start = readme.find(begin).expect("README has the settings:begin marker") + begin.len();
        let stop = readme[start..].find(end).expect("README has the settings:end marker") + start;
        assert_eq!(
            readme[start..stop],
            reference_table(),
            "README's scenario reference is stale: paste `tlsmatrix settings --reference`"
        );
    }
}
