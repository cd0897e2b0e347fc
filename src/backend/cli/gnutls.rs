//! `gnutls`: GnuTLS's `gnutls-cli` and `gnutls-serv`, one process per connection.
//!
//! gnutls-cli prints the alerts it receives (`*** Received alert [48]: ...`) but not the ones it sends; the sent
//! alert is inferred from its error text through [`SENT_ALERTS`], each row checked against `openssl s_server -msg` (an
//! exact witness) as the peer. gnutls-serv has no stdin: it can only echo (`--echo`) or answer HTTP, so it cannot
//! send the exchange's pong; its server role stays unavailable while the exchange needs a reply other than the echo.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream};

use super::hello;
use super::openssl_cli::server_bytes;
use super::process::{Invocation, Script, Session, Tool, contains, drive, never_connected};
use super::{TempDir, collect_keys, first_line, os, which, write_identity, write_trust};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, PING, PONG, client_host, credential};
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, Knob, ServerConfig, SideConfig};
use crate::vocab::{Alert, BackendId, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// The alert gnutls sends with a fatal error, by the error text it prints (`*** Fatal error: <text>` or
/// `*** handshake has failed: <text>`). `None`: it sends none. Verified with `openssl s_server -msg` as the peer.
pub(crate) const SENT_ALERTS: &[(&str, Option<Alert>)] = &[
    // gnutls-cli's certificate check failed (untrusted issuer): GnuTLS sends bad_certificate, not unknown_ca
    // (witnessed: openssl and rustls servers received bad_certificate in seed::untrusted_ca).
    ("Error in the certificate.", Some(Alert::BAD_CERTIFICATE)),
    // The peer's alert ended the handshake; gnutls sends nothing back (witnessed in seed::legacy_tls10_server).
    ("A TLS fatal alert has been received.", None),
    // On a failed handshake gnutls-cli's do_handshake calls gnutls_alert_send_appropriate, whose
    // gnutls_error_to_alert (lib/alert.c) picks the alert from the error code. The rows below were witnessed on the
    // relay's bytes (the wire scenarios), whatever the server.
    // GNUTLS_E_PREMATURE_TERMINATION, the stream ended mid-handshake: unexpected_message (wire::close_after_client_hello).
    ("The TLS connection was non-properly terminated.", Some(Alert::UNEXPECTED_MESSAGE)),
    // GNUTLS_E_UNEXPECTED_PACKET, a record of a content type it cannot take there (the first bytes of an HTTP answer,
    // garbage): unexpected_message (wire::http_response, wire::garbage_server_hello).
    ("An unexpected TLS packet was received.", Some(Alert::UNEXPECTED_MESSAGE)),
    // GNUTLS_E_RECORD_OVERFLOW, a record header longer than TLS allows: record_overflow (wire::oversized_record).
    ("A TLS record packet with invalid length was received.", Some(Alert::RECORD_OVERFLOW)),
    // GNUTLS_E_UNEXPECTED_PACKET_LENGTH: _gnutls_recv_in_buffers (lib/record.c) returns it when the stream ends
    // inside a record's body: decode_error (wire::truncated_record).
    ("Error decoding the received TLS packet.", Some(Alert::DECODE_ERROR)),
    // GNUTLS_E_PULL_ERROR, recv() failed (the connection was reset): gnutls_alert_send_appropriate tries
    // internal_error, but the write fails with EPIPE on the reset socket (strace), so nothing is sent
    // (wire::reset_after_client_hello).
    ("Error in the pull function.", None),
];

/// The errors of [`SENT_ALERTS`] that are the peer's or the network's doing, by class (others are `local`, or `eof`
/// when gnutls sends nothing).
const STREAM_ERRORS: &[(&str, ErrorClass)] = &[
    ("The TLS connection was non-properly terminated.", ErrorClass::Eof),
    ("Error in the pull function.", ErrorClass::Io),
];

/// GnuTLS's group names in priority strings, by IANA group.
const GROUPS: &[(u16, &str)] = &[
    (0x0017, "GROUP-SECP256R1"),
    (0x0018, "GROUP-SECP384R1"),
    (0x0019, "GROUP-SECP521R1"),
    (0x001d, "GROUP-X25519"),
    (0x001e, "GROUP-X448"),
    (0x0100, "GROUP-FFDHE2048"),
    (0x0101, "GROUP-FFDHE3072"),
    (0x0102, "GROUP-FFDHE4096"),
    (0x0103, "GROUP-FFDHE6144"),
    (0x0104, "GROUP-FFDHE8192"),
];

/// The gnutls command-line tools as a backend.
pub struct GnutlsBackend {
    cli: Option<PathBuf>,
    caps_client: Capabilities,
    caps_server: Capabilities,
}

impl GnutlsBackend {
    /// Looks for gnutls-cli and gnutls-serv on PATH.
    pub fn new() -> Self {
        let cli = which("gnutls-cli");
        let serv = which("gnutls-serv");
        let lacks = vec![
            (
                Knob::CipherSuites,
                "GnuTLS priority strings combine key exchange, cipher and MAC items independently; an IANA suite \
                 list cannot be expressed exactly (not implemented)",
            ),
            (
                Knob::Tls13CipherSuites,
                "GnuTLS's +CIPHER items apply to TLS 1.2 and 1.3 at once; a TLS 1.3-only suite list cannot be \
                 expressed exactly (not implemented)",
            ),
            (Knob::SecurityLevel, "an OpenSSL notion; GnuTLS has no equivalent setting"),
            (Knob::SignatureAlgorithms, "GnuTLS +SIGN-* priority items are not mapped (not implemented)"),
            (Knob::Resumption, "each connection is a new process; gnutls-cli --resume is not wired up"),
            (Knob::SniCertificates, "gnutls-serv serves one certificate set; not implemented"),
            (Knob::ChainShape, "gnutls-serv re-sorts the certificate bundle it loads; the shape cannot be kept"),
        ];
        let caps = |unavailable: Option<String>| Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            lacks: lacks.clone(),
            cipher_suites: Default::default(),
            groups: GROUPS.iter().map(|(g, _)| Group(*g)).collect(),
            exact_alerts: false,
            reports_parameters: true,
            unavailable,
        };
        let caps_client =
            caps(cli.is_none().then(|| "gnutls-cli not found on PATH: apt-get install gnutls-bin".to_string()));
        let server_missing = match serv {
            None => Some("gnutls-serv not found on PATH: apt-get install gnutls-bin".to_string()),
            Some(_) if PING != PONG => Some(
                "gnutls-serv cannot play the server's part of the exchange: it has no stdin and can only echo \
                 (--echo) or answer HTTP, so it cannot send \"tlsmatrix pong\" for \"tlsmatrix ping\""
                    .to_string(),
            ),
            Some(_) => None,
        };
        GnutlsBackend { cli, caps_client, caps_server: caps(server_missing) }
    }
}

