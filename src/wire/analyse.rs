//! From a capture and a key log to a [`Wire`] observation.
//!
//! Each direction is analysed on its own: which records are encrypted, and under which keys, follows from that
//! direction's own bytes (its ChangeCipherSpec in TLS 1.2, its Finished and KeyUpdate in TLS 1.3, the outer content
//! type in TLS 1.3) plus the two hellos. So the hellos are found first, by a scan of the plaintext start of each
//! stream; then each direction is walked record by record; then the events of both directions are put back in the
//! order the relay saw them (the chunk that completed each record). Working per direction means the result does not
//! depend on how the relay's reads interleaved, only the transcript order does.

use serde::{Deserialize, Serialize};

use super::decrypt::{Plain, RecordKeys, Secrets};
use super::handshake::{self, ClientHello, Context, Reassembler, ServerHello, msg};
use super::record::{self, Record, Stream};
use super::{Capture, Direction, WireAlert};
use crate::vocab::{Alert, CipherSuite, Group, ProtocolVersion};

/// What the bytes of one connection say.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Wire {
    /// One line per handshake message / alert / ChangeCipherSpec / application data record, in order, e.g.
    /// `C->S ClientHello(legacy=tls1.2, versions=[tls1.3,tls1.2], suites=[..], groups=[x25519], sni=localhost)`,
    /// `S->C [enc] Certificate(2 certs)`, `C->S [enc] Alert(fatal, unknown_ca)`,
    /// `S->C [opaque] ApplicationData(3 records, 2400 bytes)` (could not decrypt; consecutive ones merged).
    /// A TLS 1.3 middlebox-compatibility ChangeCipherSpec is shown as `ChangeCipherSpec(compat)`.
    pub transcript: Vec<String>,
    /// Every alert seen (plaintext, or decrypted with the key log), close_notify included, in transcript order.
    /// Both lists stop at 500 entries (the transcript then ends with `(N more lines)`).
    pub alerts: Vec<WireAlert>,
    /// The version the ServerHello chose, if one was seen.
    pub version: Option<ProtocolVersion>,
    /// The suite the ServerHello chose, if one was seen.
    pub cipher: Option<CipherSuite>,
    /// The key-exchange group: the ServerHello's key_share (TLS 1.3) or the ECDHE ServerKeyExchange's curve (TLS
    /// 1.2 and older), if seen. It lets the verdict check the group for libraries with no API to report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Encrypted records that could not be decrypted (no key log line for them, or unsupported cipher).
    pub opaque_records: usize,
    /// Problems parsing a stream as TLS, one per direction at most (`S->C: not TLS: first bytes "HTTP/1.1 4"`).
    /// Analysis of that direction stopped there; the other direction continued.
    pub malformed: Vec<String>,
}

/// Analyses one connection: `keylog` is NSS key log text (possibly empty, possibly for other connections too).
pub fn analyse(capture: &Capture, keylog: &str) -> Wire {
    let secrets = Secrets::parse(keylog);
    let dirs = [Direction::ClientToServer, Direction::ServerToClient];
    let streams = dirs.map(|d| Stream::of(capture, d));
    let parsed = [streams[0].records(), streams[1].records()];
    let hellos = Hellos::scan(&parsed[0].0, &parsed[1].0);

    let mut wire = Wire::default();
    if let Some(sh) = hellos.server.as_ref().or(hellos.hrr.as_ref()) {
        wire.version = ProtocolVersion::from_wire(sh.chosen_version());
        wire.cipher = Some(CipherSuite(sh.suite));
    }
    wire.group = hellos.server.as_ref().and_then(|sh| sh.key_share).map(Group);
    let mut events = Vec::new();
    for (dir, (records, err)) in dirs.into_iter().zip(&parsed) {
        let mut d = DirState::new(dir, &hellos, &secrets);
        for r in records {
            d.record(r);
        }
        d.finish();
        if hellos.server.is_some() && !hellos.tls13() {
            wire.group = wire.group.or(d.ske_group.map(Group));
        }
        events.append(&mut d.events);
        if let Some(e) = err {
            wire.malformed.push(format!("{}: {e}", tag(dir)));
        }
    }
    events.sort_by_key(|e| (e.at, e.dir == Direction::ServerToClient, e.n));
    // A run of undecryptable records of one direction and type becomes one line: 40 opaque records say nothing
    // that "40 records, N bytes" does not.
    let mut run: Option<(Direction, &str, usize, usize)> = None;
    let flush = |run: &mut Option<(Direction, &str, usize, usize)>, out: &mut Vec<String>| {
        if let Some((dir, kind, n, bytes)) = run.take() {
            let count = if n == 1 { String::new() } else { format!("{n} records, ") };
            out.push(format!("{} [opaque] {kind}({count}{bytes} bytes)", tag(dir)));
        }
    };
    for e in events {
        wire.alerts.extend(e.alert);
        match e.line {
            Line::Opaque { kind, bytes } => {
                wire.opaque_records += 1;
                match &mut run {
                    Some((dir, k, n, b)) if *dir == e.dir && *k == kind => {
                        *n += 1;
                        *b += bytes;
                    }
                    _ => {
                        flush(&mut run, &mut wire.transcript);
                        run = Some((e.dir, kind, 1, bytes));
                    }
                }
            }
            Line::Text(t) => {
                flush(&mut run, &mut wire.transcript);
                wire.transcript.push(format!("{} {t}", tag(e.dir)));
            }
        }
    }
    flush(&mut run, &mut wire.transcript);
    if wire.transcript.len() > MAX_LINES {
        let more = wire.transcript.len() - MAX_LINES;
        wire.transcript.truncate(MAX_LINES);
        wire.transcript.push(format!("({more} more lines)"));
    }
    wire.alerts.truncate(MAX_LINES);
    wire
}

