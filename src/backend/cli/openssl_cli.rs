//! `openssl-cli`: OpenSSL's own `s_server` and `s_client`, one process per connection.
//!
//! The same library as the `openssl` backend, but configured the way a user on the command line does it, with the
//! apps' own defaults (s_server sets temporary DH parameters, answers an ALPN mismatch by ignoring it, ...). Alerts are
//! exact: `-msg -msgfile` logs every alert sent (`>>>`) and received (`<<<`), decrypted, like the in-process
//! backend's message callback.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream};

use super::hello;
use super::process::{Invocation, Script, Session, Tool, contains, drive, never_connected};
use super::{TempDir, collect_keys, first_line, os, which, write_identity, write_trust};
use crate::backend::conn::Conn;
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, PING, client_host, credential};
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{ClientAuth, ClientConfig, ServerConfig, SideConfig};
use crate::settings::Settings;
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// The `openssl` command-line tool as a backend.
pub struct OpensslCliBackend {
    program: Option<PathBuf>,
    caps: Capabilities,
}

impl OpensslCliBackend {
    /// Looks for `openssl` on PATH; without it every cell is unsupported with the hint to install it.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        let program = which("openssl");
        let cipher_suites = CipherSuite::known()
            .filter(|s| s.is_tls13() || s.name().is_some_and(|n| ::openssl::ssl::cipher_name(n) != "(NONE)"))
            .collect();
        let groups = Group::known().filter(|g| !g.name().is_some_and(|n| n.contains("MLKEM"))).collect();
        let caps = Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings: Settings::new()
                .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SecurityLevel, Alpn])
                .supports([SignatureAlgorithms, ChainShape, ClientAuth, SessionTickets, Certificate, Trust])
                .supports([ServerName, Sni, AlpnMismatchFatal])
                .lacks(
                    AlpnMismatchIgnore,
                    "s_server's ALPN callback refuses a client list with nothing in common (no_application_protocol); \
                     it has no option to ignore the mismatch",
                )
                .lacks(
                    Resumption,
                    "each connection is a new s_client/s_server process: the server's session cache and ticket \
                     keys die with it (not implemented with -sess_out/-sess_in)",
                )
                .lacks(SniCertificates, "s_server serves at most one extra name (-servername/-cert2); not implemented")
                .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
                .not_applicable(Nginx, crate::backend::NOT_NGINX),
            cipher_suites,
            groups,
            exact_alerts: true,
            reports_parameters: true,
            unavailable: program.is_none().then(|| "openssl not found on PATH: apt-get install openssl".to_string()),
        };
        OpensslCliBackend { program, caps }
    }
}

impl Default for OpensslCliBackend {
    fn default() -> Self {
        Self::new()
    }
}

fn proto(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::Tls10 => "TLSv1",
        ProtocolVersion::Tls11 => "TLSv1.1",
        ProtocolVersion::Tls12 => "TLSv1.2",
        ProtocolVersion::Tls13 => "TLSv1.3",
    }
}

/// The arguments both tools share: versions, suites, security level, groups, signature algorithms, ALPN.
fn common_args<C: SideConfig>(cfg: &C) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    if let Some(v) = cfg.versions() {
        if let (Some(lo), Some(hi)) = (v.first(), v.last()) {
            a.extend([os("-min_protocol"), os(proto(*lo)), os("-max_protocol"), os(proto(*hi))]);
        }
    }
    let mut list = match cfg.cipher_suites() {
        Some(s) => s.iter().filter_map(|s| s.name()).map(::openssl::ssl::cipher_name).collect::<Vec<_>>().join(":"),
        None if cfg.security_level().is_some() => "DEFAULT".to_string(),
        None => String::new(),
    };
    if let Some(level) = cfg.security_level() {
        list.push_str(&format!(":@SECLEVEL={level}"));
    }
    if !list.is_empty() {
        a.extend([os("-cipher"), os(list)]);
    }
    if let Some(s) = cfg.tls13_cipher_suites() {
        a.extend([os("-ciphersuites"), os(s.iter().filter_map(|s| s.name()).collect::<Vec<_>>().join(":"))]);
    }
    if let Some(g) = cfg.groups() {
        a.extend([os("-groups"), os(g.iter().filter_map(|g| g.openssl_name()).collect::<Vec<_>>().join(":"))]);
    }
    if let Some(s) = cfg.signature_algorithms() {
        a.extend([os("-sigalgs"), os(s.iter().filter_map(|s| s.name()).collect::<Vec<_>>().join(":"))]);
    }
    if let Some(p) = cfg.alpn() {
        a.extend([os("-alpn"), os(p.join(","))]);
    }
    a
}

