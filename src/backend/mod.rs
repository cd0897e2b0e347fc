//! The backend seam: one TLS implementation that can play either side of a handshake.
//!
//! A backend knows nothing of scenarios' expectations or reports, and the runner knows nothing of any library. What a
//! backend cannot express is declared up front in its [`Capabilities`], so the planner marks such a cell
//! `unsupported` with the reason before it runs, instead of guessing from an error afterwards. What a backend does when
//! a scenario leaves a knob out (its defaults, its verifier's policies) is declared as its [`Behaviour`], which
//! `tlsmatrix explain` reasons with.

mod behaviour;
mod bridge;
pub(crate) mod cli;
pub mod conn;
pub(crate) mod probe;
pub(crate) use cli::TempDir;
mod native_tls;
mod openssl;
mod openssl_errors;
mod peer;
mod rustls;

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::observation::SideOutcome;
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig, SideConfig};
use crate::settings::{Decision, Knob, SETTINGS, Settings};

use self::conn::Conn;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

pub use self::behaviour::{Behaviour, NoDhParameters, Preset, Strength};
pub use self::cli::{GnutlsBackend, HaproxyBackend, NginxBackend, OpensslCliBackend};
pub use self::native_tls::NativeTlsBackend;
pub use self::openssl::{OpensslBackend, keep_system_trust_out, source_fingerprint as openssl_source_fingerprint};
pub(crate) use self::peer::JVM_FLAGS;
pub use self::peer::{
    BoringsslBackend, GoBackend, JsseBackend, NodeBackend, NssBackend, Openssl35Backend, PythonBackend,
};
pub use self::rustls::{RustlsBackend, sent_alert as rustls_sent_alert};
pub(crate) use crate::cipherstring::expand_cipher_strings;

/// What a backend can express for one role. Everything it lacks carries the reason a user would want to read.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Versions it can enable; a scenario range outside this set is unsupported.
    pub versions: BTreeSet<ProtocolVersion>,
    /// Why the other versions are missing.
    pub versions_reason: &'static str,
    /// What it does with each scenario setting: supports, lacks (with the reason) or leaves to another stack. A
    /// setting it has not decided on makes its cells unsupported (an allow-list, never a silent ignore).
    pub settings: Settings,
    /// TLS 1.2 and TLS 1.3 suites it can enable.
    pub cipher_suites: BTreeSet<CipherSuite>,
    /// Groups it can enable.
    pub groups: BTreeSet<Group>,
    /// Whether it observes alerts on the wire itself (sent and received), rather than inferring the sent alert from
    /// its own error. An exact observer is the witness that checks other backends' inferred alerts.
    pub exact_alerts: bool,
    /// Whether it reports the negotiated version, cipher suite and group (native-tls's API does not).
    pub reports_parameters: bool,
    /// Why it cannot run at all on this machine (an external peer whose runtime is missing), with the hint to fix it.
    pub unavailable: Option<String>,
}

impl Capabilities {
    /// `Err(reason)` when the side config uses something this backend cannot express.
    pub fn check<C: SideConfig + serde::Serialize>(&self, cfg: &C, extra: &[Knob]) -> Result<(), String> {
        let role = C::ROLE;
        if let Some(why) = &self.unavailable {
            return Err(why.clone());
        }
        let mut knobs = cfg.knobs();
        knobs.extend_from_slice(extra);
        knobs.sort();
        self.settings.check(role, &knobs)?;
        if let Some(why) = cfg.untranslated().filter(|_| self.settings.get(Knob::Nginx) != Some(&Decision::Supports)) {
            return Err(why.to_string());
        }
        if let Some(v) = cfg.versions().and_then(|vs| vs.iter().find(|v| !self.versions.contains(v))) {
            return Err(format!("{role}.versions: cannot enable {v}: {}", self.versions_reason));
        }
        let suites = cfg.cipher_suites().into_iter().flatten().chain(cfg.tls13_cipher_suites().into_iter().flatten());
        for s in suites {
            if !self.cipher_suites.contains(s) {
                return Err(format!("{role}: cipher suite {s} is not implemented"));
            }
        }
        if let Some(g) = cfg.groups().and_then(|gs| gs.iter().find(|g| !self.groups.contains(g))) {
            return Err(format!("{role}.groups: {g} is not implemented"));
        }
        Ok(())
    }
}

/// Why a stack other than Java runs a cell without its `java_security` settings.
pub(crate) const NOT_JAVA: &str = "a Java security property (java.security); this stack has no such file, so the cell \
                                   runs without it, as the same application on this stack would";

/// Why a stack other than nginx runs a cell without the `nginx` directives themselves.
pub(crate) const NOT_NGINX: &str = "nginx directives, imported into the block's own settings when the scenario was \
                                    loaded: this stack plays those";

pub use crate::error::ConfigError;

