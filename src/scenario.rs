//! The scenario model: what a YAML file under `scenarios/` may say, loaded and validated before anything runs.
//!
//! Every struct rejects unknown fields, every vocabulary word is checked while parsing (so the parser's line and column
//! point at it), and fixture names are checked against `fixtures/pki.yaml` the same way. Rules that span fields (a
//! version range must be contiguous, an override needs a reason) are checked after parsing and reported against the
//! line of the offending key.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::LoadError;
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role, SignatureScheme};
use crate::yaml;

thread_local! {
    /// The fixture names a scenario may use, set while the catalog parses a file so that an unknown name fails with
    /// the parser's line and column instead of a vague error after the fact.
    static FIXTURES: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
}

/// The name of a certificate in `fixtures/pki.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct FixtureName(pub String);

impl<'de> Deserialize<'de> for FixtureName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FIXTURES.with(|f| match &*f.borrow() {
            Some(known) if !known.contains(&name) => Err(serde::de::Error::custom(format!(
                "unknown fixture `{name}`, expected a certificate from fixtures/pki.yaml: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            ))),
            _ => Ok(FixtureName(name)),
        })
    }
}

impl fmt::Display for FixtureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which certificates the server sends with its leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChainShape {
    /// Leaf, then each intermediate up to (not including) the root: what a correct server sends.
    #[default]
    Full,
    /// The leaf alone: the classic "missing intermediate" misconfiguration.
    LeafOnly,
    /// The leaf, then the intermediates in reverse order (root side first): a chain file assembled backwards.
    Reversed,
}

/// How many connections a cell makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One connection.
    #[default]
    Single,
    /// Two connections through the same client and server; the second offers the first one's session, and the
    /// expectation (with `resumed`) is about the second.
    Resume,
}

/// Whether the server asks for a client certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// No CertificateRequest.
    #[default]
    None,
    /// CertificateRequest sent; a client without a certificate may still connect.
    Optional,
    /// CertificateRequest sent; the handshake fails without a valid client certificate.
    Required,
}

/// The server side of a scenario. A knob left out means the library's own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Protocol versions to enable: a contiguous range such as `[tls1.2, tls1.3]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<ProtocolVersion>>,
    /// TLS 1.2-and-earlier cipher suites, by IANA name, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<CipherSuite>>,
    /// TLS 1.3 cipher suites, by IANA name, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls13_cipher_suites: Option<Vec<CipherSuite>>,
    /// Key-exchange groups, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// OpenSSL security level (0-5); legacy versions and SHA-1 need 0 on this system's OpenSSL (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<u8>,
    /// The server's certificate (a name from fixtures/pki.yaml); its chain is sent with it.
    pub certificate: FixtureName,
    /// Which certificates accompany the leaf.
    #[serde(default, skip_serializing_if = "is_default")]
    pub chain: ChainShape,
    /// ALPN protocols the server accepts, in its preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
    /// Whether a client certificate is requested.
    #[serde(default, skip_serializing_if = "is_default")]
    pub client_auth: ClientAuth,
    /// CAs whose client certificates the server accepts (needed with `client_auth`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<FixtureName>,
    /// Other certificates chosen by the SNI the client sends (`host: fixture`); `certificate` serves the rest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sni_certificates: BTreeMap<String, FixtureName>,
    /// Whether the server issues session tickets (RFC 5077 in TLS 1.2, stateless tickets in TLS 1.3); `false`
    /// leaves TLS 1.2 resumption to the session-id cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_tickets: Option<bool>,
    /// Signature schemes the server accepts and may use, by IANA name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithms: Option<Vec<SignatureScheme>>,
    /// Java security properties for the `jsse` peer (e.g. `jdk.tls.disabledAlgorithms`), what a Java user would
    /// put in a `java.security` override file; the jsse adapter runs such cells in a JVM of their own. Other
    /// backends ignore it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub java_security: BTreeMap<String, String>,
}

