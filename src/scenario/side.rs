//! One side's configuration: what a `server:` or `client:` block may say.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FixtureName;
use crate::settings::Knob;
use crate::vocab::{CipherSuite, Group, ProtocolVersion, Role, SignatureScheme};

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

/// What a server does when the client's ALPN list shares no protocol with its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlpnMismatch {
    /// Refuse with a fatal no_application_protocol alert (RFC 7301 section 3.2).
    Fatal,
    /// Complete the handshake without ALPN and leave the decision to the application.
    Ignore,
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
    /// What the server does with a client ALPN list it shares nothing with; left out, the library's own choice
    /// (OpenSSL's callback decides, so stacks differ: docs/backends.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_mismatch: Option<AlpnMismatch>,
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
    /// The server's TLS settings in nginx's own words, as in a user's config (`"ssl_protocols TLSv1.2; ssl_ciphers
    /// ECDHE+AESGCM;"`). The `nginx` backend runs them verbatim; when the scenario is loaded they are imported
    /// (as `tlsmatrix import` does, what they leave out taking nginx 1.22's defaults) into this block's settings,
    /// which every other backend plays. A setting given both here and as a key of the block is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<String>,
    /// Set when the scenario is loaded: why a backend other than nginx cannot play the `nginx` lines (one of them has
    /// no scenario setting), so its cells are `unsupported` with this reason rather than run without it.
    #[serde(skip)]
    #[schemars(skip)]
    pub untranslated: Option<String>,
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

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

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
    /// What a server does with an ALPN mismatch, if set (a client has no say).
    fn alpn_mismatch(&self) -> Option<AlpnMismatch> {
        None
    }
    /// Why only the product whose words the block quotes can play it: a directive the import could not carry into
    /// the block's settings (`ssl_prefer_server_ciphers on`), if there is one.
    fn untranslated(&self) -> Option<&str> {
        None
    }
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
    fn alpn_mismatch(&self) -> Option<AlpnMismatch> {
        self.alpn_mismatch
    }
    fn untranslated(&self) -> Option<&str> {
        self.untranslated.as_deref()
    }
}

impl SideConfig for ClientConfig {
    const ROLE: Role = Role::Client;
    side_config_common!();
}
