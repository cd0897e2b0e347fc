//! Handshake messages: reassembly from records, parsing of the hellos, and a one-line summary of each message.
//!
//! The summaries are what a person debugging an interop failure wants first: what each side offered and chose, and
//! which messages were sent at all. Only the fields that explain a negotiation are parsed; bodies we do not need are
//! summarised by size. All parsing goes through [`Reader`], which returns `None` instead of reading past the end.

use std::fmt::Write as _;

use crate::vocab::{CipherSuite, Group, ProtocolVersion, SignatureScheme};

/// Handshake message types (RFC 8446 4, RFC 5246 7.4).
pub mod msg {
    #![allow(missing_docs)] // each constant is the message it is named after
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const CERTIFICATE_STATUS: u8 = 22;
    pub const KEY_UPDATE: u8 = 24;
    pub const COMPRESSED_CERTIFICATE: u8 = 25;
    pub const MESSAGE_HASH: u8 = 254;
}

/// Extension types we read (IANA "TLS ExtensionType Values").
mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const ALPN: u16 = 16;
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const COOKIE: u16 = 44;
    pub const KEY_SHARE: u16 = 51;
}

/// The `random` of a ServerHello that is really a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446 4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// How many cipher suites a ClientHello summary names before it says `+N`.
const SUITES_SHOWN: usize = 6;

/// A bounds-checked cursor over untrusted bytes.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `b`.
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader(b)
    }
    /// Bytes left.
    pub fn rest(&self) -> &'a [u8] {
        self.0
    }
    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A big-endian u24.
    pub fn u24(&mut self) -> Option<usize> {
        self.take(3).map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    /// A vector with a 1-byte length.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    /// A vector with a 2-byte length.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// A vector with a 3-byte length.
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
    /// A list of u16 values (must be of even length).
    fn u16s(b: &[u8]) -> Option<Vec<u16>> {
        if b.len() % 2 != 0 {
            return None;
        }
        Some(b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect())
    }
}

/// One complete handshake message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub typ: u8,
    /// The body (without the 4-byte header).
    pub body: Vec<u8>,
}

/// Joins handshake records of one direction and yields whole messages, however they were fragmented.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
}

impl Reassembler {
    /// Adds a record's handshake bytes and returns every message now complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<Message> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut r = Reader::new(&self.buf);
        loop {
            let mut probe = r;
            let (Some(typ), Some(body)) = (probe.u8(), probe.vec24()) else { break };
            out.push(Message { typ, body: body.to_vec() });
            r = probe;
        }
        let used = self.buf.len() - r.rest().len();
        self.buf.drain(..used);
        out
    }

    /// The partial message left over, as `(type, declared length, bytes present)`, if any.
    pub fn pending(&self) -> Option<(u8, usize, usize)> {
        let typ = *self.buf.first()?;
        let declared = Reader::new(self.buf.get(1..)?).u24().unwrap_or(0);
        Some((typ, declared, self.buf.len().saturating_sub(4)))
    }
}

/// The fields of a ClientHello that explain a negotiation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version`.
    pub legacy_version: u16,
    /// The 32-byte random, the key log's index.
    pub random: [u8; 32],
    /// Offered cipher suites.
    pub suites: Vec<u16>,
    /// `supported_versions`, if sent.
    pub versions: Option<Vec<u16>>,
    /// `supported_groups`, if sent.
    pub groups: Option<Vec<u16>>,
    /// Groups with a key share, if the extension was sent.
    pub key_shares: Option<Vec<u16>>,
    /// The host name from server_name.
    pub sni: Option<String>,
    /// ALPN protocols.
    pub alpn: Option<Vec<String>>,
}

/// The fields of a ServerHello (or HelloRetryRequest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version`.
    pub legacy_version: u16,
    /// The random; [`HRR_RANDOM`] marks a HelloRetryRequest.
    pub random: [u8; 32],
    /// The chosen suite.
    pub suite: u16,
    /// `supported_versions` (the version TLS 1.3 really chose).
    pub version: Option<u16>,
    /// The key share group (in an HRR: the group asked for).
    pub key_share: Option<u16>,
    /// ALPN protocol chosen (TLS 1.2; TLS 1.3 says it in EncryptedExtensions).
    pub alpn: Option<String>,
    /// An HRR cookie was sent.
    pub cookie: bool,
    /// extended_master_secret was acknowledged.
    pub ems: bool,
}

