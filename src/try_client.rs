//! `tlsmatrix try-client -- CMD ...`: the user's own client, run once against every server backend and release.
//!
//! The other direction of `compat`: a team that ships a client (a service calling a partner, a CLI, curl with its
//! flags) asks which servers it works against, and what each server saw when it did not. Each server backend plays
//! a scenario's `server:` block (by default: an ECDSA certificate for `localhost` from `root-a`, every other knob the
//! library's default) on 127.0.0.1, behind the harness's recording relay; the command runs with `{port}`, `{host}`,
//! `{addr}` and `{ca}` replaced (the relay's port, the name the certificate is for, `127.0.0.1:PORT`, a PEM file
//! of the CAs the scenario's client trusts). Only the server side is observed, with the wire: what the server
//! negotiated, the alert it received or sent, or that the client closed without an alert. The command's exit status
//! and last line of output are reported as they are, not judged.
//!
//! The server's exchange is the harness's (it waits for the ping and echoes it, docs/peers.md); a real client sends
//! its own protocol (an HTTP request), which the server reads as other application data after a completed
//! handshake: that row connects, and says what followed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::backend::conn::Conn;
use crate::backend::{Backend, ConfigError};
use crate::observation::{Phase, SideOutcome};
use crate::relay::Relay;
use crate::runner::{Context, EXTERNAL_DEADLINE_FACTOR};
use crate::scenario::Scenario;
use crate::vocab::{Alert, BackendId, Role};
use crate::wire::settle::{QUIET, Settle};
use crate::wire::{KeyLog, Wire};

/// The scenario a client is tried with when none is given: one server certificate and library defaults.
pub const DEFAULT_SERVER: &str = "\
description: every server with its library's defaults and an ECDSA P-256 certificate for localhost from root-a
server: { certificate: server-ec }
client: { trust: [root-a], server_name: localhost }
expect: { result: success }
";

/// What a server saw of the client: connects, fails, unsupported (the server backend cannot express the scenario's
/// server block, or is not installed) or error, as in `compat`.
pub type Seen = crate::compat::Verdict;

/// One server backend's view of the client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The server backend.
    pub server: BackendId,
    /// Its library and version.
    pub library: String,
    /// What the server saw.
    pub seen: Seen,
    /// The negotiated version (the server's report, else the ServerHello on the wire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The negotiated suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The ALPN protocol, where the server reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The fatal alert the server received from the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_alert: Option<Alert>,
    /// The fatal alert the server sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_alert: Option<Alert>,
    /// The server's own words (its error), or what followed a completed handshake, or why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The command's exit code (none when it was killed at the deadline or never started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The last non-empty line the command printed (stderr, else stdout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_said: Option<String>,
}

impl Row {
    fn empty(server: BackendId, library: String, seen: Seen, detail: String) -> Row {
        Row {
            server,
            library,
            seen,
            version: None,
            cipher: None,
            alpn: None,
            received_alert: None,
            sent_alert: None,
            detail: Some(detail),
            exit_code: None,
            client_said: None,
        }
    }

    /// What the server saw, in one phrase.
    pub fn outcome(&self) -> String {
        match self.seen {
            Seen::Connects => {
                [&self.version, &self.cipher, &self.alpn].into_iter().flatten().cloned().collect::<Vec<_>>().join(" ")
            }
            Seen::Fails => match (self.received_alert, self.sent_alert) {
                (Some(a), _) => format!("the client sent {a}"),
                (None, Some(a)) => format!("the server sent {a}"),
                (None, None) => "the client closed without an alert".to_string(),
            },
            Seen::Unsupported | Seen::Error => self.detail.clone().unwrap_or_default(),
        }
    }
}

/// The report: the command, the scenario, one row per server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The command as given, placeholders unreplaced.
    pub command: Vec<String>,
    /// The scenario whose `server:` block the servers play.
    pub scenario: String,
    /// One row per server backend, in report order.
    pub rows: Vec<Row>,
}

