//! The analysis against real handshakes: OpenSSL (and rustls, for KeyUpdate) over loopback TCP through a tiny
//! recording relay, with the libraries' own key log callbacks. Nothing here is a canned byte string: if a stack
//! changes what it sends, these tests see the new bytes.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslConnector, SslConnectorBuilder, SslMethod, SslVersion};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};

use super::{Capture, Chunk, Direction, KeyLog, Wire, WireAlert, analyse};
use crate::vocab::{Alert, CipherSuite, ProtocolVersion, Role};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A CA and a leaf for `localhost` it signed, made once per test binary.
struct Creds {
    ca: X509,
    leaf: X509,
    key: PKey<Private>,
}

/// A certificate for `cn` signed by `signer` (self-signed when `issuer` is `None`).
fn cert(
    cn: &str,
    pubkey: &PKey<Private>,
    signer: &PKey<Private>,
    issuer: Option<&X509>,
    ca: bool,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number(&*BigNum::from_u32(if ca { 1 } else { 2 })?.to_asn1_integer()?)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(issuer.map_or(&*name, |i| i.subject_name()))?;
    b.set_pubkey(pubkey)?;
    b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    b.set_not_after(&*Asn1Time::days_from_now(2)?)?;
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    } else {
        let san =
            SubjectAlternativeName::new().dns("localhost").build(&b.x509v3_context(issuer.map(|i| &**i), None))?;
        b.append_extension(san)?;
    }
    b.sign(signer, MessageDigest::sha256())?;
    Ok(b.build())
}

fn creds() -> &'static Creds {
    static CREDS: OnceLock<Creds> = OnceLock::new();
    CREDS.get_or_init(|| {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let new_key = || PKey::from_ec_key(EcKey::generate(&group)?);
        let (ca_key, key) = (new_key().unwrap(), new_key().unwrap());
        let ca = cert("wire test CA", &ca_key, &ca_key, None, true).unwrap();
        let leaf = cert("localhost", &key, &ca_key, Some(&ca), false).unwrap();
        Creds { ca, leaf, key }
    })
}

/// An OpenSSL server with the test leaf and chain, logging its secrets into `log`.
fn server(log: &KeyLog) -> SslAcceptorBuilder {
    let c = creds();
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_private_key(&c.key).unwrap();
    b.set_certificate(&c.leaf).unwrap();
    b.add_extra_chain_cert(c.ca.clone()).unwrap();
    let log = log.clone();
    b.set_keylog_callback(move |_, line| log.push(line));
    b
}

/// An OpenSSL client that trusts the test CA (unless `trust` is false), logging its secrets into `log`.
fn client(log: &KeyLog, trust: bool) -> SslConnectorBuilder {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    if trust {
        b.cert_store_mut().add_cert(creds().ca.clone()).unwrap();
    }
    let log = log.clone();
    b.set_keylog_callback(move |_, line| log.push(line));
    b
}

/// Copies one direction, recording each read before forwarding it (so the capture's order is forwarding order).
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Direction, chunks: Arc<Mutex<Vec<Chunk>>>, t0: Instant) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let at_us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                chunks.lock().unwrap().push(Chunk { dir, at_us, bytes: buf[..n].to_vec() });
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Runs `server_side` and `client_side` over loopback through a recording relay; returns the capture.
fn relay_run(server_side: impl FnOnce(TcpStream) + Send + 'static, client_side: impl FnOnce(TcpStream)) -> Capture {
    let server_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (server_addr, relay_addr) = (server_l.local_addr().unwrap(), relay_l.local_addr().unwrap());
    let srv = thread::spawn(move || {
        let (s, _) = server_l.accept().unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        server_side(s);
    });
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let ch = chunks.clone();
    let relay = thread::spawn(move || {
        let (c, _) = relay_l.accept().unwrap();
        let s = TcpStream::connect(server_addr).unwrap();
        let t0 = Instant::now();
        let (c2, s2, ch2) = (c.try_clone().unwrap(), s.try_clone().unwrap(), ch.clone());
        let up = thread::spawn(move || pump(c2, s2, Direction::ClientToServer, ch2, t0));
        pump(s, c, Direction::ServerToClient, ch, t0);
        up.join().unwrap();
    });
    let c = TcpStream::connect(relay_addr).unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    client_side(c);
    srv.join().unwrap();
    relay.join().unwrap();
    let chunks = std::mem::take(&mut *chunks.lock().unwrap());
    Capture { chunks }
}

