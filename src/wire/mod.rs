//! The wire: what the bytes between client and server say, independent of what either library reports.
//!
//! Every connection is recorded, chunk by chunk each way, into a [`Capture`] (by taps on the endpoints' sockets,
//! [`crate::backend::conn`], or by the relay, [`crate::relay`]); each backend that can export its secrets writes them into the
//! cell's [`KeyLog`]. [`analyse`] parses the record layer, decrypts what the key log allows, and returns the
//! handshake messages and alerts as a [`Wire`] observation.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::vocab::{Alert, Role};

/// Which way a chunk travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Client to server.
    #[serde(rename = "C->S")]
    ClientToServer,
    /// Server to client.
    #[serde(rename = "S->C")]
    ServerToClient,
}

impl Direction {
    /// The role that sent bytes this way.
    pub fn sender(self) -> Role {
        match self {
            Direction::ClientToServer => Role::Client,
            Direction::ServerToClient => Role::Server,
        }
    }
}

/// One piece of one direction: a write a tap saw accepted, or a read the relay forwarded.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// Which way.
    pub dir: Direction,
    /// Microseconds since the record began (just before the connection).
    pub at_us: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Everything recorded for one connection, in the order it happened.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    /// The chunks, both directions interleaved in time order.
    pub chunks: Vec<Chunk>,
}

/// The cell's key log, shared between the backends that write it and the analysis that reads it: NSS key log
/// format lines (`CLIENT_HANDSHAKE_TRAFFIC_SECRET <client_random hex> <secret hex>`), the format every stack and
/// Wireshark agree on.
#[derive(Clone, Debug, Default)]
pub struct KeyLog(Arc<Mutex<String>>);

impl KeyLog {
    /// A new, empty key log.
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Appends one line (without its newline).
    pub fn push(&self, line: &str) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.push_str(line.trim_end());
        s.push('\n');
    }

    /// The lines so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// An alert seen on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAlert {
    /// Who sent it.
    pub from: Role,
    /// Fatal (2) or warning (1).
    pub fatal: bool,
    /// The description.
    pub alert: Alert,
    /// Whether it travelled encrypted (recovered with the key log).
    pub encrypted: bool,
}
pub mod decrypt;
pub mod handshake;
pub mod pcapng;
pub mod record;
pub mod settle;

mod analyse;
pub use analyse::{Wire, analyse};

#[cfg(test)]
mod tests;