impl Report {
    /// A line per server, with the server's words and the client's last line under each failure.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let n = |s: Seen| self.rows.iter().filter(|r| r.seen == s).count();
        let mut out = format!(
            "{}: `{}` against {} servers: {} connect, {} fail, {} cannot be tried (only the server side is observed)\n\n",
            self.scenario,
            self.command.join(" "),
            self.rows.len(),
            n(Seen::Connects),
            n(Seen::Fails),
            n(Seen::Unsupported) + n(Seen::Error),
        );
        let width = self.rows.iter().map(|r| r.server.name().len()).max().unwrap_or(6).max(6);
        for r in &self.rows {
            let verdict = match r.seen {
                Seen::Connects => "connects",
                Seen::Fails => "FAILS",
                Seen::Unsupported => "n/a",
                Seen::Error => "error",
            };
            let _ = writeln!(out, "{:<width$}  {verdict:<8}  {}", r.server.name(), r.outcome());
            if matches!(r.seen, Seen::Connects | Seen::Fails) {
                let exit = r.exit_code.map_or("stopped by the harness".to_string(), |c| format!("exit {c}"));
                match (&r.detail, r.seen) {
                    (Some(d), Seen::Fails) => {
                        let _ = writeln!(out, "          server says: {d}");
                    }
                    (Some(d), _) => {
                        let _ = writeln!(out, "          {d}");
                    }
                    (None, _) => {}
                }
                let said = r.client_said.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
                let _ = writeln!(out, "          client: {exit}{said}");
            }
        }
        out
    }
}

/// `{port}`, `{host}`, `{addr}` and `{ca}` replaced in each argument.
pub fn substitute(command: &[String], port: u16, host: &str, ca: &Path) -> Vec<String> {
    command
        .iter()
        .map(|a| {
            a.replace("{port}", &port.to_string())
                .replace("{host}", host)
                .replace("{addr}", &format!("127.0.0.1:{port}"))
                .replace("{ca}", &ca.to_string_lossy())
        })
        .collect()
}

/// What one server did with one run of the command.
struct Played {
    /// The server's outcome; none when the connection settled and was stopped (`quiet` says so).
    server: Option<SideOutcome>,
    quiet: Option<String>,
    wire: Wire,
    exit_code: Option<i32>,
    output: String,
}

/// Runs the command once against `server` playing the scenario's server block; `ca` is the `{ca}` file.
pub async fn try_one(ctx: &Context, server: BackendId, scenario: &Scenario, command: &[String], ca: &Path) -> Row {
    let library = ctx.registry.get(server).map(|b| b.version()).unwrap_or_default();
    match play(ctx, server, scenario, command, ca).await {
        Err((seen, why)) => Row::empty(server, library, seen, why),
        Ok(p) => row(server, library, p),
    }
}

async fn play(
    ctx: &Context,
    server: BackendId,
    scenario: &Scenario,
    command: &[String],
    ca: &Path,
) -> Result<Played, (Seen, String)> {
    let unsupported = |why: String| (Seen::Unsupported, format!("{server} as server: {why}"));
    let backend: &Arc<dyn Backend> =
        ctx.registry.get(server).ok_or_else(|| unsupported("not compiled into this build".into()))?;
    let caps = backend.capabilities(Role::Server);
    if let Some(why) = &caps.unavailable {
        return Err(unsupported(why.clone()));
    }
    caps.check(&scenario.server, &[])
        .and_then(|()| backend.expressible(Role::Server, scenario))
        .map_err(unsupported)?;
    let config = |e: ConfigError| {
        let seen = if e.unsupported { Seen::Unsupported } else { Seen::Error };
        (seen, format!("{server} as server: {}", e.message))
    };
    let mut end = backend.server(&scenario.server, &ctx.pki).map_err(config)?;
    let fault = |e: std::io::Error| (Seen::Error, e.to_string());
    let (listener, front) = (
        TcpListener::bind("127.0.0.1:0").await.map_err(fault)?,
        TcpListener::bind("127.0.0.1:0").await.map_err(fault)?,
    );
    let (addr, port) = (listener.local_addr().map_err(fault)?, front.local_addr().map_err(fault)?.port());
    let host = scenario.client.server_name.clone().unwrap_or_else(|| "127.0.0.1".into());
    let args = substitute(command, port, &host, ca);
    let (program, rest) = args.split_first().ok_or((Seen::Error, "no command given".to_string()))?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| (Seen::Error, format!("cannot start `{program}`: {e}")))?;
    let timeout = ctx.timeout * EXTERNAL_DEADLINE_FACTOR;
    let relay = Relay::new();
    let keys = KeyLog::new();
    let relay_side = async {
        let Ok((c, _)) = front.accept().await else { return };
        let Ok(s) = TcpStream::connect(addr).await else { return };
        let _ = (c.set_nodelay(true), s.set_nodelay(true));
        relay.run(c, s, None, Duration::ZERO).await;
    };
    let server_side = async {
        let (sock, _) = listener.accept().await.map_err(|e| ConfigError::new(format!("accept: {e}")))?;
        sock.set_nodelay(true)?;
        end.run(Conn::Direct(sock), &keys).await
    };
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let client_side = async {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = out.as_mut() {
                let _ = s.take(1 << 20).read_to_end(&mut o).await;
            }
        };
        let read_err = async {
            if let Some(s) = err.as_mut() {
                let _ = s.take(1 << 20).read_to_end(&mut e).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await.ok();
        (status.and_then(|s| s.code()), last_line(&e).or_else(|| last_line(&o)).unwrap_or_default())
    };
    // The server and the command run to their ends under one deadline, the relay reading meanwhile; a client that
    // waits for the server to speak first leaves both waiting, so a settled line ends them (crate::wire::settle).
    let both = async { tokio::join!(server_side, client_side) };
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(relay_side, both, deadline);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut settle = Settle::default();
    let mut relayed = false;
    let ended = loop {
        tokio::select! {
            r = &mut both => break Some(r),
            () = &mut relay_side, if !relayed => relayed = true,
            () = &mut deadline => {
                let ms = timeout.as_millis();
                return Err((Seen::Error, format!("no result within {ms} ms: the command or the server did not finish")));
            }
            _ = tick.tick() => if settle.settled(&relay.capture(), &keys.text()) { break None },
        }
    };
    let wire = crate::wire::analyse(&relay.capture(), &keys.text());
    let Some((server_outcome, (exit_code, output))) = ended else {
        let quiet = format!(
            "nothing moved for {} ms after the handshake, each side waiting for the other (a client that waits \
             for the server to speak first): the server and the command were stopped",
            QUIET.as_millis()
        );
        return Ok(Played { server: None, quiet: Some(quiet), wire, exit_code: None, output: String::new() });
    };
    let server = server_outcome.map_err(config)?;
    Ok(Played { server: Some(server), quiet: None, wire, exit_code, output })
}

fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).map(|l| l.chars().take(300).collect())
}

fn row(server: BackendId, library: String, p: Played) -> Row {
    let mut row = Row::empty(server, library, Seen::Fails, String::new());
    row.detail = None;
    row.exit_code = p.exit_code;
    row.client_said = Some(p.output).filter(|s| !s.is_empty());
    let from_wire = |row: &mut Row| {
        row.version = row.version.take().or(p.wire.version.map(|v| v.to_string()));
        row.cipher = row.cipher.take().or(p.wire.cipher.map(|v| v.to_string()));
    };
    let Some(server) = p.server else {
        row.seen = Seen::Connects;
        from_wire(&mut row);
        row.detail = p.quiet;
        return row;
    };
    match server {
        SideOutcome::Established(e) => {
            row.seen = Seen::Connects;
            row.version = e.version.map(|v| v.to_string());
            row.cipher = e.cipher.map(|v| v.to_string());
            row.alpn = e.alpn;
            from_wire(&mut row);
            row.detail = Some("the client sent the harness's ping and closed cleanly".into());
        }
        SideOutcome::Failed(f) => {
            if f.phase == Phase::Data {
                // The server completed its handshake (a server learns of a refused client certificate during its
                // own); a real client then speaks its own protocol and closes its own way (see the module's
                // documentation), which is not a TLS failure.
                row.seen = Seen::Connects;
                from_wire(&mut row);
                let alert = match (f.sent_alert, f.received_alert) {
                    (Some(a), _) => format!(" (the server sent {a})"),
                    (None, Some(a)) => format!(" (the client sent {a})"),
                    (None, None) => String::new(),
                };
                let note = crate::compat::after_handshake_note(&f.message);
                row.detail = Some(format!("handshake completed, then {note}{alert}"));
            } else {
                row.received_alert = f.received_alert;
                row.sent_alert = f.sent_alert;
                row.detail = Some(f.message);
            }
        }
    }
    row
}

/// A private directory holding the PEM of the scenario client's trusted CAs as `ca.pem` (the `{ca}` placeholder),
/// removed when dropped.
pub struct CaFile {
    dir: crate::backend::cli::TempDir,
    /// The file.
    pub path: PathBuf,
}

/// Writes the `{ca}` file.
pub fn write_ca(ctx: &Context, scenario: &Scenario) -> Result<CaFile, crate::Error> {
    let mut pem = Vec::new();
    for name in &scenario.client.trust {
        let cred = ctx.pki.get(&name.0).ok_or_else(|| crate::Error::Usage(format!("no fixture named {name}")))?;
        pem.extend(cred.cert.to_pem().map_err(|e| crate::Error::Usage(e.to_string()))?);
    }
    let io = |e: std::io::Error| crate::Error::Usage(format!("writing the CA file: {e}"));
    let dir = crate::backend::cli::TempDir::new("try-client").map_err(io)?;
    let path = dir.write("ca.pem", &pem).map_err(io)?;
    Ok(CaFile { dir, path })
}

impl CaFile {
    /// The directory the file is in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
