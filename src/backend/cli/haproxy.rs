//! `haproxy`: Debian's haproxy 2.6 as a TLS-terminating TCP proxy in front of the harness's echo.
//!
//! The other product teams put in front of their services, with defaults of its own that differ from nginx's and
//! from OpenSSL's: `ssl-min-ver TLSv1.2` (haproxy 2.2 raised it), TLS 1.3 enabled, and the *server's* suite order
//! (haproxy sets `SSL_OP_CIPHER_SERVER_PREFERENCE` unless told `prefer-client-ciphers`), so a client's own order
//! does not pick the suite. Each cell starts one haproxy (`-db`, one thread) with a config written from the
//! scenario's `server:` block as `bind` options, kept for the cell's connections (so `mode: resume` resumes against
//! the same process and its session cache).
//!
//! - The listening socket is the harness's, bound to 127.0.0.1:0 and handed over as `bind fd@N`: no port to guess.
//! - What haproxy saw comes from its log, sent to its stdout: a `log-format` line per completed session
//!   (`%[ssl_fc_protocol] %[ssl_fc_cipher] %[ssl_fc_alpn] %[ssl_fc_is_resumed]`) and an `error-log-format` line per
//!   failed handshake carrying OpenSSL's reason (`%[ssl_fc_err_str]`, haproxy 2.5+). The alert haproxy sent is read
//!   from its bytes where they show it, else from OpenSSL's reason through the table shared with native-tls.
//! - A client certificate is verified during the handshake by OpenSSL, haproxy's callback only adding the errors it
//!   is told to ignore (none here): a refused certificate is OpenSSL's alert, as for the openssl backend.
//! - An ALPN list sharing nothing with `alpn` gets no ALPN and the handshake goes on (haproxy's select callback
//!   answers `SSL_TLSEXT_ERR_NOACK`); it has no setting to refuse it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;

use super::product::{Process, Session, inheritable_listener, parse_cipher, parse_version};
use super::{TempDir, write_identity, write_trust};
use crate::backend::conn::Conn;
use crate::backend::openssl_errors::{self, Mapped};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, credential};
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{AlpnMismatch, ClientAuth, ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// What installs haproxy.
const INSTALL: &str = "apt-get install haproxy";

/// haproxy as a server backend.
pub struct HaproxyBackend {
    program: Option<PathBuf>,
    server: Capabilities,
    client: Capabilities,
}

impl HaproxyBackend {
    /// Looks for `haproxy` on PATH and in /usr/sbin (where Debian installs it); without it every cell is
    /// unsupported with the install command.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        let program = super::which("haproxy").or_else(|| {
            let p = PathBuf::from("/usr/sbin/haproxy");
            (p.is_file() && std::env::var_os("TLSMATRIX_NO_SBIN").is_none()).then_some(p)
        });
        let unavailable = program.is_none().then(|| format!("haproxy not found on PATH or in /usr/sbin: {INSTALL}"));
        let cipher_suites = CipherSuite::known()
            .filter(|s| s.is_tls13() || s.name().is_some_and(|n| ::openssl::ssl::cipher_name(n) != "(NONE)"))
            .collect();
        let groups = Group::known().filter(|g| !g.name().is_some_and(|n| n.contains("MLKEM"))).collect();
        let server = Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings: Settings::new()
                .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SecurityLevel, Alpn, AlpnMismatchIgnore])
                .supports([SignatureAlgorithms, ChainShape, ClientAuth, SessionTickets, Certificate, Trust, Resumption])
                .supports([ServerName, Sni])
                .lacks(
                    AlpnMismatchFatal,
                    "haproxy's ALPN select callback (ssl_sock_advertise_alpn_protos) answers a list it shares nothing \
                     with by SSL_TLSEXT_ERR_NOACK; it has no setting to refuse it",
                )
                .lacks(
                    SniCertificates,
                    "a certificate per name is a crt-list (or several crt) in haproxy; not written by this backend",
                )
                .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
                .not_applicable(Nginx, crate::backend::NOT_NGINX),
            cipher_suites,
            groups,
            exact_alerts: false,
            reports_parameters: true,
            unavailable,
        };
        let client = Capabilities {
            unavailable: Some("haproxy is a server here; its TLS client (`server ... ssl`) is not modelled".into()),
            ..server.clone()
        };
        HaproxyBackend { program, server, client }
    }
}

