//! Reports built around one server: `tlsmatrix compat` (every client backend and release against one server config)
//! and `tlsmatrix impact` (the same for a server config before and after a change, compared client by client).
//!
//! The question users bring is "which of my clients break against this server, with which alert, and what fixes
//! it", not "does openssl agree with rustls". A compat report runs one scenario's `server:` block on one server
//! backend against every client backend, each with the scenario's `client:` block (trust, server name, versions),
//! and keeps what happened, not whether it matched the scenario's expectation: a row per client with the
//! negotiated parameters, or the alert each side sent and received, the client's own error text, and the cause and
//! fix from [`crate::explain`].

mod live;
mod render;

use serde::{Deserialize, Serialize};

pub(crate) use self::live::after_handshake_note;
pub use self::live::{NotPlayed, Played, Target, play};
pub use self::render::{html, impact_html, impact_markdown, impact_table, markdown, table};
use crate::explain::Finding;
use crate::observation::SideOutcome;
use crate::report::Environment;
use crate::runner::CellResult;
use crate::verdict::Status;
use crate::vocab::{Alert, BackendId};

/// What a client got from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Both sides completed the handshake and the exchange.
    Connects,
    /// Either side failed.
    Fails,
    /// The client backend cannot express the scenario's client config (the reason says what it lacks).
    Unsupported,
    /// The harness could not play the cell (a peer that did not start, a fault of ours).
    Error,
}

/// One client backend against the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// The client backend (`jsse@11`).
    pub client: BackendId,
    /// Its library and version (`Java 11.0.13 SunJSSE`).
    pub library: String,
    /// Connects, fails, unsupported or error.
    pub verdict: Verdict,
    /// The negotiated protocol version, when it connects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The negotiated cipher suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The key-exchange group, where the client reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The ALPN protocol agreed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// On a failure, the fatal alert the client sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_sent: Option<Alert>,
    /// The fatal alert the client received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_received: Option<Alert>,
    /// The fatal alert the server sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_sent: Option<Alert>,
    /// The fatal alert the server received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_received: Option<Alert>,
    /// The client's own error text (Java's exception, Node's code, OpenSSL's error queue), verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_error: Option<String>,
    /// The server's own error text, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_error: Option<String>,
    /// The diagnosed cause of a failure, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The change that would make the pair connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Why the cell did not run (unsupported, error), or a note on a live target's row (what followed the
    /// handshake).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Row {
    /// The row for one played cell; `findings` are the explain module's for it.
    pub fn of(cell: &CellResult, library: String, findings: &[Finding]) -> Row {
        let mut row = Row::empty(cell.client, library);
        let Some(observed) = &cell.observed else {
            row.verdict = if cell.status == Status::Unsupported { Verdict::Unsupported } else { Verdict::Error };
            row.reason = cell.reason.clone();
            return row;
        };
        match (&observed.client, &observed.server) {
            (SideOutcome::Established(c), SideOutcome::Established(_)) => {
                row.verdict = Verdict::Connects;
                row.version = c.version.map(|v| v.to_string());
                row.cipher = c.cipher.map(|v| v.to_string());
                row.group = c.group.map(|v| v.to_string());
                row.alpn = c.alpn.clone();
                if let Some(w) = cell.wire.last() {
                    row.fill_from(w);
                }
            }
            // The handshake and the exchange completed and only the close went wrong (nginx sends no close_notify,
            // which rustls or Python report as an error): the client connects, and the note says what the close did.
            (SideOutcome::Failed(f), SideOutcome::Established(s))
            | (SideOutcome::Established(s), SideOutcome::Failed(f))
                if f.phase == crate::observation::Phase::Data
                    && f.sent_alert.is_none()
                    && f.received_alert.is_none()
                    && f.error == crate::observation::ErrorClass::Eof =>
            {
                row.verdict = Verdict::Connects;
                row.version = s.version.map(|v| v.to_string());
                row.cipher = s.cipher.map(|v| v.to_string());
                row.group = s.group.map(|v| v.to_string());
                row.alpn = s.alpn.clone();
                if let Some(w) = cell.wire.last() {
                    row.fill_from(w);
                }
                row.reason = Some(format!("the exchange completed; at close: {}", f.message));
            }
            (client, server) => {
                row.verdict = Verdict::Fails;
                if let SideOutcome::Failed(f) = client {
                    (row.client_sent, row.client_received) = (f.sent_alert, f.received_alert);
                    row.client_error = Some(f.message.clone());
                }
                if let SideOutcome::Failed(f) = server {
                    (row.server_sent, row.server_received) = (f.sent_alert, f.received_alert);
                    row.server_error = Some(f.message.clone());
                }
                if let Some(f) = findings.first() {
                    row.cause = Some(f.cause.clone());
                    row.fix = Some(f.fix.clone());
                }
            }
        }
        row
    }

    /// What the client's library does not report (native-tls reports nothing), as the ServerHello shows it.
    fn fill_from(&mut self, wire: &crate::wire::Wire) {
        self.version = self.version.take().or(wire.version.map(|v| v.to_string()));
        self.cipher = self.cipher.take().or(wire.cipher.map(|v| v.to_string()));
        self.group = self.group.take().or(wire.group.map(|v| v.to_string()));
    }

    /// A row with nothing observed yet (an error until told otherwise).
    fn empty(client: BackendId, library: String) -> Row {
        Row {
            client,
            library,
            verdict: Verdict::Error,
            version: None,
            cipher: None,
            group: None,
            alpn: None,
            client_sent: None,
            client_received: None,
            server_sent: None,
            server_received: None,
            client_error: None,
            server_error: None,
            cause: None,
            fix: None,
            reason: None,
        }
    }

    /// What was negotiated, or what failed, in one phrase (`tls1.3 TLS_AES_256_GCM_SHA384 x25519`,
    /// `C→S bad_certificate`).
    pub fn outcome(&self) -> String {
        match self.verdict {
            Verdict::Connects => {
                let parts: Vec<String> =
                    [&self.version, &self.cipher, &self.group, &self.alpn].into_iter().flatten().cloned().collect();
                // native-tls reports nothing it negotiated; say so rather than print an empty outcome.
                if parts.is_empty() {
                    "connected (the client reports no parameters)".to_string()
                } else {
                    parts.join(" ")
                }
            }
            Verdict::Fails => {
                let mut parts = Vec::new();
                // The alert as it travelled: the sender's view first, else what the receiver saw.
                if let Some(a) = self.client_sent.or(self.server_received) {
                    parts.push(format!("C→S {a}"));
                }
                if let Some(a) = self.server_sent.or(self.client_received) {
                    parts.push(format!("S→C {a}"));
                }
                if parts.is_empty() { "no alert".to_string() } else { parts.join(", ") }
            }
            Verdict::Unsupported | Verdict::Error => self.reason.clone().unwrap_or_default(),
        }
    }

    /// What two rows' negotiations have in common: equal when they connect with the same parameters.
    fn negotiated(&self) -> (&Option<String>, &Option<String>, &Option<String>, &Option<String>) {
        (&self.version, &self.cipher, &self.group, &self.alpn)
    }
}

