//! pcapng export: a cell's recorded connections as a capture file that Wireshark and tshark open and decrypt.
//!
//! The relay sees only the TLS byte stream, not packets, so the file frames that stream as a synthetic TCP/IPv4
//! conversation per connection. The key log travels inside the file as a Decryption Secrets Block, so whoever opens it
//! sees the decrypted handshake (and alerts) without configuring a key log file.
//!
//! Layout: Section Header Block, one Interface Description Block (`LINKTYPE_RAW`: each packet is a bare IPv4
//! datagram), the Decryption Secrets Block (only when there are secrets; it must precede the packets it decrypts),
//! then one Enhanced Packet Block per synthetic packet. Everything is little-endian; the byte-order magic tells
//! readers so.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Capture, Direction};

/// Section Header Block type; its value reads the same in both byte orders.
const SHB_TYPE: u32 = 0x0A0D_0D0A;
/// Written in the writer's byte order so a reader can tell which order the section uses.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Interface Description Block type.
const IDB_TYPE: u32 = 0x0000_0001;
/// Enhanced Packet Block type.
const EPB_TYPE: u32 = 0x0000_0006;
/// Decryption Secrets Block type.
const DSB_TYPE: u32 = 0x0000_000A;
/// Secrets type of a DSB holding NSS key log lines ("TLSK").
const SECRETS_TLS_KEYLOG: u32 = 0x544C_534B;
/// `LINKTYPE_RAW`: the packet starts at the IP header, so no link-layer addresses need inventing.
const LINKTYPE_RAW: u16 = 101;
/// Snap length 0: packets are never truncated.
const SNAPLEN_UNLIMITED: u32 = 0;
/// Option code `shb_userappl` (the writing application) and `if_name`.
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;

/// The client side of every synthetic connection; connection `i` uses port `CLIENT_PORT_BASE + i`.
const CLIENT_ADDR: [u8; 4] = [127, 0, 0, 1];
const CLIENT_PORT_BASE: u16 = 49152;
/// The server side. Port 443 is the one Wireshark's TLS dissector claims by default, so the file decodes as TLS
/// without a "Decode As" rule, whatever port the real loopback server used.
const SERVER_ADDR: [u8; 4] = [127, 0, 0, 1];
const SERVER_PORT: u16 = 443;
/// Payload bytes per TCP segment. A chunk up to this size stays one segment (one relay read reads as one packet);
/// larger chunks are split, which also keeps every IPv4 datagram under its 65535-byte limit.
pub const MAX_SEGMENT: usize = 16 * 1024;
/// Initial sequence numbers: fixed so the same capture always gives the same file.
const CLIENT_ISN: u32 = 0x1000_0000;
const SERVER_ISN: u32 = 0x2000_0000;
/// Gap between one connection's last packet and the next connection's SYN. A [`Capture`]'s times are relative to its
/// own accept, so connections are laid out one after another rather than on one shared clock.
const GAP_BETWEEN_CONNECTIONS_US: u64 = 1_000;

const IPV4_HEADER_LEN: usize = 20;
const TCP_HEADER_LEN: usize = 20;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// Writes one pcapng file holding `connections` (each a separate synthetic TCP connection, e.g. the two connections of
/// a session-resumption cell) with `keylog` embedded as a Decryption Secrets Block.
///
/// Packet times start at the current time. Client `127.0.0.1:(49152 + index)`, server `127.0.0.1:443` (the TLS
/// port, so Wireshark dissects TLS without "Decode As"). An empty `keylog` writes no DSB.
pub fn write(connections: &[Capture], keylog: &str, out: &mut impl Write) -> io::Result<()> {
    write_at(connections, keylog, SystemTime::now(), out)
}

