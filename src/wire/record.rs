//! The TLS record layer of one direction: the stream of bytes cut into `(type, version, fragment)` records.
//!
//! A record is the unit both encryption and ordering work on, so this is the first step of the analysis. The relay
//! hands us reads, not records: a record may span many chunks and a chunk may hold many records, so we first join the
//! chunks of one direction and remember, for each record, the chunk in which its last byte arrived (that is when the
//! peer could act on it, which orders the two directions against each other).
//!
//! Everything here reads untrusted bytes: lengths are checked against what is present, nothing is allocated from a
//! length field, and the first thing that does not look like TLS stops this direction with a message saying why.

use std::fmt;

use super::{Capture, Direction};

/// The largest fragment a record may carry: RFC 8446 5.2 allows 2^14 plaintext bytes plus 256 of expansion.
pub const MAX_FRAGMENT: usize = (1 << 14) + 256;

/// Record content types (RFC 8446 appendix B.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
/// An alert record.
pub const ALERT: u8 = 21;
/// A handshake record.
pub const HANDSHAKE: u8 = 22;
/// An application data record (also the outer type of every TLS 1.3 encrypted record).
pub const APPLICATION_DATA: u8 = 23;
/// A heartbeat record (RFC 6520); still a valid type, so it does not make a stream "not TLS".
pub const HEARTBEAT: u8 = 24;

/// One record, borrowing its fragment from the joined stream.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// The content type from the header.
    pub content_type: u8,
    /// The record-layer version from the header (legacy in TLS 1.3, but part of the AAD).
    pub version: u16,
    /// The 5-byte header as sent: TLS 1.3 authenticates it as additional data.
    pub header: [u8; 5],
    /// The fragment.
    pub fragment: &'a [u8],
    /// Index in [`Capture::chunks`] of the chunk that delivered the record's last byte.
    pub done_at: usize,
}

/// Why a stream stopped being parsed as TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The very first bytes are not a TLS record header (an HTTP server, a plaintext protocol, noise).
    NotTls {
        /// Up to 10 first bytes.
        first: Vec<u8>,
    },
    /// A later header has a content type or version no TLS stack sends.
    BadHeader {
        /// Offset of the header in the direction's stream.
        offset: usize,
        /// The content type byte.
        content_type: u8,
        /// The version field.
        version: u16,
    },
    /// The header promises more than any record may hold.
    Oversized {
        /// The length from the header.
        len: usize,
    },
    /// The stream ended inside a record (or inside its header).
    Truncated {
        /// Bytes the header announced (5 when the header itself is cut).
        wanted: usize,
        /// Bytes that arrived.
        got: usize,
        /// True when the stream ended inside the 5-byte header.
        in_header: bool,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotTls { first } => write!(f, "not TLS: first bytes \"{}\"", first.escape_ascii()),
            RecordError::BadHeader { offset, content_type, version } => write!(
                f,
                "not a TLS record header at byte {offset}: type 0x{content_type:02x}, version 0x{version:04x}"
            ),
            RecordError::Oversized { len } => write!(f, "record of {len} bytes exceeds 2^14+256"),
            RecordError::Truncated { wanted, got, in_header: true } => {
                write!(f, "record header truncated: stream ended after {got} of {wanted} bytes")
            }
            RecordError::Truncated { wanted, got, in_header: false } => {
                write!(f, "record truncated: header says {wanted} bytes, stream ended after {got}")
            }
        }
    }
}

/// One direction of a capture: its bytes joined, with the end offset of each chunk they came from.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// All bytes of the direction, in order.
    pub bytes: Vec<u8>,
    /// `(end offset in bytes, chunk index)` for each non-empty chunk of the direction.
    ends: Vec<(usize, usize)>,
}

impl Stream {
    /// Joins the chunks that travelled `dir`.
    pub fn of(capture: &Capture, dir: Direction) -> Stream {
        let mut s = Stream::default();
        for (i, c) in capture.chunks.iter().enumerate().filter(|(_, c)| c.dir == dir && !c.bytes.is_empty()) {
            s.bytes.extend_from_slice(&c.bytes);
            s.ends.push((s.bytes.len(), i));
        }
        s
    }