/// A compat report: one server config on one server backend, every client against it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Compat {
    /// The scenario whose `server:` block is the server config.
    pub scenario: String,
    /// The server backend that played it, or the live target's address (`compat --target`).
    pub server: String,
    /// Whether the server is a live target, of which only the client side is observed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// Its library and version.
    pub server_library: String,
    /// tlsmatrix and every backend's library.
    pub environment: Environment,
    /// One row per client backend, in report order.
    pub rows: Vec<Row>,
}

impl Compat {
    /// How many clients connect, fail, cannot be tried.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |v: &[Verdict]| self.rows.iter().filter(|r| v.contains(&r.verdict)).count();
        (n(&[Verdict::Connects]), n(&[Verdict::Fails]), n(&[Verdict::Unsupported, Verdict::Error]))
    }
}

/// How one client's outcome moved between the old and the new server config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Connected before, fails now: the change breaks this client.
    Breaks,
    /// Failed before, connects now.
    Fixes,
    /// Connects both times, with other parameters (version, suite, group, ALPN).
    Renegotiates,
    /// Fails both times, differently (another alert or cause).
    FailsDifferently,
    /// Could be tried only on one side of the change, or on neither.
    Untested,
    /// The same outcome.
    Same,
}

/// One client's two rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Moved {
    /// The client backend.
    pub client: BackendId,
    /// How its outcome moved.
    pub change: Change,
    /// Its row against the old config.
    pub old: Row,
    /// Its row against the new config.
    pub new: Row,
}

/// `tlsmatrix impact`: the clients of the old config against the clients of the new, client by client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Impact {
    /// The clients against the config before the change.
    pub old: Compat,
    /// The clients against the config after it.
    pub new: Compat,
    /// Every client present in both, the changed first (breaks, fixes, renegotiates, fails differently).
    pub clients: Vec<Moved>,
}

impl Impact {
    /// Pairs the two reports' rows by client backend.
    pub fn between(old: Compat, new: Compat) -> Impact {
        let mut clients: Vec<Moved> = old
            .rows
            .iter()
            .filter_map(|o| {
                let n = new.rows.iter().find(|n| n.client == o.client)?;
                Some(Moved { client: o.client, change: change(o, n), old: o.clone(), new: n.clone() })
            })
            .collect();
        clients.sort_by_key(|m| m.change);
        Impact { old, new, clients }
    }

    /// 1 when a client that connected before fails now, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.clients.iter().any(|m| m.change == Change::Breaks))
    }
}

fn change(old: &Row, new: &Row) -> Change {
    use Verdict::*;
    match (old.verdict, new.verdict) {
        (Connects, Fails) => Change::Breaks,
        (Fails, Connects) => Change::Fixes,
        (Connects, Connects) if old.negotiated() != new.negotiated() => Change::Renegotiates,
        (Fails, Fails) if old.outcome() != new.outcome() || old.cause != new.cause => Change::FailsDifferently,
        (Connects, Connects) | (Fails, Fails) => Change::Same,
        _ => Change::Untested,
    }
}
