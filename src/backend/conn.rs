//! The tap: how a cell between two linked-in backends is recorded without a relay in its path.
//!
//! The relay ([`crate::relay`]) sits between client and server as a third party with two sockets of its own, so
//! every flight crosses loopback twice and waits for one more turn of the runtime: about 50 µs a flight on this
//! 2-core machine, a third of a rustls handshake. It is still what plays faults and what external peers talk
//! through. For everything else the client connects straight to the server and each endpoint's socket is wrapped
//! in a [`Conn`] that records every write as the kernel accepts it: exactly what that side put on the wire, with the
//! same clock for both sides, so the capture means what the relay's did.
//!
//! The relay also shaped how connections end, and the tap keeps that: when an endpoint drops its socket the tap
//! sends FIN at once (what the relay did on reading its EOF) but keeps the socket open and reads until the peer's
//! FIN. Bytes the endpoint left unread therefore never turn its close into a TCP reset, which could discard the
//! alert the peer is about to read; the peer sees the same clean end of stream it saw through the relay.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::error::ConfigError;
use crate::relay::Recorder;
use crate::wire::Direction;

/// The connection an endpoint plays its side over: a plain socket (through the relay, or unrecorded in `bench`),
/// or a tapped one.
#[derive(Debug)]
pub enum Conn {
    /// A socket as accepted or connected.
    Direct(TcpStream),
    /// A socket whose writes are recorded.
    Tapped(Tap),
}

impl Conn {
    /// The socket itself, for an endpoint that hands it to another process (an external peer bridges it to its
    /// tool). Only the relay's connections are plain; a tapped one would lose its recording, so asking for it is
    /// a harness fault, never a silent loss.
    pub fn into_tcp(self) -> Result<TcpStream, ConfigError> {
        match self {
            Conn::Direct(s) => Ok(s),
            Conn::Tapped(_) => {
                Err(ConfigError::new("an external peer was given a tapped connection; it needs the relay"))
            }
        }
    }

    /// Taps `stream`, whose writes travel `dir`, into `rec`; when its endpoint drops it, the socket goes to `park`,
    /// whose [`Linger`] the harness awaits (it drains the socket, and closes it once the peer is done).
    pub fn tapped(stream: TcpStream, dir: Direction, rec: Recorder, park: Park) -> Conn {
        Conn::Tapped(Tap { stream: Some(stream), dir, rec, park: Some(park.0) })
    }

    fn io(&mut self) -> &mut TcpStream {
        match self {
            Conn::Direct(s) => s,
            Conn::Tapped(t) => t.stream.as_mut().expect("the stream is only taken when the tap is dropped"),
        }
    }
}

/// A socket that records what its side writes, and lingers after its endpoint dropped it (see the module docs).
#[derive(Debug)]
pub struct Tap {
    stream: Option<TcpStream>,
    dir: Direction,
    rec: Recorder,
    park: Option<oneshot::Sender<TcpStream>>,
}

/// Where a dropped tap leaves its socket: the sending half of [`linger`].
#[derive(Debug)]
pub struct Park(oneshot::Sender<TcpStream>);

/// The lingering half of a tap: resolves once the socket's endpoint dropped it and the peer has ended its side too,
/// or at once if the [`Park`] went unused (that side never got a socket).
pub struct Linger(oneshot::Receiver<TcpStream>);

/// A place for one side's socket to linger, made before the side has a socket, so the harness can wait on it from
/// the start.
pub fn linger() -> (Park, Linger) {
    let (tx, rx) = oneshot::channel();
    (Park(tx), Linger(rx))
}

impl Drop for Tap {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // FIN now, synchronously: the peer may be waiting for our end of stream before its endpoint returns.
            let _ = socket2::SockRef::from(&stream).shutdown(std::net::Shutdown::Write);
            if let Some(park) = self.park.take() {
                // If nobody lingers any more (the cell is over), the socket simply closes here.
                let _ = park.send(stream);
            }
        }
    }
}

impl Linger {
    /// Reads (and discards: the peer's own tap recorded them) what arrives until the peer's end of stream.
    pub async fn run(self) {
        let Ok(mut stream) = self.0.await else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.io()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(self.io()).poll_write(cx, buf);
        if let (Conn::Tapped(t), Poll::Ready(Ok(n))) = (&*self, &polled) {
            t.rec.record(t.dir, &buf[..*n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(self.io()).poll_write_vectored(cx, bufs);
        if let (Conn::Tapped(t), Poll::Ready(Ok(n))) = (&*self, &polled) {
            // The first `n` bytes across the slices went out, as one chunk.
            let mut left = *n;
            let mut written = Vec::with_capacity(left);
            for b in bufs {
                let take = left.min(b.len());
                written.extend_from_slice(&b[..take]);
                left -= take;
                if left == 0 {
                    break;
                }
            }
            t.rec.record(t.dir, &written);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Direct(s) => s.is_write_vectored(),
            Conn::Tapped(t) => t.stream.as_ref().is_some_and(|s| s.is_write_vectored()),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.io()).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.io()).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (c.unwrap(), s.unwrap().0)
    }

    /// A connected client and server, both tapped into `rec`, with their lingering halves.
    async fn tapped_pair(rec: &Recorder) -> (Conn, Linger, Conn, Linger) {
        let (c, s) = pair().await;
        let ((pc, lc), (ps, ls)) = (linger(), linger());
        let c = Conn::tapped(c, Direction::ClientToServer, rec.clone(), pc);
        let s = Conn::tapped(s, Direction::ServerToClient, rec.clone(), ps);
        (c, lc, s, ls)
    }

    /// Both sides' writes land in one capture, in the order they were made, each with its direction.
    #[tokio::test]
    async fn records_each_sides_writes_in_order() {
        let rec = Recorder::new();
        let (mut c, lc, mut s, ls) = tapped_pair(&rec).await;
        c.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(b"world").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        drop((c, s));
        tokio::join!(lc.run(), ls.run());
        let chunks = rec.capture().chunks;
        let seen: Vec<_> = chunks.iter().map(|ch| (ch.dir, ch.bytes.as_slice())).collect();
        assert_eq!(seen, [(Direction::ClientToServer, &b"hello"[..]), (Direction::ServerToClient, &b"world"[..])]);
    }

    /// A side that closes with its peer's bytes unread: the peer still reads everything written to it and then a
    /// clean end of stream, not a reset (what the relay gave, and what a plain close does not).
    #[tokio::test]
    async fn a_close_with_unread_bytes_is_a_clean_end_of_stream() {
        let (mut c, lc, mut s, ls) = tapped_pair(&Recorder::new()).await;
        let lingering = tokio::spawn(lc.run());
        c.write_all(b"never read by the server").await.unwrap();
        s.write_all(b"alert").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The server goes away without reading: a plain close would reset the connection.
        drop(s);
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got)).await.unwrap();
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(got, b"alert");
        drop(c);
        ls.run().await;
        lingering.await.unwrap();
    }

    #[test]
    fn only_plain_connections_can_be_handed_on() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (c, s) = pair().await;
            assert!(Conn::Direct(c).into_tcp().is_ok());
            let (park, _linger) = linger();
            let tapped = Conn::tapped(s, Direction::ServerToClient, Recorder::new(), park);
            let err = tapped.into_tcp().unwrap_err();
            assert!(err.message.contains("relay"), "{}", err.message);
        });
    }
}