/// The client side of a scenario. A knob left out means the library's own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Protocol versions to enable: a contiguous range such as `[tls1.2, tls1.3]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<ProtocolVersion>>,
    /// TLS 1.2-and-earlier cipher suites, by IANA name, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<CipherSuite>>,
    /// TLS 1.3 cipher suites, by IANA name, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls13_cipher_suites: Option<Vec<CipherSuite>>,
    /// Key-exchange groups, in preference order (the first gets the TLS 1.3 key share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// OpenSSL security level (0-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<u8>,
    /// CAs the client trusts (names from fixtures/pki.yaml). Empty trusts nothing: the system store is never used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<FixtureName>,
    /// The host name sent as SNI and verified against the certificate. Left out, the client connects to the IP
    /// address `127.0.0.1`, sends no SNI (RFC 6066 forbids IP literals there) and verifies the IP address SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Whether `server_name` is also sent as SNI (default true); `false` models old clients that verify a host name
    /// but send no SNI, and so get the server's default certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<bool>,
    /// ALPN protocols offered, in preference order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
    /// The client certificate (a name from fixtures/pki.yaml), sent when the server asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<FixtureName>,
    /// Signature schemes the client offers (signature_algorithms extension), by IANA name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithms: Option<Vec<SignatureScheme>>,
    /// Java security properties for the `jsse` peer (e.g. `jdk.tls.disabledAlgorithms`), what a Java user would
    /// put in a `java.security` override file; the jsse adapter runs such cells in a JVM of their own. Other
    /// backends ignore it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub java_security: BTreeMap<String, String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

pub use crate::settings::Knob;

/// The settings of one side, seen through what every backend has to decide on.
pub trait SideConfig {
    /// Which side this configures.
    const ROLE: Role;
    /// The enabled versions, if set.
    fn versions(&self) -> Option<&[ProtocolVersion]>;
    /// The TLS 1.2 suites, if set.
    fn cipher_suites(&self) -> Option<&[CipherSuite]>;
    /// The TLS 1.3 suites, if set.
    fn tls13_cipher_suites(&self) -> Option<&[CipherSuite]>;
    /// The groups, if set.
    fn groups(&self) -> Option<&[Group]>;
    /// The security level, if set.
    fn security_level(&self) -> Option<u8>;
    /// The ALPN list, if set.
    fn alpn(&self) -> Option<&[String]>;
    /// The signature schemes, if set.
    fn signature_algorithms(&self) -> Option<&[SignatureScheme]>;
    /// The settings this side uses, in check order (derived from its serialisation: [`crate::settings::used`]).
    fn knobs(&self) -> Vec<Knob>
    where
        Self: Serialize + Sized,
    {
        crate::settings::used(Self::ROLE, self)
    }
}

macro_rules! side_config_common {
    () => {
        fn versions(&self) -> Option<&[ProtocolVersion]> {
            self.versions.as_deref()
        }
        fn cipher_suites(&self) -> Option<&[CipherSuite]> {
            self.cipher_suites.as_deref()
        }
        fn tls13_cipher_suites(&self) -> Option<&[CipherSuite]> {
            self.tls13_cipher_suites.as_deref()
        }
        fn groups(&self) -> Option<&[Group]> {
            self.groups.as_deref()
        }
        fn security_level(&self) -> Option<u8> {
            self.security_level
        }
        fn alpn(&self) -> Option<&[String]> {
            self.alpn.as_deref()
        }
        fn signature_algorithms(&self) -> Option<&[SignatureScheme]> {
            self.signature_algorithms.as_deref()
        }
    };
}

impl SideConfig for ServerConfig {
    const ROLE: Role = Role::Server;
    side_config_common!();
}

impl SideConfig for ClientConfig {
    const ROLE: Role = Role::Client;
    side_config_common!();
}

/// `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedResult {
    /// Both sides complete the handshake, exchange application data and close cleanly.
    Success,
    /// At least one side fails; `client` and `server` say how.
    Failure,
}

/// The alert a side is expected to have sent or received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum AlertExpect {
    /// No alert (the key left out).
    #[default]
    None,
    /// Exactly this alert.
    Exactly(Alert),
    /// Any one of these (for stacks that legitimately vary, e.g. by timing); never a wildcard.
    OneOf {
        /// The acceptable alerts.
        one_of: Vec<Alert>,
    },
}

/// `unknown_ca` or `{ one_of: [a, b] }`, with the vocabulary's own error for a bad name (an untagged enum would
/// only say "did not match any variant").
impl<'de> Deserialize<'de> for AlertExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct OneOf {
            one_of: Vec<Alert>,
        }
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AlertExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an alert name (e.g. unknown_ca) or { one_of: [alert, ...] }")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AlertExpect, E> {
                s.parse().map(AlertExpect::Exactly).map_err(E::custom)
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, m: M) -> Result<AlertExpect, M::Error> {
                let o = OneOf::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                if o.one_of.len() < 2 {
                    return Err(serde::de::Error::custom("one_of needs at least two alerts (write one alert plainly)"));
                }
                Ok(AlertExpect::OneOf { one_of: o.one_of })
            }
        }
        d.deserialize_any(V)
    }
}

