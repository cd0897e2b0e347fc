//! The `openssl@3.5` backend: the openssl backend's own code over OpenSSL 3.5 (vendored, built from source), as a
//! peer process (`peers/openssl`).
//!
//! One binary links one OpenSSL (one `openssl-sys`), so the current OpenSSL line cannot share tlsmatrix's binary,
//! which links the system's 3.0. The peer crate depends on this library and on the `openssl` crate with its
//! `vendored` feature (openssl-src pinned to 3.5.5); `scripts/setup-peers.sh` builds it into the user's cache (about
//! 2.5 minutes cold here, 170 s of CPU for OpenSSL itself). Nothing else differs from the `openssl` column: the same
//! configuration code, the same message callback for exact alerts, so every difference in the catalog is OpenSSL's
//! own change between 3.0 and 3.5 (ML-KEM hybrid groups by default, ...). A binary built from other sources than this
//! tlsmatrix (its fingerprint differs) is not used: its cells are unsupported until the setup script rebuilds it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::Pool;
use super::{adapter_version, client_request, is_executable, pooled_endpoint, run_probe, server_request};
use crate::backend::{Backend, Behaviour, Capabilities, ConfigError, Endpoint, OpensslBackend, Preset};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::vocab::{BackendId, Group, Role};

/// What builds the peer.
const SETUP: &str = "bash scripts/setup-peers.sh (builds the OpenSSL 3.5 peer, peers/openssl, from source: about 3 \
                     minutes the first time)";
/// How long the peer may take to start and say ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "openssl@3.5 peer";

/// The peer built from this tlsmatrix's sources: `<cache>/openssl-peer/bin/<fingerprint>/tlsmatrix-openssl-peer`.
///
/// The setup script builds in one cargo target directory (incremental: about a minute after a change) and files the
/// binary under the fingerprint it reports, so checkouts of different commits sharing the cache (a CI clone beside a
/// working tree) each find their own peer instead of taking turns overwriting one.
pub fn binary() -> Option<PathBuf> {
    let fingerprint = crate::backend::openssl_source_fingerprint();
    crate::cache::root().map(|r| r.join("openssl-peer/bin").join(fingerprint).join("tlsmatrix-openssl-peer"))
}

/// OpenSSL 3.5's default supported_groups (`DEFAULT_GROUP_LIST` in ssl/t1_lib.c: the ML-KEM hybrid first).
const OPENSSL35_GROUPS: &[&str] =
    &["X25519MLKEM768", "x25519", "secp256r1", "x448", "secp384r1", "secp521r1", "ffdhe2048", "ffdhe3072"];

/// What the probe found.
struct Probed {
    version: Option<String>,
    client: Capabilities,
    server: Capabilities,
}

/// The openssl@3.5 backend.
pub struct Openssl35Backend {
    /// The in-process backend: the same code, so the same capabilities and defaults (but for the groups).
    linked: OpensslBackend,
    binary: Option<PathBuf>,
    probed: OnceLock<Probed>,
    pool: Pool,
}

impl Openssl35Backend {
    /// The peer built in the user's cache, if it is there.
    pub fn new() -> Self {
        Openssl35Backend {
            linked: OpensslBackend::new(),
            binary: binary(),
            probed: OnceLock::new(),
            pool: Pool::new(NAME),
        }
    }

    fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let caps = |role, unavailable: Option<String>| {
                let mut c = self.linked.capabilities(role).clone();
                // OpenSSL 3.5 implements the ML-KEM groups 3.0 lacks.
                c.groups = Group::known().collect();
                c.unavailable = unavailable;
                c
            };
            let probe = match self.binary.as_ref().filter(|b| is_executable(b)) {
                None => Err(format!(
                    "the OpenSSL 3.5 peer is not built for these sources (fingerprint {}): {SETUP}",
                    crate::backend::openssl_source_fingerprint()
                )),
                Some(binary) => {
                    let mut cmd = Command::new(binary);
                    cmd.arg("--probe");
                    run_probe(&mut cmd, |last| format!("{} cannot run ({last})", binary.display()))
                }
            };
            let ours = crate::backend::openssl_source_fingerprint();
            let why = match &probe {
                Err(why) => Some(why.clone()),
                Ok(p) if p["fingerprint"].as_str() != Some(ours) => Some(format!(
                    "the OpenSSL 3.5 peer was built from other sources than this tlsmatrix (fingerprint {} here {ours}): \
                     {SETUP}",
                    p["fingerprint"].as_str().unwrap_or("none")
                )),
                Ok(_) => None,
            };
            Probed {
                version: probe.ok().and_then(|p| p["version"].as_str().map(String::from)),
                client: caps(Role::Client, why.clone()),
                server: caps(Role::Server, why),
            }
        })
    }

    fn launch(&self) -> Result<Command, String> {
        let p = self.probed();
        if let Some(why) = &p.client.unavailable {
            return Err(why.clone());
        }
        let binary = self.binary.as_ref().ok_or("the OpenSSL 3.5 peer is not built")?;
        let mut cmd = Command::new(binary);
        // Its own OpenSSL reads no configuration file but this one; the system's (3.0's) must not apply.
        cmd.env_remove("OPENSSL_CONF").env_remove("SSLKEYLOGFILE");
        Ok(cmd)
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), START_TIMEOUT, (role, request), NAME)
    }
}

impl Default for Openssl35Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for Openssl35Backend {
    fn id(&self) -> BackendId {
        BackendId::Openssl35
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        let p = self.probed();
        match role {
            Role::Client => &p.client,
            Role::Server => &p.server,
        }
    }

    fn behaviour(&self, role: Role) -> Behaviour {
        let mut b = self.linked.behaviour(role);
        b.groups = Some(Preset::new(OPENSSL35_GROUPS.iter().filter_map(|g| g.parse().ok()), "OpenSSL 3.5's default"));
        b
    }

    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.client.unavailable.as_deref()));
        let missing = self.binary.is_none().then(|| format!("not built: {SETUP}"));
        adapter_version(&self.pool, probed, missing, "openssl@3.5 (version read at first use)")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Client, client_request(cfg, pki)?)
    }
}
