//! The pcapng export against a real reader: a real TLS 1.3 handshake over loopback, recorded by a relay, written with
//! `wire::pcapng::write`, then opened by tshark. The server asks for a client certificate and trusts none, so it sends
//! a fatal alert under its TLS 1.3 application keys; tshark can only name that alert with the embedded key log. (The
//! other refusal, the client refusing the server, is no proof: OpenSSL's client sends that alert in plaintext.)
//!
//! Needs tshark: without it the tests are ignored with the install command (a failure under
//! `TLSMATRIX_REQUIRE_TOOLS=1`, as CI runs them).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::{X509, X509Name};
use tlsmatrix::harness::{Tool, run_trials, trial_needing};
use tlsmatrix::wire::{Capture, Chunk, Direction, KeyLog, pcapng};

/// Long enough for a slow CI machine, short enough that a hung peer fails the test instead of the whole run.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// TLS AlertDescription `unknown_ca`: what OpenSSL sends for a self-signed peer certificate it has no trust anchor
/// for (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT maps to it).
const UNKNOWN_CA: &str = "48";

/// A self-signed P-256 server certificate, made here so the test depends on nothing on disk.
fn self_signed() -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "pcapng-test.invalid").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

/// Copies `from` to `to` until EOF, recording each read before forwarding it (so a reply can never be recorded
/// before the bytes it answers). At EOF it half-closes `to`, as a TCP relay does.
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Direction, start: Instant, chunks: Arc<Mutex<Vec<Chunk>>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at_us = start.elapsed().as_micros() as u64;
        chunks.lock().unwrap().push(Chunk { dir, at_us, bytes: buf[..n].to_vec() });
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Accepts one client on `listener`, connects it to `server`, and records everything both ways until both close.
fn relay(listener: TcpListener, server: SocketAddr) -> Capture {
    let (client, _) = listener.accept().unwrap();
    let start = Instant::now();
    let upstream = TcpStream::connect(server).unwrap();
    for s in [&client, &upstream] {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    }
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let (c2, u2, k2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap(), chunks.clone());
    let up = thread::spawn(move || pump(c2, u2, Direction::ClientToServer, start, k2));
    pump(upstream, client, Direction::ServerToClient, start, chunks.clone());
    up.join().unwrap();
    let chunks = std::mem::take(&mut *chunks.lock().unwrap());
    Capture { chunks }
}

/// Which side refuses the other's certificate (it trusts nothing, so verification fails).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rejecter {
    /// The client refuses the server's certificate. An OpenSSL client sends that alert before it has switched its
    /// write side to the handshake keys, so it travels in plaintext even in TLS 1.3.
    Client,
    /// The server asks for a client certificate and refuses it. The server has already sent its Finished and switched
    /// to its application traffic keys, so the alert is encrypted.
    Server,
}

