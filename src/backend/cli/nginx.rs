//! `nginx`: Debian's nginx as a TLS-terminating server, its `stream` module proxying to the harness's echo.
//!
//! Users do not run `SSL_CTX`s, they run servers: the question "which clients break when I change `ssl_protocols`"
//! is about nginx's own defaults and directives (nginx 1.22 still enables TLS 1.0-1.2 only, no TLS 1.3, unless
//! told). Each cell starts one nginx (master and one worker) with a config written from the scenario's `server:`
//! block in nginx's directives, kept for the cell's connections (so `mode: resume` resumes against the same
//! process), and a TCP echo of the harness's behind `proxy_pass`, which plays the exchange in plaintext.
//!
//! - The listening socket is the harness's: bound to 127.0.0.1:0 here and handed to nginx as an inherited socket
//!   (the `NGINX` environment variable of nginx's binary upgrade), so there is no port to guess and no race for it.
//!   With `master_process off` nginx 1.22.1 crashes (SIGSEGV) on an inherited socket, so the master runs.
//! - What nginx saw comes from its logs: the access log line of each session (`$ssl_protocol $ssl_cipher
//!   $ssl_alpn_protocol $ssl_session_reused $status`) and the error log at `info`, where each failed handshake is
//!   `SSL_do_handshake() failed (SSL: error:...)`. OpenSSL's reason gives the alert sent (the table shared with
//!   native-tls, checked against the wire by every cell with an exact peer); `SSL alert number N` the alert
//!   received. `$ssl_curve` is not logged: nginx 1.22.1's worker crashes (SIGSEGV) evaluating it for a session whose
//!   handshake failed; the group is read from the wire instead.
//! - nginx verifies a client certificate after the handshake, in its own code (its verify callback accepts every
//!   chain, then the stream module checks `SSL_get_verify_result` and closes the session): a refused client
//!   certificate is no alert at all, and the log says `client SSL certificate verify error` or `client sent no
//!   required SSL certificate`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;

use super::product::{Process, Session, inheritable_listener, openssl_version_name, parse_cipher, parse_version};
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

/// Where Debian's `libnginx-mod-stream` puts the stream module.
const STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// What installs nginx with its stream module.
const INSTALL: &str = "apt-get install nginx libnginx-mod-stream";
/// nginx 1.22's `ssl_ciphers` default.
const DEFAULT_CIPHERS: &str = crate::scenario::import::NGINX_CIPHERS;

/// nginx as a server backend.
pub struct NginxBackend {
    program: Option<PathBuf>,
    /// `load_module` line when the stream module is a dynamic one (Debian), empty when built in.
    load_module: String,
    server: Capabilities,
    client: Capabilities,
}

impl NginxBackend {
    /// Looks for `nginx` on PATH and in /usr/sbin (where Debian installs it, often off a user's PATH), and for its
    /// stream module; without them every cell is unsupported with the install command.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        let program = super::which("nginx").or_else(|| {
            let p = PathBuf::from("/usr/sbin/nginx");
            (p.is_file() && std::env::var_os("TLSMATRIX_NO_SBIN").is_none()).then_some(p)
        });
        let built = program.as_deref().and_then(configure_args).unwrap_or_default();
        let (load_module, stream) = if built.contains("--with-stream ") || built.ends_with("--with-stream") {
            (String::new(), true)
        } else if Path::new(STREAM_MODULE).is_file() {
            (format!("load_module {STREAM_MODULE};\n"), true)
        } else {
            (String::new(), false)
        };
        let unavailable = match (&program, stream) {
            (None, _) => Some(format!("nginx not found on PATH or in /usr/sbin: {INSTALL}")),
            (Some(_), false) => Some(format!("nginx has no stream module ({STREAM_MODULE} missing): {INSTALL}")),
            _ => None,
        };
        let cipher_suites = CipherSuite::known()
            .filter(|s| s.is_tls13() || s.name().is_some_and(|n| ::openssl::ssl::cipher_name(n) != "(NONE)"))
            .collect();
        let groups = Group::known().filter(|g| !g.name().is_some_and(|n| n.contains("MLKEM"))).collect();
        let server = Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings: Settings::new()
                .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SecurityLevel, Alpn, AlpnMismatchFatal])
                .supports([SignatureAlgorithms, ChainShape, ClientAuth, SessionTickets, Certificate, Trust, Resumption])
                .supports([ServerName, Sni, Nginx])
                .lacks(
                    AlpnMismatchIgnore,
                    "nginx's stream ALPN callback (ngx_stream_ssl_alpn_select) answers no protocol in common with \
                     SSL_TLSEXT_ERR_ALERT_FATAL; it has no setting to go on without ALPN",
                )
                .lacks(
                    SniCertificates,
                    "a certificate per name is one server block per server_name in nginx; not written by this backend",
                )
                .not_applicable(JavaSecurity, crate::backend::NOT_JAVA),
            cipher_suites,
            groups,
            exact_alerts: false,
            reports_parameters: true,
            unavailable: unavailable.clone(),
        };
        let client = Capabilities {
            unavailable: Some(
                "nginx is a server here; its TLS client (proxy_ssl to an upstream) is not modelled".to_string(),
            ),
            ..server.clone()
        };
        NginxBackend { program, load_module, server, client }
    }
}

