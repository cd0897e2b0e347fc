//! `gnutls`: GnuTLS's `gnutls-cli` and `gnutls-serv`, one process per connection.
//!
//! Both tools run at debug level 5 (`--debug=5`), where GnuTLS's record layer logs on stderr every alert it sends
//! (`REC: Sending Alert[2|40] - ...`, then `Sent Packet[n] Alert(21)` once the record is written) and every alert it
//! receives (`REC[..]: Alert[2|48] - ... - was received`, decrypted): the alerts are exact, read by
//! [`debug_alerts`], not inferred from error texts.
//!
//! gnutls-serv plays the server with `--echo` (it has no stdin; the exchange is an echo for that reason). It listens
//! on the wildcard addresses and has no option to choose its address, nor does it print the port it got for
//! `--port 0`; the preload library `loopback.c` (built by build.rs, embedded here) keeps it on 127.0.0.1 and prints
//! the port.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream};

use super::process::{Invocation, Script, Tool, drive, never_connected};
use super::{TempDir, collect_keys, first_line, os, which, write_identity, write_trust};
use crate::backend::conn::Conn;
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, PING, client_host, credential};
use crate::observation::SideOutcome;
use crate::pki::Pki;
use crate::scenario::{AlpnMismatch, ClientAuth, ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

mod output;
mod priority;
#[cfg(test)]
mod tests;

use self::output::{outcome, server_outcome};
use self::priority::{GROUPS, NORMAL_CIPHERS, SUITES_12, SUITES_13, priority, suite_items};

/// The gnutls command-line tools as a backend.
pub struct GnutlsBackend {
    cli: Option<PathBuf>,
    serv: Option<PathBuf>,
    caps_client: Capabilities,
    caps_server: Capabilities,
}

/// The preload library that keeps gnutls-serv on loopback (empty when build.rs could not build it).
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/loopback.so"));
/// Why build.rs could not build [`SHIM`] (empty when it did).
const SHIM_ERROR: &str = env!("TLSMATRIX_LOOPBACK_SHIM_ERROR");

impl GnutlsBackend {
    /// Looks for gnutls-cli and gnutls-serv on PATH.
    pub fn new() -> Self {
        let cli = which("gnutls-cli");
        let serv = which("gnutls-serv");
        use crate::settings::Knob::*;
        let common = Settings::new()
            .supports([Versions, Groups, Alpn, Certificate, Trust])
            .lacks(SecurityLevel, "an OpenSSL notion; GnuTLS has no equivalent setting")
            .lacks(SignatureAlgorithms, "GnuTLS +SIGN-* priority items are not mapped (not implemented)")
            .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
            .not_applicable(Nginx, crate::backend::NOT_NGINX);
        let client_settings = common
            .clone()
            .supports([ServerName, Sni])
            .lacks(
                CipherSuites,
                "GnuTLS priority strings combine key exchange, cipher and MAC items independently; an IANA suite \
                 list cannot be expressed exactly (not implemented)",
            )
            .lacks(
                Tls13CipherSuites,
                "GnuTLS's +CIPHER items apply to TLS 1.2 and 1.3 at once; a TLS 1.3-only suite list cannot be \
                 expressed exactly (not implemented)",
            )
            .lacks(Resumption, "each connection is a new process; gnutls-cli --resume is not wired up");
        let server_settings = common
            .supports([CipherSuites, Tls13CipherSuites, ClientAuth, SniCertificates, SessionTickets])
            .supports([AlpnMismatchFatal, AlpnMismatchIgnore])
            .lacks(
                Resumption,
                "each connection is a new gnutls-serv process: its session cache and ticket key die with it (not \
                 implemented by keeping one gnutls-serv for both connections)",
            )
            .lacks(
                ChainShape,
                "gnutls-serv sorts the certificate list it loads into issuer order, so a reversed chain cannot be \
                 sent (and a leaf-only shape is not implemented)",
            );
        let suites_12 = SUITES_12.iter().map(|s| CipherSuite(s.0));
        let suites = suites_12.chain(SUITES_13.iter().map(|s| CipherSuite(s.0)));
        let caps = |settings, cipher_suites, exact_alerts, unavailable| Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings,
            cipher_suites,
            groups: GROUPS.iter().map(|(g, _)| Group(*g)).collect(),
            exact_alerts,
            reports_parameters: true,
            unavailable,
        };
        let cli_missing = cli.is_none().then(|| "gnutls-cli not found on PATH: apt-get install gnutls-bin".to_string());
        let serv_missing = match &serv {
            None => Some("gnutls-serv not found on PATH: apt-get install gnutls-bin".to_string()),
            Some(_) if SHIM.is_empty() => Some(format!(
                "the preload library that keeps gnutls-serv on 127.0.0.1 (src/backend/cli/loopback.c) was not \
                 built: {SHIM_ERROR}"
            )),
            Some(_) => None,
        };
        GnutlsBackend {
            cli,
            serv,
            caps_client: caps(client_settings, Default::default(), false, cli_missing),
            caps_server: caps(server_settings, suites.collect(), true, serv_missing),
        }
    }
}