impl AlertExpect {
    /// Whether `observed` satisfies the expectation.
    pub fn matches(&self, observed: Option<Alert>) -> bool {
        match (self, observed) {
            (AlertExpect::None, None) => true,
            (AlertExpect::Exactly(a), Some(o)) => *a == o,
            (AlertExpect::OneOf { one_of }, Some(o)) => one_of.contains(&o),
            _ => false,
        }
    }

    fn is_none(&self) -> bool {
        *self == AlertExpect::None
    }
}

impl fmt::Display for AlertExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertExpect::None => f.write_str("none"),
            AlertExpect::Exactly(a) => write!(f, "{a}"),
            AlertExpect::OneOf { one_of } => {
                let names: Vec<String> = one_of.iter().map(Alert::to_string).collect();
                write!(f, "one of [{}]", names.join(", "))
            }
        }
    }
}

/// How one side is expected to fail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SideExpect {
    /// The fatal alert this side sends (left out: none).
    #[serde(default, skip_serializing_if = "AlertExpect::is_none")]
    pub sent_alert: AlertExpect,
    /// The fatal alert this side receives (left out: none).
    #[serde(default, skip_serializing_if = "AlertExpect::is_none")]
    pub received_alert: AlertExpect,
    /// The error class, checked when given (`eof`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::observation::ErrorClass>,
    /// The exact error text a user of that stack sees, by backend (`jsse: "javax.net.ssl.SSLHandshakeException:
    /// ..."`), checked on the cells of the backends named: the message a bug report will quote.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message: BTreeMap<BackendId, String>,
}

/// The expected outcome of a cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `success` or `failure`.
    pub result: ExpectedResult,
    /// With success: the negotiated version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProtocolVersion>,
    /// With success: the negotiated cipher suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<CipherSuite>,
    /// With success: the negotiated key-exchange group (checked on backends that report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// With success: the negotiated ALPN protocol; `null` expects none.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub alpn: Option<Option<String>>,
    /// With success in `mode: resume`: whether the second connection resumed the first one's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// With failure: how the client fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SideExpect>,
    /// With failure: how the server fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<SideExpect>,
}

/// Changes an override makes to the base expectation: each field given replaces the base's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectPatch {
    /// Replaces `result`; fields that do not fit the new result are dropped from the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExpectedResult>,
    /// Replaces `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProtocolVersion>,
    /// Replaces `cipher`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<CipherSuite>,
    /// Replaces `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Replaces `alpn`.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub alpn: Option<Option<String>>,
    /// Replaces `resumed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// Replaces `client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SideExpect>,
    /// Replaces `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<SideExpect>,
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

impl Expectation {
    /// The base expectation with an override's changes applied.
    pub fn patched(&self, p: &ExpectPatch) -> Expectation {
        let mut e = self.clone();
        if let Some(r) = p.result {
            if r != e.result {
                e = Expectation {
                    result: r,
                    version: None,
                    cipher: None,
                    group: None,
                    alpn: None,
                    resumed: None,
                    client: None,
                    server: None,
                };
            }
        }
        e.version = p.version.or(e.version);
        e.cipher = p.cipher.or(e.cipher);
        e.group = p.group.or(e.group);
        e.resumed = p.resumed.or(e.resumed);
        if p.alpn.is_some() {
            e.alpn.clone_from(&p.alpn);
        }
        if p.client.is_some() {
            e.client.clone_from(&p.client);
        }
        if p.server.is_some() {
            e.server.clone_from(&p.server);
        }
        e
    }

    /// Checks that the fields fit the result; returns what is wrong.
    fn check(&self) -> Result<(), String> {
        match self.result {
            ExpectedResult::Success if self.client.is_some() || self.server.is_some() => {
                Err("`result: success` takes no `client`/`server` failure blocks".into())
            }
            ExpectedResult::Failure
                if self.version.is_some()
                    || self.cipher.is_some()
                    || self.group.is_some()
                    || self.alpn.is_some()
                    || self.resumed.is_some() =>
            {
                Err("`result: failure` takes no negotiated parameters (version, cipher, group, alpn)".into())
            }
            ExpectedResult::Failure if self.client.is_none() || self.server.is_none() => {
                Err("`result: failure` needs both a `client:` and a `server:` block saying which alert each side \
                 sent and received (write `{}` for a side that sends and receives none)"
                    .into())
            }
            _ => Ok(()),
        }
    }
}

/// One backend or several (`client: jsse` or `client: [openssl, native-tls]`): a quirk shared by libraries with one
/// cause (OpenSSL underneath) is written once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backends(pub Vec<BackendId>);