impl Default for NginxBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// `nginx -V`'s configure arguments (on stderr).
fn configure_args(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("-V").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.lines().find(|l| l.starts_with("configure arguments:")).map(str::to_string)
}

impl Backend for NginxBackend {
    fn id(&self) -> BackendId {
        BackendId::Nginx
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
        use ProtocolVersion::{Tls10, Tls11, Tls12};
        let mut b = Behaviour::openssl_library(
            role,
            Preset::new([Tls10, Tls11, Tls12], "nginx 1.22's default ssl_protocols (TLSv1 TLSv1.1 TLSv1.2)"),
        );
        if let Ok(e) = crate::backend::expand_cipher_strings(Some(DEFAULT_CIPHERS), None) {
            b.tls12_suites = Some(Preset::new(e.tls12, "nginx's default ssl_ciphers (HIGH:!aNULL:!MD5)"));
        }
        b
    }

    fn version(&self) -> String {
        // `nginx version: nginx/1.22.1` and `built with OpenSSL 3.0.22 ... (running with OpenSSL 3.0.19 ...)`.
        let text = self.program.as_deref().and_then(|p| {
            let out = Command::new(p).arg("-V").stdin(Stdio::null()).output().ok()?;
            Some(String::from_utf8_lossy(&out.stderr).into_owned())
        });
        let Some(text) = text else { return "nginx not found".into() };
        let version = text.lines().next().unwrap_or("").trim_start_matches("nginx version: ").trim();
        let lib = text.lines().find_map(|l| l.split_once("running with ")).map(|(_, r)| r.trim_end_matches(')'));
        let lib = lib.or_else(|| text.lines().find_map(|l| l.strip_prefix("built with "))).unwrap_or("OpenSSL");
        format!("{version} (stream module, {lib})")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.program.clone().ok_or_else(|| ConfigError::new(format!("nginx not found: {INSTALL}")))?;
        let dir = TempDir::new("nginx")?;
        let id = write_identity(&dir, "server", credential(pki, &cfg.certificate.0)?, cfg.chain)?;
        let mut d = String::new();
        let _ = writeln!(d, "ssl_certificate {};", id.bundle.display());
        let _ = writeln!(d, "ssl_certificate_key {};", id.key.display());
        d.push_str(&directives(cfg)?);
        match cfg.client_auth {
            ClientAuth::None => {}
            ClientAuth::Optional | ClientAuth::Required => {
                let mode = if cfg.client_auth == ClientAuth::Required { "on" } else { "optional" };
                let _ = writeln!(d, "ssl_verify_client {mode};");
                let _ = writeln!(d, "ssl_client_certificate {};", write_trust(&dir, pki, &cfg.trust)?.display());
                let _ = writeln!(d, "ssl_verify_depth 10;");
            }
        }
        Ok(Box::new(Server { program, load_module: self.load_module.clone(), directives: d, dir, running: None }))
    }

    fn client(&self, _cfg: &ClientConfig, _pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Err(ConfigError::unsupported("nginx is a server here; its TLS client is not modelled"))
    }
}

