//! The negotiated version, cipher suite and group, read from the server's plaintext handshake as it crossed the
//! bridge. Both tools print these in their own words (and `s_server` not at all for the version); the ServerHello
//! (and TLS 1.2's ServerKeyExchange) say them exactly, in the registry's code points, for every tool alike.

use crate::vocab::{CipherSuite, Group, ProtocolVersion};
use crate::wire::handshake::{self, msg};

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

/// Parses the server-to-client bytes: plaintext handshake records up to the first encrypted one, read with the wire
/// module's own handshake parser. Truncated or hostile input yields what could be read, never a panic.
pub(crate) fn parse(bytes: &[u8]) -> Hello {
    let mut out = Hello::default();
    let mut suite = None;
    for m in messages(&plaintext_handshake(bytes)) {
        match m.typ {
            msg::SERVER_HELLO => {
                let Some(sh) = handshake::parse_server_hello(&m.body) else { continue };
                if !sh.is_hrr() {
                    out.version = ProtocolVersion::from_wire(sh.chosen_version());
                    out.cipher = Some(CipherSuite(sh.suite));
                    suite = Some(sh.suite);
                }
                out.group = sh.key_share.map(Group).or(out.group);
            }
            msg::SERVER_KEY_EXCHANGE => {
                out.group = handshake::ske_named_group(&m.body, suite).map(Group).or(out.group);
            }
            _ => {}
        }
    }
    out
}

/// The ALPN protocol the server selected, from its handshake messages (header included, back to back): the
/// ServerHello's extension in TLS 1.2, the EncryptedExtensions' in TLS 1.3 (which only a decrypting log shows).
pub(crate) fn alpn(msgs: &[u8]) -> Option<String> {
    messages(msgs).into_iter().find_map(|m| match m.typ {
        msg::SERVER_HELLO => handshake::parse_server_hello(&m.body)?.alpn,
        msg::ENCRYPTED_EXTENSIONS => handshake::encrypted_extensions_alpn(&m.body),
        _ => None,
    })
}

/// The handshake bytes of the plaintext records at the start of `bytes` (ChangeCipherSpec skipped), up to the first
/// record of another type or a truncated one.
fn plaintext_handshake(bytes: &[u8]) -> Vec<u8> {
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
    hs
}

fn messages(hs: &[u8]) -> Vec<handshake::Message> {
    handshake::Reassembler::default().push(hs)
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