impl Backends {
    /// Whether `b` is one of them.
    pub fn contains(&self, b: BackendId) -> bool {
        self.0.contains(&b)
    }
}

impl fmt::Display for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|b| b.name()).collect();
        f.write_str(&names.join("|"))
    }
}

impl Serialize for Backends {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Backends {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Backends;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a backend name or a list of backend names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Backends, E> {
                v.parse::<BackendId>().map(|b| Backends(vec![b])).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Backends, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<BackendId>()? {
                    if out.contains(&b) {
                        return Err(serde::de::Error::custom(format!("backend `{b}` is listed twice")));
                    }
                    out.push(b);
                }
                if out.is_empty() {
                    return Err(serde::de::Error::custom(
                        "an empty list of backends matches nothing: name at least one",
                    ));
                }
                Ok(Backends(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Backends {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Backends".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = g.subschema_for::<BackendId>();
        schemars::json_schema!({
            "description": "One backend, or a non-empty list of backends sharing the quirk",
            "anyOf": [one, { "type": "array", "items": one, "minItems": 1, "uniqueItems": true }]
        })
    }
}

/// Which cells an override applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The client backend(s), if the override is about the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Backends>,
    /// The server backend(s), if the override is about the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Backends>,
}

impl When {
    /// Whether the override applies to this pair.
    pub fn matches(&self, client: BackendId, server: BackendId) -> bool {
        self.client.as_ref().is_none_or(|c| c.contains(client))
            && self.server.as_ref().is_none_or(|s| s.contains(server))
    }

    /// More named sides = more specific (a list names its side once: it is as specific as a single name).
    pub fn specificity(&self) -> usize {
        usize::from(self.client.is_some()) + usize::from(self.server.is_some())
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.client.as_ref().map_or("*".to_string(), |b| b.to_string());
        let s = self.server.as_ref().map_or("*".to_string(), |b| b.to_string());
        write!(f, "{c}->{s}")
    }
}

/// A backend quirk, written down as data: where a library legitimately behaves differently, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The pairs it applies to.
    pub when: When,
    /// Why the library behaves differently (mandatory with `expect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The changed expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectPatch>,
    /// The cell cannot be expressed by this backend: the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// A scenario: one server config, one client config, the expected outcome and the known differences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `seed::legacy_tls10_server` for `scenarios/seed/legacy_tls10_server.yaml`.
    #[serde(skip)]
    pub id: String,
    /// The file it came from.
    #[serde(skip)]
    pub path: PathBuf,
    /// What real-world situation it models and what a user sees.
    pub description: String,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// One connection, or two with session resumption.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: Mode,
    /// The server.
    pub server: ServerConfig,
    /// The client.
    pub client: ClientConfig,
    /// The expected outcome for every pair, unless an override says otherwise.
    pub expect: Expectation,
    /// Per-backend differences, each with its reason.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// The network between them: a fault the relay plays, and the cell's deadline.
    #[serde(default, skip_serializing_if = "is_default")]
    pub wire: WireConfig,
    /// A parameter grid: `server.<knob>` / `client.<knob>` to the list of values it takes. The file becomes one
    /// scenario per combination (`id[client.versions=tls1.2,server.versions=tls1.3]`); see `src/grid.rs`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matrix: BTreeMap<String, Vec<serde_json::Value>>,
    /// With `matrix`: the expectation of each combination, first matching rule wins (`expect` where none does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::grid::Rule>,
}

/// What the relay between client and server does to the connection (see `src/relay.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireConfig {
    /// A misbehaving network or peer, played by the relay; left out, the relay forwards every byte untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// With `fault: delay`: how long the server's first flight is held, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// This scenario's per-connection deadline in milliseconds (default: the run's `--timeout`), so a scenario about
    /// stalls does not hold the run for the default five seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// A misbehaving network or peer, as the client meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The relay takes the ClientHello and closes both connections (FIN): a middlebox that drops the connection.
    CloseAfterClientHello,
    /// The relay takes the ClientHello and resets the client's connection (RST); the server sees a bare close.
    ResetAfterClientHello,
    /// The server answers, but the client receives 32 bytes that are not TLS instead of the ServerHello.
    GarbageServerHello,
    /// The client receives a plain HTTP `400 Bad Request` and a close: a TLS client pointed at an HTTP port.
    HttpResponse,
    /// The client receives the first half of the server's first record, then a close.
    TruncatedRecord,
    /// The client receives a handshake record whose length (2^14 + 2049) exceeds what any TLS version allows.
    OversizedRecord,
    /// Every byte both ways travels in its own TCP segment: the handshake must still succeed.
    OneByteSegments,
    /// The server's answer is held forever: both sides must give up at the deadline.
    Stall,
    /// The server's first flight is held `delay_ms`, within the deadline: the handshake must still succeed.
    Delay,
}

impl Fault {
    /// Whether a cell with this fault spends its time waiting on purpose (a held answer), not computing.
    pub fn waits(self) -> bool {
        matches!(self, Fault::Stall | Fault::Delay)
    }
}

/// What a cell should do, once overrides are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Run it and compare with this expectation; `because` is the override's reason, if one applied.
    Expect {
        /// The expectation.
        expectation: Expectation,
        /// The reason of the override that changed it.
        because: Option<String>,
    },
    /// Do not run it: the scenario says this pair cannot be expressed.
    Unsupported(String),
}