impl Default for GnutlsBackend {
    fn default() -> Self {
        Self::new()
    }
}

struct Client {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
}

struct Server {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
    shim: PathBuf,
}

impl Backend for GnutlsBackend {
    fn id(&self) -> BackendId {
        BackendId::Gnutls
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        match role {
            Role::Client => &self.caps_client,
            Role::Server => &self.caps_server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Preset, Strength};
        let normal = "GnuTLS's NORMAL priority string";
        // The TLS 1.3 suites of NORMAL's ciphers, in NORMAL's order (as `suite_items` assumes for an unset list).
        let tls13 = NORMAL_CIPHERS.iter().filter_map(|c| SUITES_13.iter().find(|t| t.1 == *c));
        let server = role == Role::Server;
        crate::backend::Behaviour {
            // NORMAL on GnuTLS 3.7.9 still enables TLS 1.0 and 1.1 (catalog:
            // versions::tls10_client_default_security_level, legacy_tls10_tls11_server_default_client).
            versions: Preset::new(ProtocolVersion::ALL, normal),
            tls12_suites: None,
            tls13_suites: Some(Preset::new(tls13.map(|t| CipherSuite(t.0)), normal)),
            // secp256r1 first (catalog: groups::default_groups).
            groups: Some(Preset::new(GROUPS.iter().map(|(g, _)| Group(*g)), normal)),
            security_level: None,
            // NORMAL verifies with the low profile: RSA-1024 passes, a SHA-1 leaf does not (catalog:
            // certificates::rsa1024_leaf, sha1_leaf).
            strength: Strength::Floor {
                bits: 80,
                rule: "verifies with NORMAL's low profile (80-bit security): RSA-1024 passes, SHA-1 signatures do not",
            },
            // The trust list shortens the chain at the first trusted certificate (catalog: trust_intermediate_only).
            self_signed_anchor_only: None,
            // A CN-only certificate matches its host name (catalog: certificates::cn_only).
            cn_fallback: !server,
            cn_name_constraints: true,
            // Without --alpn-fatal a list with no common protocol is ignored (catalog: alpn::no_overlap).
            ignores_alpn_mismatch: server,
            // gnutls-serv picks a built-in 2048-bit group (catalog: cipher_suites::dhe_only_server).
            dhe_without_parameters: None,
            no_ed25519: None,
        }
    }

    fn version(&self) -> String {
        let v = self.cli.as_deref().or(self.serv.as_deref()).and_then(|p| first_line(p, &["--version"]));
        let v = v.unwrap_or_else(|| "gnutls-cli not found".into());
        format!("{v} (gnutls-cli/gnutls-serv)")
    }