impl Default for HaproxyBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// haproxy's names for the versions (`ssl-min-ver`).
fn version_name(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::Tls10 => "TLSv1.0",
        ProtocolVersion::Tls11 => "TLSv1.1",
        ProtocolVersion::Tls12 => "TLSv1.2",
        ProtocolVersion::Tls13 => "TLSv1.3",
    }
}

impl Backend for HaproxyBackend {
    fn id(&self) -> BackendId {
        BackendId::Haproxy
    }

    fn plays(&self, role: Role) -> bool {
        role == Role::Server
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        match role {
            Role::Server => &self.server,
            Role::Client => &self.client,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset};
        let mut b = Behaviour::openssl_library(
            role,
            Preset::new(
                [ProtocolVersion::Tls12, ProtocolVersion::Tls13],
                "haproxy's default ssl-min-ver TLSv1.2 (since 2.2)",
            ),
        );
        b.ignores_alpn_mismatch = true;
        b
    }

    fn version(&self) -> String {
        // `HAProxy version 2.6.12-1+deb12u4 2026/10/17 - ...` and `Running on OpenSSL version : OpenSSL 3.0.19 ...`.
        let text = self.program.as_deref().and_then(|p| {
            let out = Command::new(p).arg("-vv").stdin(Stdio::null()).output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        });
        let Some(text) = text else { return "haproxy not found".into() };
        let version = text.lines().next().unwrap_or("").split(" - ").next().unwrap_or("").trim();
        let lib = text.lines().find_map(|l| l.strip_prefix("Running on OpenSSL version : ")).unwrap_or("OpenSSL");
        format!("{version} ({lib})")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.program.clone().ok_or_else(|| ConfigError::new(format!("haproxy not found: {INSTALL}")))?;
        let dir = TempDir::new("haproxy")?;
        let cred = credential(pki, &cfg.certificate.0)?;
        let id = write_identity(&dir, "server", cred, cfg.chain)?;
        // One PEM with the chain and the key: what `crt` reads (leaf first, then the chain in file order).
        let mut pem = std::fs::read(&id.bundle)?;
        pem.extend(std::fs::read(&id.key)?);
        let crt = dir.write("server.pem", &pem)?;
        let mut bind = format!("ssl crt {}", crt.display());
        bind.push_str(&options(cfg)?);
        match cfg.client_auth {
            ClientAuth::None => {}
            ClientAuth::Optional | ClientAuth::Required => {
                let mode = if cfg.client_auth == ClientAuth::Required { "required" } else { "optional" };
                let ca = write_trust(&dir, pki, &cfg.trust)?;
                bind.push_str(&format!(" verify {mode} ca-file {}", ca.display()));
            }
        }
        Ok(Box::new(Server { program, bind, dir, running: None }))
    }

    fn client(&self, _cfg: &ClientConfig, _pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Err(ConfigError::unsupported("haproxy is a server here; its TLS client is not modelled"))
    }
}

/// The scenario's server settings as `bind` options.
fn options(cfg: &ServerConfig) -> Result<String, ConfigError> {
    let mut o = String::new();
    if let Some(v) = &cfg.versions {
        if let (Some(min), Some(max)) = (v.iter().min(), v.iter().max()) {
            o.push_str(&format!(" ssl-min-ver {} ssl-max-ver {}", version_name(*min), version_name(*max)));
        }
    }
    let level = cfg.security_level.map(|l| format!(":@SECLEVEL={l}")).unwrap_or_default();
    match &cfg.cipher_suites {
        Some(s) => {
            let names: Vec<&str> =
                s.iter().filter_map(|s| s.name()).map(::openssl::ssl::cipher_name).filter(|n| *n != "(NONE)").collect();
            let list = if names.is_empty() { "NONE-SELECTED".to_string() } else { names.join(":") };
            o.push_str(&format!(" ciphers {list}{level}"));
        }
        None if !level.is_empty() => o.push_str(&format!(" ciphers DEFAULT{level}")),
        None => {}
    }
    if let Some(s) = &cfg.tls13_cipher_suites {
        let names: Vec<&str> = s.iter().filter_map(|s| s.name()).collect();
        o.push_str(&format!(" ciphersuites {}", names.join(":")));
    }
    if let Some(g) = &cfg.groups {
        let names: Vec<&str> = g.iter().filter_map(|g| g.openssl_name()).collect();
        o.push_str(&format!(" curves {}", names.join(":")));
    }
    if let Some(s) = &cfg.signature_algorithms {
        let names: Vec<&str> = s.iter().filter_map(|s| s.name()).collect();
        o.push_str(&format!(" sigalgs {}", names.join(":")));
    }
    if let Some(p) = &cfg.alpn {
        if p.iter().any(|p| p.is_empty() || p.contains([' ', ',', '"', '\'', '#', '\\'])) {
            return Err(ConfigError::unsupported(format!("ALPN names {p:?}: one is not a haproxy word")));
        }
        o.push_str(&format!(" alpn {}", p.join(",")));
    }
    if cfg.alpn_mismatch == Some(AlpnMismatch::Fatal) {
        return Err(ConfigError::unsupported("haproxy ignores an ALPN mismatch (see its capabilities)"));
    }
    if cfg.session_tickets == Some(false) {
        o.push_str(" no-tls-tickets");
    }
    Ok(o)
}