impl ServerHello {
    /// True when this is a HelloRetryRequest.
    pub fn is_hrr(&self) -> bool {
        self.random == HRR_RANDOM
    }
    /// The version chosen: supported_versions when present, else legacy_version.
    pub fn chosen_version(&self) -> u16 {
        self.version.unwrap_or(self.legacy_version)
    }
}

/// Iterates `(type, data)` over an extensions block; `None` if the block is malformed.
fn extensions(block: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut r = Reader::new(block);
    let mut out = Vec::new();
    while !r.is_empty() {
        let t = r.u16()?;
        out.push((t, r.vec16()?));
    }
    Some(out)
}

fn random32(b: &[u8]) -> Option<[u8; 32]> {
    b.try_into().ok()
}

fn alpn_list(data: &[u8]) -> Option<Vec<String>> {
    let mut r = Reader::new(data);
    let mut list = Reader::new(r.vec16()?);
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(String::from_utf8_lossy(list.vec8()?).into_owned());
    }
    Some(out)
}

/// Parses a ClientHello body.
pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello { legacy_version: r.u16()?, random: random32(r.take(32)?)?, ..Default::default() };
    r.vec8()?; // legacy_session_id
    ch.suites = Reader::u16s(r.vec16()?)?;
    r.vec8()?; // legacy_compression_methods
    if r.is_empty() {
        return Some(ch); // no extensions at all (an old client)
    }
    for (t, data) in extensions(r.vec16()?)? {
        let mut d = Reader::new(data);
        match t {
            ext::SUPPORTED_VERSIONS => ch.versions = Some(Reader::u16s(d.vec8()?)?),
            ext::SUPPORTED_GROUPS => ch.groups = Some(Reader::u16s(d.vec16()?)?),
            ext::KEY_SHARE => {
                let mut shares = Reader::new(d.vec16()?);
                let mut groups = Vec::new();
                while !shares.is_empty() {
                    groups.push(shares.u16()?);
                    shares.vec16()?;
                }
                ch.key_shares = Some(groups);
            }
            ext::SERVER_NAME => {
                let mut names = Reader::new(d.vec16()?);
                while !names.is_empty() {
                    let kind = names.u8()?;
                    let name = names.vec16()?;
                    if kind == 0 {
                        ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            ext::ALPN => ch.alpn = Some(alpn_list(data)?),
            _ => {}
        }
    }
    Some(ch)
}

/// Parses a ServerHello (or HelloRetryRequest) body.
pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader::new(body);
    let mut sh = ServerHello { legacy_version: r.u16()?, random: random32(r.take(32)?)?, ..Default::default() };
    r.vec8()?; // legacy_session_id_echo
    sh.suite = r.u16()?;
    r.u8()?; // legacy_compression_method
    if r.is_empty() {
        return Some(sh);
    }
    let hrr = sh.is_hrr();
    for (t, data) in extensions(r.vec16()?)? {
        let mut d = Reader::new(data);
        match t {
            ext::SUPPORTED_VERSIONS => sh.version = Some(d.u16()?),
            // An HRR names only the group; a ServerHello sends group + key_exchange.
            ext::KEY_SHARE => sh.key_share = Some(d.u16()?).filter(|_| hrr || d.vec16().is_some()),
            ext::ALPN => sh.alpn = alpn_list(data)?.into_iter().next(),
            ext::COOKIE => sh.cookie = true,
            ext::EXTENDED_MASTER_SECRET => sh.ems = true,
            _ => {}
        }
    }
    Some(sh)
}

/// A version for display: `tls1.3`, or hex for anything else (GREASE, drafts, SSL 3.0).
pub fn version_name(v: u16) -> String {
    ProtocolVersion::from_wire(v).map_or_else(|| format!("0x{v:04x}"), |p| p.name().to_owned())
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    let names: Vec<String> = items.iter().map(f).collect();
    format!("[{}]", names.join(","))
}

fn group_name(g: u16) -> String {
    Group(g).to_string()
}

/// The ClientHello line: `ClientHello(legacy=tls1.2, versions=[..], suites=[..], groups=[..], key_shares=[..], ..)`.
pub fn summarise_client_hello(ch: &ClientHello) -> String {
    let mut s = format!("ClientHello(legacy={}", version_name(ch.legacy_version));
    if let Some(v) = &ch.versions {
        let _ = write!(s, ", versions={}", list(v, |&v| version_name(v)));
    }
    let mut suites: Vec<String> = ch.suites.iter().take(SUITES_SHOWN).map(|&c| CipherSuite(c).to_string()).collect();
    if ch.suites.len() > SUITES_SHOWN {
        suites.push(format!("+{}", ch.suites.len() - SUITES_SHOWN));
    }
    let _ = write!(s, ", suites=[{}]", suites.join(","));
    if let Some(g) = &ch.groups {
        let _ = write!(s, ", groups={}", list(g, |&g| group_name(g)));
    }
    if let Some(k) = &ch.key_shares {
        let _ = write!(s, ", key_shares={}", list(k, |&g| group_name(g)));
    }
    if let Some(n) = &ch.sni {
        let _ = write!(s, ", sni={}", n.escape_debug());
    }
    if let Some(a) = &ch.alpn {
        let _ = write!(s, ", alpn={}", list(a, |p| p.escape_debug().to_string()));
    }
    s.push(')');
    s
}

/// The ServerHello line: `ServerHello(tls1.3, TLS_AES_256_GCM_SHA384, x25519)`, or `HelloRetryRequest(secp256r1)`.
pub fn summarise_server_hello(sh: &ServerHello) -> String {
    if sh.is_hrr() {
        let mut parts: Vec<String> = sh.key_share.map(group_name).into_iter().collect();
        if sh.cookie {
            parts.push("cookie".into());
        }
        return format!("HelloRetryRequest({})", parts.join(", "));
    }
    let mut s = format!("ServerHello({}, {}", version_name(sh.chosen_version()), CipherSuite(sh.suite));
    if let Some(g) = sh.key_share {
        let _ = write!(s, ", {}", group_name(g));
    }
    if let Some(a) = &sh.alpn {
        let _ = write!(s, ", alpn={}", a.escape_debug());
    }
    if sh.ems {
        s.push_str(", ems");
    }
    s.push(')');
    s
}

/// What the rest of the connection tells a summary: TLS 1.3 changed the layout of several messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    /// The negotiated version is TLS 1.3.
    pub tls13: bool,
    /// The negotiated suite, for the TLS 1.2 key exchange layout.
    pub suite: Option<u16>,
}