/// Runs a TLS 1.3 handshake that `rejecter` refuses; the server logs its secrets into the returned key log.
fn record_rejected_handshake(rejecter: Rejecter) -> (Capture, String) {
    let (server_cert, server_key) = self_signed();
    let (client_cert, client_key) = self_signed();
    let keylog = KeyLog::new();
    let mut server_ctx = SslContext::builder(SslMethod::tls_server()).unwrap();
    server_ctx.set_certificate(&server_cert).unwrap();
    server_ctx.set_private_key(&server_key).unwrap();
    server_ctx.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
    let log = keylog.clone();
    server_ctx.set_keylog_callback(move |_, line| log.push(line));
    let mut client_ctx = SslContext::builder(SslMethod::tls_client()).unwrap();
    client_ctx.set_min_proto_version(Some(SslVersion::TLS1_3)).unwrap();
    client_ctx.set_certificate(&client_cert).unwrap();
    client_ctx.set_private_key(&client_key).unwrap();
    // Neither store holds anything: the side that verifies trusts nothing.
    match rejecter {
        Rejecter::Client => client_ctx.set_verify(SslVerifyMode::PEER),
        Rejecter::Server => {
            client_ctx.set_verify(SslVerifyMode::NONE);
            server_ctx.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
    }
    let (server_ctx, client_ctx) = (server_ctx.build(), client_ctx.build());

    let server_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server_listener.local_addr().unwrap();
    let relay_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_addr = relay_listener.local_addr().unwrap();

    let server = thread::spawn(move || {
        let (stream, _) = server_listener.accept().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Ssl::new(&server_ctx).unwrap().accept(stream).err().map(|e| e.to_string())
    });
    let relay = thread::spawn(move || relay(relay_listener, server_addr));

    let stream = TcpStream::connect(relay_addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // In TLS 1.3 the client's handshake completes before the server has judged its certificate; the verdict arrives
    // as an alert on the first read.
    let client_error = match Ssl::new(&client_ctx).unwrap().connect(stream) {
        Err(e) => Some(e.to_string()),
        Ok(mut tls) => tls.ssl_read(&mut [0u8; 16]).err().map(|e| e.to_string()),
    };
    // The client's socket is closed by now, which lets the server and the relay finish.
    let server_error = server.join().unwrap();
    let (refuser, error) = match rejecter {
        Rejecter::Client => ("client", &client_error),
        Rejecter::Server => ("server", &server_error),
    };
    let error = error.as_deref().unwrap_or("no error");
    assert!(error.contains("certificate verify failed"), "the {refuser} must refuse the certificate: {error}");
    assert!(
        client_error.is_some() && server_error.is_some(),
        "both handshakes fail: {client_error:?} {server_error:?}"
    );
    let capture = relay.join().unwrap();
    (capture, keylog.text())
}

/// Runs tshark on `file` with a display filter and fields, returning the non-empty output lines. The empty
/// `tls.keylog_file` keeps a key log configured in the user's Wireshark profile out of the result.
fn tshark(file: &Path, filter: &str, fields: &[&str], extra: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(["-o", "tls.keylog_file:", "-Y", filter, "-T", "fields"]).args(extra);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

fn write_file(dir: &Path, name: &str, capture: &Capture, keylog: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    pcapng::write(std::slice::from_ref(capture), keylog, &mut file).unwrap();
    file.flush().unwrap();
    path
}

/// Records a refused handshake and writes it twice into a temporary directory: with its key log, and without.
fn capture_files(rejecter: Rejecter) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (capture, keylog) = record_rejected_handshake(rejecter);
    assert!(keylog.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET "), "server key log:\n{keylog}");
    assert!(keylog.contains("SERVER_TRAFFIC_SECRET_0 "), "server key log:\n{keylog}");
    let dirs: Vec<Direction> = capture.chunks.iter().map(|c| c.dir).collect();
    assert!(dirs.contains(&Direction::ClientToServer) && dirs.contains(&Direction::ServerToClient), "{dirs:?}");
    let tmp = tempfile::tempdir().unwrap();
    // TLSMATRIX_PCAP_DIR keeps the files for a look in Wireshark.
    let dir = std::env::var_os("TLSMATRIX_PCAP_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{rejecter:?}-refuses").to_lowercase();
    let with = write_file(&dir, &format!("{name}.pcapng"), &capture, &keylog);
    let without = write_file(&dir, &format!("{name}-no-keylog.pcapng"), &capture, "");
    (tmp, with, without)
}

/// The framing is clean: both checksums verify (status 1 = good) and tshark flags nothing as a warning or error.
fn assert_clean_framing(file: &Path) {
    let checks = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"];
    let statuses = tshark(file, "ip", &["ip.checksum.status", "tcp.checksum.status"], &checks);
    assert!(statuses.len() >= 7, "handshake, data and closing packets: {statuses:?}");
    assert!(statuses.iter().all(|s| s == "1\t1"), "checksum statuses: {statuses:?}");
    // 0x00600000 is the severity "Warning"; errors (malformed packets included) are above it.
    let bad = tshark(file, "_ws.expert.severity >= 0x00600000", &["frame.number", "_ws.expert.message"], &[]);
    assert!(bad.is_empty(), "frames tshark flags: {bad:?}");
    let hellos = tshark(file, "tls.handshake.type == 1", &["tcp.dstport"], &[]);
    assert_eq!(hellos, ["443"], "one ClientHello, to port 443, dissected as TLS without Decode As");
}

fn the_encrypted_alert_is_read_only_with_the_embedded_key_log() {
    let (_tmp, with, without) = capture_files(Rejecter::Server);
    assert_clean_framing(&with);
    assert_clean_framing(&without);
    // With the DSB: exactly one alert, the server's, fatal, decrypted to its description.
    let alerts = tshark(&with, "tls.alert_message", &["tls.alert_message.desc"], &[]);
    assert_eq!(alerts, [UNKNOWN_CA], "decrypted alert descriptions");
    let from = tshark(&with, "tls.alert_message", &["tcp.srcport", "tls.alert_message.level"], &[]);
    assert_eq!(from, ["443\t2"], "a fatal alert from the server");
    // Without it tshark sees the same TLS stream but not the alert: the DSB is what decrypts it.
    let alerts = tshark(&without, "tls.alert_message", &["tls.alert_message.desc"], &[]);
    assert!(alerts.is_empty(), "without the key log tshark must not see the alert: {alerts:?}");
}

/// Not about the writer but about what the wire analysis should expect: an OpenSSL client that refuses the server's
/// certificate sends its alert in plaintext, so tshark reads it with or without the key log.
fn an_openssl_client_refusing_the_server_certificate_alerts_in_plaintext() {
    let (_tmp, with, without) = capture_files(Rejecter::Client);
    assert_clean_framing(&with);
    for file in [&with, &without] {
        let from = tshark(file, "tls.alert_message", &["tcp.dstport", "tls.alert_message.level"], &[]);
        assert_eq!(from, ["443\t2"], "a fatal alert from the client");
        let alerts = tshark(file, "tls.alert_message", &["tls.alert_message.desc"], &[]);
        assert_eq!(alerts, [UNKNOWN_CA], "{}", file.display());
    }
}

/// `run --pcap DIR` on a TLS 1.3 certificate failure whose alert travels encrypted (rustls's client encrypts its
/// unknown_ca under the handshake keys): tshark reads the file as written, with the embedded key log and no other
/// setup, and shows the decrypted alert. Without the key log in the file the same alert would be opaque
/// (tests/pcapng.rs proves the key log block is what decrypts).
fn pcap_export_opens_in_tshark_with_the_encrypted_alert_decrypted() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--root", ROOT, "run", "--filter", "seed::untrusted_ca", "--client", "rustls", "--server", "openssl"])
        .arg("--pcap")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.path().join("seed__untrusted_ca__rustls--openssl.pcapng");
    assert!(file.exists(), "no pcapng written: {:?}", std::fs::read_dir(dir.path()).unwrap().collect::<Vec<_>>());
    let fields = ["-T", "fields", "-e", "tcp.srcport", "-e", "tls.alert_message.level", "-e", "tls.alert_message.desc"];
    // `-o tls.keylog_file:` makes sure no key log configured elsewhere is what decrypts.
    let shown = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-o", "tls.keylog_file:", "-Y", "tls.alert_message"])
        .args(fields)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&shown.stdout);
    // From the client's port, fatal (2), unknown_ca (48).
    assert_eq!(stdout.trim(), "49152\t2\t48", "tshark: {stdout} {}", String::from_utf8_lossy(&shown.stderr));
}

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() -> std::process::ExitCode {
    const TSHARK: &[Tool] = &[Tool::TSHARK];
    run_trials(vec![
        trial_needing(
            "the_encrypted_alert_is_read_only_with_the_embedded_key_log",
            TSHARK,
            the_encrypted_alert_is_read_only_with_the_embedded_key_log,
        ),
        trial_needing(
            "an_openssl_client_refusing_the_server_certificate_alerts_in_plaintext",
            TSHARK,
            an_openssl_client_refusing_the_server_certificate_alerts_in_plaintext,
        ),
        trial_needing(
            "pcap_export_opens_in_tshark_with_the_encrypted_alert_decrypted",
            TSHARK,
            pcap_export_opens_in_tshark_with_the_encrypted_alert_decrypted,
        ),
    ])
}
