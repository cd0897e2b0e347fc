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

use std::path::{Path, PathBuf};
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
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/boringssl/tls_peer.c");
/// What to do when the library, its headers or a C compiler is missing.
const INSTALL_HINT: &str =
    "apt-get install android-libboringssl-dev (or bash scripts/setup-peers.sh, which installs every optional peer)";
/// The Debian package that carries libssl; its version names the backend's version.
const PACKAGE: &str = "android-libboringssl";
/// Where the package puts BoringSSL's headers (under `openssl/`, beside the system OpenSSL's, hence the own folder).
const INCLUDE: &str = "/usr/include/android";
/// How long the adapter may take to start and say ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "boringssl adapter";

/// What a build needs: the compiler and the library's folder.
struct Toolchain {
    cc: PathBuf,
    lib: PathBuf,
}

/// The C compiler and BoringSSL's development files, if all are installed.
fn toolchain() -> Result<Toolchain, String> {
    let cc = c_adapter::compiler(INSTALL_HINT)?;
    // The package installs into the multiarch folder (`/usr/lib/x86_64-linux-gnu/android`).
    let mut arch = Command::new(&cc);
    arch.arg("-print-multiarch");
    let out = crate::backend::probe::run(&mut arch, crate::backend::probe::PROBE_DEADLINE)?;
    let triplet = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new("/usr/lib").join(&triplet).join("android");
    let header = Path::new(INCLUDE).join("openssl").join("ssl.h");
    if !header.is_file() || !lib.join("libssl.so").exists() {
        return Err(format!("BoringSSL's libssl and headers not found ({}): {INSTALL_HINT}", header.display()));
    }
    Ok(Toolchain { cc, lib })
}

/// The adapter binary for this source, compiler and library, built into the cache when it is not there yet.
fn build(tc: &Toolchain, package: &str) -> Result<PathBuf, String> {
    let lib = tc.lib.display();
    // The run-time search path too: the library is not in the loader's default folders.
    let args = [format!("-I{INCLUDE}"), format!("-L{lib}"), format!("-Wl,-rpath,{lib}")];
    let args: Vec<String> = args.into_iter().chain(["-lssl", "-lcrypto", "-lpthread"].map(String::from)).collect();
    c_adapter::build(&tc.cc, "boringssl", SOURCE, &args, &format!("{PACKAGE} {package}"))
}

/// What the probe found.
struct Probed {
    version: Option<String>,
    caps: Capabilities,
    binary: Option<PathBuf>,
    /// What a fresh context offers: TLS 1.2 suites in order, and the version range.
    default_suites: Vec<CipherSuite>,
    default_versions: Vec<ProtocolVersion>,
}

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
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA);
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
    toolchain: Result<Toolchain, String>,
    probed: OnceLock<Probed>,
    pool: Pool,
}

impl BoringsslBackend {
    /// The compiler and library found now (missing: every cell is unsupported, with the setup command).
    pub fn new() -> Self {
        BoringsslBackend { toolchain: toolchain(), probed: OnceLock::new(), pool: Pool::new(NAME) }
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
            let tc = match &self.toolchain {
                Ok(tc) => tc,
                Err(why) => return unavailable(why.clone()),
            };
            let package = c_adapter::package_version(PACKAGE).unwrap_or_else(|| "unknown".into());
            let binary = match build(tc, &package) {
                Ok(b) if is_executable(&b) => b,
                Ok(b) => return unavailable(format!("the boringssl adapter {} is not executable", b.display())),
                Err(why) => return unavailable(format!("cannot build the boringssl adapter: {why}")),
            };
            let probe = match c_adapter::Probe::run(&binary) {
                Ok(p) => p,
                Err(why) => return unavailable(why),
            };
            let default_suites =
                probe.suites("default_suites").into_iter().filter(|s| !is_psk(s) && !s.is_tls13()).collect();
            let default_versions = probe.default_versions();
            Probed {
                version: Some(format!("BoringSSL (Debian {PACKAGE} {package})")),
                caps: capabilities(Some(&probe), None),
                binary: Some(binary),
                default_suites,
                default_versions,
            }
        })
    }

    fn launch(&self) -> Result<Command, String> {
        let p = self.probed();
        if let Some(why) = &p.caps.unavailable {
            return Err(why.clone());
        }
        let binary = p.binary.as_ref().ok_or("the boringssl adapter was not built")?;
        Ok(Command::new(binary))
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), START_TIMEOUT, (role, request), NAME)
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
        &self.probed().caps
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset, Strength};
        let p = self.probed();
        let origin = "BoringSSL's default (a fresh SSL_CTX)";
        let versions = match p.default_versions.is_empty() {
            true => Preset::new(ProtocolVersion::ALL, origin),
            false => Preset::new(p.default_versions.clone(), origin),
        };
        Behaviour {
            versions,
            tls12_suites: (!p.default_suites.is_empty()).then(|| Preset::new(p.default_suites.clone(), origin)),
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
        }
    }

    /// The version the probe found; no process is started just to print it.
    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.caps.unavailable.as_deref()));
        let missing = self.toolchain.as_ref().err().cloned();
        adapter_version(&self.pool, probed, missing, "boringssl (version read at first use)")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Client, client_request(cfg, pki)?)
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
        let b = BoringsslBackend { toolchain: Err(format!("not here: {INSTALL_HINT}")), ..BoringsslBackend::new() };
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.contains("scripts/setup-peers.sh"), "{why}");
        }
    }
}