/// An OpenSSL pair: the client sends "hello", the server answers "world", both close with close_notify.
/// Either handshake may fail (that is what several tests want); the capture is returned either way.
fn openssl_pair(srv: SslAcceptorBuilder, cli: SslConnectorBuilder) -> Capture {
    let acceptor = srv.build();
    let connector = cli.build();
    relay_run(
        move |tcp| {
            let Ok(mut s) = acceptor.accept(tcp) else { return };
            let mut buf = [0u8; 5];
            if s.read_exact(&mut buf).is_ok() {
                s.write_all(b"world").unwrap();
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                let _ = s.shutdown();
            }
        },
        |tcp| {
            let Ok(mut s) = connector.connect("localhost", tcp) else { return };
            s.write_all(b"hello").unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"world");
            s.shutdown().unwrap();
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        },
    )
}

fn has(w: &Wire, line: &str) -> bool {
    w.transcript.iter().any(|l| l == line)
}

fn starts(w: &Wire, prefix: &str) -> usize {
    w.transcript.iter().filter(|l| l.starts_with(prefix)).count()
}

fn close_notify(from: Role) -> WireAlert {
    WireAlert { from, fatal: false, alert: Alert::CLOSE_NOTIFY, encrypted: true }
}

/// The full TLS 1.3 exchange, decrypted: every server flight message, both Finished, data and both close_notify.
fn assert_tls13_decrypted(w: &Wire, suite: &str) {
    let t = w.transcript.join("\n");
    assert_eq!(w.version, Some(ProtocolVersion::Tls13), "{t}");
    assert_eq!(w.cipher.map(|c| c.to_string()).as_deref(), Some(suite), "{t}");
    assert_eq!((w.opaque_records, w.malformed.len()), (0, 0), "{t}");
    assert!(w.transcript[0].starts_with("C->S ClientHello(legacy=tls1.2, versions=[tls1.3,tls1.2,"), "{t}");
    assert!(w.transcript[0].contains("sni=localhost"), "{t}");
    assert!(w.transcript[1].starts_with(&format!("S->C ServerHello(tls1.3, {suite}, ")), "{t}");
    for line in [
        "S->C [enc] EncryptedExtensions",
        "S->C [enc] Certificate(2 certs)",
        "S->C [enc] CertificateVerify(ecdsa_secp256r1_sha256)",
        "S->C [enc] Finished",
        "C->S [enc] Finished",
        "C->S [enc] ApplicationData(5 bytes)",
        "S->C [enc] ApplicationData(5 bytes)",
        "C->S [enc] Alert(warning, close_notify)",
        "S->C [enc] Alert(warning, close_notify)",
    ] {
        assert!(has(w, line), "missing {line:?} in\n{t}");
    }
    // OpenSSL servers send two tickets after the client's Finished, under the application keys.
    assert_eq!(starts(w, "S->C [enc] NewSessionTicket"), 2, "{t}");
    assert_eq!(w.alerts, vec![close_notify(Role::Client), close_notify(Role::Server)], "{t}");
}

#[test]
fn tls13_success_is_fully_decrypted_for_every_suite() {
    for suite in ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] {
        let log = KeyLog::new();
        let mut srv = server(&log);
        srv.set_ciphersuites(suite).unwrap();
        let cap = openssl_pair(srv, client(&log, true));
        assert_tls13_decrypted(&analyse(&cap, &log.text()), suite);
    }
}