/// One line for any handshake message.
pub fn summarise(m: &Message, cx: Context) -> String {
    let b = &m.body[..];
    let parsed = match m.typ {
        msg::CLIENT_HELLO => parse_client_hello(b).map(|ch| summarise_client_hello(&ch)),
        msg::SERVER_HELLO => parse_server_hello(b).map(|sh| summarise_server_hello(&sh)),
        msg::CERTIFICATE => certificate_count(b, cx.tls13).map(|n| format!("Certificate({n} certs)")),
        msg::CERTIFICATE_VERIFY => Reader::new(b).u16().map(|s| format!("CertificateVerify({})", SignatureScheme(s))),
        msg::ENCRYPTED_EXTENSIONS => encrypted_extensions(b),
        msg::SERVER_KEY_EXCHANGE => Some(server_key_exchange(b, cx.suite)),
        msg::KEY_UPDATE => Reader::new(b)
            .u8()
            .map(|r| format!("KeyUpdate({})", if r == 1 { "update_requested" } else { "update_not_requested" })),
        msg::CERTIFICATE_REQUEST => Some("CertificateRequest".into()),
        msg::NEW_SESSION_TICKET => Some("NewSessionTicket".into()),
        msg::FINISHED => Some("Finished".into()),
        msg::SERVER_HELLO_DONE => Some("ServerHelloDone".into()),
        msg::CLIENT_KEY_EXCHANGE => Some("ClientKeyExchange".into()),
        msg::END_OF_EARLY_DATA => Some("EndOfEarlyData".into()),
        msg::HELLO_REQUEST => Some("HelloRequest".into()),
        msg::CERTIFICATE_STATUS => Some("CertificateStatus".into()),
        msg::COMPRESSED_CERTIFICATE => Some("CompressedCertificate".into()),
        msg::MESSAGE_HASH => Some("MessageHash".into()),
        t => Some(format!("Handshake(type {t}, {} bytes)", b.len())),
    };
    parsed.unwrap_or_else(|| format!("{}(malformed, {} bytes)", name(m.typ), b.len()))
}