/// One haproxy, started at the cell's first connection and kept for its others.
struct Server {
    program: PathBuf,
    bind: String,
    dir: TempDir,
    running: Option<Running>,
}

struct Running {
    process: Process,
    port: u16,
    echo: TcpListener,
    /// What haproxy printed (its log and its own messages), line by line, as it comes.
    log: Arc<Mutex<Vec<String>>>,
    /// How many log lines earlier connections used.
    seen: usize,
}

/// The prefixes of the two log lines, so nothing else haproxy prints is taken for one.
const OK: &str = "tlsmatrix-ok";
const ERR: &str = "tlsmatrix-err";

impl Server {
    /// Starts haproxy unless it runs already.
    async fn start(&mut self) -> Result<(), ConfigError> {
        if self.running.is_some() {
            return Ok(());
        }
        let echo = TcpListener::bind("127.0.0.1:0").await?;
        let echo_port = echo.local_addr()?.port();
        let (listener, fd, port) = inheritable_listener()?;
        // `httpclient.ssl.verify none`: haproxy 2.6 readies its internal HTTP client (Lua and CLI only, unused by a
        // TCP frontend) at every start by loading the system CA bundle, some 35 of the ~45 ms of CPU a start costs
        // (`perf stat haproxy -c`); the frontend's own `verify`/`ca-file` are untouched by it.
        let conf = format!(
            "global\n  log stdout format raw local0 info\n  nbthread 1\n  httpclient.ssl.verify none\n\
             defaults\n  mode tcp\n  log global\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend tlsmatrix\n  bind fd@{fd} {bind}\n\
             \x20 log-format \"{OK} %[ssl_fc_protocol] %[ssl_fc_cipher] %[ssl_fc_alpn] %[ssl_fc_is_resumed]\"\n\
             \x20 error-log-format \"{ERR} %[ssl_fc_protocol] %[ssl_c_err] %[ssl_c_ca_err] | %[ssl_fc_err_str] | %[fc_err_str]\"\n\
             \x20 default_backend echo\n\
             backend echo\n  server echo 127.0.0.1:{echo_port}\n",
            bind = self.bind,
        );
        let conf_path = self.dir.write("haproxy.cfg", conf.as_bytes())?;
        let mut child = Command::new(&self.program)
            .arg("-db")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ConfigError::new(format!("starting {}: {e}", self.program.display())))?;
        // haproxy has its copy; connections wait in the socket's backlog until it accepts them.
        drop(listener);
        let log = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().ok_or_else(|| ConfigError::new("haproxy's stdout"))?),
            Box::new(child.stderr.take().ok_or_else(|| ConfigError::new("haproxy's stderr"))?),
        ];
        for stream in streams {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push(line);
                    }
                }
            });
        }
        self.running = Some(Running { process: Process(child), port, echo, log, seen: 0 });
        Ok(())
    }
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        let io = io.into_tcp()?;
        self.start().await?;
        let Some(running) = self.running.as_mut() else { return Err(ConfigError::new("haproxy did not start")) };
        let Running { process, port, echo, log, .. } = running;
        // haproxy checks its config as it starts and exits when it refuses it (a key its OpenSSL's security level
        // rejects, say): the session then waits in the socket's backlog for nobody, so the exit is watched too.
        let exited = async {
            loop {
                if let Ok(Some(status)) = process.0.try_wait() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        };
        let session = tokio::select! {
            s = Session::play(io, *port, echo, "haproxy") => s?,
            _ = exited => return Err(refused(log)),
        };
        // haproxy logs the session as it ends it: wait for the line, a little.
        let mut line = None;
        for _ in 0..100 {
            let lines = running.log.lock().map(|l| l.clone()).unwrap_or_default();
            let mine = lines.iter().filter(|l| l.starts_with(OK) || l.starts_with(ERR)).nth(running.seen);
            if let Some(l) = mine {
                line = Some(l.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        running.seen += 1;
        if line.is_none() && matches!(running.process.0.try_wait(), Ok(Some(_))) {
            return Err(refused(&running.log));
        }
        let Some(line) = line else {
            let printed = running.log.lock().map(|l| l.join("\n")).unwrap_or_default();
            return Err(ConfigError::new(format!("haproxy logged nothing for the session; it printed: {printed}")));
        };
        let mut seen = session.sent_alert(keys);
        // A reason that does not say which alert (`certificate verify failed`) is settled by the bytes; in TLS 1.3
        // they are encrypted, and an external client's keys may reach the key log after the session ended here.
        let ambiguous = |line: &str| outcome(line, None).is_err();
        for _ in 0..100 {
            if seen.is_some() || !line.starts_with(ERR) || !ambiguous(&line) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            seen = session.sent_alert(keys);
        }
        Ok(session.judged(outcome(&line, seen)?))
    }
}

/// haproxy exited as it started: the config is one it refuses (a certificate its OpenSSL's security level rejects
/// as it loads it, before the `ciphers` option's `@SECLEVEL` applies). The cell is `unsupported` with haproxy's own
/// words, without its pid and temporary paths.
fn refused(log: &Mutex<Vec<String>>) -> ConfigError {
    let printed = log.lock().map(|l| l.clone()).unwrap_or_default();
    let alert = printed.iter().find(|l| l.starts_with("[ALERT]")).map(|l| {
        let what = l.rsplit(" : ").next().unwrap_or(l);
        // A quoted path becomes its file name.
        what.split('\'')
            .enumerate()
            .map(|(i, p)| if i % 2 == 1 { p.rsplit('/').next().unwrap_or(p) } else { p })
            .collect::<Vec<_>>()
            .join("'")
    });
    ConfigError::unsupported(format!(
        "haproxy does not start with this config: {}",
        alert.unwrap_or_else(|| printed.join("; "))
    ))
}

/// The session as haproxy logged it, with the fatal alert the bytes show haproxy sent, if they show one.
fn outcome(line: &str, seen: Option<Alert>) -> Result<SideOutcome, ConfigError> {
    if let Some(rest) = line.strip_prefix(OK) {
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let [proto, cipher, alpn, resumed] = fields[..] else {
            return Err(ConfigError::new(format!("unexpected haproxy log line: {line}")));
        };
        return Ok(SideOutcome::Established(Established {
            version: parse_version(proto),
            cipher: parse_cipher(cipher),
            group: None,
            alpn: (alpn != "-" && !alpn.is_empty()).then(|| alpn.to_string()),
            resumed: Some(resumed == "1"),
        }));
    }
    let Some(rest) = line.strip_prefix(ERR) else {
        return Err(ConfigError::new(format!("unexpected haproxy log line: {line}")));
    };
    let parts: Vec<&str> = rest.split(" | ").map(str::trim).collect();
    let [head, ssl, conn] = parts[..] else {
        return Err(ConfigError::new(format!("unexpected haproxy log line: {line}")));
    };
    let head: Vec<&str> = head.split_whitespace().collect();
    let tls13 = head.first() == Some(&"TLSv1.3");
    // The X509 verify error of the client's certificate (`ssl_c_err`) or of its chain (`ssl_c_ca_err`), in
    // OpenSSL's words: the alert OpenSSL sends for it (ssl_x509err2alert).
    let verify = head
        .iter()
        .skip(1)
        .filter_map(|c| c.parse::<i32>().ok())
        .find(|c| *c != 0)
        .map(crate::ffi::verify_error_string);
    if ssl == "-" || ssl.is_empty() {
        // No OpenSSL error: the connection ended before or without one ("Connection closed during SSL handshake").
        return Ok(SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: seen,
            received_alert: None,
            error: ErrorClass::Eof,
            message: format!("haproxy: {conn}"),
        }));
    }
    let mut d = openssl_errors::from_text(ssl);
    if ssl.contains("certificate verify failed") {
        if let Some(a) = verify.as_deref().and_then(|v| openssl_errors::VERIFY_ALERTS.iter().find(|(t, _)| *t == v)) {
            d.sent_alert = Mapped::Known(Some(a.1));
        }
    }
    if ssl.contains("peer did not return a certificate") {
        // statem_srvr.c tls_process_client_certificate: certificate_required in TLS 1.3, handshake_failure before.
        d.sent_alert = Mapped::Known(Some(if tls13 { Alert::CERTIFICATE_REQUIRED } else { Alert::HANDSHAKE_FAILURE }));
    }
    let sent_alert = match (d.sent_alert, seen) {
        (_, Some(a)) => Some(a),
        (Mapped::Known(a), None) => a,
        (Mapped::Unmapped(why), None) => return Err(ConfigError::new(format!("unmapped: {why} (haproxy: {line})"))),
    };
    Ok(SideOutcome::Failed(Failure {
        phase: Phase::Handshake,
        sent_alert: sent_alert.filter(|_| d.received_alert.is_none() || seen.is_some()),
        received_alert: d.received_alert,
        error: d.class,
        message: format!("haproxy: {conn}: {ssl}"),
    }))
}

