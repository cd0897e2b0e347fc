//! What one side of a connection saw, in one vocabulary for every backend.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocab::{Alert, CipherSuite, Group, ProtocolVersion};

/// How a side's attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SideOutcome {
    /// Handshake done, application data exchanged both ways, close_notify sent and received.
    Established(Established),
    /// Something failed; says which alert went which way and why.
    Failed(Failure),
}

impl SideOutcome {
    /// The failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            SideOutcome::Failed(f) => Some(f),
            SideOutcome::Established(_) => None,
        }
    }

    /// The alert this side sent, if any.
    pub fn sent_alert(&self) -> Option<Alert> {
        self.failure().and_then(|f| f.sent_alert)
    }

    /// The alert this side received, if any.
    pub fn received_alert(&self) -> Option<Alert> {
        self.failure().and_then(|f| f.received_alert)
    }
}

/// The parameters a side negotiated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Established {
    /// The protocol version.
    pub version: Option<ProtocolVersion>,
    /// The cipher suite.
    pub cipher: Option<CipherSuite>,
    /// The key-exchange group, where the backend reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// The ALPN protocol, if one was agreed.
    pub alpn: Option<String>,
    /// Whether this connection resumed an earlier session (abbreviated handshake); unknown where the backend does
    /// not report it (native-tls).
    #[serde(default)]
    pub resumed: Option<bool>,
}

/// Which part of the connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Building the library configuration or the handshake itself.
    Handshake,
    /// After the handshake: application data or the closing close_notify (a TLS 1.3 client learns of a rejected
    /// client certificate only here).
    Data,
}

/// The kind of failure, coarse enough to compare across stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The peer sent a fatal alert (`received_alert`).
    PeerAlert,
    /// This side gave up on its own, sending `sent_alert` if any.
    Local,
    /// The peer closed the connection without an alert or close_notify.
    Eof,
    /// A socket error (reset, broken pipe).
    Io,
    /// The side did not finish before the cell's deadline.
    Timeout,
    /// The backend's native error is not in its mapping: the cell fails until someone adds the mapping.
    Unmapped,
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        f.write_str(&s)
    }
}

/// How a side failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Handshake or data.
    pub phase: Phase,
    /// The fatal alert this side sent.
    pub sent_alert: Option<Alert>,
    /// The fatal alert this side received.
    pub received_alert: Option<Alert>,
    /// The kind of failure.
    pub error: ErrorClass,
    /// The library's own error text, verbatim.
    pub message: String,
}

/// Both sides of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The client side.
    pub client: SideOutcome,
    /// The server side.
    pub server: SideOutcome,
}

impl fmt::Display for SideOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SideOutcome::Established(e) => {
                write!(f, "established")?;
                if let Some(v) = e.version {
                    write!(f, " {v}")?;
                }
                if let Some(c) = e.cipher {
                    write!(f, " {c}")?;
                }
                if let Some(g) = e.group {
                    write!(f, " {g}")?;
                }
                if let Some(a) = &e.alpn {
                    write!(f, " alpn={a}")?;
                }
                if e.resumed == Some(true) {
                    write!(f, " resumed")?;
                }
                Ok(())
            }
            SideOutcome::Failed(x) => {
                let opt = |a: Option<Alert>| a.map_or("none".to_string(), |a| a.to_string());
                write!(
                    f,
                    "failed ({:?}, {}): sent {}, received {}; {}",
                    x.phase,
                    x.error,
                    opt(x.sent_alert),
                    opt(x.received_alert),
                    x.message
                )
            }
        }
    }
}