/// OpenSSL 3.0 rejects the certificate before it switches its own write keys, so its alert travels in plaintext
/// even in TLS 1.3: the wire shows what the client really sent, which is the point of looking at the wire.
#[test]
fn tls13_openssl_client_rejecting_the_certificate_alerts_in_plaintext() {
    let log = KeyLog::new();
    let cap = openssl_pair(server(&log), client(&log, false));
    let w = analyse(&cap, &log.text());
    let t = w.transcript.join("\n");
    assert!(has(&w, "S->C [enc] Certificate(2 certs)"), "{t}");
    let want = WireAlert { from: Role::Client, fatal: true, alert: Alert::UNKNOWN_CA, encrypted: false };
    assert_eq!(w.alerts, vec![want], "{t}");
    assert_eq!(w.transcript.last().map(String::as_str), Some("C->S Alert(fatal, unknown_ca)"), "{t}");
    assert!(!has(&w, "C->S [enc] Finished"), "{t}");
    assert_eq!(w.opaque_records, 0, "{t}");
}

/// rustls switches to its handshake keys at the ServerHello, so its rejection is encrypted and only the key log
/// reveals it.
#[test]
fn tls13_rustls_client_rejecting_the_certificate_sends_an_encrypted_alert_we_recover() {
    let log = KeyLog::new();
    let acceptor = server(&log).build();
    let cfg = rustls_client(&log, false);
    let cap = relay_run(
        move |tcp| {
            let _ = acceptor.accept(tcp);
        },
        |tcp| {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
            let mut s = rustls::StreamOwned::new(conn, tcp);
            assert!(s.write_all(b"hello").and_then(|_| s.flush()).is_err());
        },
    );
    let w = analyse(&cap, &log.text());
    let t = w.transcript.join("\n");
    let alert = w.alerts.iter().find(|a| a.from == Role::Client).expect(&t);
    assert!(alert.fatal && alert.encrypted, "{t}");
    assert!([Alert::UNKNOWN_CA, Alert::BAD_CERTIFICATE].contains(&alert.alert), "{t}");
    assert!(has(&w, &format!("C->S [enc] Alert(fatal, {})", alert.alert)), "{t}");
    assert!(!has(&w, "C->S [enc] Finished"), "{t}");
    assert_eq!(w.opaque_records, 0, "{t}");
    // Without the key log the alert is just an opaque record.
    let blind = analyse(&cap, "");
    assert!(blind.alerts.is_empty() && blind.opaque_records > 0);
}

#[test]
fn tls13_without_key_log_shows_the_hellos_and_counts_the_rest_opaque() {
    let log = KeyLog::new();
    let cap = openssl_pair(server(&log), client(&log, true));
    let w = analyse(&cap, "");
    let t = w.transcript.join("\n");
    assert_eq!(w.version, Some(ProtocolVersion::Tls13));
    assert!(w.transcript[0].starts_with("C->S ClientHello("), "{t}");
    assert!(w.transcript[1].starts_with("S->C ServerHello(tls1.3, "), "{t}");
    assert!(w.opaque_records >= 6, "{t}");
    assert!(w.transcript.iter().all(|l| !l.contains("[enc]")), "{t}");
    assert!(w.alerts.is_empty(), "{t}");
    // The same capture with its key log decrypts everything: the opaque records were exactly the protected ones.
    let full = analyse(&cap, &log.text());
    assert_eq!(full.opaque_records, 0);
}

