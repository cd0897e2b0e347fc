//! The `boringssl` backend: BoringSSL's libssl (Debian's `android-libboringssl`, Android 13's copy) through
//! `peers/boringssl/tls_peer.c`, a small C adapter built with the machine's C compiler into the user's cache on
//! first use, keyed by its source, the compiler and the library's package version.
//!
//! BoringSSL matters because it is what Chrome, Android and many Google-built servers and clients speak: OpenSSL's
//! API, but its own state machine, its own alert choices, no DHE, no security levels, fixed TLS 1.3 suites and a
//! shorter default group list. It cannot be linked into tlsmatrix (its symbols clash with the system OpenSSL's that
//! the openssl crate links, rust-openssl#1297, cloudflare/boring#197), so it runs as an adapter process like the
//! other external stacks. The adapter configures libssl as an application using its built-in X.509 verifier would
//! (curl, Envoy, gRPC built with BoringSSL); Chrome and Android verify certificates outside libssl, so their own
//! verifier's choices are not what this backend shows. Alerts are exact: libssl's info callback reports each alert it
//! writes and reads, and the key log goes to the harness, which checks them against the decrypted bytes.

use std::path::Path;
use std::process::Command;

use super::c_adapter::{self, Build, CAdapter, Reading};
use super::{client_request, server_request};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/boringssl/tls_peer.c");
/// What to do when the library, its headers or a C compiler is missing.
const INSTALL_HINT: &str =
    "apt-get install android-libboringssl-dev (or bash scripts/setup-peers.sh, which installs every optional peer)";
/// The Debian package that carries libssl; its version names the backend's version.
const PACKAGE: &str = "android-libboringssl";
/// Where the package puts BoringSSL's headers (under `openssl/`, beside the system OpenSSL's, hence the own folder).
const INCLUDE: &str = "/usr/include/android";

/// What a build needs: the compiler, BoringSSL's headers and libraries (in the multiarch folder,
/// `/usr/lib/x86_64-linux-gnu/android`), and the package's version, which the adapter cannot tell: BoringSSL calls
/// itself "OpenSSL 1.1.1 (compatible; BoringSSL)" in every release.
fn build() -> Result<Build, String> {
    let cc = c_adapter::compiler(INSTALL_HINT)?;
    let mut arch = Command::new(&cc);
    arch.arg("-print-multiarch");
    let out = crate::backend::probe::run(&mut arch, crate::backend::probe::PROBE_DEADLINE)?;
    let triplet = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new("/usr/lib").join(&triplet).join("android");
    let header = Path::new(INCLUDE).join("openssl").join("ssl.h");
    if !header.is_file() || !lib.join("libssl.so").exists() {
        return Err(format!("BoringSSL's libssl and headers not found ({}): {INSTALL_HINT}", header.display()));
    }
    let lib = lib.display();
    // The run-time search path too: the library is not in the loader's default folders.
    let args = [format!("-I{INCLUDE}"), format!("-L{lib}"), format!("-Wl,-rpath,{lib}")];
    let package = c_adapter::package_version(PACKAGE).unwrap_or_else(|| "unknown".into());
    Ok(Build {
        cc,
        args: args.into_iter().chain(["-lssl", "-lcrypto", "-lpthread"].map(String::from)).collect(),
        library: format!("{PACKAGE} {package}"),
    })
}

/// How the backend reads its probe.
const READING: Reading = Reading {
    caps: capabilities,
    version: |_, library| format!("BoringSSL (Debian {library})"),
    usable: |s| !is_psk(s),
};

/// PSK suites need a PSK callback, which no scenario sets: libssl leaves them out of a ClientHello without one.
fn is_psk(s: &CipherSuite) -> bool {
    s.name().is_some_and(|n| n.contains("_PSK_"))
}

/// The capabilities from the probe (both roles alike; `unavailable` makes every cell unsupported).
fn capabilities(probe: Option<&c_adapter::Probe>, unavailable: Option<String>) -> Capabilities {
    use crate::settings::Knob::*;
    let settings = Settings::new()
        .supports([Versions, CipherSuites, Groups, SignatureAlgorithms, Alpn, ChainShape, ClientAuth])
        .supports([SniCertificates, SessionTickets, Certificate, Resumption, Trust, ServerName, Sni])
        .supports([AlpnMismatchFatal, AlpnMismatchIgnore])
        .lacks(
            Tls13CipherSuites,
            "BoringSSL has no TLS 1.3 suite setting: AES-GCM and ChaCha20-Poly1305 are always enabled, ordered by \
             whether the machine has AES instructions",
        )
        .lacks(SecurityLevel, "an OpenSSL notion; BoringSSL has no security levels (SSL_CTX_set_security_level)")
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
        .not_applicable(Nginx, crate::backend::NOT_NGINX);
    let suites = |key: &str| probe.map(|p| p.suites(key)).unwrap_or_default();
    Capabilities {
        versions: probe.map(c_adapter::Probe::versions).unwrap_or_default(),
        versions_reason: "this BoringSSL does not implement it",
        settings,
        cipher_suites: suites("suites").into_iter().chain(suites("tls13_suites")).filter(|s| !is_psk(s)).collect(),
        groups: probe.map(c_adapter::Probe::groups).unwrap_or_default(),
        exact_alerts: true,
        reports_parameters: true,
        unavailable,
    }
}