impl Default for GnutlsBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The priority string for a side: NORMAL, narrowed by the scenario's versions and groups.
fn priority<C: SideConfig>(cfg: &C) -> Option<String> {
    let mut p = String::from("NORMAL");
    if let Some(v) = cfg.versions() {
        p.push_str(":-VERS-ALL");
        for v in v {
            p.push_str(match v {
                ProtocolVersion::Tls10 => ":+VERS-TLS1.0",
                ProtocolVersion::Tls11 => ":+VERS-TLS1.1",
                ProtocolVersion::Tls12 => ":+VERS-TLS1.2",
                ProtocolVersion::Tls13 => ":+VERS-TLS1.3",
            });
        }
    }
    if let Some(g) = cfg.groups() {
        p.push_str(":-GROUP-ALL");
        for g in g {
            if let Some((_, name)) = GROUPS.iter().find(|(c, _)| *c == g.0) {
                p.push_str(&format!(":+{name}"));
            }
        }
    }
    (p != "NORMAL").then_some(p)
}

struct Client {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
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

    fn version(&self) -> String {
        let v = self.cli.as_deref().and_then(|p| first_line(p, &["--version"]));
        v.unwrap_or_else(|| "gnutls-cli not found".into())
    }

    fn server(&self, _cfg: &ServerConfig, _pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Err(ConfigError(self.caps_server.unavailable.clone().unwrap_or_else(|| "gnutls-serv is not wired up".into())))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.cli.clone().ok_or_else(|| ConfigError("gnutls-cli not found on PATH".into()))?;
        let dir = TempDir::new("gnutls-client")?;
        let mut args = vec![os("--x509cafile"), os(write_trust(&dir, pki, &cfg.trust)?)];
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
    async fn run(&mut self, io: TcpStream, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let keyfile = self.dir.path().join("keys.log");
        let _ = std::fs::remove_file(&keyfile);
        let mut args = self.args.clone();
        args.extend([os("-p"), os(port.to_string()), os("127.0.0.1")]);
        let env = vec![("SSLKEYLOGFILE".to_string(), os(&keyfile))];
        let inv = Invocation { program: self.program.clone(), args, env };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError(format!("{}: {e}", inv.display())))?;
        let accepted = tokio::select! {
            a = listener.accept() => a.ok(),
            () = tool.stdout.read_to_end() => None,
        };
        let session = match accepted {
            None => never_connected(tool).await,
            Some((conn, _)) => {
                let _ = conn.set_nodelay(true);
                let script = Script { first: Some(PING), trigger: PONG, reply: None, persistent: false };
                drive(tool, io, conn, script).await
            }
        };
        collect_keys(&keyfile, keys);
        Ok(outcome(Role::Client, &session))
    }
}