#[test]
fn tls12_aead_suites_are_decrypted_with_the_master_secret() {
    for (suite, code) in [
        ("ECDHE-ECDSA-AES128-GCM-SHA256", 0xc02b),
        ("ECDHE-ECDSA-AES256-GCM-SHA384", 0xc02c),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", 0xcca9),
    ] {
        let log = KeyLog::new();
        let mut srv = server(&log);
        srv.set_cipher_list(suite).unwrap();
        let mut cli = client(&log, true);
        cli.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        let w = analyse(&openssl_pair(srv, cli), &log.text());
        let t = w.transcript.join("\n");
        assert_eq!((w.version, w.cipher), (Some(ProtocolVersion::Tls12), Some(CipherSuite(code))), "{t}");
        assert_eq!((w.opaque_records, w.malformed.len()), (0, 0), "{t}");
        let name = CipherSuite(code).to_string();
        for line in [
            "S->C Certificate(2 certs)",
            "S->C ServerKeyExchange(x25519)",
            "S->C ServerHelloDone",
            "C->S ClientKeyExchange",
            "C->S ChangeCipherSpec",
            "C->S [enc] Finished",
            "S->C ChangeCipherSpec",
            "S->C [enc] Finished",
            "C->S [enc] ApplicationData(5 bytes)",
            "S->C [enc] ApplicationData(5 bytes)",
            "C->S [enc] Alert(warning, close_notify)",
        ] {
            assert!(has(&w, line), "{suite}: missing {line:?} in\n{t}");
        }
        assert!(w.transcript[1].starts_with(&format!("S->C ServerHello(tls1.2, {name}, ")), "{t}");
        assert_eq!(w.alerts, vec![close_notify(Role::Client), close_notify(Role::Server)], "{t}");
    }
}

#[test]
fn tls12_without_key_log_counts_protected_records_opaque() {
    let log = KeyLog::new();
    let mut cli = client(&log, true);
    cli.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    let w = analyse(&openssl_pair(server(&log), cli), "");
    let t = w.transcript.join("\n");
    assert!(has(&w, "S->C ServerHelloDone") && has(&w, "C->S ChangeCipherSpec"), "{t}");
    // Finished, data and close_notify each way: 6 records.
    assert_eq!(w.opaque_records, 6, "{t}");
    assert!(w.transcript.iter().any(|l| l.starts_with("C->S [opaque] Handshake(")), "{t}");
}

#[test]
fn hello_retry_request_is_shown_and_decryption_survives_it() {
    let log = KeyLog::new();
    let mut srv = server(&log);
    srv.set_groups_list("P-256").unwrap();
    let mut cli = client(&log, true);
    cli.set_groups_list("X25519:P-256").unwrap(); // key share only for X25519
    let w = analyse(&openssl_pair(srv, cli), &log.text());
    let t = w.transcript.join("\n");
    assert!(w.transcript[0].contains("key_shares=[x25519]"), "{t}");
    assert_eq!(w.transcript[1], "S->C HelloRetryRequest(secp256r1)", "{t}");
    assert_eq!(starts(&w, "C->S ClientHello("), 2, "{t}");
    assert!(w.transcript.iter().any(|l| l.starts_with("C->S ClientHello(") && l.contains("key_shares=[secp256r1]")));
    assert!(w.transcript.iter().any(|l| l.starts_with("S->C ServerHello(tls1.3, ") && l.ends_with(", secp256r1)")));
    assert!(has(&w, "C->S ChangeCipherSpec(compat)"), "{t}");
    assert!(has(&w, "C->S [enc] Finished") && has(&w, "S->C [enc] ApplicationData(5 bytes)"), "{t}");
    assert_eq!(w.opaque_records, 0, "{t}");
}

#[test]
fn version_mismatch_gives_a_plaintext_protocol_version_alert() {
    let log = KeyLog::new();
    let mut srv = server(&log);
    srv.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
    let mut cli = client(&log, true);
    cli.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    let w = analyse(&openssl_pair(srv, cli), &log.text());
    let t = w.transcript.join("\n");
    assert_eq!(w.transcript.len(), 2, "{t}");
    assert!(w.transcript[0].starts_with("C->S ClientHello(legacy=tls1.2, suites=["), "{t}");
    assert_eq!(w.transcript[1], "S->C Alert(fatal, protocol_version)");
    let want = WireAlert { from: Role::Server, fatal: true, alert: Alert::PROTOCOL_VERSION, encrypted: false };
    assert_eq!((w.alerts, w.version, w.opaque_records), (vec![want], None, 0));
}