/// [`write()`] with the first connection's SYN at `start` (for reproducible files).
pub fn write_at(connections: &[Capture], keylog: &str, start: SystemTime, out: &mut impl Write) -> io::Result<()> {
    let base_us = start.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut at_us = base_us.unwrap_or(0);
    out.write_all(&section_header())?;
    out.write_all(&interface_description())?;
    if !keylog.is_empty() {
        out.write_all(&decryption_secrets(keylog.as_bytes())?)?;
    }
    for (index, capture) in connections.iter().enumerate() {
        let port = u16::try_from(index)
            .ok()
            .and_then(|i| CLIENT_PORT_BASE.checked_add(i))
            .ok_or_else(|| invalid(format!("at most {} connections per file", u16::MAX - CLIENT_PORT_BASE + 1)))?;
        let last = Connection::new(port, at_us).write(capture, out)?;
        at_us = last.saturating_add(GAP_BETWEEN_CONNECTIONS_US);
    }
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// One block: type, total length, body padded to 32 bits, total length again (so readers can walk backwards).
fn block(block_type: u32, body: &[u8]) -> io::Result<Vec<u8>> {
    let padded = body.len().next_multiple_of(4);
    let total = padded
        .checked_add(12)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| invalid(format!("a pcapng block body of at most 4 GiB, got {} bytes", body.len())))?;
    let mut b = Vec::with_capacity(padded + 12);
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(4 + 4 + padded, 0);
    b.extend_from_slice(&total.to_le_bytes());
    Ok(b)
}

/// Appends one option (code, length, value padded to 32 bits). Values here are short constants.
fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(&value[..usize::from(len)]);
    body.resize(body.len().next_multiple_of(4), 0);
}

/// Ends an option list (`opt_endofopt`).
fn end_of_options(body: &mut Vec<u8>) {
    body.extend_from_slice(&[0, 0, 0, 0]);
}

fn section_header() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes()); // major version
    body.extend_from_slice(&0u16.to_le_bytes()); // minor version
    body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length: not specified
    option(&mut body, OPT_SHB_USERAPPL, concat!("tlsmatrix ", env!("CARGO_PKG_VERSION")).as_bytes());
    end_of_options(&mut body);
    block(SHB_TYPE, &body).unwrap_or_default()
}

/// No `if_tsresol` option: the default resolution is microseconds, the relay's own resolution.
fn interface_description() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes()); // reserved
    body.extend_from_slice(&SNAPLEN_UNLIMITED.to_le_bytes());
    option(&mut body, OPT_IF_NAME, b"tlsmatrix-relay");
    end_of_options(&mut body);
    block(IDB_TYPE, &body).unwrap_or_default()
}

