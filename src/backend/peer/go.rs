//! The `go` backend: Go's `crypto/tls` through `peers/go/tls_peer.go`, a standard-library program (no module
//! downloads) built with the machine's Go toolchain into the user's cache on first use, keyed by its source.
//!
//! Go matters because it is not OpenSSL: its own verifier (no CN fallback), its own alert choices, its own suite order
//! (the server ignores the client's preference and picks by hardware), TLS 1.3 suites that cannot be configured, no
//! DHE. Debian 12 has Go 1.19 only (`golang-1.19-go`, installed by `scripts/setup-peers.sh`, which also builds the
//! adapter). Alerts are exact: crypto/tls records the alert it sends and the one it receives in the connection
//! (read by the adapter by reflection), and the adapter hands its key log to the harness, so TLS 1.3 records are
//! decrypted and the reported alerts checked against the bytes. Every difference from the catalog's base expectations
//! is an override with its cause (docs/peers.md has the table).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::Pool;
use super::{adapter_version, client_request, is_executable, pooled_endpoint, run_probe, server_request};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/go/tls_peer.go");
/// What to do when no Go toolchain is found.
const INSTALL_HINT: &str = "bash scripts/setup-peers.sh (installs Debian's golang-1.19-go and builds the adapter)";
/// Where Debian's versioned Go packages put the toolchain (`golang-1.19-go` adds no `go` to PATH).
const DEBIAN_GO: &str = "/usr/lib/go-1.19/bin/go";
/// How long a build may take (about 20 s cold on this machine, under a second with its build cache).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the adapter may take to start and say ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "go adapter";

/// The Go toolchain: `go` on PATH, else Debian's versioned package.
fn toolchain() -> Option<PathBuf> {
    crate::backend::cli::which("go").or_else(|| Some(PathBuf::from(DEBIAN_GO)).filter(|p| is_executable(p)))
}