/// Writes rustls key log callbacks into a [`KeyLog`] in NSS format.
#[derive(Debug)]
struct RustlsLog(KeyLog);

impl rustls::KeyLog for RustlsLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        self.0.push(&format!("{label} {} {}", hex(client_random), hex(secret)));
    }
    fn will_log(&self, _: &str) -> bool {
        true
    }
}

/// A rustls client config trusting the test CA (or nothing), logging its secrets into `log`.
fn rustls_client(log: &KeyLog, trust: bool) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    if trust {
        roots.add(rustls::pki_types::CertificateDer::from(creds().ca.to_der().unwrap())).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    cfg.key_log = Arc::new(RustlsLog(log.clone()));
    cfg
}

/// rustls can send a KeyUpdate on demand (OpenSSL's crate cannot): the records after it need the next secret, on
/// both sides, since rustls asks the peer to update too.
#[test]
fn key_update_moves_to_the_next_traffic_secret() {
    let log = KeyLog::new();
    let acceptor = server(&log).build();
    let cfg = rustls_client(&log, true);
    let cap = relay_run(
        move |tcp| {
            let Ok(mut s) = acceptor.accept(tcp) else { return };
            let mut buf = [0u8; 10];
            s.read_exact(&mut buf).unwrap();
            s.write_all(b"world").unwrap();
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            let _ = s.shutdown();
        },
        |tcp| {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
            let mut s = rustls::StreamOwned::new(conn, tcp);
            s.write_all(b"hello").unwrap();
            s.flush().unwrap();
            s.conn.refresh_traffic_keys().unwrap();
            s.write_all(b"again").unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.conn.send_close_notify();
            s.flush().unwrap();
            let _ = s.read_to_end(&mut Vec::new());
        },
    );
    let w = analyse(&cap, &log.text());
    let t = w.transcript.join("\n");
    for (dir, what) in [("C->S", "update_requested"), ("S->C", "update_not_requested")] {
        let ku = w.transcript.iter().position(|l| *l == format!("{dir} [enc] KeyUpdate({what})")).expect(&t);
        let after = format!("{dir} [enc] ApplicationData(5 bytes)");
        assert!(w.transcript[ku + 1..].contains(&after), "{t}");
        assert!(w.transcript[ku + 1..].contains(&format!("{dir} [enc] Alert(warning, close_notify)")), "{t}");
    }
    assert_eq!(w.opaque_records, 0, "{t}");
}

fn rechunk(cap: &Capture, size: usize) -> Capture {
    let chunks = cap
        .chunks
        .iter()
        .flat_map(|c| c.bytes.chunks(size).map(|b| Chunk { dir: c.dir, at_us: c.at_us, bytes: b.to_vec() }))
        .collect();
    Capture { chunks }
}

#[test]
fn splitting_reads_anywhere_changes_nothing_and_analysis_is_fast() {
    let log = KeyLog::new();
    let mut srv = server(&log);
    srv.set_groups_list("P-256").unwrap();
    let mut cli = client(&log, true);
    cli.set_groups_list("X25519:P-256").unwrap();
    let cap = openssl_pair(srv, cli);
    let keys = log.text();
    let whole = analyse(&cap, &keys);
    assert_eq!(whole.opaque_records, 0);
    for size in [1, 2, 3, 7, 100] {
        assert_eq!(analyse(&rechunk(&cap, size), &keys), whole, "chunks of {size}");
    }
    // Cost, in CPU time of this thread (the machine may be busy with other builds): a whole HRR handshake with data
    // and closes. Even a debug build stays around a millisecond; the release target is well under one.
    let (runs, t0) = (200u32, cpu_time());
    for _ in 0..runs {
        std::hint::black_box(analyse(&cap, &keys));
    }
    let keyed = (cpu_time() - t0) / runs;
    let t0 = cpu_time();
    for _ in 0..runs {
        std::hint::black_box(analyse(&cap, ""));
    }
    let blind = (cpu_time() - t0) / runs;
    eprintln!("analyse: {keyed:?} CPU per connection ({} chunks), {blind:?} without key log", cap.chunks.len());
    assert!(keyed < Duration::from_millis(20), "{keyed:?}");
}