impl Scenario {
    /// The expectation for a pair: the most specific matching override wins (validation rejects ties).
    pub fn resolve(&self, client: BackendId, server: BackendId) -> Resolved {
        let best =
            self.overrides.iter().filter(|o| o.when.matches(client, server)).max_by_key(|o| o.when.specificity());
        match best {
            None => Resolved::Expect { expectation: self.expect.clone(), because: None },
            Some(Override { unsupported: Some(why), .. }) => Resolved::Unsupported(why.clone()),
            Some(o) => Resolved::Expect {
                expectation: self.expect.patched(o.expect.as_ref().expect("validated: expect or unsupported")),
                because: o.reason.clone(),
            },
        }
    }

    /// Parses and validates one scenario. `text` is the file's content; `fixtures` the certificate names in the PKI.
    pub fn parse(id: String, path: &Path, text: &str, fixtures: &BTreeSet<String>) -> Result<Scenario, LoadError> {
        FIXTURES.with(|f| *f.borrow_mut() = Some(fixtures.clone()));
        let parsed = yaml::from_str::<Scenario>(text);
        FIXTURES.with(|f| *f.borrow_mut() = None);
        let mut s = parsed.map_err(|e| LoadError::at(path, e.line, e.column, e.message))?;
        s.id = id;
        s.path = path.to_path_buf();
        s.validate().map_err(|(loc, msg)| {
            let (line, column) = locate(text, loc);
            LoadError::at(path, line, column, msg)
        })?;
        Ok(s)
    }

    /// Parses a file into its scenarios: one, or one per combination of its `matrix`.
    pub fn parse_all(
        id: String,
        path: &Path,
        text: &str,
        fixtures: &BTreeSet<String>,
    ) -> Result<Vec<Scenario>, LoadError> {
        let s = Self::parse(id, path, text, fixtures)?;
        if s.matrix.is_empty() {
            return Ok(vec![s]);
        }
        // Grid values naming fixtures are checked against the PKI like hand-written ones.
        FIXTURES.with(|f| *f.borrow_mut() = Some(fixtures.clone()));
        let expanded = crate::grid::expand(&s);
        FIXTURES.with(|f| *f.borrow_mut() = None);
        expanded.map_err(|(loc, msg)| {
            let (line, column) = locate(text, Loc::In(loc.0, loc.1));
            LoadError::at(path, line, column, msg)
        })
    }

    /// Re-runs the cross-field rules on a scenario built in code (a grid combination); `Err` is the message.
    pub(crate) fn revalidate(&self) -> Result<(), String> {
        self.validate().map_err(|(_, m)| m)
    }