/// A real handshake is a few dozen lines; hostile input made of thousands of tiny records would otherwise turn every
/// 5 bytes into a line of the report.
const MAX_LINES: usize = 500;

fn tag(dir: Direction) -> &'static str {
    match dir {
        Direction::ClientToServer => "C->S",
        Direction::ServerToClient => "S->C",
    }
}

/// The two hellos, which both directions need: the client random indexes the key log, the ServerHello says the
/// version, the suite and (TLS 1.2) the server random.
#[derive(Clone, Debug, Default)]
struct Hellos {
    client: Option<ClientHello>,
    server: Option<ServerHello>,
    hrr: Option<ServerHello>,
}

impl Hellos {
    fn scan(c2s: &[Record<'_>], s2c: &[Record<'_>]) -> Hellos {
        let mut h = Hellos::default();
        for m in plaintext_prefix(c2s) {
            if m.typ == msg::CLIENT_HELLO {
                h.client = handshake::parse_client_hello(&m.body);
                break;
            }
        }
        for m in plaintext_prefix(s2c) {
            if m.typ == msg::SERVER_HELLO {
                match handshake::parse_server_hello(&m.body) {
                    Some(sh) if sh.is_hrr() => h.hrr = Some(sh),
                    sh => {
                        h.server = sh;
                        break;
                    }
                }
            }
        }
        h
    }

    fn tls13(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.chosen_version() == ProtocolVersion::Tls13.wire())
    }
}