/// CPU time this thread has used (Linux schedstat), or wall-clock time where that is not available.
fn cpu_time() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    ns.map_or_else(|| START.get_or_init(Instant::now).elapsed(), Duration::from_nanos)
}

fn one_way(dir: Direction, bytes: &[u8]) -> Capture {
    Capture { chunks: vec![Chunk { dir, at_us: 0, bytes: bytes.to_vec() }] }
}

#[test]
fn hostile_streams_end_in_malformed() {
    let http = Capture {
        chunks: vec![
            Chunk { dir: Direction::ClientToServer, at_us: 0, bytes: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec() },
            Chunk { dir: Direction::ServerToClient, at_us: 1, bytes: b"HTTP/1.1 400 Bad Request\r\n".to_vec() },
        ],
    };
    let w = analyse(&http, "");
    assert_eq!(w.malformed, ["C->S: not TLS: first bytes \"GET / HTTP\"", "S->C: not TLS: first bytes \"HTTP/1.1 4\""]);
    assert!(w.transcript.is_empty());

    let w = analyse(&one_way(Direction::ServerToClient, &[22, 3, 3, 0x46, 0x50, 0, 0]), "");
    assert_eq!(w.malformed, ["S->C: record of 18000 bytes exceeds 2^14+256"]);

    // A real ClientHello cut short: the direction reports the truncation, the server's direction is still read.
    let log = KeyLog::new();
    let mut cli = client(&log, true);
    cli.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    let mut srv = server(&log);
    srv.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
    let mut cap = openssl_pair(srv, cli);
    let first = cap.chunks.iter_mut().find(|c| c.dir == Direction::ClientToServer).unwrap();
    let len = first.bytes.len();
    first.bytes.truncate(100);
    let w = analyse(&cap, "");
    assert_eq!(w.malformed, [format!("C->S: record truncated: header says {} bytes, stream ended after 95", len - 5)]);
    assert_eq!(w.transcript, ["S->C Alert(fatal, protocol_version)"]);

    // Thousands of empty alert records: every one is a line, but the transcript stops at 500.
    let w = analyse(&one_way(Direction::ServerToClient, &[21, 3, 3, 0, 0].repeat(3000)), "");
    assert_eq!((w.transcript.len(), w.transcript[0].as_str()), (501, "S->C Alert(malformed, 0 bytes)"));
    assert_eq!(w.transcript[500], "(2500 more lines)");

    // A valid record whose handshake message claims 16 MB: reported as incomplete, nothing allocated for it.
    let w = analyse(&one_way(Direction::ClientToServer, &[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), "");
    assert_eq!(w.transcript, ["C->S ClientHello incomplete (0 of 16777215 bytes)"]);
    assert!(w.malformed.is_empty());
}

mod arbitrary {
    use proptest::prelude::*;

    use super::*;

    fn arb_capture() -> impl Strategy<Value = Capture> {
        // Bytes biased towards record-like headers so that the deeper layers get exercised too.
        let chunk =
            (any::<bool>(), prop::collection::vec(prop_oneof![Just(22u8), Just(3), Just(0), any::<u8>()], 0..300));
        prop::collection::vec(chunk, 0..8).prop_map(|cs| Capture {
            chunks: cs
                .into_iter()
                .map(|(c2s, bytes)| Chunk {
                    dir: if c2s { Direction::ClientToServer } else { Direction::ServerToClient },
                    at_us: 0,
                    bytes,
                })
                .collect(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic_and_splitting_is_invisible(cap in arb_capture(), keys in ".{0,200}") {
            let w = analyse(&cap, &keys);
            prop_assert!(w.malformed.len() <= 2);
            prop_assert_eq!(analyse(&rechunk(&cap, 1), &keys), w);
        }
    }
}