/// The lines gnutls prints about a failure (`*** ...`), verbatim.
fn error_lines(s: &Session) -> Vec<String> {
    s.stdout.lines().chain(s.stderr.lines()).map(str::trim).filter(|l| l.starts_with("***")).map(String::from).collect()
}

/// `*** Received alert [48]: Unknown certificate authority` -> 48.
fn received_alert(lines: &[String]) -> Option<Alert> {
    lines.iter().find_map(|l| {
        let rest = l.strip_prefix("*** Received alert [")?;
        rest.split(']').next()?.parse::<u8>().ok().map(Alert)
    })
}

/// The error text after `*** Fatal error: ` or `*** handshake has failed: `.
fn fatal_text(lines: &[String]) -> Option<&str> {
    lines.iter().find_map(|l| {
        l.strip_prefix("*** Fatal error: ").or_else(|| l.strip_prefix("*** handshake has failed: ")).map(str::trim)
    })
}

fn outcome(role: Role, s: &Session) -> SideOutcome {
    let lines = error_lines(s);
    let received = received_alert(&lines).filter(|a| *a != Alert::CLOSE_NOTIFY);
    let handshake_done = s.stdout.contains("- Handshake was completed");
    let exchanged = contains(s.stdout.as_bytes(), PONG);
    let fatal = fatal_text(&lines);
    let clean_exit = s.status.is_some_and(|st| st.success());
    if s.connected && handshake_done && exchanged && received.is_none() && fatal.is_none() && clean_exit {
        let h = hello::parse(server_bytes(role, s));
        let alpn = s.stdout.lines().find_map(|l| l.trim().strip_prefix("- Application protocol: "));
        return SideOutcome::Established(Established {
            version: h.version,
            cipher: h.cipher,
            group: h.group,
            alpn: alpn.map(|a| a.trim().to_string()),
            resumed: None,
        });
    }
    let mapped = fatal.map(|t| SENT_ALERTS.iter().find(|(k, _)| *k == t).map(|(_, a)| *a));
    let (sent, error) = match (received, mapped) {
        (Some(_), _) => (None, ErrorClass::PeerAlert),
        (None, Some(Some(a))) => match STREAM_ERRORS.iter().find(|(t, _)| Some(*t) == fatal) {
            Some((_, class)) => (a, *class),
            None => (a, if a.is_some() { ErrorClass::Local } else { ErrorClass::Eof }),
        },
        (None, Some(None)) => (None, ErrorClass::Unmapped),
        (None, None) => (None, ErrorClass::Eof),
    };
    let message = if lines.is_empty() {
        format!("gnutls-cli: {} {}", s.stdout.trim(), s.stderr.trim())
    } else if error == ErrorClass::Unmapped {
        format!("{} (not in SENT_ALERTS of src/backend/cli/gnutls.rs)", lines.join("; "))
    } else {
        lines.join("; ")
    };
    let phase = if handshake_done { Phase::Data } else { Phase::Handshake };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error, message })
}
