//! The `nss` backend: NSS's libssl3 (Firefox's and Thunderbird's TLS stack; Debian's `libnss3-dev`, 3.87) through
//! `peers/nss/tls_peer.c`, a C adapter built with the machine's C compiler into the user's cache on first use.
//!
//! NSS matters because it shares no code with OpenSSL: its own state machine, its own certificate verifier
//! (`CERT_VerifyCert` through the default `SSL_AuthCertificate` hook), its own error codes (`SEC_ERROR_UNKNOWN_ISSUER`)
//! and alert choices. NSS keeps trust, temporary certificates and its session cache per process, so the adapter
//! plays each request in a child process of its own (docs/peers.md): no cell sees another's intermediates or trust,
//! and no session survives to be resumed. Alerts are exact (`SSL_AlertSentCallback`, `SSL_AlertReceivedCallback`);
//! Debian's NSS exports no key log, so between two NSS peers the relay cannot decrypt (the wire note says so).

use std::process::Command;

use super::c_adapter::{self, Build, CAdapter, Reading};
use super::{client_request, server_request};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/nss/tls_peer.c");
/// What to do when the library's development files are missing.
const INSTALL_HINT: &str =
    "apt-get install libnss3-dev (or bash scripts/setup-peers.sh, which installs every optional peer)";
/// The Debian package whose version keys the build.
const PACKAGE: &str = "libnss3";

/// What a build needs: the compiler and the flags pkg-config gives for nss, if both are there.
fn build() -> Result<Build, String> {
    let cc = c_adapter::compiler(INSTALL_HINT)?;
    let mut q = Command::new("pkg-config");
    q.args(["--cflags", "--libs", "nss"]);
    let out = crate::backend::probe::run(&mut q, crate::backend::probe::PROBE_DEADLINE)
        .map_err(|why| format!("pkg-config not found or failed ({why}): apt-get install pkg-config; {INSTALL_HINT}"))?;
    if !out.success {
        return Err(format!("NSS's headers and libraries not found (pkg-config nss): {INSTALL_HINT}"));
    }
    let mut args: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect();
    args.push("-lpthread".into());
    let package = c_adapter::package_version(PACKAGE).unwrap_or_else(|| "unknown".into());
    Ok(Build { cc, args, library: format!("{PACKAGE} {package}") })
}

/// How the backend reads its probe: the adapter names NSS's own version (NSS_GetVersion).
const READING: Reading = Reading {
    caps: capabilities,
    version: |probe, _| probe.version().unwrap_or_else(|| "NSS (no version)".into()),
    usable: |_| true,
};

/// The capabilities from the probe (both roles alike; `unavailable` makes every cell unsupported).
fn capabilities(probe: Option<&c_adapter::Probe>, unavailable: Option<String>) -> Capabilities {
    use crate::settings::Knob::*;
    let settings = Settings::new()
        .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SignatureAlgorithms, Alpn, ChainShape])
        .supports([ClientAuth, SessionTickets, Certificate, Trust, ServerName, SniCertificates])
        .lacks(SecurityLevel, "an OpenSSL notion; NSS has no security levels (its policy is process-wide)")
        .lacks(Sni, "NSS sends the name given to SSL_SetURL as SNI whenever it verifies it")
        .lacks(
            Resumption,
            "each connection is an NSS process of its own (NSS keeps trust, temporary certificates and its session \
             cache per process), so no session survives to the second connection",
        )
        // NSS's own ALPN selection is the fatal one, and nothing makes it ignore a mismatch: ssl_SelectAppProtocol
        // (lib/ssl/ssl3exthandle.c) sends no_application_protocol whenever the selection, its own or a
        // SSL_SetNextProtoCallback's, comes back empty.
        .supports([AlpnMismatchFatal])
        .lacks(
            AlpnMismatchIgnore,
            "NSS's server cannot ignore an ALPN mismatch: ssl_SelectAppProtocol (lib/ssl/ssl3exthandle.c) answers an \
             empty selection, its own or an SSL_SetNextProtoCallback's, with no_application_protocol",
        )
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
        .not_applicable(Nginx, crate::backend::NOT_NGINX);
    Capabilities {
        versions: probe.map(c_adapter::Probe::versions).unwrap_or_default(),
        versions_reason: "this NSS does not implement it",
        settings,
        cipher_suites: probe.map(|p| p.suites("suites")).unwrap_or_default().into_iter().collect(),
        groups: probe.map(c_adapter::Probe::groups).unwrap_or_default(),
        exact_alerts: true,
        reports_parameters: true,
        unavailable,
    }
}

/// The nss backend.
pub struct NssBackend {
    adapter: CAdapter,
}

impl NssBackend {
    /// The compiler and library found now (missing: every cell is unsupported, with the install command).
    pub fn new() -> Self {
        NssBackend { adapter: CAdapter::new(("nss", "nss adapter"), SOURCE, build(), READING) }
    }
}

impl Default for NssBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for NssBackend {
    fn id(&self) -> BackendId {
        BackendId::Nss
    }

    fn capabilities(&self, _role: Role) -> &Capabilities {
        &self.adapter.probed().caps
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset, Strength};
        let p = self.adapter.probed();
        let origin = "NSS's default (SSL_VersionRangeGetDefault, SSL_CipherPrefGetDefault)";
        Behaviour {
            versions: p.versions_preset(origin),
            tls12_suites: p.suites_preset(origin),
            // AES-128-GCM, ChaCha20-Poly1305, AES-256-GCM: SSL_ImplementedCiphers' order.
            tls13_suites: Some(Preset::new([0x1301, 0x1303, 0x1302].map(CipherSuite), origin)),
            groups: None,
            security_level: None,
            // No security levels; the default policy admits RSA-1024 and SHA-1 signatures (catalog:
            // certificates::rsa1024_leaf, sha1_leaf). No floor is no `Floor`, so explain stays silent here.
            strength: Strength::Unknown,
            // Any certificate marked as a trusted CA is an anchor (catalog: certificates::trust_intermediate_only).
            self_signed_anchor_only: None,
            // CERT_VerifyCertName falls back to the subject CN without a DNS SAN (catalog: certificates::cn_only),
            // and holds it to the issuers' name constraints as a DNS name.
            cn_fallback: role == Role::Client,
            cn_name_constraints: true,
            ignores_alpn_mismatch: false,
            dhe_without_parameters: None,
            // Catalog: signatures::ed25519_server.
            no_ed25519: (role == Role::Client)
                .then_some("NSS 3.87 offers no ed25519 signature scheme in TLS (EdDSA in TLS came to NSS later)"),
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
