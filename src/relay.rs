//! The recording relay: every cell's client talks to the server through it, so the harness has its own record of
//! the bytes (the ground truth no library API gives: rustls has no alert callback, native-tls hides OpenSSL, TLS 1.3
//! encrypts its alerts), and can play the misbehaving network that real deployments meet ([`Fault`]).
//!
//! The relay is a plain byte pump on loopback with TCP_NODELAY both ways; it forwards each read as soon as it has it,
//! propagates half-closes (a FIN one way stays a FIN that way), and stops when both directions have ended. Faults
//! replace what one side sees, never both sides' view of the same bytes, so each endpoint still reports what it
//! would have reported against a real broken peer or network.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::scenario::Fault;
use crate::wire::{Capture, Chunk, Direction};

/// Bytes an HTTP server answers a TLS ClientHello with (what a plain-HTTP port behind a TLS URL does).
const HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\
                              Connection: close\r\n\r\nBad Request";

/// Bytes that are not TLS at all: no valid content type, no valid version. Fixed, so every run sees the same.
const GARBAGE: &[u8] = &[
    0x8f, 0x3c, 0x00, 0x41, 0xd2, 0x17, 0x9e, 0x00, 0x00, 0x5a, 0xc4, 0x61, 0x0b, 0xee, 0x27, 0x90, 0x33, 0x7d, 0x81,
    0x00, 0xfa, 0x12, 0x6c, 0x49, 0xb8, 0x05, 0xd1, 0x7a, 0x2e, 0x99, 0x40, 0x13,
];

/// The largest record body TLS allows (RFC 8446 5.2: 2^14 + 256 for TLSCiphertext; TLS 1.2 allows 2^14 + 2048).
const OVERSIZED_BODY: usize = (1 << 14) + 2048 + 1;

/// The chunks of one connection, shared by everything that records them: the relay's two pumps, or the two taps
/// ([`crate::backend::conn`]).
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    chunks: Arc<Mutex<Vec<Chunk>>>,
    start: Option<Instant>,
}

impl Recorder {
    /// An empty record whose clock starts now.
    pub fn new() -> Recorder {
        Recorder { chunks: Arc::default(), start: Some(Instant::now()) }
    }

    /// Appends what travelled `dir`, stamped with the time since the record began.
    pub fn record(&self, dir: Direction, bytes: &[u8]) {
        let at_us = self.start.map_or(0, |s| s.elapsed().as_micros() as u64);
        let mut chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        chunks.push(Chunk { dir, at_us, bytes: bytes.to_vec() });
    }

    /// What has been recorded so far.
    pub fn capture(&self) -> Capture {
        Capture { chunks: self.chunks.lock().unwrap_or_else(|e| e.into_inner()).clone() }
    }
}

/// Relays one accepted client connection to the server at `server`, recording every byte, until both directions
/// have ended (or the caller drops the future at the cell's deadline: [`Relay::capture`] still has what was seen).
pub struct Relay {
    recorder: Recorder,
}

impl Default for Relay {
    fn default() -> Self {
        Relay::new()
    }
}

impl Relay {
    /// A relay with an empty record.
    pub fn new() -> Relay {
        Relay { recorder: Recorder::new() }
    }

    /// The relay's record, for taps to write into when a cell goes without the relay.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// What has been recorded so far.
    pub fn capture(&self) -> Capture {
        self.recorder.capture()
    }

    /// Pumps bytes between the two connections, applying `fault`.
    pub async fn run(&self, client: TcpStream, server: TcpStream, fault: Option<Fault>, delay: Duration) {
        let (c_read, c_write) = client.into_split();
        let (s_read, s_write) = server.into_split();
        let rec = &self.recorder;
        match fault {
            None => {
                tokio::join!(
                    pump(c_read, s_write, Direction::ClientToServer, rec, Pace::Whole),
                    pump(s_read, c_write, Direction::ServerToClient, rec, Pace::Whole),
                );
            }
            Some(Fault::OneByteSegments) => {
                tokio::join!(
                    pump(c_read, s_write, Direction::ClientToServer, rec, Pace::OneByte),
                    pump(s_read, c_write, Direction::ServerToClient, rec, Pace::OneByte),
                );
            }
            Some(Fault::Delay) => {
                tokio::join!(
                    pump(c_read, s_write, Direction::ClientToServer, rec, Pace::Whole),
                    pump(s_read, c_write, Direction::ServerToClient, rec, Pace::DelayFirst(delay)),
                );
            }
            Some(f) => self.misbehave(f, c_read, c_write, s_read, s_write).await,
        }
    }