/// The adapter binary for this source and toolchain, built into the cache when it is not there yet.
fn build(go: &std::path::Path) -> Result<PathBuf, String> {
    let mut version = Command::new(go);
    version.arg("version");
    let out = crate::backend::probe::run(&mut version, crate::backend::probe::PROBE_DEADLINE)?;
    let shown = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.success {
        return Err(format!("{} version failed", go.display()));
    }
    let key = format!("{SOURCE}\n{shown}");
    let name = format!("{:016x}", crate::cache::fingerprint(key.as_bytes()));
    let dir = crate::cache::entry("go", &name, |dir| {
        std::fs::write(dir.join("tls_peer.go"), SOURCE).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(go);
        cmd.args(["build", "-trimpath", "-o", "tls_peer", "tls_peer.go"]).current_dir(dir);
        // Go's build cache beside the adapters (a fresh HOME has none), no module lookups: the standard library only.
        if let Some(root) = crate::cache::root() {
            cmd.env("GOCACHE", root.join("go").join("build-cache")).env("GOPATH", root.join("go").join("gopath"));
        }
        cmd.env("GOPROXY", "off").env("GO111MODULE", "off");
        let out = crate::backend::probe::run(&mut cmd, BUILD_TIMEOUT)?;
        if !out.success {
            return Err(format!("go build failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    })?;
    Ok(dir.join("tls_peer"))
}

/// What the probe found.
struct Probed {
    version: Option<String>,
    client: Capabilities,
    server: Capabilities,
    /// The adapter binary.
    binary: Option<PathBuf>,
    /// What a zero `tls.Config` offers, read by the probe from a real ClientHello: suites in order, groups.
    default_suites: Vec<CipherSuite>,
    default_groups: Vec<Group>,
}

/// The capabilities of both roles from the probe's JSON (`None`: unavailable, with the reason).
fn capabilities(probe: Option<&Value>, unavailable: Option<String>) -> (Capabilities, Capabilities) {
    use crate::settings::Knob::*;
    let settings = Settings::new()
        .supports([Versions, CipherSuites, Groups, Alpn, ChainShape, ClientAuth, SniCertificates, SessionTickets])
        .supports([Certificate, Resumption, Trust, ServerName, AlpnMismatchFatal])
        .lacks(
            Tls13CipherSuites,
            "crypto/tls has no TLS 1.3 suite setting: Config.CipherSuites applies to TLS 1.2 and earlier only",
        )
        .lacks(SignatureAlgorithms, "crypto/tls (Go 1.19) has no signature algorithm setting")
        .lacks(SecurityLevel, "an OpenSSL notion; crypto/tls has no security levels")
        .lacks(
            Sni,
            "crypto/tls sends Config.ServerName as SNI whenever it verifies it: a name cannot be verified without SNI",
        )
        .lacks(
            AlpnMismatchIgnore,
            "a crypto/tls server refuses a client ALPN list with nothing in common (no_application_protocol, Go 1.17+) \
             and has no option to ignore it",
        )
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
        .not_applicable(Nginx, crate::backend::NOT_NGINX);
    let names: std::collections::BTreeSet<&str> =
        probe.and_then(|p| p["suites"].as_array()).into_iter().flatten().filter_map(Value::as_str).collect();
    let cipher_suites = CipherSuite::known().filter(|s| s.name().is_some_and(|n| names.contains(n))).collect();
    let groups = probe
        .and_then(|p| p["groups"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().and_then(|g| g.parse::<Group>().ok()))
        .collect();
    let has = |v: ProtocolVersion| probe.and_then(|p| p["versions"][v.name()].as_bool()).unwrap_or(false);
    let client = Capabilities {
        versions: ProtocolVersion::ALL.into_iter().filter(|v| has(*v)).collect(),
        versions_reason: "this Go's crypto/tls does not implement it",
        settings,
        cipher_suites,
        groups,
        exact_alerts: true,
        reports_parameters: true,
        unavailable,
    };
    let server = client.clone();
    (client, server)
}

/// The go backend.
pub struct GoBackend {
    go: Option<PathBuf>,
    probed: OnceLock<Probed>,
    pool: Pool,
}

impl GoBackend {
    /// The Go toolchain found now (none: every cell is unsupported, with the setup command).
    pub fn new() -> Self {
        Self::with_go(toolchain())
    }

    fn with_go(go: Option<PathBuf>) -> Self {
        GoBackend { go, probed: OnceLock::new(), pool: Pool::new(NAME) }
    }

    fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let unavailable = |why: String| {
                let (client, server) = capabilities(None, Some(why));
                Probed { version: None, client, server, binary: None, default_suites: vec![], default_groups: vec![] }
            };
            let Some(go) = &self.go else {
                return unavailable(format!("no Go toolchain (go on PATH or {DEBIAN_GO}): {INSTALL_HINT}"));
            };
            let binary = match build(go) {
                Ok(b) => b,
                Err(why) => return unavailable(format!("cannot build the go adapter: {why}")),
            };
            let mut cmd = Command::new(&binary);
            cmd.arg("--probe");
            let probe = match run_probe(&mut cmd, |last| format!("{} cannot run ({last})", binary.display())) {
                Ok(p) => p,
                Err(why) => return unavailable(why),
            };
            let (client, server) = capabilities(Some(&probe), None);
            let names = |key: &str| -> Vec<String> {
                probe[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
            };
            let default_suites = names("default_suites")
                .iter()
                .filter_map(|n| CipherSuite::known().find(|s| s.name() == Some(n.as_str())))
                .collect();
            let default_groups = names("default_groups").iter().filter_map(|g| g.parse().ok()).collect();
            Probed {
                version: probe["version"].as_str().map(String::from),
                client,
                server,
                binary: Some(binary),
                default_suites,
                default_groups,
            }
        })
    }

    fn launch(&self) -> Result<Command, String> {
        let p = self.probed();
        if let Some(why) = &p.client.unavailable {
            return Err(why.clone());
        }
        let binary = p.binary.as_ref().ok_or("the go adapter was not built")?;
        let mut cmd = Command::new(binary);
        // SSLKEYLOGFILE means nothing to crypto/tls; GODEBUG could change its defaults behind the scenario's back.
        cmd.env_remove("GODEBUG");
        Ok(cmd)
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), START_TIMEOUT, (role, request), NAME)
    }
}

impl Default for GoBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for GoBackend {
    fn id(&self) -> BackendId {
        BackendId::Go
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        let p = self.probed();
        match role {
            Role::Client => &p.client,
            Role::Server => &p.server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset, Strength};
        use ProtocolVersion::{Tls10, Tls11, Tls12, Tls13};
        // Go 1.18+: a client's default minimum is TLS 1.2, a server's TLS 1.0; both go up to TLS 1.3.
        let versions = match role {
            Role::Client => Preset::new([Tls12, Tls13], "crypto/tls's client default: TLS 1.2 to 1.3 (Go 1.18+)"),
            Role::Server => Preset::new([Tls10, Tls11, Tls12, Tls13], "crypto/tls's server default: TLS 1.0 to 1.3"),
        };
        let p = self.probed();
        let suites = |tls13: bool| {
            let list: Vec<CipherSuite> = p.default_suites.iter().copied().filter(|s| s.is_tls13() == tls13).collect();
            (!list.is_empty()).then(|| Preset::new(list, "crypto/tls's default (a zero tls.Config's ClientHello)"))
        };
        Behaviour {
            versions,
            tls12_suites: suites(false),
            tls13_suites: suites(true),
            groups: (!p.default_groups.is_empty())
                .then(|| Preset::new(p.default_groups.clone(), "crypto/tls's defaultCurvePreferences")),
            security_level: None,
            strength: Strength::Unknown,
            // x509.Certificate.Verify takes any certificate in the roots pool as an anchor
            // (certificates::trust_intermediate_only).
            self_signed_anchor_only: None,
            // Go 1.15+ verifies names against the subjectAltName only (certificates::cn_only).
            cn_fallback: false,
            cn_name_constraints: false,
            ignores_alpn_mismatch: false,
            dhe_without_parameters: None,
            no_ed25519: None,
        }
    }

    /// The version the probe or the adapter reported; no process is started just to print it.
    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.client.unavailable.as_deref()));
        let missing = self.go.is_none().then(|| format!("no Go toolchain: {INSTALL_HINT}"));
        adapter_version(&self.pool, probed, missing, "go (version read at first use)")
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
    fn without_go_every_cell_is_unsupported_with_the_setup_command() {
        let b = GoBackend::with_go(None);
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.starts_with("no Go toolchain") && why.contains("scripts/setup-peers.sh"), "{why}");
        }
    }

    #[test]
    fn what_crypto_tls_cannot_set_is_lacking_with_its_reason() {
        let probe = serde_json::json!({
            "versions": {"tls1.0": true, "tls1.1": true, "tls1.2": true, "tls1.3": true},
            "suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], "groups": ["x25519", "secp256r1"]
        });
        let (client, server) = capabilities(Some(&probe), None);
        use crate::settings::Knob::*;
        for knob in [Tls13CipherSuites, SignatureAlgorithms, SecurityLevel, Sni, AlpnMismatchIgnore] {
            assert!(!client.settings.supports_knob(knob), "{knob:?}");
        }
        assert!(server.settings.supports_knob(AlpnMismatchFatal));
        assert_eq!(client.cipher_suites.len(), 1, "{:?}", client.cipher_suites);
        assert_eq!(client.groups.len(), 2, "{:?}", client.groups);
    }
}