/// The boringssl backend.
pub struct BoringsslBackend {
    adapter: CAdapter,
}

impl BoringsslBackend {
    /// The compiler and library found now (missing: every cell is unsupported, with the setup command).
    pub fn new() -> Self {
        BoringsslBackend { adapter: CAdapter::new(("boringssl", "boringssl adapter"), SOURCE, build(), READING) }
    }
}

impl Default for BoringsslBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for BoringsslBackend {
    fn id(&self) -> BackendId {
        BackendId::Boringssl
    }

    fn capabilities(&self, _role: Role) -> &Capabilities {
        &self.adapter.probed().caps
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset, Strength};
        let p = self.adapter.probed();
        let origin = "BoringSSL's default (a fresh SSL_CTX)";
        Behaviour {
            versions: p.versions_preset(origin),
            tls12_suites: p.suites_preset(origin),
            // Fixed, AES-GCM first on a machine with AES instructions (ssl_cipher.cc, kTLS13Ciphers).
            tls13_suites: Some(Preset::new([0x1301, 0x1302, 0x1303].map(CipherSuite), origin)),
            // kDefaultGroups: X25519, P-256, P-384 (P-521 only when configured).
            groups: Some(Preset::new([0x001d, 0x0017, 0x0018].map(Group), origin)),
            security_level: None,
            // No security levels and no floor in its X.509 verifier: RSA-1024 and SHA-1 leaves verify (catalog:
            // certificates::rsa1024_leaf, sha1_leaf). No floor is no `Floor`, so explain stays silent here.
            strength: Strength::Unknown,
            // Its X.509 verifier descends from OpenSSL 1.1.0's and judges like it (catalog: trust_intermediate_only
            // fails as for OpenSSL, cn_only connects, name_constraints_violated refuses a CN): a trust anchor must
            // be self-signed unless X509_V_FLAG_PARTIAL_CHAIN is set, which the adapter does not.
            self_signed_anchor_only: Some(
                "(BoringSSL's X.509 verifier, OpenSSL's) accepts only a self-signed trust anchor, as \
                 X509_V_FLAG_PARTIAL_CHAIN is not set",
            ),
            cn_fallback: role == Role::Client,
            cn_name_constraints: true,
            ignores_alpn_mismatch: false,
            dhe_without_parameters: None,
            // kVerifySignatureAlgorithms leaves ed25519 out (catalog: signatures::ed25519_server).
            no_ed25519: (role == Role::Client).then_some(
                "BoringSSL's client offers no ed25519 signature scheme unless the application adds it \
                 (kVerifySignatureAlgorithms leaves it out; SSL_CTX_set_verify_algorithm_prefs adds it)",
            ),
        }
    }

    /// The version the probe found; no process is started just to print it.
    fn version(&self) -> String {
        self.adapter.version()
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.adapter.endpoint(Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.adapter.endpoint(Role::Client, client_request(cfg, pki)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_boringssl_cannot_set_is_lacking_with_its_reason() {
        let probe = serde_json::json!({
            "versions": {"tls1.0": true, "tls1.1": true, "tls1.2": true, "tls1.3": true},
            "suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_PSK_WITH_AES_128_CBC_SHA"],
            "tls13_suites": ["TLS_AES_128_GCM_SHA256"],
            "groups": ["x25519", "secp256r1", ""]
        });
        let caps = capabilities(Some(&c_adapter::Probe::from_json(probe)), None);
        use crate::settings::Knob::*;
        for knob in [Tls13CipherSuites, SecurityLevel] {
            assert!(!caps.settings.supports_knob(knob), "{knob:?}");
        }
        for knob in [AlpnMismatchFatal, AlpnMismatchIgnore, Resumption, SignatureAlgorithms, Sni] {
            assert!(caps.settings.supports_knob(knob), "{knob:?}");
        }
        // The PSK suite is left out: no scenario can use it, and libssl offers none without a PSK callback.
        assert_eq!(caps.cipher_suites.len(), 2, "{:?}", caps.cipher_suites);
        assert_eq!(caps.groups.len(), 2, "{:?}", caps.groups);
    }

    #[test]
    fn without_the_library_every_cell_is_unsupported_with_the_setup_command() {
        let b = BoringsslBackend {
            adapter: CAdapter::new(
                ("boringssl", "boringssl adapter"),
                SOURCE,
                Err(format!("not here: {INSTALL_HINT}")),
                READING,
            ),
        };
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.contains("scripts/setup-peers.sh"), "{why}");
        }
    }
}