/// Files every run writes: the message log and the key log.
fn log_args(dir: &TempDir) -> (Vec<OsString>, PathBuf, PathBuf) {
    let msg = dir.path().join("msg.log");
    let keys = dir.path().join("keys.log");
    let a = vec![os("-msg"), os("-msgfile"), os(&msg), os("-keylogfile"), os(&keys)];
    (a, msg, keys)
}

struct Server {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
}

struct Client {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
}

impl Backend for OpensslCliBackend {
    fn id(&self) -> BackendId {
        BackendId::OpensslCli
    }

    fn capabilities(&self, _role: Role) -> &Capabilities {
        &self.caps
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset};
        // OpenSSL 3.0's s_server answers no ALPN overlap with no_application_protocol (catalog: alpn::no_overlap),
        // and calls SSL_CTX_set_dh_auto unless given -dhparam (catalog: cipher_suites::dhe_only_server): OpenSSL's
        // own behaviour, no quirk of the tool's.
        Behaviour::openssl_library(role, Preset::new(ProtocolVersion::ALL, "openssl s_server/s_client's default"))
    }

    fn version(&self) -> String {
        let v = self.program.as_deref().and_then(|p| first_line(p, &["version"]));
        format!("{} (openssl s_server/s_client)", v.unwrap_or_else(|| "openssl not found".into()))
    }

    fn expressible(&self, role: Role, scenario: &crate::scenario::Scenario) -> Result<(), String> {
        let alpn = match role {
            Role::Server => scenario.server.alpn.as_deref(),
            Role::Client => scenario.client.alpn.as_deref(),
        };
        match alpn.into_iter().flatten().find(|p| p.contains(',')) {
            Some(p) => Err(format!(
                "s_server/s_client take ALPN as one comma-separated -alpn list, so the protocol name {p:?} (with a \
                 comma) cannot be passed: it would be split into two"
            )),
            None => Ok(()),
        }
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.program.clone().ok_or_else(|| ConfigError::new("openssl not found on PATH"))?;
        let dir = TempDir::new("openssl-cli-server")?;
        let id = write_identity(&dir, "server", credential(pki, &cfg.certificate.0)?, cfg.chain)?;
        let mut args = vec![os("s_server"), os("-accept"), os("127.0.0.1:0"), os("-naccept"), os("1")];
        args.extend([os("-cert"), os(&id.leaf), os("-key"), os(&id.key)]);
        if let Some(chain) = &id.chain {
            args.extend([os("-cert_chain"), os(chain)]);
        }
        args.extend(common_args(cfg));
        match cfg.client_auth {
            ClientAuth::None => {}
            ClientAuth::Optional => args.extend([os("-verify"), os("1")]),
            ClientAuth::Required => args.extend([os("-Verify"), os("1")]),
        }
        // Without a CA file s_server would load the default paths; the scenario's trust is all it may use.
        args.extend([os("-CAfile"), os(write_trust(&dir, pki, &cfg.trust)?), os("-verify_return_error")]);
        if cfg.session_tickets == Some(false) {
            args.push(os("-no_ticket"));
        }
        Ok(Box::new(Server { program, args, dir }))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.program.clone().ok_or_else(|| ConfigError::new("openssl not found on PATH"))?;
        let dir = TempDir::new("openssl-cli-client")?;
        let mut args = vec![os("-CAfile"), os(write_trust(&dir, pki, &cfg.trust)?), os("-verify_return_error")];
        let host = client_host(cfg);
        match host.parse::<IpAddr>() {
            Ok(_) => args.extend([os("-verify_ip"), os(host), os("-noservername")]),
            Err(_) if cfg.sni == Some(false) => args.extend([os("-verify_hostname"), os(host), os("-noservername")]),
            Err(_) => args.extend([os("-verify_hostname"), os(host), os("-servername"), os(host)]),
        }
        if let Some(name) = &cfg.certificate {
            let id = write_identity(&dir, "client", credential(pki, &name.0)?, Default::default())?;
            args.extend([os("-cert"), os(&id.leaf), os("-key"), os(&id.key)]);
            if let Some(chain) = &id.chain {
                args.extend([os("-cert_chain"), os(chain)]);
            }
        }
        args.extend(common_args(cfg));
        Ok(Box::new(Client { program, args, dir }))
    }
}