    /// Cross-field rules. Errors carry where to point in the text and the message.
    fn validate(&self) -> Result<(), (Loc, String)> {
        for (side, versions, level) in [
            ("server", &self.server.versions, self.server.security_level),
            ("client", &self.client.versions, self.client.security_level),
        ] {
            if let Some(v) = versions {
                check_versions(v).map_err(|m| (Loc::In(side, "versions"), format!("{side}.versions: {m}")))?;
            }
            if level.is_some_and(|l| l > 5) {
                return Err((Loc::In(side, "security_level"), format!("{side}.security_level: expected 0 to 5")));
            }
        }
        for (side, suites, tls13) in [
            ("server", &self.server.cipher_suites, false),
            ("server", &self.server.tls13_cipher_suites, true),
            ("client", &self.client.cipher_suites, false),
            ("client", &self.client.tls13_cipher_suites, true),
        ] {
            if let Some(bad) = suites.iter().flatten().find(|s| s.is_tls13() != tls13) {
                let (key, want) = if tls13 {
                    (
                        "tls13_cipher_suites",
                        "only TLS 1.3 suites (TLS_AES_*, TLS_CHACHA20_*); TLS 1.2 suites go in cipher_suites",
                    )
                } else {
                    ("cipher_suites", "only TLS 1.2-and-earlier suites; TLS 1.3 suites go in tls13_cipher_suites")
                };
                return Err((Loc::In(side, key), format!("{side}.{key}: `{bad}` is misplaced, expected {want}")));
            }
        }
        if self.server.client_auth != ClientAuth::None && self.server.trust.is_empty() {
            return Err((
                Loc::In("server", "client_auth"),
                "server.client_auth needs server.trust: the CAs client certificates may chain to".into(),
            ));
        }
        for (side, alpn) in [("server", &self.server.alpn), ("client", &self.client.alpn)] {
            if let Some(bad) = alpn.iter().flatten().find(|p| p.is_empty() || p.len() > 255) {
                return Err((
                    Loc::In(side, "alpn"),
                    format!("{side}.alpn: `{bad}` is not a protocol name: expected 1 to 255 bytes (RFC 7301)"),
                ));
            }
            if alpn.as_ref().is_some_and(|a| a.is_empty()) {
                return Err((
                    Loc::In(side, "alpn"),
                    format!("{side}.alpn: expected at least one protocol (or leave it out)"),
                ));
            }
        }
        let names = self.client.server_name.iter().map(|n| ("client", "server_name", n));
        let sni = self.server.sni_certificates.keys().map(|n| ("server", "sni_certificates", n));
        for (side, key, name) in names.chain(sni) {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                return Err((
                    Loc::In(side, key),
                    format!("{side}.{key}: `{name}` is neither a DNS name nor an IP address"),
                ));
            }
        }
        self.expect.check().map_err(|m| (Loc::In("expect", "result"), format!("expect: {m}")))?;
        if self.expect.resumed.is_some() && self.mode != Mode::Resume {
            return Err((Loc::In("expect", "resumed"), "expect.resumed needs `mode: resume` (two connections)".into()));
        }
        let w = &self.wire;
        match (w.fault, w.delay_ms) {
            (Some(Fault::Delay), None) => {
                return Err((Loc::In("wire", "fault"), "wire: `fault: delay` needs `delay_ms`".into()));
            }
            (f, Some(_)) if f != Some(Fault::Delay) => {
                return Err((Loc::In("wire", "delay_ms"), "wire.delay_ms applies only to `fault: delay`".into()));
            }
            _ => {}
        }
        if let (Some(d), Some(limit)) = (w.delay_ms, w.deadline_ms) {
            if d >= limit {
                return Err((
                    Loc::In("wire", "delay_ms"),
                    format!(
                        "wire.delay_ms ({d}) must be below wire.deadline_ms ({limit}) to model a delay, not a stall"
                    ),
                ));
            }
        }
        if w.deadline_ms == Some(0) {
            return Err((Loc::In("wire", "deadline_ms"), "wire.deadline_ms: expected at least 1".into()));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let here = Loc::Override(i);
            let problem = if o.when.specificity() == 0 {
                Some("`when` must name a `client` and/or a `server` backend".to_string())
            } else if let Some(j) = self.overrides[..i].iter().position(|p| p.when == o.when) {
                Some(format!("repeats the `when` of overrides[{j}]: merge them"))
            } else {
                match (&o.expect, &o.unsupported, &o.reason) {
                    (Some(_), None, None) => {
                        Some("an override needs a `reason` naming the real cause of the difference".to_string())
                    }
                    (_, _, Some(r)) | (_, Some(r), _) if r.trim().is_empty() => {
                        Some("the reason is empty: say what the library really does, and where".to_string())
                    }
                    (Some(p), None, Some(_)) => self.expect.patched(p).check().err(),
                    (None, Some(_), None) => None,
                    (None, Some(_), Some(_)) => Some("`unsupported` carries its own reason; drop `reason`".to_string()),
                    _ => {
                        Some("expected exactly one of `expect` (with `reason`) or `unsupported: <reason>`".to_string())
                    }
                }
            };
            if let Some(m) = problem {
                return Err((here, format!("overrides[{i}] ({}): {m}", o.when)));
            }
        }
        // Two overrides of equal specificity that both apply to a pair ({client: rustls} and {server: openssl} for
        // rustls->openssl) would leave the winner to file order: make the author say which.
        for c in BackendId::ALL {
            for s in BackendId::ALL {
                let matching: Vec<usize> =
                    (0..self.overrides.len()).filter(|&i| self.overrides[i].when.matches(c, s)).collect();
                let top = matching.iter().map(|&i| self.overrides[i].when.specificity()).max();
                let tied: Vec<usize> =
                    matching.into_iter().filter(|&i| Some(self.overrides[i].when.specificity()) == top).collect();
                if let [first, second, ..] = tied[..] {
                    return Err((
                        Loc::Override(second),
                        format!(
                            "overrides[{first}] and overrides[{second}] both apply to {c}->{s}: add an override with \
                             `when: {{ client: {c}, server: {s} }}` saying what that pair does"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_versions(v: &[ProtocolVersion]) -> Result<(), String> {
    if v.is_empty() {
        return Err("expected at least one version".into());
    }
    let mut sorted = v.to_vec();
    sorted.sort();
    sorted.dedup();
    let all = ProtocolVersion::ALL;
    let lo = all.iter().position(|x| *x == sorted[0]).unwrap_or(0);
    if sorted.len() != v.len() || all[lo..].iter().take(sorted.len()).ne(sorted.iter()) {
        return Err("expected a contiguous range without repeats, oldest first (e.g. [tls1.2, tls1.3])".into());
    }
    if sorted != v {
        return Err("expected versions oldest first (e.g. [tls1.2, tls1.3])".into());
    }
    Ok(())
}

/// Where a validation error points.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// A key inside a top-level section (`server`, `client`, `expect`).
    In(&'static str, &'static str),
    /// The n-th entry of `overrides`.
    Override(usize),
}

/// The 1-based line and column a [`Loc`] stands for in the text, if found.
fn locate(text: &str, loc: Loc) -> (Option<usize>, Option<usize>) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let section = |name: &str| lines.iter().position(|l| indent(l) == 0 && l.starts_with(&format!("{name}:")));
    let found = match loc {
        Loc::In(sec, key) => section(sec).map(|start| {
            let body = lines[start + 1..].iter().take_while(|l| l.trim().is_empty() || indent(l) > 0);
            let hit = body.enumerate().find(|(_, l)| l.trim_start().starts_with(&format!("{key}:")));
            hit.map_or((start, 0), |(i, l)| (start + 1 + i, indent(l)))
        }),
        Loc::Override(n) => section("overrides").and_then(|start| {
            let items = lines[start + 1..]
                .iter()
                .enumerate()
                .take_while(|(_, l)| l.trim().is_empty() || indent(l) > 0 || l.starts_with("- "))
                .filter(|(_, l)| l.trim_start().starts_with("- "));
            let mut items = items.map(|(i, l)| (start + 1 + i, indent(l))).collect::<Vec<_>>();
            let first = items.first().map(|(_, ind)| *ind);
            items.retain(|(_, ind)| Some(*ind) == first);
            items.get(n).copied()
        }),
    };
    found.map_or((None, None), |(line, col)| (Some(line + 1), Some(col + 1)))
}

/// The JSON Schema of a scenario file, generated from the types above (`tlsmatrix schema`,
/// docs/scenario.schema.json). Fixture names are plain strings here: they come from fixtures/pki.yaml.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Scenario);
    // Each side setting's description comes from the settings table, the one place it is written.
    for (def, role) in [("ServerConfig", Role::Server), ("ClientConfig", Role::Client)] {
        let props = schema.as_object_mut().and_then(|o| o.get_mut("$defs")).and_then(|d| d.get_mut(def));
        if let Some(props) = props.and_then(|d| d.get_mut("properties")).and_then(|p| p.as_object_mut()) {
            for (field, prop) in props.iter_mut() {
                if let Some(s) = crate::settings::by_field(role, field) {
                    prop["description"] = format!("{} (left out: {})", s.meaning, s.default).into();
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn fixtures() -> BTreeSet<String> {
        ["root-a", "server-ec"].into_iter().map(String::from).collect()
    }

    const GOOD: &str = "\
description: d
server:
  certificate: server-ec
client:
  trust: [root-a]
expect:
  result: failure
  client: { received_alert: protocol_version }
  server: { sent_alert: protocol_version }
overrides:
  - when: { client: rustls }
    reason: because
    expect:
      client: { received_alert: { one_of: [protocol_version, handshake_failure] } }
  - when: { client: native-tls, server: rustls }
    unsupported: cannot
";

    fn parse(text: &str) -> Result<Scenario, LoadError> {
        Scenario::parse("t::x".into(), Path::new("scenarios/t/x.yaml"), text, &fixtures())
    }

    /// What `GOOD` resolves to per pair: `None` = the base expectation, `Some(Err)` = unsupported, `Some(Ok)` = the
    /// rustls-client override (its reason and a client alert it accepts).
    #[rstest]
    #[case::no_override(BackendId::Openssl, BackendId::Openssl, None)]
    #[case::client_override(BackendId::Rustls, BackendId::Openssl, Some(Ok(Alert::HANDSHAKE_FAILURE)))]
    #[case::client_override_any_server(BackendId::Rustls, BackendId::NativeTls, Some(Ok(Alert::PROTOCOL_VERSION)))]
    #[case::pair_unsupported(BackendId::NativeTls, BackendId::Rustls, Some(Err(())))]
    #[case::pair_only(BackendId::NativeTls, BackendId::Openssl, None)]
    fn overrides_resolve_most_specific_first(
        #[case] client: BackendId,
        #[case] server: BackendId,
        #[case] want: Option<Result<Alert, ()>>,
    ) {
        let s = parse(GOOD).unwrap();
        match (s.resolve(client, server), want) {
            (Resolved::Expect { expectation, because: None }, None) => assert_eq!(expectation, s.expect),
            (Resolved::Unsupported(why), Some(Err(()))) => assert_eq!(why, "cannot"),
            (Resolved::Expect { expectation, because: Some(r) }, Some(Ok(alert))) => {
                assert_eq!(r, "because");
                assert!(expectation.client.unwrap().received_alert.matches(Some(alert)));
                assert_eq!(expectation.server, s.expect.server, "the override changed only the client");
            }
            (got, want) => panic!("{client}->{server}: got {got:?}, want {want:?}"),
        }
    }

    #[rstest]
    #[case::unknown_field(GOOD.replace("  trust:", "  trusts:"), 5, "unknown field `trusts`")]
    #[case::unknown_alert(GOOD.replace("protocol_version }\n  server", "protocol_versio }\n  server"), 8, "unknown alert `protocol_versio`")]
    #[case::unknown_fixture(GOOD.replace("server-ec", "server-xx"), 3, "unknown fixture `server-xx`")]
    #[case::unknown_backend(GOOD.replace("client: rustls", "client: boring"), 11, "unknown backend `boring`")]
    #[case::no_reason(GOOD.replace("    reason: because\n", ""), 11, "needs a `reason`")]
    #[case::gap(GOOD.replace("server:\n  cert", "server:\n  versions: [tls1.0, tls1.2]\n  cert"), 3, "contiguous")]
    #[case::bad_yaml(GOOD.replace("expect:\n  result", "expect:\n result"), 7, "")]
    #[case::second_override(GOOD.replace("    unsupported: cannot", "    unsupported: cannot\n    reason: twice"), 15, "drop `reason`")]
    #[case::empty_reason(GOOD.replace("reason: because", "reason: \"  \""), 11, "the reason is empty")]
    #[case::tied(GOOD.replace("client: native-tls, server: rustls }\n    unsupported: cannot", "server: openssl }\n    unsupported: cannot"), 15, "both apply to rustls->openssl")]
    #[case::empty_alpn(GOOD.replace("  trust: [root-a]", "  trust: [root-a]\n  alpn: [\"\"]"), 6, "1 to 255 bytes")]
    #[case::bad_host(GOOD.replace("  trust: [root-a]", "  trust: [root-a]\n  server_name: not a host"), 6, "neither a DNS name")]
    #[case::resumed_single(GOOD.replace("  result: failure\n  client: { received_alert: protocol_version }\n  server: { sent_alert: protocol_version }", "  result: success\n  resumed: true"), 8, "needs `mode: resume`")]
    #[case::failure_without_sides(GOOD.replace("  server: { sent_alert: protocol_version }\n", ""), 7, "needs both")]
    fn bad_input_names_line_and_expectation(#[case] text: String, #[case] line: usize, #[case] needle: &str) {
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line, Some(line), "{err}");
        assert!(err.message.contains(needle), "{err}");
        assert!(err.to_string().starts_with(&format!("scenarios/t/x.yaml:{line}:")), "{err}");
    }

    #[rstest]
    #[case(&[ProtocolVersion::Tls12, ProtocolVersion::Tls13], true)]
    #[case(&[ProtocolVersion::Tls10], true)]
    #[case(&[ProtocolVersion::Tls13, ProtocolVersion::Tls12], false)]
    #[case(&[ProtocolVersion::Tls11, ProtocolVersion::Tls13], false)]
    #[case(&[], false)]
    fn version_ranges(#[case] v: &[ProtocolVersion], #[case] ok: bool) {
        assert_eq!(check_versions(v).is_ok(), ok);
    }
}