/// Handshake messages from the leading handshake and ChangeCipherSpec records (the hellos are always there; TLS 1.3
/// puts a compat CCS between an HRR and the ServerHello).
fn plaintext_prefix<'a>(recs: &'a [Record<'a>]) -> impl Iterator<Item = handshake::Message> + 'a {
    let mut reasm = Reassembler::default();
    recs.iter()
        .take_while(|r| matches!(r.content_type, record::HANDSHAKE | record::CHANGE_CIPHER_SPEC))
        .filter(|r| r.content_type == record::HANDSHAKE)
        .flat_map(move |r| reasm.push(r.fragment))
}

/// One transcript entry before ordering.
#[derive(Debug)]
struct Event {
    dir: Direction,
    /// The chunk that completed the record this came from.
    at: usize,
    /// Position within the direction.
    n: usize,
    line: Line,
    alert: Option<WireAlert>,
}

#[derive(Debug)]
enum Line {
    Text(String),
    Opaque { kind: &'static str, bytes: usize },
}

/// The record-protection state of one direction.
struct DirState<'a> {
    dir: Direction,
    hellos: &'a Hellos,
    secrets: &'a Secrets<'a>,
    cx: Context,
    reasm: Reassembler,
    /// The keys for the next protected record, if the key log has them.
    keys: Option<RecordKeys>,
    /// TLS 1.2: this side has sent its ChangeCipherSpec.
    encrypting: bool,
    at: usize,
    events: Vec<Event>,
    /// The curve of an ECDHE ServerKeyExchange this direction carried.
    ske_group: Option<u16>,
}

impl<'a> DirState<'a> {
    fn new(dir: Direction, hellos: &'a Hellos, secrets: &'a Secrets<'a>) -> DirState<'a> {
        let cx = Context { tls13: hellos.tls13(), suite: hellos.server.as_ref().map(|s| s.suite) };
        let mut d = DirState {
            dir,
            hellos,
            secrets,
            cx,
            reasm: Reassembler::default(),
            keys: None,
            encrypting: false,
            at: 0,
            events: Vec::new(),
            ske_group: None,
        };
        if cx.tls13 {
            d.keys = d.tls13_keys(match dir {
                Direction::ClientToServer => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                Direction::ServerToClient => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            });
        }
        d
    }

    fn tls13_keys(&self, label: &str) -> Option<RecordKeys> {
        let (ch, sh) = (self.hellos.client.as_ref()?, self.hellos.server.as_ref()?);
        RecordKeys::tls13(sh.suite, &self.secrets.get(label, &ch.random)?)
    }

    fn tls12_keys(&self) -> Option<RecordKeys> {
        let (ch, sh) = (self.hellos.client.as_ref()?, self.hellos.server.as_ref()?);
        let master = self.secrets.get("CLIENT_RANDOM", &ch.random)?;
        RecordKeys::tls12(sh.suite, &master, &ch.random, &sh.random, self.dir == Direction::ClientToServer)
    }

    fn push(&mut self, line: Line, alert: Option<WireAlert>) {
        let n = self.events.len();
        self.events.push(Event { dir: self.dir, at: self.at, n, line, alert });
    }

    fn text(&mut self, enc: bool, s: String) {
        self.push(Line::Text(if enc { format!("[enc] {s}") } else { s }), None);
    }

    fn record(&mut self, r: &Record<'_>) {
        self.at = r.done_at;
        let protected = if self.cx.tls13 { r.content_type == record::APPLICATION_DATA } else { self.encrypting };
        if !protected {
            if r.content_type == record::CHANGE_CIPHER_SPEC && !self.cx.tls13 {
                // TLS 1.2: everything after this side's CCS is protected, sequence numbers from 0.
                self.encrypting = true;
                self.keys = self.tls12_keys();
            }
            self.content(r.content_type, r.fragment, false);
            return;
        }
        match self.keys.as_mut().and_then(|k| k.decrypt(r)) {
            Some(Plain { content_type, data }) => self.content(content_type, &data, true),
            None => self.push(Line::Opaque { kind: type_name(r.content_type), bytes: r.fragment.len() }, None),
        }
    }

    fn content(&mut self, typ: u8, data: &[u8], enc: bool) {
        match typ {
            record::HANDSHAKE => {
                for m in self.reasm.push(data) {
                    if m.typ == msg::SERVER_KEY_EXCHANGE {
                        self.ske_group = self.ske_group.or(handshake::ske_named_group(&m.body, self.cx.suite));
                    }
                    let line = handshake::summarise(&m, self.cx);
                    self.text(enc, line);
                    if self.cx.tls13 && enc {
                        self.after_tls13_message(&m);
                    }
                }
            }
            record::ALERT => self.alerts(data, enc),
            record::CHANGE_CIPHER_SPEC => {
                let compat = if self.cx.tls13 && !enc { "(compat)" } else { "" };
                self.text(enc, format!("ChangeCipherSpec{compat}"));
            }
            record::APPLICATION_DATA if enc => self.text(enc, format!("ApplicationData({} bytes)", data.len())),
            record::APPLICATION_DATA => self.push(Line::Opaque { kind: "ApplicationData", bytes: data.len() }, None),
            record::HEARTBEAT => self.text(enc, format!("Heartbeat({} bytes)", data.len())),
            t => self.text(enc, format!("Record(type {t}, {} bytes)", data.len())),
        }
    }

    /// TLS 1.3 key changes: after its Finished a side writes with application keys; after a KeyUpdate, with the
    /// next generation (RFC 8446 7.2). Both happen on record boundaries, so switching after the message is exact.
    fn after_tls13_message(&mut self, m: &handshake::Message) {
        if m.typ == msg::FINISHED {
            self.keys = self.tls13_keys(match self.dir {
                Direction::ClientToServer => "CLIENT_TRAFFIC_SECRET_0",
                Direction::ServerToClient => "SERVER_TRAFFIC_SECRET_0",
            });
        } else if m.typ == msg::KEY_UPDATE {
            self.keys = self.keys.as_ref().and_then(RecordKeys::updated);
        }
    }

    fn alerts(&mut self, data: &[u8], enc: bool) {
        if data.is_empty() || data.len() % 2 != 0 {
            self.text(enc, format!("Alert(malformed, {} bytes)", data.len()));
            return;
        }
        for pair in data.chunks_exact(2) {
            let level = match pair[0] {
                1 => "warning".to_owned(),
                2 => "fatal".to_owned(),
                l => format!("level {l}"),
            };
            let alert = Alert(pair[1]);
            let line = format!("{}Alert({level}, {alert})", if enc { "[enc] " } else { "" });
            let wa = WireAlert { from: self.dir.sender(), fatal: pair[0] == 2, alert, encrypted: enc };
            self.push(Line::Text(line), Some(wa));
        }
    }

    /// A handshake message the stream ended inside of is worth a line: the peer was cut off mid-flight.
    fn finish(&mut self) {
        if let Some((typ, declared, have)) = self.reasm.pending() {
            self.push(Line::Text(format!("{} incomplete ({have} of {declared} bytes)", handshake::name(typ))), None);
        }
    }
}

fn type_name(t: u8) -> &'static str {
    match t {
        record::CHANGE_CIPHER_SPEC => "ChangeCipherSpec",
        record::ALERT => "Alert",
        record::HANDSHAKE => "Handshake",
        record::APPLICATION_DATA => "ApplicationData",
        _ => "Heartbeat",
    }
}