/// The `ACCEPT 127.0.0.1:PORT` line s_server prints once it listens.
fn accept_port(out: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().find(|l| l.starts_with("ACCEPT "))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let (mut args, msg, keyfile) = log_args(&self.dir);
        args.splice(0..0, self.args.iter().cloned());
        let inv = Invocation { program: self.program.clone(), args, env: Vec::new() };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError::new(format!("{}: {e}", inv.display())))?;
        // The ACCEPT line also ends a run whose arguments s_server refused (it exits: end of stdout).
        let port = match tool.stdout.read_until(|b| accept_port(b).is_some()).await {
            true => accept_port(&tool.stdout.buf),
            false => None,
        };
        let session = match port {
            None => never_connected(tool).await,
            Some(port) => match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    // s_server prints what it reads to stdout; the ping goes back through its stdin (the exchange
                    // is an echo). It quits at the end of its stdin, so stdin stays open until the connection is over.
                    let script = Script { first: None, trigger: PING, reply: Some(PING), persistent: false };
                    drive(tool, io, conn, script).await
                }
                Err(e) => return Err(ConfigError::new(format!("connecting to s_server on port {port}: {e}"))),
            },
        };
        collect_keys(&keyfile, keys);
        Ok(outcome(Role::Server, &session, &std::fs::read_to_string(&msg).unwrap_or_default()))
    }
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (logs, msg, keyfile) = log_args(&self.dir);
        let mut args = vec![os("s_client"), os("-connect"), os(format!("127.0.0.1:{port}"))];
        args.extend(self.args.iter().cloned());
        args.extend(logs);
        let inv = Invocation { program: self.program.clone(), args, env: Vec::new() };
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
                // The ping goes in at once (s_client sends it after its handshake); closing stdin once its echo is
                // back makes s_client send close_notify and exit. s_client prints what it reads, never what it sends.
                let script = Script { first: Some(PING), trigger: PING, reply: None, persistent: false };
                drive(tool, io, conn, script).await
            }
        };
        collect_keys(&keyfile, keys);
        Ok(outcome(Role::Client, &session, &std::fs::read_to_string(&msg).unwrap_or_default()))
    }
}

/// The alerts in an `-msg` log: `(sent, level, description)` for each, in order. Each alert line is followed by its
/// two bytes in hex: `>>> TLS 1.3, Alert [length 0002], fatal unknown_ca` / `    02 30`.
pub(crate) fn msg_alerts(log: &str) -> Vec<(bool, u8, Alert)> {
    let mut out = Vec::new();
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        let sent = match line.get(..4) {
            Some(">>> ") => true,
            Some("<<< ") => false,
            _ => continue,
        };
        if !line.contains(", Alert [") {
            continue;
        }
        let bytes: Vec<u8> =
            lines.next().unwrap_or("").split_whitespace().filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
        if let [level, desc] = bytes[..] {
            out.push((sent, level, Alert(desc)));
        }
    }
    out
}

/// The tool's own error lines: OpenSSL's error stack and the apps' verify errors, verbatim.
fn error_lines(s: &Session) -> String {
    let lines: Vec<&str> = s
        .stdout
        .lines()
        .chain(s.stderr.lines())
        .map(str::trim)
        .filter(|l| {
            l.contains(":error:")
                || l.starts_with("verify error:")
                || l.starts_with("connect:errno")
                || l.contains(":errno=")
        })
        .collect();
    lines.join("; ")
}