/// The scenario's server settings as nginx directives (the stream module's `ssl_*`, OpenSSL's own words through
/// `ssl_conf_command` where nginx has no directive of its own), then the block's `nginx:` lines as written.
///
/// A setting the verbatim lines give was imported from them into the block when the scenario was loaded; its
/// translation is left out here (nginx refuses most directives twice), so nginx runs the user's words.
fn directives(cfg: &ServerConfig) -> Result<String, ConfigError> {
    let verbatim = cfg.nginx.as_deref().map(crate::scenario::import::directives).unwrap_or_default();
    let given: Vec<String> = verbatim.iter().map(|d| directive_key(d)).collect();
    let mut d = String::new();
    let mut put = |line: String| {
        if !given.contains(&directive_key(&line)) {
            d.push_str(&line);
            d.push_str(";\n");
        }
    };
    if let Some(v) = &cfg.versions {
        let list: Vec<&str> = v.iter().map(|v| openssl_version_name(*v)).collect();
        put(format!("ssl_protocols {}", list.join(" ")));
    }
    let mut ciphers = match &cfg.cipher_suites {
        Some(s) => {
            let names: Vec<&str> =
                s.iter().filter_map(|s| s.name()).map(::openssl::ssl::cipher_name).filter(|n| *n != "(NONE)").collect();
            // An empty TLS 1.2 list: nothing for TLS 1.2 (OpenSSL refuses an empty string, so a name it knows none of).
            if names.is_empty() { "NONE-SELECTED".to_string() } else { names.join(":") }
        }
        None => DEFAULT_CIPHERS.to_string(),
    };
    if let Some(level) = cfg.security_level {
        let _ = write!(ciphers, ":@SECLEVEL={level}");
    }
    if cfg.cipher_suites.is_some() || cfg.security_level.is_some() {
        put(format!("ssl_ciphers {ciphers}"));
    }
    if let Some(s) = &cfg.tls13_cipher_suites {
        let names: Vec<&str> = s.iter().filter_map(|s| s.name()).collect();
        put(format!("ssl_conf_command Ciphersuites \"{}\"", names.join(":")));
    }
    if let Some(g) = &cfg.groups {
        let names: Vec<&str> = g.iter().filter_map(|g| g.openssl_name()).collect();
        put(format!("ssl_ecdh_curve {}", names.join(":")));
    }
    if let Some(s) = &cfg.signature_algorithms {
        let names: Vec<&str> = s.iter().filter_map(|s| s.name()).collect();
        put(format!("ssl_conf_command SignatureAlgorithms {}", names.join(":")));
    }
    if let Some(p) = &cfg.alpn {
        if p.iter().any(|p| p.is_empty() || p.contains([' ', ';', '"', '\'', '{', '}', '\\'])) {
            return Err(ConfigError::unsupported(format!("ALPN names {p:?}: one is not an nginx word")));
        }
        put(format!("ssl_alpn {}", p.join(" ")));
    }
    if cfg.alpn_mismatch == Some(AlpnMismatch::Ignore) {
        return Err(ConfigError::unsupported("nginx refuses an ALPN mismatch (see its capabilities)"));
    }
    if cfg.session_tickets == Some(false) {
        put("ssl_session_tickets off".into());
    }
    for line in verbatim {
        let _ = writeln!(d, "{line};");
    }
    Ok(d)
}

/// What makes two directives the same setting: the name, and for `ssl_conf_command` the OpenSSL command too.
fn directive_key(line: &str) -> String {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or_default().to_ascii_lowercase();
    if name == "ssl_conf_command" {
        format!("{name} {}", words.next().unwrap_or_default().to_ascii_lowercase())
    } else {
        name
    }
}

/// One nginx, started at the cell's first connection and kept for its others.
struct Server {
    program: PathBuf,
    load_module: String,
    directives: String,
    dir: TempDir,
    running: Option<Running>,
}

struct Running {
    _process: Process,
    port: u16,
    echo: TcpListener,
    access: PathBuf,
    error: PathBuf,
    /// How many access log lines and error log bytes earlier connections left.
    lines: usize,
    error_at: usize,
}