/// One TLS implementation that can play either side of a handshake.
pub trait Backend: Send + Sync {
    /// Its name.
    fn id(&self) -> BackendId;
    /// What it can express as `role`.
    fn capabilities(&self, role: Role) -> &Capabilities;
    /// What it does as `role` when the scenario leaves a knob out, and how its verifier judges what it is shown:
    /// the library facts `tlsmatrix explain` reasons with. No default: a new backend states its own facts.
    fn behaviour(&self, role: Role) -> Behaviour;
    /// Library and version, for reports (`OpenSSL 3.0.19 27 Jan 2026`).
    fn version(&self) -> String;
    /// Whether it can express this side's values together, beyond what [`Capabilities`] says of each setting alone
    /// (GnuTLS's priority strings cannot express every suite list). `Err(reason)` makes the cell `unsupported`
    /// before it runs, instead of a harness error when the config is built. Most libraries have no such limit.
    fn expressible(&self, _role: Role, _scenario: &crate::scenario::Scenario) -> Result<(), String> {
        Ok(())
    }
    /// Whether the stack has this role at all (nginx is a server product: no client). The matrix still shows the
    /// other role's cells as unsupported with the reason; reports about one role's peers (`compat`'s clients,
    /// `try-client`'s servers) leave such a backend out.
    fn plays(&self, _role: Role) -> bool {
        true
    }
    /// The launch settings of the process of its own that this side needs, if it needs one (a jsse side with
    /// `java_security` or JVM-wide groups runs in a JVM of its own). The runner starts a cell only when the
    /// processes of the cells in flight and its own fit under [`OWN_PROCESSES`], so no cell holds one process while
    /// it waits for another that the cap keeps from starting. Most backends run no process of their own.
    fn own_process(&self, _role: Role, _scenario: &crate::scenario::Scenario) -> Option<String> {
        None
    }
    /// Builds the library's server configuration once per cell.
    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError>;
    /// Builds the library's client configuration once per cell.
    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError>;
}

/// One side of a cell, configured. Every connection of the cell goes through the same endpoint, so a second
/// connection can resume the first one's session (client session store, server session cache and ticket keys).
#[async_trait]
pub trait Endpoint: Send {
    /// One connection: handshake, one message each way, close_notify both ways. `Err` is a harness fault.
    ///
    /// A backend that can export its TLS secrets writes them to `keys` (NSS key log lines), so the capture of this
    /// connection can be decrypted; one that cannot leaves it alone.
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError>;
}

/// Library configurations already built, by PKI load and side config: cells that configure a side the same way
/// (the three clients against one server config, every repetition of a scenario) reuse it instead of paying for
/// `SSL_CTX_new` and certificate parsing again. Only configuration is shared: per-connection state (key logs, the
/// client's session for resumption) stays in each cell's endpoint, so no cell can resume another cell's session.
pub(crate) struct ConfigCache<T> {
    map: std::sync::Mutex<std::collections::HashMap<(u64, String), T>>,
}

impl<T> Default for ConfigCache<T> {
    fn default() -> Self {
        ConfigCache { map: Default::default() }
    }
}

impl<T: Clone> ConfigCache<T> {
    /// Entries kept at most; a run with more distinct configs (a generated grid) starts over, so memory stays flat.
    const LIMIT: usize = 64;

    /// The config for `cfg`, built by `build` on first use.
    pub(crate) fn get_or_build<C: serde::Serialize>(
        &self,
        pki: &Pki,
        cfg: &C,
        build: impl FnOnce() -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let key = (pki.id(), serde_json::to_string(cfg).map_err(|e| ConfigError::new(e.to_string()))?);
        if let Some(hit) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let built = build()?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::LIMIT {
            map.clear();
        }
        map.insert(key, built.clone());
        Ok(built)
    }
}

/// How many processes with settings of their own ([`Backend::own_process`]) one backend's cells may use at once:
/// the adapter process cap, less the process with default settings.
pub const OWN_PROCESSES: usize = peer::process::MAX_PROCESSES - 1;

/// The backends compiled into this build, in report order.
pub struct Registry {
    backends: Vec<Arc<dyn Backend>>,
}

impl Registry {
    /// Every backend.
    pub fn all() -> Registry {
        Registry {
            backends: vec![
                Arc::new(OpensslBackend::new()),
                Arc::new(NativeTlsBackend::new()),
                Arc::new(RustlsBackend::new()),
                Arc::new(JsseBackend::new()),
                Arc::new(JsseBackend::release(BackendId::Jsse11)),
                Arc::new(JsseBackend::release(BackendId::Jsse21)),
                Arc::new(JsseBackend::release(BackendId::Jsse25)),
                Arc::new(Openssl35Backend::new()),
                Arc::new(OpensslCliBackend::new()),
                Arc::new(GnutlsBackend::new()),
                Arc::new(PythonBackend::new()),
                Arc::new(GoBackend::new()),
                Arc::new(BoringsslBackend::new()),
                Arc::new(NssBackend::new()),
                Arc::new(NodeBackend::new()),
                Arc::new(NodeBackend::release(BackendId::Node8)),
                Arc::new(NodeBackend::release(BackendId::Node16)),
                Arc::new(NodeBackend::release(BackendId::Node24)),
                Arc::new(NginxBackend::new()),
                Arc::new(HaproxyBackend::new()),
            ],
        }
    }

