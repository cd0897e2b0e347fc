//! What the server products (nginx, haproxy) share: each is started per cell on a listening socket the harness bound
//! and hands over, terminates TLS, and proxies the plaintext to a TCP echo of the harness's, which plays the
//! exchange; what the product sent is read from its own bytes.

use std::os::fd::{AsRawFd, RawFd};
use std::process::Child;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::backend::bridge::{Tapped, bridge};
use crate::backend::{ConfigError, PING};
use crate::observation::{ErrorClass, Failure, Phase, SideOutcome};
use crate::vocab::{Alert, Role};
use crate::wire::{Capture, Chunk, Direction, KeyLog};

/// A listening socket on 127.0.0.1:0 made inheritable (its descriptor survives exec): the product listens on it,
/// so there is no port to guess and no race for one. Returns the socket (drop it once the product has started), its
/// descriptor and its port.
pub(super) fn inheritable_listener() -> Result<(std::net::TcpListener, RawFd, u16), ConfigError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).map_err(std::io::Error::from)?;
    let fd = listener.as_raw_fd();
    Ok((listener, fd, port))
}

/// A running product process, stopped (SIGTERM, then reaped) when dropped.
pub(super) struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let _ = self.0.wait();
    }
}

/// The harness's side of the exchange behind the product, in plaintext: the ping back, then the end of the session.
/// What came instead of the ping, if anything did (a client that speaks its own protocol, `try-client`).
async fn echo(listener: &TcpListener) -> Option<Vec<u8>> {
    let Ok((mut s, _)) = listener.accept().await else { return None };
    let mut buf = Vec::with_capacity(PING.len());
    match (&mut s).take(PING.len() as u64).read_to_end(&mut buf).await {
        Ok(_) if buf == PING => {
            let _ = s.write_all(&buf).await;
        }
        // Not the ping: the exchange is over here, as an in-process server ends it (the product then closes).
        _ => return Some(buf),
    }
    let mut rest = [0u8; 256];
    while matches!(s.read(&mut rest).await, Ok(n) if n > 0) {}
    None
}

/// One session through the product: the client's connection bridged to the product's port, the echo behind it.
pub(super) struct Session {
    /// The bytes each way between the client and the product.
    pub tapped: Tapped,
    /// What reached the echo instead of the ping.
    pub other: Option<Vec<u8>>,
}

impl Session {
    /// Plays one session; it is over when the client's connection is (a failed handshake never reaches the echo).
    pub async fn play(io: TcpStream, port: u16, echo_at: &TcpListener, name: &str) -> Result<Session, ConfigError> {
        let conn = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| ConfigError::new(format!("connecting to {name} on port {port}: {e}")))?;
        let _ = conn.set_nodelay(true);
        let mut tapped = Tapped::default();
        let mut other = None;
        {
            let echoed = echo(echo_at);
            let bridged = bridge(io, conn, &mut tapped, std::future::pending());
            tokio::pin!(echoed, bridged);
            let mut echo_done = false;
            loop {
                tokio::select! {
                    () = &mut bridged => break,
                    o = &mut echoed, if !echo_done => {
                        echo_done = true;
                        other = o;
                    }
                }
            }
        }
        Ok(Session { tapped, other })
    }

    /// The last fatal alert the product sent, as the bytes show it (plaintext, or decrypted with the keys the client
    /// has logged so far).
    pub fn sent_alert(&self, keys: &KeyLog) -> Option<Alert> {
        let capture = Capture {
            chunks: vec![
                Chunk { dir: Direction::ClientToServer, at_us: 0, bytes: self.tapped.to_tool.clone() },
                Chunk { dir: Direction::ServerToClient, at_us: 1, bytes: self.tapped.from_tool.clone() },
            ],
        };
        let wire = crate::wire::analyse(&capture, &keys.text());
        wire.alerts.iter().rev().find(|a| a.from == Role::Server && a.fatal).map(|a| a.alert)
    }

    /// The outcome the product logged, unless it completed the session and passed on something other than the
    /// ping: then the exchange failed here.
    pub fn judged(self, logged: SideOutcome) -> SideOutcome {
        match (logged, self.other) {
            (SideOutcome::Established(_), Some(bytes)) => SideOutcome::Failed(Failure {
                phase: Phase::Data,
                sent_alert: None,
                received_alert: None,
                error: ErrorClass::Local,
                message: format!("unexpected application data {bytes:?}"),
            }),
            (o, _) => o,
        }
    }
}

/// `nginx`'s and haproxy's names for the versions.
pub(super) fn openssl_version_name(v: crate::vocab::ProtocolVersion) -> &'static str {
    use crate::vocab::ProtocolVersion::*;
    match v {
        Tls10 => "TLSv1",
        Tls11 => "TLSv1.1",
        Tls12 => "TLSv1.2",
        Tls13 => "TLSv1.3",
    }
}

/// The version a product logged (`TLSv1.2`, haproxy's `TLSv1.0` too).
pub(super) fn parse_version(word: &str) -> Option<crate::vocab::ProtocolVersion> {
    use crate::vocab::ProtocolVersion::*;
    Some(match word {
        "TLSv1" | "TLSv1.0" => Tls10,
        "TLSv1.1" => Tls11,
        "TLSv1.2" => Tls12,
        "TLSv1.3" => Tls13,
        _ => return None,
    })
}

/// The suite a product logged, by OpenSSL's name or the IANA one.
pub(super) fn parse_cipher(word: &str) -> Option<crate::vocab::CipherSuite> {
    crate::vocab::CipherSuite::known()
        .find(|s| s.name().is_some_and(|n| n == word || ::openssl::ssl::cipher_name(n) == word))
}