    fn expressible(&self, role: Role, scenario: &crate::scenario::Scenario) -> Result<(), String> {
        match role {
            Role::Server => suite_items(&scenario.server).map(|_| ()).map_err(|e| e.message),
            Role::Client => Ok(()),
        }
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        if let Some(why) = &self.caps_server.unavailable {
            return Err(ConfigError::new(why.clone()));
        }
        let program = self.serv.clone().ok_or_else(|| ConfigError::new("gnutls-serv not found on PATH"))?;
        let dir = TempDir::new("gnutls-server")?;
        let shim = dir.write("loopback.so", SHIM)?;
        // `--debug=5`: the record layer's log, where the alerts are (see the module docs).
        let mut args = vec![os("--echo"), os("--port=0"), os("--debug=5")];
        // Each certificate is a pair of files; with several, GnuTLS serves the one whose names match the client's
        // SNI, and the first one without a match (or without SNI).
        let id = write_identity(&dir, "server", credential(pki, &cfg.certificate.0)?, Default::default())?;
        args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        for (n, name) in cfg.sni_certificates.values().enumerate() {
            let id = write_identity(&dir, &format!("sni{n}"), credential(pki, &name.0)?, Default::default())?;
            args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        }
        // gnutls-serv asks for a client certificate unless told not to, and checks one only when told to.
        match cfg.client_auth {
            ClientAuth::None => args.push(os("--disable-client-cert")),
            ClientAuth::Optional => args.push(os("--verify-client-cert")),
            ClientAuth::Required => args.extend([os("--require-client-cert"), os("--verify-client-cert")]),
        }
        args.extend([os("--x509cafile"), os(write_trust(&dir, pki, &cfg.trust)?)]);
        for p in cfg.alpn.iter().flatten() {
            args.push(os(format!("--alpn={p}")));
        }
        // Without --alpn-fatal gnutls-serv's list lacks GNUTLS_ALPN_MANDATORY and a mismatch is ignored.
        if cfg.alpn_mismatch == Some(AlpnMismatch::Fatal) {
            args.push(os("--alpn-fatal"));
        }
        if cfg.session_tickets == Some(false) {
            args.push(os("--noticket"));
        }
        let suites = suite_items(cfg)?;
        let prio = match (priority(cfg), suites) {
            (p, None) => p,
            (p, Some(items)) => Some(format!("{}{items}", p.unwrap_or_else(|| "NORMAL".into()))),
        };
        if let Some(p) = prio {
            args.push(os(format!("--priority={p}")));
        }
        Ok(Box::new(Server { program, args, dir, shim }))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.cli.clone().ok_or_else(|| ConfigError::new("gnutls-cli not found on PATH"))?;
        let dir = TempDir::new("gnutls-client")?;
        // `--debug=5`: the record layer's log, where the alerts are (see the module docs).
        let mut args = vec![os("--debug=5"), os("--x509cafile"), os(write_trust(&dir, pki, &cfg.trust)?)];
        let host = client_host(cfg);
        // Connecting to 127.0.0.1, gnutls-cli verifies that address (IP SAN) and sends no SNI; with a name, it
        // verifies the name and sends it as SNI unless told not to.
        if host.parse::<IpAddr>().is_err() {
            args.push(os(format!("--verify-hostname={host}")));
            match cfg.sni {
                Some(false) => args.push(os("--disable-sni")),
                _ => args.push(os(format!("--sni-hostname={host}"))),
            }
        }
        if let Some(name) = &cfg.certificate {
            let id = write_identity(&dir, "client", credential(pki, &name.0)?, Default::default())?;
            args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        }
        for p in cfg.alpn.iter().flatten() {
            args.push(os(format!("--alpn={p}")));
        }
        if let Some(p) = priority(cfg) {
            args.push(os(format!("--priority={p}")));
        }
        Ok(Box::new(Client { program, args, dir }))
    }
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let keyfile = self.dir.path().join("keys.log");
        let _ = std::fs::remove_file(&keyfile);
        let mut args = self.args.clone();
        args.extend([os("-p"), os(port.to_string()), os("127.0.0.1")]);
        let env = vec![("SSLKEYLOGFILE".to_string(), os(&keyfile))];
        let inv = Invocation { program: self.program.clone(), args, env };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError::new(format!("{}: {e}", inv.display())))?;
        let accepted = tokio::select! {
            a = listener.accept() => a.ok(),
            () = tool.stdout.read_to_end() => None,
        };
        let session = match accepted {
            None => never_connected(tool).await,
            Some((conn, _)) => {
                let _ = conn.set_nodelay(true);
                // The ping goes in at once; once its echo is back (gnutls-cli prints what it reads, never what it
                // sends), closing stdin makes gnutls-cli send close_notify and exit.
                let script = Script { first: Some(PING), trigger: PING, reply: None, persistent: false };
                drive(tool, io, conn, script).await
            }
        };
        collect_keys(&keyfile, keys);
        Ok(outcome(Role::Client, &session))
    }
}

/// The line the preload library prints once gnutls-serv listens: `tlsmatrix-listening PORT`.
const LISTENING: &str = "tlsmatrix-listening ";

/// What gnutls-serv's stderr says about its listening socket so far: `Some(Ok(port))` once it listens on loopback,
/// `Some(Err(..))` when it listened without the preload library (or gave up), `None` while undecided.
fn listening(stderr: &[u8]) -> Option<Result<u16, String>> {
    let text = String::from_utf8_lossy(stderr);
    let line = |l: &str| l.strip_prefix(LISTENING).and_then(|p| p.trim().parse::<u16>().ok());
    if let Some(port) = text.lines().find_map(line) {
        return Some(Ok(port));
    }
    // gnutls-serv ends each "listening on ..." line with "done" after listen(); without our line before it, the
    // preload library was not loaded and the socket is on the wildcard address.
    if text.contains("...done") || text.contains("cannot be preloaded") {
        return Some(Err(format!("gnutls-serv did not load the loopback preload library: {}", text.trim())));
    }
    None
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let keyfile = self.dir.path().join("keys.log");
        let _ = std::fs::remove_file(&keyfile);
        let env = vec![("SSLKEYLOGFILE".to_string(), os(&keyfile)), ("LD_PRELOAD".to_string(), os(&self.shim))];
        let inv = Invocation { program: self.program.clone(), args: self.args.clone(), env };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError::new(format!("{}: {e}", inv.display())))?;
        // The listening line, or the end of stderr: gnutls-serv refused its arguments or files and exited.
        let port = match tool.stderr.read_until(|b| listening(b).is_some()).await {
            true => listening(&tool.stderr.buf),
            false => None,
        };
        let session = match port {
            None => never_connected(tool).await,
            Some(Err(why)) => return Err(ConfigError::new(why)),
            Some(Ok(port)) => match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    // gnutls-serv echoes by itself and serves forever: it is ended once its connection is over
                    // (everything it prints is out by then: the preload library makes stdout line-buffered).
                    let script = Script { first: None, trigger: b"- Description: ", reply: None, persistent: true };
                    drive(tool, io, conn, script).await
                }
                Err(e) => return Err(ConfigError::new(format!("connecting to gnutls-serv on port {port}: {e}"))),
            },
        };
        collect_keys(&keyfile, keys);
        Ok(server_outcome(&session))
    }
}