    /// The chunk that delivered the byte just before `end` (so a record ending at `end` was complete then).
    fn chunk_at(&self, end: usize) -> usize {
        let i = self.ends.partition_point(|&(e, _)| e < end);
        self.ends.get(i).or(self.ends.last()).map_or(0, |&(_, c)| c)
    }

    /// Splits the stream into records; stops at the first thing that is not a well-formed record.
    pub fn records(&self) -> (Vec<Record<'_>>, Option<RecordError>) {
        let b = &self.bytes;
        let mut out = Vec::new();
        let mut at = 0;
        while at < b.len() {
            let rest = &b[at..];
            if rest.len() < 5 {
                // A partial header that could not be TLS anyway is reported as such.
                if let Some(e) = header_error(at, rest) {
                    return (out, Some(e));
                }
                return (out, Some(RecordError::Truncated { wanted: 5, got: rest.len(), in_header: true }));
            }
            if let Some(e) = header_error(at, rest) {
                return (out, Some(e));
            }
            let header = [rest[0], rest[1], rest[2], rest[3], rest[4]];
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if len > MAX_FRAGMENT {
                return (out, Some(RecordError::Oversized { len }));
            }
            if rest.len() < 5 + len {
                return (out, Some(RecordError::Truncated { wanted: len, got: rest.len() - 5, in_header: false }));
            }
            out.push(Record {
                content_type: rest[0],
                version: u16::from_be_bytes([rest[1], rest[2]]),
                header,
                fragment: &rest[5..5 + len],
                done_at: self.chunk_at(at + 5 + len),
            });
            at += 5 + len;
        }
        (out, None)
    }
}

/// Checks the part of a record header that is present: content type 20..=24 and a version of the form 0x03xx.
fn header_error(offset: usize, rest: &[u8]) -> Option<RecordError> {
    let type_ok = rest.first().is_none_or(|t| (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(t));
    let major_ok = rest.get(1).is_none_or(|&m| m == 3);
    let minor_ok = rest.get(2).is_none_or(|&m| m <= 4);
    if type_ok && major_ok && minor_ok {
        return None;
    }
    if offset == 0 {
        return Some(RecordError::NotTls { first: rest.iter().take(10).copied().collect() });
    }
    let version = u16::from_be_bytes([rest.get(1).copied().unwrap_or(0), rest.get(2).copied().unwrap_or(0)]);
    Some(RecordError::BadHeader { offset, content_type: rest[0], version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Chunk;

    fn capture(parts: &[&[u8]]) -> Capture {
        let chunks =
            parts.iter().map(|p| Chunk { dir: Direction::ClientToServer, at_us: 0, bytes: p.to_vec() }).collect();
        Capture { chunks }
    }

    #[test]
    fn records_across_and_within_chunks_remember_their_completing_chunk() {
        // Two records: an alert (2 bytes) and a CCS (1 byte); the first spans chunks 0 and 1.
        let cap = capture(&[&[21, 3, 3, 0], &[2, 2, 40, 20, 3, 3], &[0, 1, 1]]);
        let s = Stream::of(&cap, Direction::ClientToServer);
        let (recs, err) = s.records();
        assert_eq!(err, None);
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].content_type, recs[0].fragment, recs[0].done_at), (ALERT, &[2u8, 40][..], 1));
        assert_eq!((recs[1].content_type, recs[1].fragment, recs[1].done_at), (CHANGE_CIPHER_SPEC, &[1u8][..], 2));
    }

    #[test]
    fn errors_name_what_was_expected() {
        let cases: [(&[u8], &str); 5] = [
            (b"HTTP/1.1 400 Bad Request", "not TLS: first bytes \"HTTP/1.1 4\""),
            (&[22, 3, 1, 2, 0, 1, 2], "record truncated: header says 512 bytes, stream ended after 2"),
            (&[22, 3, 3, 0x46, 0x50], "record of 18000 bytes exceeds 2^14+256"),
            (&[21, 3, 3, 0, 2, 2, 40, 22, 3], "record header truncated: stream ended after 2 of 5 bytes"),
            (
                &[21, 3, 3, 0, 2, 2, 40, 0x47, 0x45, 0x54],
                "not a TLS record header at byte 7: type 0x47, version 0x4554",
            ),
        ];
        for (bytes, want) in cases {
            let s = Stream::of(&capture(&[bytes]), Direction::ClientToServer);
            let (_, err) = s.records();
            assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(want), "{bytes:?}");
        }
    }
}
