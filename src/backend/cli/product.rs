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

/// What reached the harness's echo behind the product.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reached {
    /// Nothing: the product never connected to the echo (a client that went away right after its handshake).
    Nothing,
    /// The ping, echoed back.
    Ping,
    /// Something else, possibly nothing at all before the end of the stream (a client that speaks its own protocol,
    /// `try-client`, or one that went away after the product connected).
    Other(Vec<u8>),
}

/// The harness's side of the exchange behind the product, in plaintext: the ping back, then the end of the session.
/// What reached it is recorded as soon as it is known (the session may end while the echo still waits for the
/// product to close).
async fn echo(listener: &TcpListener, reached: &std::sync::Mutex<Reached>) {
    let Ok((mut s, _)) = listener.accept().await else { return };
    let set = |r| *reached.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = r;
    set(Reached::Other(Vec::new()));
    let mut buf = Vec::with_capacity(PING.len());
    match (&mut s).take(PING.len() as u64).read_to_end(&mut buf).await {
        Ok(_) if buf == PING => {
            set(Reached::Ping);
            let _ = s.write_all(&buf).await;
        }
        // Not the ping: the exchange is over here, as an in-process server ends it (the product then closes).
        _ => return set(Reached::Other(buf)),
    }
    let mut rest = [0u8; 256];
    while matches!(s.read(&mut rest).await, Ok(n) if n > 0) {}
}

/// One session through the product: the client's connection bridged to the product's port, the echo behind it.
pub(super) struct Session {
    /// The bytes each way between the client and the product.
    pub tapped: Tapped,
    /// What reached the echo.
    pub reached: Reached,
}

impl Session {
    /// Plays one session; it is over when the client's connection is (a failed handshake never reaches the echo).
    pub async fn play(io: TcpStream, port: u16, echo_at: &TcpListener, name: &str) -> Result<Session, ConfigError> {
        let conn = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| ConfigError::new(format!("connecting to {name} on port {port}: {e}")))?;
        let _ = conn.set_nodelay(true);
        let mut tapped = Tapped::default();
        let reached = std::sync::Mutex::new(Reached::Nothing);
        {
            let echoed = echo(echo_at, &reached);
            let bridged = bridge(io, conn, &mut tapped, std::future::pending());
            tokio::pin!(echoed, bridged);
            let mut echo_done = false;
            loop {
                tokio::select! {
                    () = &mut bridged => break,
                    () = &mut echoed, if !echo_done => echo_done = true,
                }
            }
        }
        let reached = reached.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Session { tapped, reached })
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

    /// The outcome the product logged, unless it completed the handshake and the ping never reached the echo: then
    /// the exchange failed here, as it fails in an in-process server. A client that went away after its handshake
    /// without sending anything (Node rejecting the certificate after a TLS 1.2 handshake) is an end of stream before
    /// the ping, whether or not the product had connected to the echo by then; anything else in its place is
    /// unexpected application data.
    pub fn judged(self, logged: SideOutcome) -> SideOutcome {
        let failed = |error, message| {
            SideOutcome::Failed(Failure { phase: Phase::Data, sent_alert: None, received_alert: None, error, message })
        };
        match (logged, self.reached) {
            (SideOutcome::Established(_), Reached::Nothing) => {
                failed(ErrorClass::Eof, "end of stream before the ping (the product never reached the echo)".into())
            }
            (SideOutcome::Established(_), Reached::Other(bytes)) if bytes.is_empty() => {
                failed(ErrorClass::Eof, "end of stream before the ping".into())
            }
            (SideOutcome::Established(_), Reached::Other(bytes)) => {
                failed(ErrorClass::Local, format!("unexpected application data {bytes:?}"))
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Established;

    fn judged(reached: Reached) -> SideOutcome {
        let session = Session { tapped: Tapped::default(), reached };
        session.judged(SideOutcome::Established(Established::default()))
    }

    fn error_of(o: &SideOutcome) -> Option<ErrorClass> {
        o.failure().map(|f| f.error)
    }

    #[test]
    fn a_session_is_clean_only_when_the_ping_reached_the_echo() {
        assert!(matches!(judged(Reached::Ping), SideOutcome::Established(_)));
        // A client that left right after its handshake, before or after the product connected to the echo.
        assert_eq!(error_of(&judged(Reached::Nothing)), Some(ErrorClass::Eof));
        assert_eq!(error_of(&judged(Reached::Other(Vec::new()))), Some(ErrorClass::Eof));
        // Something else in the ping's place: the exchange failed here.
        let other = judged(Reached::Other(b"GET / HTTP/1.1\r\n".to_vec()));
        assert_eq!(error_of(&other), Some(ErrorClass::Local));
        assert!(other.failure().is_some_and(|f| f.message.starts_with("unexpected application data [71, 69, 84")));
    }

    #[test]
    fn a_failure_the_product_logged_stands() {
        let logged = SideOutcome::Failed(Failure {
            phase: Phase::Handshake,
            sent_alert: None,
            received_alert: None,
            error: ErrorClass::Eof,
            message: "nginx: SSL handshake failure".into(),
        });
        let session = Session { tapped: Tapped::default(), reached: Reached::Nothing };
        assert_eq!(session.judged(logged.clone()), logged);
    }
}