impl Server {
    /// Starts nginx unless it runs already.
    async fn start(&mut self) -> Result<(), ConfigError> {
        if self.running.is_some() {
            return Ok(());
        }
        let echo = TcpListener::bind("127.0.0.1:0").await?;
        let echo_port = echo.local_addr()?.port();
        let (listener, fd, port) = inheritable_listener()?;
        let dir = self.dir.path();
        let (access, error) = (dir.join("access.log"), dir.join("error.log"));
        let user = if rustix::process::geteuid().is_root() { "user root;\n" } else { "" };
        let conf = format!(
            "{load}{user}daemon off;\nmaster_process on;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
             error_log {error} info;\nevents {{ worker_connections 64; }}\nstream {{\n\
             log_format tlsmatrix 'tlsmatrix $ssl_protocol $ssl_cipher $ssl_alpn_protocol $ssl_session_reused $status';\n\
             access_log {access} tlsmatrix;\nserver {{\nlisten 127.0.0.1:{port} ssl;\n{directives}\
             proxy_pass 127.0.0.1:{echo_port};\n}}\n}}\n",
            load = self.load_module,
            dir = dir.display(),
            error = error.display(),
            access = access.display(),
            directives = self.directives,
        );
        let conf_path = self.dir.write("nginx.conf", conf.as_bytes())?;
        let child = Command::new(&self.program)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&error)
            .env("NGINX", format!("{fd};"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ConfigError::new(format!("starting {}: {e}", self.program.display())))?;
        // nginx has its copy; connections wait in the socket's backlog until its worker accepts them.
        drop(listener);
        self.running = Some(Running { _process: Process(child), port, echo, access, error, lines: 0, error_at: 0 });
        Ok(())
    }
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        let io = io.into_tcp()?;
        self.start().await?;
        let Some(running) = self.running.as_mut() else { return Err(ConfigError::new("nginx did not start")) };
        let session = Session::play(io, running.port, &running.echo, "nginx").await?;
        // nginx writes the session's access log line as it closes it: wait for it, a little.
        let mut line = None;
        for _ in 0..100 {
            let text = std::fs::read_to_string(&running.access).unwrap_or_default();
            if let Some(l) = text.lines().nth(running.lines) {
                line = Some(l.to_string());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        running.lines += 1;
        let errors = std::fs::read(&running.error).unwrap_or_default();
        let new = String::from_utf8_lossy(errors.get(running.error_at..).unwrap_or_default()).into_owned();
        running.error_at = errors.len();
        let seen = session.sent_alert(keys);
        Ok(session.judged(outcome(line.as_deref(), &new, seen)?))
    }
}

/// The session as nginx logged it (its access log line and the error log lines it wrote), with the fatal alert the
/// bytes show nginx sent, if they show one.
///
/// nginx logs OpenSSL's reason, not the alert; the alert is taken from the bytes where they show it (an exact
/// observation), else from OpenSSL's reason through the table shared with native-tls: one reason can go with two
/// alerts (`no suitable signature algorithm` is handshake_failure when no TLS 1.2 scheme fits, internal_error when
/// a TLS 1.0 server at security level 2 has no SHA-1 to sign with), and the bytes settle which.
fn outcome(access: Option<&str>, errors: &str, seen: Option<Alert>) -> Result<SideOutcome, ConfigError> {
    let Some(access) = access else {
        return Err(ConfigError::new(format!("nginx wrote no access log line for the session; its log: {errors}")));
    };
    let fields: Vec<&str> = access.split(' ').collect();
    let [_, proto, cipher, alpn, reused, status] = fields[..] else {
        return Err(ConfigError::new(format!("unexpected nginx access log line: {access}")));
    };
    let message = |l: &str| l.split_once("] ").map_or(l, |(_, m)| m).trim().to_string();
    // nginx checks a client certificate after the handshake and closes the session without an alert.
    let refusal = errors.lines().find(|l| {
        l.contains("client SSL certificate verify error") || l.contains("client sent no required SSL certificate")
    });
    if let Some(line) = refusal {
        return Ok(SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: seen,
            received_alert: None,
            error: ErrorClass::Local,
            message: message(line),
        }));
    }
    // A failed SSL_shutdown after a completed session is nginx's close, not a failure of the session.
    let ssl_failure = errors.lines().filter(|l| !l.contains("SSL_shutdown() failed")).find_map(|l| {
        let at = l.find("(SSL: ")?;
        let inner = &l[at + 6..];
        let end = inner.rfind(')')?;
        Some((inner[..end].to_string(), l))
    });
    if let Some((err, line)) = ssl_failure {
        let d = openssl_errors::from_text(&err);
        let sent_alert = match (d.sent_alert, seen) {
            (_, Some(a)) => Some(a),
            (Mapped::Known(a), None) => a,
            (Mapped::Unmapped(why), None) => {
                return Err(ConfigError::new(format!("unmapped: {why} (nginx: {line})")));
            }
        };
        let phase = if line.contains("while SSL handshaking") { Phase::Handshake } else { Phase::Data };
        return Ok(SideOutcome::Failed(Failure {
            phase,
            sent_alert: sent_alert.filter(|_| d.received_alert.is_none() || seen.is_some()),
            received_alert: d.received_alert,
            error: d.class,
            message: message(line),
        }));
    }
    if status != "200" || proto == "-" {
        let what: Vec<String> =
            errors.lines().filter(|l| l.contains("[info]") || l.contains("[error]")).map(message).collect();
        return Ok(SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: seen,
            received_alert: None,
            error: ErrorClass::Eof,
            message: format!("nginx ended the session with status {status}: {}", what.join("; ")),
        }));
    }
    Ok(SideOutcome::Established(Established {
        version: parse_version(proto),
        cipher: parse_cipher(cipher),
        group: None,
        alpn: (alpn != "-" && !alpn.is_empty()).then(|| alpn.to_string()),
        resumed: Some(reused == "r"),
    }))
}