    /// The faults that replace the server's answer (or the whole connection) as the client sees it.
    async fn misbehave(
        &self,
        fault: Fault,
        mut c_read: OwnedReadHalf,
        mut c_write: OwnedWriteHalf,
        mut s_read: OwnedReadHalf,
        mut s_write: OwnedWriteHalf,
    ) {
        let rec = &self.recorder;
        // Every fault here starts by taking the client's first record (its ClientHello) off the wire.
        let hello = match read_record(&mut c_read, Direction::ClientToServer, rec).await {
            Ok(h) => h,
            Err(_) => return,
        };
        match fault {
            Fault::CloseAfterClientHello | Fault::ResetAfterClientHello | Fault::HttpResponse => {
                // Nothing reaches the server: it sees a connection that closes before a single byte. What it says
                // about that (an alert) is recorded, but reaches no one.
                let _ = s_write.shutdown().await;
                if fault == Fault::ResetAfterClientHello {
                    let client = c_read.reunite(c_write).expect("halves of one stream");
                    let _ = client.set_zero_linger();
                    drop(client);
                    drain(&mut s_read, Direction::ServerToClient, rec).await;
                    return;
                }
                if fault == Fault::HttpResponse {
                    rec.record(Direction::ServerToClient, HTTP_ANSWER);
                    let _ = c_write.write_all(HTTP_ANSWER).await;
                }
                let _ = c_write.shutdown().await;
                // Keep recording what each side says last (an alert), until both have closed.
                tokio::join!(
                    drain(&mut c_read, Direction::ClientToServer, rec),
                    drain(&mut s_read, Direction::ServerToClient, rec)
                );
            }
            Fault::GarbageServerHello | Fault::TruncatedRecord | Fault::OversizedRecord | Fault::Stall => {
                // The server gets the ClientHello and answers; the client gets something else instead.
                if s_write.write_all(&hello).await.is_err() {
                    return;
                }
                let answer = read_record(&mut s_read, Direction::ServerToClient, rec).await.unwrap_or_default();
                let replaced: Vec<u8> = match fault {
                    Fault::GarbageServerHello => GARBAGE.to_vec(),
                    Fault::TruncatedRecord => answer[..answer.len() / 2].to_vec(),
                    Fault::OversizedRecord => {
                        let mut r = vec![0x16, 0x03, 0x03];
                        r.extend_from_slice(&(OVERSIZED_BODY as u16).to_be_bytes());
                        r.resize(5 + OVERSIZED_BODY, 0);
                        r
                    }
                    _ => Vec::new(),
                };
                if fault == Fault::Stall {
                    // Hold everything: neither side hears from the other again; the deadline ends the cell.
                    tokio::join!(
                        drain(&mut c_read, Direction::ClientToServer, rec),
                        drain(&mut s_read, Direction::ServerToClient, rec)
                    );
                    std::future::pending::<()>().await;
                }
                let _ = c_write.write_all(&replaced).await;
                if fault != Fault::GarbageServerHello {
                    // A cut or oversized record ends the story for the server too: it sees its peer go away. (Only
                    // garbage is forwarded on, so the server learns how the client reacted to it.)
                    let _ = s_write.shutdown().await;
                    if fault == Fault::TruncatedRecord {
                        let _ = c_write.shutdown().await;
                    }
                }
                // What the client says next goes to the server, so the server sees the client's reaction; the
                // server's further bytes are recorded but no longer reach the client.
                tokio::join!(pump(c_read, s_write, Direction::ClientToServer, rec, Pace::Whole), async {
                    drain(&mut s_read, Direction::ServerToClient, rec).await;
                    let _ = c_write.shutdown().await;
                });
            }
            Fault::OneByteSegments | Fault::Delay => unreachable!("handled by run"),
        }
    }
}

/// How a pump forwards what it reads.
#[derive(Clone, Copy)]
enum Pace {
    /// Each read as one write.
    Whole,
    /// Each byte as its own write (with TCP_NODELAY, its own TCP segment).
    OneByte,
    /// Hold the first read this long, then as `Whole`.
    DelayFirst(Duration),
}

/// Forwards one direction until EOF or an error, then half-closes the other side's write end. Once the other side
/// is gone (a write fails), what this side still says is recorded to its end: an alert written to a peer that has
/// already closed is part of the story (JSSE answers a peer's last plaintext alert with its own, after the peer left).
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, dir: Direction, rec: &Recorder, pace: Pace) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut first = true;
    let mut forwarding = true;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        rec.record(dir, &buf[..n]);
        if !forwarding {
            continue;
        }
        let written = match pace {
            Pace::Whole => to.write_all(&buf[..n]).await,
            Pace::DelayFirst(d) => {
                if first {
                    tokio::time::sleep(d).await;
                }
                to.write_all(&buf[..n]).await
            }
            Pace::OneByte => {
                let mut r = Ok(());
                for b in &buf[..n] {
                    r = to.write_all(std::slice::from_ref(b)).await;
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
        };
        first = false;
        forwarding = written.is_ok();
    }
    let _ = to.shutdown().await;
}

/// Reads and records until EOF, forwarding nothing.
async fn drain(from: &mut OwnedReadHalf, dir: Direction, rec: &Recorder) {
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        rec.record(dir, &buf[..n]);
    }
}

/// Reads (and records) exactly one TLS record: the 5-byte header, then the length it states (bounded by what TLS
/// allows, so a peer that sends garbage cannot make the relay wait for megabytes). Whatever arrived is recorded even
/// when the stream ends early.
async fn read_record(from: &mut OwnedReadHalf, dir: Direction, rec: &Recorder) -> io::Result<Vec<u8>> {
    let mut record = Vec::with_capacity(512);
    let mut want = 5;
    let mut buf = [0u8; 4096];
    while record.len() < want {
        let room = (want - record.len()).min(buf.len());
        let n = from.read(&mut buf[..room]).await?;
        if n == 0 {
            break;
        }
        rec.record(dir, &buf[..n]);
        record.extend_from_slice(&buf[..n]);
        if want == 5 && record.len() >= 5 {
            want = 5 + usize::from(u16::from_be_bytes([record[3], record[4]])).min(OVERSIZED_BODY);
        }
    }
    if record.len() < want {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a record"));
    }
    Ok(record)
}
