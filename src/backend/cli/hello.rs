//! The negotiated version, cipher suite and group, read from the server's plaintext handshake as it crossed the
//! bridge. Both tools print these in their own words (and `s_server` not at all for the version); the ServerHello
//! (and TLS 1.2's ServerKeyExchange) say them exactly, in the registry's code points, for every tool alike.

use crate::vocab::{CipherSuite, Group, ProtocolVersion};

/// What the server's first flight says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hello {
    /// The version (supported_versions in TLS 1.3, the legacy field before).
    pub version: Option<ProtocolVersion>,
    /// The suite.
    pub cipher: Option<CipherSuite>,
    /// The key share's group (TLS 1.3) or the ECDHE ServerKeyExchange's named curve (TLS 1.2 and earlier).
    pub group: Option<Group>,
}

/// The HelloRetryRequest's fixed `random` (RFC 8446 section 4.1.3), first bytes: enough to tell it apart.
const HRR_RANDOM_PREFIX: [u8; 8] = [0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11];

/// Parses the server-to-client bytes: plaintext handshake records up to the first encrypted one. Truncated or
/// hostile input yields what could be read, never a panic.
pub(crate) fn parse(bytes: &[u8]) -> Hello {
    let mut hs = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 {
        let (kind, len) = (rest[0], usize::from(u16::from_be_bytes([rest[3], rest[4]])));
        let Some(body) = rest.get(5..5 + len) else { break };
        match kind {
            22 => hs.extend_from_slice(body),
            20 => {}
            _ => break,
        }
        rest = &rest[5 + len..];
    }
    let mut out = Hello::default();
    let mut msgs = hs.as_slice();
    while msgs.len() >= 4 {
        let len = (usize::from(msgs[1]) << 16) | (usize::from(msgs[2]) << 8) | usize::from(msgs[3]);
        let Some(body) = msgs.get(4..4 + len) else { break };
        match msgs[0] {
            2 => server_hello(body, &mut out),
            12 if body.first() == Some(&3) && body.len() >= 3 => {
                out.group = Some(Group(u16::from_be_bytes([body[1], body[2]])));
            }
            _ => {}
        }
        msgs = &msgs[4 + len..];
    }
    out
}

/// The ALPN protocol the server selected, from its handshake messages (header included, back to back): the
/// ServerHello's extension in TLS 1.2, the EncryptedExtensions' in TLS 1.3 (which only a decrypting log shows).
pub(crate) fn alpn(mut msgs: &[u8]) -> Option<String> {
    while msgs.len() >= 4 {
        let len = (usize::from(msgs[1]) << 16) | (usize::from(msgs[2]) << 8) | usize::from(msgs[3]);
        let body = msgs.get(4..4 + len)?;
        let exts = match msgs[0] {
            2 => body.get(35..).and_then(|b| b.get(usize::from(*b.first()?) + 6..)),
            8 => body.get(2..),
            _ => None,
        };
        if let Some(found) = exts.and_then(alpn_extension) {
            return Some(found);
        }
        msgs = &msgs[4 + len..];
    }
    None
}

/// Extension 0x0010 in an extension block: a list holding the one selected protocol.
fn alpn_extension(mut ext: &[u8]) -> Option<String> {
    while ext.len() >= 4 {
        let kind = u16::from_be_bytes([ext[0], ext[1]]);
        let len = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        let data = ext.get(4..4 + len)?;
        if kind == 0x0010 {
            let name = data.get(3..3 + usize::from(*data.get(2)?))?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        ext = &ext[4 + len..];
    }
    None
}

fn server_hello(b: &[u8], out: &mut Hello) {
    let hrr = b.get(2..10) == Some(&HRR_RANDOM_PREFIX[..]);
    let Some(&sid_len) = b.get(34) else { return };
    let at = 35 + usize::from(sid_len);
    let (Some(suite), Some(legacy)) = (b.get(at..at + 2), b.get(0..2)) else { return };
    if !hrr {
        out.version = ProtocolVersion::from_wire(u16::from_be_bytes([legacy[0], legacy[1]]));
        out.cipher = Some(CipherSuite(u16::from_be_bytes([suite[0], suite[1]])));
    }
    let Some(ext) = b.get(at + 5..) else { return };
    let mut ext = ext;
    while ext.len() >= 4 {
        let kind = u16::from_be_bytes([ext[0], ext[1]]);
        let len = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        let Some(data) = ext.get(4..4 + len) else { break };
        match kind {
            0x002b if data.len() == 2 && !hrr => {
                out.version = ProtocolVersion::from_wire(u16::from_be_bytes([data[0], data[1]]));
            }
            0x0033 if data.len() >= 2 => out.group = Some(Group(u16::from_be_bytes([data[0], data[1]]))),
            _ => {}
        }
        ext = &ext[4 + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3 ServerHello record: legacy 0x0303, suite 0x1302, supported_versions 0x0304, key_share x25519.
    fn tls13_server_hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0);
        body.extend([0x13, 0x02, 0x00]);
        let exts: Vec<u8> =
            [vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04], vec![0x00, 0x33, 0x00, 0x04, 0x00, 0x1d, 0, 0]].concat();
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend(body);
        let mut rec = vec![22, 3, 3, 0, msg.len() as u8];
        rec.extend(msg);
        rec.extend([23, 3, 3, 0, 1, 0xff]);
        rec
    }

    #[test]
    fn tls13_server_hello_names_version_suite_and_group() {
        let h = parse(&tls13_server_hello());
        assert_eq!(h.version, Some(ProtocolVersion::Tls13));
        assert_eq!(h.cipher, Some(CipherSuite(0x1302)));
        assert_eq!(h.group, Some(Group(0x001d)));
    }

    #[test]
    fn alpn_from_encrypted_extensions() {
        let ee = [8, 0, 0, 11, 0, 9, 0, 0x10, 0, 5, 0, 3, 2, b'h', b'2'];
        assert_eq!(alpn(&ee), Some("h2".to_string()));
        assert_eq!(alpn(&ee[..10]), None);
    }

    #[test]
    fn truncated_input_is_partial_not_a_panic() {
        let full = tls13_server_hello();
        for cut in 0..full.len() {
            let _ = parse(&full[..cut]);
        }
        assert_eq!(parse(&full[..20]), Hello::default());
    }
}