fn decryption_secrets(secrets: &[u8]) -> io::Result<Vec<u8>> {
    let len = u32::try_from(secrets.len())
        .map_err(|_| invalid(format!("a key log of at most 4 GiB, got {} bytes", secrets.len())))?;
    let mut body = Vec::with_capacity(secrets.len() + 8);
    body.extend_from_slice(&SECRETS_TLS_KEYLOG.to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(secrets);
    block(DSB_TYPE, &body)
}

fn enhanced_packet(at_us: u64, packet: &[u8]) -> io::Result<Vec<u8>> {
    let len =
        u32::try_from(packet.len()).map_err(|_| invalid(format!("a packet under 4 GiB, got {}", packet.len())))?;
    let mut body = Vec::with_capacity(packet.len() + 20);
    body.extend_from_slice(&0u32.to_le_bytes()); // interface id
    body.extend_from_slice(&((at_us >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(at_us as u32).to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes()); // captured length
    body.extend_from_slice(&len.to_le_bytes()); // original length
    body.extend_from_slice(packet);
    block(EPB_TYPE, &body)
}

/// The TCP state of one synthetic connection: the next sequence number each side sends.
struct Connection {
    client_port: u16,
    base_us: u64,
    client_next: u32,
    server_next: u32,
    ip_id: u16,
}

impl Connection {
    fn new(client_port: u16, base_us: u64) -> Connection {
        Connection { client_port, base_us, client_next: CLIENT_ISN, server_next: SERVER_ISN, ip_id: 0 }
    }

    /// Writes the handshake, every chunk, and the closing exchange; returns the last packet's time.
    fn write(&mut self, capture: &Capture, out: &mut impl Write) -> io::Result<u64> {
        let t0 = self.base_us;
        self.send(out, t0, Direction::ClientToServer, TCP_SYN, &[])?;
        self.send(out, t0, Direction::ServerToClient, TCP_SYN | TCP_ACK, &[])?;
        self.send(out, t0, Direction::ClientToServer, TCP_ACK, &[])?;
        let mut last = t0;
        for chunk in &capture.chunks {
            // Times come from two relay threads; never let a packet go back in time.
            last = last.max(self.base_us.saturating_add(chunk.at_us));
            for segment in chunk.bytes.chunks(MAX_SEGMENT) {
                self.send(out, last, chunk.dir, TCP_PSH | TCP_ACK, segment)?;
            }
        }
        self.send(out, last, Direction::ClientToServer, TCP_FIN | TCP_ACK, &[])?;
        self.send(out, last, Direction::ServerToClient, TCP_FIN | TCP_ACK, &[])?;
        self.send(out, last, Direction::ClientToServer, TCP_ACK, &[])?;
        Ok(last)
    }

    /// One packet: sequence number from the sender's state, acknowledging everything the peer has sent so far.
    /// SYN and FIN each take one sequence number.
    fn send(&mut self, out: &mut impl Write, at_us: u64, dir: Direction, flags: u8, payload: &[u8]) -> io::Result<()> {
        let (seq, ack) = match dir {
            Direction::ClientToServer => (self.client_next, self.server_next),
            Direction::ServerToClient => (self.server_next, self.client_next),
        };
        let ack = if flags & TCP_ACK != 0 { ack } else { 0 };
        let (src, dst) = match dir {
            Direction::ClientToServer => ((CLIENT_ADDR, self.client_port), (SERVER_ADDR, SERVER_PORT)),
            Direction::ServerToClient => ((SERVER_ADDR, SERVER_PORT), (CLIENT_ADDR, self.client_port)),
        };
        let segment = Segment { src, dst, seq, ack, flags, payload };
        let packet = ipv4_tcp(&segment, self.ip_id)?;
        self.ip_id = self.ip_id.wrapping_add(1);
        // Payloads are at most MAX_SEGMENT bytes, so the length fits a u32 and sequence space wraps as TCP's does.
        let used = payload.len() as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
        match dir {
            Direction::ClientToServer => self.client_next = self.client_next.wrapping_add(used),
            Direction::ServerToClient => self.server_next = self.server_next.wrapping_add(used),
        }
        out.write_all(&enhanced_packet(at_us, &packet)?)
    }
}

/// What one TCP segment carries.
struct Segment<'a> {
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
}

/// An IPv4 datagram holding one TCP segment, both checksums computed (Wireshark does not verify them by default,
/// but other tools do, and a correct one costs nothing).
fn ipv4_tcp(s: &Segment<'_>, ip_id: u16) -> io::Result<Vec<u8>> {
    let tcp_len = TCP_HEADER_LEN + s.payload.len();
    let total = u16::try_from(IPV4_HEADER_LEN + tcp_len)
        .map_err(|_| invalid(format!("a TCP payload of at most 65495 bytes, got {}", s.payload.len())))?;
    let mut p = Vec::with_capacity(usize::from(total));
    p.push(0x45); // version 4, header length 5 words
    p.push(0); // DSCP/ECN
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&ip_id.to_be_bytes());
    p.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    p.push(64); // TTL
    p.push(6); // protocol: TCP
    p.extend_from_slice(&[0, 0]); // header checksum, filled below
    p.extend_from_slice(&s.src.0);
    p.extend_from_slice(&s.dst.0);
    let ip_sum = checksum(&[&p[..IPV4_HEADER_LEN]]);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());

    let tcp_start = p.len();
    p.extend_from_slice(&s.src.1.to_be_bytes());
    p.extend_from_slice(&s.dst.1.to_be_bytes());
    p.extend_from_slice(&s.seq.to_be_bytes());
    p.extend_from_slice(&s.ack.to_be_bytes());
    p.push(((TCP_HEADER_LEN / 4) as u8) << 4); // data offset
    p.push(s.flags);
    p.extend_from_slice(&u16::MAX.to_be_bytes()); // window
    p.extend_from_slice(&[0, 0]); // checksum, filled below
    p.extend_from_slice(&[0, 0]); // urgent pointer
    p.extend_from_slice(s.payload);
    // The pseudo-header: addresses, protocol, TCP length (which fits a u16 because `total` did).
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&s.src.0);
    pseudo[4..8].copy_from_slice(&s.dst.0);
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
    let tcp_sum = checksum(&[&pseudo, &p[tcp_start..]]);
    p[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    Ok(p)
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`; every part but the last has even length.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for part in parts {
        let mut words = part.chunks_exact(2);
        for w in &mut words {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            sum += u64::from(u16::from_be_bytes([*last, 0]));
        }
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Chunk;

    /// A block as read back: type and body (without the length fields), after checking its framing.
    struct Block {
        kind: u32,
        body: Vec<u8>,
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn be16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Walks the file, asserting every block's length is a multiple of 4 and repeated at its end.
    fn blocks(file: &[u8]) -> Vec<Block> {
        assert_eq!(file.len() % 4, 0, "file length is 32-bit aligned");
        let mut at = 0;
        let mut out = Vec::new();
        while at < file.len() {
            let kind = le32(file, at);
            let len = le32(file, at + 4) as usize;
            assert!(len >= 12 && len % 4 == 0, "block at {at}: length {len}");
            assert!(at + len <= file.len(), "block at {at} runs past the end");
            assert_eq!(le32(file, at + len - 4), len as u32, "block at {at}: trailing length");
            out.push(Block { kind, body: file[at + 8..at + len - 4].to_vec() });
            at += len;
        }
        out
    }

    /// A decoded packet (IPv4 + TCP), after checking both checksums.
    #[derive(Debug)]
    struct Packet {
        at_us: u64,
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: Vec<u8>,
    }

    fn packet(epb: &Block) -> Packet {
        let b = &epb.body;
        assert_eq!(le32(b, 0), 0, "interface id");
        let at_us = (u64::from(le32(b, 4)) << 32) | u64::from(le32(b, 8));
        let caplen = le32(b, 12) as usize;
        assert_eq!(le32(b, 16) as usize, caplen, "original length = captured length");
        let p = &b[20..20 + caplen];
        assert!(b[20 + caplen..].len() < 4 + 4, "only padding and the empty option list follow");
        assert_eq!(p[0], 0x45);
        assert_eq!(be16(p, 2) as usize, p.len(), "IPv4 total length");
        assert_eq!(p[9], 6, "protocol TCP");
        assert_eq!(checksum(&[&p[..20]]), 0, "IPv4 header checksum verifies");
        let tcp = &p[20..];
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&p[12..20]);
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&(tcp.len() as u16).to_be_bytes());
        assert_eq!(checksum(&[&pseudo, tcp]), 0, "TCP checksum verifies");
        Packet {
            at_us,
            src_port: be16(tcp, 0),
            dst_port: be16(tcp, 2),
            seq: be32(tcp, 4),
            ack: be32(tcp, 8),
            flags: tcp[13],
            payload: tcp[20..].to_vec(),
        }
    }

    fn chunk(dir: Direction, at_us: u64, bytes: Vec<u8>) -> Chunk {
        Chunk { dir, at_us, bytes }
    }

    fn render(connections: &[Capture], keylog: &str, start_us: u64) -> Vec<u8> {
        let mut file = Vec::new();
        let start = UNIX_EPOCH + std::time::Duration::from_micros(start_us);
        write_at(connections, keylog, start, &mut file).unwrap();
        file
    }

    const KEYLOG: &str = "CLIENT_HANDSHAKE_TRAFFIC_SECRET 00 11\n"; // 37 bytes: needs padding

    #[test]
    fn header_blocks_have_their_magic_numbers_and_the_secrets_precede_the_packets() {
        let capture = Capture { chunks: vec![chunk(Direction::ClientToServer, 5, b"hello".to_vec())] };
        let file = render(&[capture], KEYLOG, 1_000_000);
        let blocks = blocks(&file);
        let kinds: Vec<u32> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(kinds[..3], [SHB_TYPE, IDB_TYPE, DSB_TYPE]);
        assert!(kinds[3..].iter().all(|&k| k == EPB_TYPE), "{kinds:x?}");
        assert_eq!(kinds.len(), 3 + 3 + 1 + 3, "handshake, one data segment, closing exchange");

        let shb = &blocks[0].body;
        assert_eq!(&file[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
        assert_eq!(le32(shb, 0), 0x1A2B_3C4D);
        assert_eq!(&shb[4..8], &[1, 0, 0, 0], "version 1.0");
        assert_eq!(&shb[8..16], &[0xFF; 8], "section length unspecified");

        let idb = &blocks[1].body;
        assert_eq!(u16::from_le_bytes([idb[0], idb[1]]), 101, "LINKTYPE_RAW");
        assert_eq!(le32(idb, 4), 0, "snaplen");

        let dsb = &blocks[2].body;
        assert_eq!(&dsb[..4], b"KSLT", "secrets type 0x544c534b, little-endian");
        assert_eq!(le32(dsb, 4) as usize, KEYLOG.len());
        assert_eq!(&dsb[8..8 + KEYLOG.len()], KEYLOG.as_bytes());
        assert_eq!(dsb.len(), 8 + KEYLOG.len().next_multiple_of(4), "secrets padded to 32 bits, no options");
        assert!(dsb[8 + KEYLOG.len()..].iter().all(|&b| b == 0), "padding is zeros");
    }

    #[test]
    fn no_keylog_means_no_secrets_block() {
        let file = render(&[Capture::default()], "", 0);
        assert!(blocks(&file).iter().all(|b| b.kind != DSB_TYPE));
    }

    #[test]
    fn tcp_framing_has_handshake_consistent_sequence_numbers_and_closing_exchange() {
        let capture = Capture {
            chunks: vec![
                chunk(Direction::ClientToServer, 10, vec![1; 300]),
                chunk(Direction::ServerToClient, 20, vec![2; 1000]),
                chunk(Direction::ClientToServer, 30, vec![3; 7]),
            ],
        };
        let start = 1_700_000_000_000_000;
        let packets: Vec<Packet> =
            blocks(&render(&[capture], KEYLOG, start)).iter().filter(|b| b.kind == EPB_TYPE).map(packet).collect();
        let summary: Vec<(u16, u8, u32, u32, usize)> =
            packets.iter().map(|p| (p.src_port, p.flags, p.seq, p.ack, p.payload.len())).collect();
        let (c, s) = (CLIENT_ISN, SERVER_ISN);
        assert_eq!(
            summary,
            [
                (49152, TCP_SYN, c, 0, 0),
                (443, TCP_SYN | TCP_ACK, s, c + 1, 0),
                (49152, TCP_ACK, c + 1, s + 1, 0),
                (49152, TCP_PSH | TCP_ACK, c + 1, s + 1, 300),
                (443, TCP_PSH | TCP_ACK, s + 1, c + 301, 1000),
                (49152, TCP_PSH | TCP_ACK, c + 301, s + 1001, 7),
                (49152, TCP_FIN | TCP_ACK, c + 308, s + 1001, 0),
                (443, TCP_FIN | TCP_ACK, s + 1001, c + 309, 0),
                (49152, TCP_ACK, c + 309, s + 1002, 0),
            ]
        );
        assert!(packets.iter().all(|p| (p.src_port == 443) != (p.dst_port == 443)));
        let times: Vec<u64> = packets.iter().map(|p| p.at_us - start).collect();
        assert_eq!(times, [0, 0, 0, 10, 20, 30, 30, 30, 30]);
    }

    #[test]
    fn a_large_chunk_becomes_bounded_segments_that_reassemble_to_it() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let capture = Capture { chunks: vec![chunk(Direction::ServerToClient, 1, big.clone())] };
        let packets: Vec<Packet> =
            blocks(&render(&[capture], "", 0)).iter().filter(|b| b.kind == EPB_TYPE).map(packet).collect();
        let data: Vec<&Packet> = packets.iter().filter(|p| !p.payload.is_empty()).collect();
        assert_eq!(data.len(), big.len().div_ceil(MAX_SEGMENT));
        assert!(data.iter().all(|p| p.payload.len() <= MAX_SEGMENT));
        let mut expected_seq = SERVER_ISN + 1;
        let mut joined = Vec::new();
        for p in data {
            assert_eq!(p.seq, expected_seq);
            expected_seq += p.payload.len() as u32;
            joined.extend_from_slice(&p.payload);
        }
        assert_eq!(joined, big);
    }

    #[test]
    fn connections_get_their_own_ports_and_follow_each_other_in_time() {
        let one = Capture { chunks: vec![chunk(Direction::ClientToServer, 500, vec![0; 4])] };
        let two = Capture { chunks: vec![chunk(Direction::ServerToClient, 0, vec![0; 4])] };
        let packets: Vec<Packet> =
            blocks(&render(&[one, two], "", 0)).iter().filter(|b| b.kind == EPB_TYPE).map(packet).collect();
        assert_eq!(packets.len(), 2 * 7);
        let (first, second) = packets.split_at(7);
        assert!(first.iter().all(|p| p.src_port == 49152 || p.dst_port == 49152));
        assert!(second.iter().all(|p| p.src_port == 49153 || p.dst_port == 49153));
        assert_eq!(second[0].at_us, 500 + GAP_BETWEEN_CONNECTIONS_US);
        assert!(packets.windows(2).all(|w| w[0].at_us <= w[1].at_us), "time never goes backwards");
    }

    #[test]
    fn out_of_order_times_and_empty_chunks_and_sequence_wrap_do_not_panic() {
        let capture = Capture {
            chunks: vec![
                chunk(Direction::ClientToServer, u64::MAX, vec![1]),
                chunk(Direction::ServerToClient, 0, Vec::new()),
                chunk(Direction::ServerToClient, 3, vec![2; 3]),
            ],
        };
        let packets: Vec<Packet> = blocks(&render(&[capture], KEYLOG, u64::MAX / 2))
            .iter()
            .filter(|b| b.kind == EPB_TYPE)
            .map(packet)
            .collect();
        assert_eq!(packets.len(), 3 + 2 + 3, "the empty chunk sends nothing");
        assert!(packets.windows(2).all(|w| w[0].at_us <= w[1].at_us));

        let mut conn = Connection::new(CLIENT_PORT_BASE, 0);
        conn.client_next = u32::MAX - 1;
        let mut out = Vec::new();
        conn.send(&mut out, 0, Direction::ClientToServer, TCP_PSH | TCP_ACK, &[0; 4]).unwrap();
        assert_eq!(conn.client_next, 2, "sequence numbers wrap");
    }

    #[test]
    fn checksum_matches_a_known_ipv4_header() {
        // A commonly used worked example of the IPv4 header checksum: the result is 0xB861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(checksum(&[&header]), 0xB861);
        assert_eq!(checksum(&[&[0xAB]]), !0xAB00, "an odd byte is padded with zero");
    }
}