/// The name of a message type, for the malformed case.
pub fn name(typ: u8) -> String {
    match typ {
        msg::CLIENT_HELLO => "ClientHello".into(),
        msg::SERVER_HELLO => "ServerHello".into(),
        msg::CERTIFICATE => "Certificate".into(),
        msg::CERTIFICATE_VERIFY => "CertificateVerify".into(),
        msg::ENCRYPTED_EXTENSIONS => "EncryptedExtensions".into(),
        msg::KEY_UPDATE => "KeyUpdate".into(),
        t => format!("Handshake(type {t})"),
    }
}

/// The number of certificates in a Certificate message (TLS 1.3 adds a request context and per-entry extensions).
fn certificate_count(b: &[u8], tls13: bool) -> Option<usize> {
    let mut r = Reader::new(b);
    if tls13 {
        r.vec8()?;
    }
    let mut list = Reader::new(r.vec24()?);
    let mut n = 0;
    while !list.is_empty() {
        list.vec24()?;
        if tls13 {
            list.vec16()?;
        }
        n += 1;
    }
    Some(n)
}

/// The ALPN protocol an EncryptedExtensions body selects (TLS 1.3), if any.
pub fn encrypted_extensions_alpn(b: &[u8]) -> Option<String> {
    let exts = extensions(Reader::new(b).vec16()?)?;
    exts.iter().find(|(t, _)| *t == ext::ALPN).and_then(|(_, d)| alpn_list(d)?.into_iter().next())
}

fn encrypted_extensions(b: &[u8]) -> Option<String> {
    extensions(Reader::new(b).vec16()?)?;
    let alpn = encrypted_extensions_alpn(b);
    Some(match alpn {
        Some(p) => format!("EncryptedExtensions(alpn={})", p.escape_debug()),
        None => "EncryptedExtensions".into(),
    })
}

/// The named curve of an ECDHE ServerKeyExchange (TLS 1.2 and older say the group only here).
pub fn ske_named_group(b: &[u8], suite: Option<u16>) -> Option<u16> {
    let name = suite.and_then(|s| CipherSuite(s).name()).unwrap_or("");
    let mut r = Reader::new(b);
    match (name.contains("_ECDHE_"), r.u8(), r.u16()) {
        (true, Some(3), Some(g)) => Some(g),
        _ => None,
    }
}

/// ECDHE: the named curve; DHE: the prime size. The layout depends on the suite's key exchange.
fn server_key_exchange(b: &[u8], suite: Option<u16>) -> String {
    let name = suite.and_then(|s| CipherSuite(s).name()).unwrap_or("");
    if let Some(g) = ske_named_group(b, suite) {
        return format!("ServerKeyExchange({})", group_name(g));
    } else if name.contains("_DHE_") {
        if let Some(p) = Reader::new(b).vec16() {
            let bits = (p.len() * 8).saturating_sub(p.first().map_or(8, |b| b.leading_zeros() as usize));
            return format!("ServerKeyExchange(dhe {bits} bits)");
        }
    }
    "ServerKeyExchange".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembler_splits_and_joins_messages() {
        let mut r = Reassembler::default();
        // ServerHelloDone (empty) + the first 3 bytes of a Finished header.
        assert_eq!(r.push(&[14, 0, 0, 0, 20, 0, 0]), vec![Message { typ: 14, body: vec![] }]);
        assert_eq!(r.pending(), Some((20, 0, 0)));
        assert_eq!(r.push(&[2, 7]), vec![]);
        assert_eq!(r.pending(), Some((20, 2, 1)));
        assert_eq!(r.push(&[8]), vec![Message { typ: 20, body: vec![7, 8] }]);
        assert_eq!(r.pending(), None);
    }

    #[test]
    fn hostile_bodies_are_malformed_not_panics() {
        let cx = Context::default();
        for typ in 0..=255u8 {
            for body in [&[][..], &[0xff; 7][..], &[0, 0xff, 0xff, 0xff][..]] {
                let line = summarise(&Message { typ, body: body.to_vec() }, cx);
                assert!(!line.is_empty());
            }
        }
        let line = summarise(&Message { typ: msg::CLIENT_HELLO, body: vec![3, 3, 1] }, cx);
        assert_eq!(line, "ClientHello(malformed, 3 bytes)");
    }
}
