//! The `nss` backend: NSS's libssl3 (Firefox's and Thunderbird's TLS stack; Debian's `libnss3-dev`, 3.87) through
//! `peers/nss/tls_peer.c`, a C adapter built with the machine's C compiler into the user's cache on first use.
//!
//! NSS matters because it shares no code with OpenSSL: its own state machine, its own certificate verifier
//! (`CERT_VerifyCert` through the default `SSL_AuthCertificate` hook), its own error codes (`SEC_ERROR_UNKNOWN_ISSUER`)
//! and alert choices. NSS keeps trust, temporary certificates and its session cache per process, so the adapter
//! plays each request in a child process of its own (docs/peers.md): no cell sees another's intermediates or trust,
//! and no session survives to be resumed. Alerts are exact (`SSL_AlertSentCallback`, `SSL_AlertReceivedCallback`);
//! Debian's NSS exports no key log, so between two NSS peers the relay cannot decrypt (the wire note says so).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::c_adapter;
use super::process::Pool;
use super::{adapter_version, client_request, is_executable, pooled_endpoint, server_request};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, ProtocolVersion, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/nss/tls_peer.c");
/// What to do when the library's development files are missing.
const INSTALL_HINT: &str =
    "apt-get install libnss3-dev (or bash scripts/setup-peers.sh, which installs every optional peer)";
/// The Debian package whose version keys the build.
const PACKAGE: &str = "libnss3";
/// How long the adapter may take to start and say ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "nss adapter";

/// The compiler and the flags pkg-config gives for nss, if both are there.
fn toolchain() -> Result<(PathBuf, Vec<String>), String> {
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
    Ok((cc, args))
}

/// What the probe found.
struct Probed {
    version: Option<String>,
    caps: Capabilities,
    binary: Option<PathBuf>,
    default_suites: Vec<CipherSuite>,
    default_versions: Vec<ProtocolVersion>,
}

/// The capabilities from the probe (both roles alike; `unavailable` makes every cell unsupported).
fn capabilities(probe: Option<&c_adapter::Probe>, unavailable: Option<String>) -> Capabilities {
    use crate::settings::Knob::*;
    let settings = Settings::new()
        .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SignatureAlgorithms, Alpn, ChainShape])
        .supports([ClientAuth, SessionTickets, Certificate, Trust, ServerName])
        .lacks(SecurityLevel, "an OpenSSL notion; NSS has no security levels (its policy is process-wide)")
        .lacks(Sni, "NSS sends the name given to SSL_SetURL as SNI whenever it verifies it")
        .lacks(
            SniCertificates,
            "certificates chosen by SNI need SSL_SNISocketConfigHook and a model socket per name (not implemented)",
        )
        .lacks(
            Resumption,
            "each connection is an NSS process of its own (NSS keeps trust, temporary certificates and its session \
             cache per process), so no session survives to the second connection",
        )
        .lacks(
            AlpnMismatchFatal,
            "the adapter uses NSS's own ALPN selection (SSL_SetNextProtoNego); a callback deciding a mismatch is not \
             implemented",
        )
        .lacks(
            AlpnMismatchIgnore,
            "the adapter uses NSS's own ALPN selection (SSL_SetNextProtoNego); a callback deciding a mismatch is not \
             implemented",
        )
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA);
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
    toolchain: Result<(PathBuf, Vec<String>), String>,
    probed: OnceLock<Probed>,
    pool: Pool,
}

impl NssBackend {
    /// The compiler and library found now (missing: every cell is unsupported, with the install command).
    pub fn new() -> Self {
        NssBackend { toolchain: toolchain(), probed: OnceLock::new(), pool: Pool::new(NAME) }
    }

    fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let unavailable = |why: String| Probed {
                version: None,
                caps: capabilities(None, Some(why)),
                binary: None,
                default_suites: vec![],
                default_versions: vec![],
            };
            let (cc, args) = match &self.toolchain {
                Ok(tc) => tc,
                Err(why) => return unavailable(why.clone()),
            };
            let package = c_adapter::package_version(PACKAGE).unwrap_or_else(|| "unknown".into());
            let binary = match c_adapter::build(cc, "nss", SOURCE, args, &format!("{PACKAGE} {package}")) {
                Ok(b) if is_executable(&b) => b,
                Ok(b) => return unavailable(format!("the nss adapter {} is not executable", b.display())),
                Err(why) => return unavailable(format!("cannot build the nss adapter: {why}")),
            };
            let probe = match c_adapter::Probe::run(&binary) {
                Ok(p) => p,
                Err(why) => return unavailable(why),
            };
            Probed {
                version: probe.version(),
                caps: capabilities(Some(&probe), None),
                binary: Some(binary),
                default_suites: probe.suites("default_suites").into_iter().filter(|s| !s.is_tls13()).collect(),
                default_versions: probe.default_versions(),
            }
        })
    }

    fn launch(&self) -> Result<Command, String> {
        let p = self.probed();
        if let Some(why) = &p.caps.unavailable {
            return Err(why.clone());
        }
        let binary = p.binary.as_ref().ok_or("the nss adapter was not built")?;
        let mut cmd = Command::new(binary);
        // NSS reads these at start-up; none may change its defaults behind the scenario's back.
        cmd.env_remove("SSLKEYLOGFILE").env_remove("NSS_DISABLE_HW_AES").env_remove("NSS_HASH_ALG_SUPPORT");
        Ok(cmd)
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), START_TIMEOUT, (role, request), NAME)
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
        &self.probed().caps
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset, Strength};
        let p = self.probed();
        let origin = "NSS's default (SSL_VersionRangeGetDefault, SSL_CipherPrefGetDefault)";
        let versions = match p.default_versions.is_empty() {
            true => Preset::new(ProtocolVersion::ALL, origin),
            false => Preset::new(p.default_versions.clone(), origin),
        };
        Behaviour {
            versions,
            tls12_suites: (!p.default_suites.is_empty()).then(|| Preset::new(p.default_suites.clone(), origin)),
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
        }
    }

    /// The version the probe found; no process is started just to print it.
    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.caps.unavailable.as_deref()));
        let missing = self.toolchain.as_ref().err().cloned();
        adapter_version(&self.pool, probed, missing, "nss (version read at first use)")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Client, client_request(cfg, pki)?)
    }
}