#[cfg(test)]
mod tests {
    //! nginx's own log lines (as nginx 1.22.1 wrote them in this project's runs) read into outcomes.

    use super::*;

    const CONNECTED: &str =
        "2026/12/06 15:20:44 [info] 5847#5847: *9 client 127.0.0.1:48380 connected to 127.0.0.1:45743\n";

    #[test]
    fn a_session_nginx_logged_as_200_is_established_with_what_it_negotiated() {
        let line = "tlsmatrix TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 h2 r 200";
        let SideOutcome::Established(e) = outcome(Some(line), CONNECTED, None).unwrap() else { panic!("established") };
        assert_eq!(e.version, Some(ProtocolVersion::Tls12));
        assert_eq!(e.cipher.and_then(|c| c.name()), Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
        assert_eq!((e.alpn.as_deref(), e.resumed), (Some("h2"), Some(true)));
        let tls13 = outcome(Some("tlsmatrix TLSv1.3 TLS_AES_256_GCM_SHA384 - . 200"), "", None).unwrap();
        assert!(matches!(tls13, SideOutcome::Established(e) if e.alpn.is_none() && e.resumed == Some(false)));
    }

    #[test]
    fn a_failed_handshake_gives_the_alert_received_or_the_one_sent() {
        let received = "2026/12/06 15:20:53 [info] 5993#5993: *13 SSL_do_handshake() failed (SSL: error:0A000418:SSL \
                        routines::tlsv1 alert unknown ca:SSL alert number 48) while SSL handshaking, client: 127.0.0.1";
        let f = outcome(Some("tlsmatrix TLSv1.2 (NONE) - . 500"), received, None).unwrap();
        let f = f.failure().expect("failed").clone();
        assert_eq!((f.received_alert, f.sent_alert, f.phase), (Some(Alert::UNKNOWN_CA), None, Phase::Handshake));
        let sent = "... [info] 1#1: *1 SSL_do_handshake() failed (SSL: error:0A000102:SSL routines::unsupported \
                    protocol) while SSL handshaking, client: 127.0.0.1";
        let f = outcome(Some("tlsmatrix TLSv1.2 (NONE) - . 500"), sent, None).unwrap();
        assert_eq!(f.sent_alert(), Some(Alert::PROTOCOL_VERSION));
        // The bytes outrank the reason: the same reason can go with another alert.
        let sigalg = "... SSL_do_handshake() failed (SSL: error:0A000076:SSL routines::no suitable signature \
                      algorithm) while SSL handshaking";
        let f = outcome(Some("tlsmatrix TLSv1 (NONE) - . 500"), sigalg, Some(Alert::INTERNAL_ERROR)).unwrap();
        assert_eq!(f.sent_alert(), Some(Alert::INTERNAL_ERROR));
        // A reason no table knows, with nothing on the wire, is unmapped: the cell fails loudly.
        let unknown = "... SSL_do_handshake() failed (SSL: error:0A00006E:SSL routines::bad extension) while SSL";
        let e = outcome(Some("tlsmatrix TLSv1.3 (NONE) - . 500"), unknown, None).unwrap_err();
        assert!(e.message.starts_with("unmapped: OpenSSL reason `bad extension`"), "{}", e.message);
    }

    #[test]
    fn a_refused_client_certificate_is_no_alert_and_a_failed_shutdown_is_no_failure() {
        let refused = "... [info] 1#1: *1 client sent no required SSL certificate while SSL handshaking, client: \
                       127.0.0.1\n... [crit] 1#1: *1 SSL_shutdown() failed (SSL: error:0A000123:SSL \
                       routines::application data after close notify) while SSL handshaking";
        let f = outcome(Some("tlsmatrix TLSv1.3 TLS_AES_256_GCM_SHA384 - . 500"), refused, None).unwrap();
        let f = f.failure().expect("failed").clone();
        assert_eq!((f.sent_alert, f.received_alert, f.error), (None, None, ErrorClass::Local));
        assert!(f.message.contains("client sent no required SSL certificate"), "{}", f.message);
        let shutdown_only = "... [crit] 1#1: *1 SSL_shutdown() failed (SSL: error:0A000123:SSL routines::application \
                             data after close notify) while proxying connection";
        let ok = outcome(Some("tlsmatrix TLSv1.2 ECDHE-ECDSA-AES128-SHA - . 200"), shutdown_only, None).unwrap();
        assert!(matches!(ok, SideOutcome::Established(_)));
        assert!(outcome(None, "", None).is_err(), "no access log line is a harness fault, not an outcome");
    }
}
