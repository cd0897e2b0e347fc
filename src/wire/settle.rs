//! When a connection with one side outside the harness has settled: the handshake is done and nothing moves.
//!
//! `compat --target` (a live server) and `try-client` (the user's own client) play one side the harness does not
//! control. After the handshake that side speaks its own protocol, not the harness's ping and echo: an HTTP server
//! waits for a request line, a client waits for the server to speak first. Both ends would then wait for the
//! deadline, so the harness watches the recorded bytes instead and stops the connection once the handshake is done
//! and the line has been quiet for a moment; the report says so.

use std::time::{Duration, Instant};

use super::record::{APPLICATION_DATA, CHANGE_CIPHER_SPEC, Stream};
use super::{Capture, Direction};
use crate::vocab::ProtocolVersion;

/// How long a connection whose handshake is done may stay quiet before it counts as settled.
pub const QUIET: Duration = Duration::from_millis(1000);

/// Whether the bytes show a completed handshake and no alert.
///
/// With the key log (a linked-in endpoint writes it as it goes) that is exact: a decrypted Finished each way. An
/// external peer hands its key log over only when it ends, so for it the records are counted: in TLS 1.3 the client
/// has sent an encrypted record after the server's flight (its Finished, or its certificate before it); in TLS 1.2
/// both sides have sent ChangeCipherSpec, which their Finished follows in the same flight. Any alert, or bytes that
/// are not TLS, mean not done.
pub fn handshake_done(capture: &Capture, keylog: &str) -> bool {
    let wire = super::analyse(capture, keylog);
    if !wire.alerts.is_empty() || !wire.malformed.is_empty() {
        return false;
    }
    let finished = |dir: &str| wire.transcript.iter().any(|l| l.starts_with(dir) && l.contains("Finished"));
    if finished("C->S") && finished("S->C") {
        return true;
    }
    let Some(version) = wire.version else { return false };
    let count = |dir: Direction, content_type: u8| {
        let stream = Stream::of(capture, dir);
        let (records, _) = stream.records();
        records.iter().filter(|r| r.content_type == content_type).count()
    };
    if version == ProtocolVersion::Tls13 {
        count(Direction::ClientToServer, APPLICATION_DATA) >= 1
    } else {
        count(Direction::ClientToServer, CHANGE_CIPHER_SPEC) >= 1
            && count(Direction::ServerToClient, CHANGE_CIPHER_SPEC) >= 1
    }
}

/// Watches a capture for [`handshake_done`] followed by [`QUIET`] without a new byte.
#[derive(Debug)]
pub struct Settle {
    chunks: usize,
    since: Instant,
}

impl Default for Settle {
    fn default() -> Self {
        Settle { chunks: 0, since: Instant::now() }
    }
}

impl Settle {
    /// Whether the connection has settled, as of this capture (call it every ~100 ms).
    pub fn settled(&mut self, capture: &Capture, keylog: &str) -> bool {
        if capture.chunks.len() != self.chunks {
            self.chunks = capture.chunks.len();
            self.since = Instant::now();
            return false;
        }
        self.since.elapsed() >= QUIET && handshake_done(capture, keylog)
    }
}