/// What one run observed, from the message log (alerts, exact), the tapped handshake (parameters) and the output.
fn outcome(role: Role, s: &Session, msg: &str) -> SideOutcome {
    let alerts = msg_alerts(msg);
    let fatal = |sent: bool| alerts.iter().find(|(s, level, a)| *s == sent && *level == 2 && *a != Alert(0));
    let (sent, received) = (fatal(true).map(|a| a.2), fatal(false).map(|a| a.2));
    let close_notify_in = alerts.iter().any(|(s, _, a)| !*s && *a == Alert::CLOSE_NOTIFY);
    // Both apps print the negotiated cipher once the handshake is done ("New, TLSv1.3, Cipher is ..." / "CIPHER is").
    let handshake_done = s.stdout.to_ascii_lowercase().contains("cipher is ");
    let exchanged = match role {
        Role::Client => contains(s.stdout.as_bytes(), PING),
        Role::Server => s.triggered,
    };
    let clean_exit = s.status.is_some_and(|st| st.success());
    // The client's exchange ends when it has sent its close_notify; s_client exits without reading the server's.
    let closed = role == Role::Client || close_notify_in;
    if s.connected && exchanged && sent.is_none() && received.is_none() && clean_exit && closed {
        let h = hello::parse(s.server_bytes(role));
        return SideOutcome::Established(Established {
            version: h.version,
            cipher: h.cipher,
            group: h.group,
            alpn: hello::alpn(&server_messages(role, msg)).or_else(|| alpn(&s.stdout)),
            resumed: None,
        });
    }
    let text = error_lines(s);
    // The stream ended mid-handshake: ssl3_read_n sees the end of the socket (BIO_eof) and fails with
    // SSLfatal(SSL_AD_DECODE_ERROR, SSL_R_UNEXPECTED_EOF_WHILE_READING), so the tools send decode_error (the -msg log
    // and the relay's bytes agree: wire::close_after_client_hello, wire::truncated_record). That is still the peer's
    // end of stream, not a local failure. (The in-process backends read through a BIO without an end-of-file state,
    // so OpenSSL sends nothing there.)
    let eof = text.contains("unexpected eof");
    let error = if received.is_some() {
        ErrorClass::PeerAlert
    } else if eof {
        ErrorClass::Eof
    } else if sent.is_some() {
        ErrorClass::Local
    } else if !s.connected || text.is_empty() {
        ErrorClass::Eof
    } else if text.contains("errno=104") || text.contains("Connection reset") {
        ErrorClass::Io
    } else {
        ErrorClass::Local
    };
    let message = match (text.is_empty(), s.connected) {
        (false, _) => text,
        (true, false) => format!("{role} tool never connected: {}", s.stderr.trim()),
        (true, true) => format!(
            "the connection ended without an error line (exit {:?}, exchange {})",
            s.status.and_then(|st| st.code()),
            if exchanged { "done" } else { "not done" }
        ),
    };
    let phase = if handshake_done { Phase::Data } else { Phase::Handshake };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error, message })
}

/// The server's handshake messages as the `-msg` log shows them (decrypted), back to back: each `Handshake` line is
/// followed by the message's bytes in hex, header included.
fn server_messages(role: Role, log: &str) -> Vec<u8> {
    let from_server = if role == Role::Server { ">>> " } else { "<<< " };
    let mut out = Vec::new();
    let mut taking = false;
    for line in log.lines() {
        if let Some(hex) = line.strip_prefix("    ") {
            if taking {
                out.extend(hex.split_whitespace().filter_map(|h| u8::from_str_radix(h, 16).ok()));
            }
        } else {
            taking = line.starts_with(from_server) && line.contains(", Handshake [");
        }
    }
    out
}

/// The agreed protocol, as both apps print it (`ALPN protocol: h2`).
fn alpn(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| l.strip_prefix("ALPN protocol: ")).map(|p| p.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-alpn a,b` is a list of two: a protocol name with a comma would silently test another configuration.
    #[test]
    fn an_alpn_name_with_a_comma_is_unsupported_not_split() {
        let text = "description: d\nserver:\n  certificate: server-ec\n  alpn: [\"a,b\"]\nclient:\n  trust: [root-a]\n  \
                    alpn: [h2]\nexpect:\n  result: success\n";
        let fixtures = ["server-ec", "root-a"].into_iter().map(String::from).collect();
        let s =
            crate::scenario::Scenario::parse("t::x".into(), std::path::Path::new("t.yaml"), text, &fixtures).unwrap();
        let b = OpensslCliBackend::new();
        let why = b.expressible(Role::Server, &s).unwrap_err();
        assert!(why.contains("\"a,b\"") && why.contains("comma"), "{why}");
        assert_eq!(b.expressible(Role::Client, &s), Ok(()));
    }

    #[test]
    fn msg_log_alerts_are_read_from_their_bytes() {
        let log = "<<< TLS 1.2, RecordHeader [length 0005]\n    15 03 03 00 02\n\
                   >>> TLS 1.3, Alert [length 0002], fatal unknown_ca\n    02 30\n\
                   <<< TLS 1.3, Alert [length 0002], warning close_notify\n    01 00\n";
        assert_eq!(msg_alerts(log), vec![(true, 2, Alert::UNKNOWN_CA), (false, 1, Alert::CLOSE_NOTIFY)]);
    }

    #[test]
    fn accept_line_gives_the_port() {
        assert_eq!(accept_port(b"Using default temp DH parameters\nACCEPT 127.0.0.1:45535\n"), Some(45535));
        assert_eq!(accept_port(b"ACCEPT"), None);
    }
}