    /// A registry of exactly these backends (tests use it to add deliberately broken peers).
    pub fn new(backends: Vec<Arc<dyn Backend>>) -> Registry {
        Registry { backends }
    }

    /// A backend by id.
    pub fn get(&self, id: BackendId) -> Option<&Arc<dyn Backend>> {
        self.backends.iter().find(|b| b.id() == id)
    }

    /// Every backend, in report order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Backend>> {
        self.backends.iter()
    }

    /// Why `id` cannot play `role` on this machine (its runtime or tool is missing, with the install hint), or
    /// `None` when it can.
    pub fn unavailable(&self, id: BackendId, role: Role) -> Option<String> {
        match self.get(id) {
            Some(b) => b.capabilities(role).unavailable.clone(),
            None => Some(format!("{id} is not compiled into this build")),
        }
    }

    /// Which backend supports which setting, as client and as server (`tlsmatrix settings`): `+` applies it, `-` lacks
    /// it (the cell is unsupported; `tlsmatrix list` gives the reasons), `~` another stack's setting it runs without,
    /// `?` not decided (a bug: the tests fail).
    pub fn settings_table(&self) -> String {
        let registry = self;
        let mark = |d: Option<&Decision>| match d {
            Some(Decision::Supports) => '+',
            Some(Decision::Lacks(_)) => '-',
            Some(Decision::NotApplicable(_)) => '~',
            None => '?',
        };
        let width = SETTINGS.iter().map(|s| s.field.len()).max().unwrap_or(0);
        let mut out = format!("{:width$}", "setting (client/server)");
        let ids: Vec<_> = registry.iter().map(|b| b.id()).collect();
        for id in &ids {
            out.push_str(&format!("  {id}"));
        }
        out = out.trim_end().to_string();
        out.push('\n');
        for s in SETTINGS {
            let mut line = format!("{:width$}", s.field, width = width.max(23));
            for (b, id) in registry.iter().zip(&ids) {
                let side =
                    |role| if s.sides.includes(role) { mark(b.capabilities(role).settings.get(s.knob)) } else { ' ' };
                let cell = format!("{}{}", side(Role::Client), side(Role::Server));
                line.push_str(&format!("  {cell:<w$}", w = id.to_string().len()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str("\n+ applies it   - lacks it (cells unsupported; reasons: tlsmatrix list)   ~ another stack's setting, run without it\n");
        out
    }

    /// Whether this machine can run cells of `client` against `server`.
    pub fn runs(&self, client: BackendId, server: BackendId) -> bool {
        self.unavailable(client, Role::Client).is_none() && self.unavailable(server, Role::Server).is_none()
    }
}

/// What the client sends once the handshake is done; the server echoes it back byte for byte. An echo is the one
/// answer every peer can give: gnutls-serv has no stdin and can only echo (`--echo`).
pub(crate) const PING: &[u8] = b"tlsmatrix ping\n";

/// After the handshake: one message each way (the client's ping and the server's echo of it), then close_notify both
/// ways and an orderly end of stream.
///
/// This is what makes failures that surface only after the handshake visible: a TLS 1.3 client whose certificate the
/// server rejects completes its handshake and learns of the alert on its first read.
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, role: Role) -> io::Result<()> {
    let mut buf = vec![0u8; PING.len()];
    if role == Role::Client {
        s.write_all(PING).await?;
        s.flush().await?;
        s.read_exact(&mut buf).await?;
    } else {
        s.read_exact(&mut buf).await?;
        s.write_all(&buf).await?;
        s.flush().await?;
    }
    if buf != PING {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unexpected application data {buf:?}")));
    }
    // The client closes first; the server answers the client's close_notify with its own.
    if role == Role::Client {
        s.shutdown().await?;
    }
    let mut rest = [0u8; 1];
    match s.read(&mut rest).await? {
        0 => {}
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "application data after the exchange")),
    }
    if role == Role::Server {
        s.shutdown().await?;
    }
    Ok(())
}

/// The versions a config enables, as (min, max), if it sets them.
pub(crate) fn version_range(v: Option<&[ProtocolVersion]>) -> Option<(ProtocolVersion, ProtocolVersion)> {
    v.and_then(|v| Some((*v.first()?, *v.last()?)))
}

/// The PEM of a certificate list.
pub(crate) fn pem_chain(certs: &[::openssl::x509::X509]) -> Vec<u8> {
    certs.iter().flat_map(|c| c.to_pem().expect("serialising a certificate we built")).collect()
}

/// The credential behind a fixture name (validated by the catalog).
pub(crate) fn credential<'a>(pki: &'a Pki, name: &str) -> Result<&'a crate::pki::Credential, ConfigError> {
    pki.get(name).ok_or_else(|| ConfigError::new(format!("fixture `{name}` is not in the PKI")))
}

/// The host the client verifies: the scenario's server name, or the loopback address.
pub(crate) fn client_host(cfg: &ClientConfig) -> &str {
    cfg.server_name.as_deref().unwrap_or("127.0.0.1")
}