#[cfg(test)]
mod tests {
    //! haproxy 2.6.12's own log lines (as it printed them in this project's runs) read into outcomes.

    use super::*;

    #[test]
    fn a_completed_session_gives_what_haproxy_negotiated() {
        let o = outcome("tlsmatrix-ok TLSv1.2 ECDHE-ECDSA-AES128-SHA - 0", None).unwrap();
        let SideOutcome::Established(e) = o else { panic!("{o:?}") };
        assert_eq!(e.version, Some(ProtocolVersion::Tls12));
        assert_eq!(e.cipher.map(|c| c.to_string()).as_deref(), Some("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"));
        assert_eq!((e.alpn, e.resumed), (None, Some(false)));
        let o = outcome("tlsmatrix-ok TLSv1.3 TLS_AES_256_GCM_SHA384 h2 1", None).unwrap();
        let SideOutcome::Established(e) = o else { panic!("{o:?}") };
        assert_eq!((e.alpn.as_deref(), e.resumed), (Some("h2"), Some(true)));
    }

    #[test]
    fn a_failed_handshake_gives_openssls_reason_as_alerts() {
        let line = "tlsmatrix-err TLSv1.2 0 0 | error:0A0000C1:SSL routines::no shared cipher | SSL handshake failure";
        let SideOutcome::Failed(f) = outcome(line, None).unwrap() else { panic!() };
        assert_eq!(f.sent_alert, Some(Alert::HANDSHAKE_FAILURE));
        let line =
            "tlsmatrix-err TLSv1.3 0 0 | error:0A000418:SSL routines::tlsv1 alert unknown ca | SSL handshake failure";
        let SideOutcome::Failed(f) = outcome(line, None).unwrap() else { panic!() };
        assert_eq!((f.sent_alert, f.received_alert), (None, Some(Alert::UNKNOWN_CA)));
        // The bytes win over the reason.
        let line =
            "tlsmatrix-err TLSv1.1 0 0 | error:0A000102:SSL routines::unsupported protocol | SSL handshake failure";
        let SideOutcome::Failed(f) = outcome(line, Some(Alert::PROTOCOL_VERSION)).unwrap() else { panic!() };
        assert_eq!(f.sent_alert, Some(Alert::PROTOCOL_VERSION));
        let line = "tlsmatrix-err - - - | - | Connection closed during SSL handshake";
        let SideOutcome::Failed(f) = outcome(line, None).unwrap() else { panic!() };
        assert_eq!((f.sent_alert, f.error), (None, ErrorClass::Eof));
        assert!(outcome("something else", None).is_err());
        // A refused client certificate: the verify error (10, expired; 20, no local issuer) gives OpenSSL's alert.
        let refused = |codes: &str| {
            let line = format!(
                "tlsmatrix-err TLSv1.3 {codes} | error:0A000086:SSL routines::certificate verify failed | SSL client \
                 certificate not trusted"
            );
            let SideOutcome::Failed(f) = outcome(&line, None).unwrap() else { panic!() };
            f.sent_alert
        };
        assert_eq!(refused("10 0"), Some(Alert::CERTIFICATE_EXPIRED));
        assert_eq!(refused("0 20"), Some(Alert::UNKNOWN_CA));
        let line = "tlsmatrix-err TLSv1.3 0 0 | error:0A0000C7:SSL routines::peer did not return a certificate | SSL \
                    handshake failure";
        let SideOutcome::Failed(f) = outcome(line, None).unwrap() else { panic!() };
        assert_eq!(f.sent_alert, Some(Alert::CERTIFICATE_REQUIRED));
    }
}
