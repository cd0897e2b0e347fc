//! Priority strings, the tools' output and gnutls-serv's loopback shim, checked.

use super::output::*;
use super::priority::*;
use super::*;
use crate::backend::cli::process::Session;
use crate::observation::ErrorClass;
use crate::vocab::Alert;
use crate::vocab::ProtocolVersion::{Tls12, Tls13};

fn server(versions: &[ProtocolVersion], tls12: &[u16], tls13: &[u16]) -> ServerConfig {
    let list = |l: &[u16]| (!l.is_empty()).then(|| l.iter().map(|c| CipherSuite(*c)).collect());
    ServerConfig {
        versions: Some(versions.to_vec()),
        cipher_suites: list(tls12),
        tls13_cipher_suites: list(tls13),
        ..Default::default()
    }
}

/// A suite list GnuTLS cannot express makes the cell unsupported at planning time, with the reason, instead of
/// a harness error when gnutls-serv's command line is built.
#[test]
fn an_inexpressible_suite_list_is_unsupported_before_the_cell_runs() {
    let text = "description: d\nserver:\n  certificate: server-ec\n  versions: [tls1.2, tls1.3]\n  \
                    cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\nclient:\n  trust: [root-a]\n\
                    expect:\n  result: success\n";
    let fixtures = ["server-ec", "root-a"].into_iter().map(String::from).collect();
    let s = crate::scenario::Scenario::parse("t::x".into(), std::path::Path::new("t.yaml"), text, &fixtures).unwrap();
    let b = GnutlsBackend::new();
    let why = b.expressible(Role::Server, &s).unwrap_err();
    assert!(why.contains("cannot be expressed as a GnuTLS priority string"), "{why}");
    assert_eq!(b.expressible(Role::Client, &s), Ok(()));
    let tls12_only =
        crate::scenario::Scenario { server: ServerConfig { versions: Some(vec![Tls12]), ..s.server.clone() }, ..s };
    assert_eq!(b.expressible(Role::Server, &tls12_only), Ok(()), "with TLS 1.2 alone the items say exactly that suite");
}

#[test]
fn a_suite_list_that_is_a_product_of_items_is_expressed() {
    let cbc = server(&[Tls12], &[0xc009, 0xc00a], &[]);
    let p = suite_items(&cbc).unwrap().unwrap();
    assert_eq!(p, ":-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1");
    let chacha13 = server(&[Tls13], &[], &[0x1303]);
    assert_eq!(suite_items(&chacha13).unwrap().unwrap(), ":-CIPHER-ALL:+CHACHA20-POLY1305");
    // The other version's list does not matter when that version is off.
    assert!(suite_items(&server(&[Tls12], &[0xc02b], &[0x1301])).is_ok());
    assert_eq!(suite_items(&server(&[Tls13], &[], &[])).unwrap(), None);
}

#[test]
fn a_suite_list_gnutls_would_widen_is_refused_with_the_extra_suites() {
    // ECDHE-ECDSA + ECDHE-RSA with AES-128-GCM + CHACHA20 would enable all four combinations.
    let mixed = server(&[Tls12], &[0xc02b, 0xcca8], &[]);
    let e = suite_items(&mixed).unwrap_err().message;
    assert!(e.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{e}");
    // With TLS 1.3 on as well, its default ciphers come along for TLS 1.2 too.
    let both = server(&[Tls12, Tls13], &[0xc02b], &[]);
    let e = suite_items(&both).unwrap_err().message;
    assert!(e.contains("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), "{e}");
    // And TLS 1.2's default ciphers widen a TLS 1.3 list.
    let e = suite_items(&server(&[Tls12, Tls13], &[], &[0x1301])).unwrap_err().message;
    assert!(e.contains("also enable [TLS_AES_256_GCM_SHA384"), "{e}");
}

#[test]
fn server_output_gives_alerts_and_errors() {
    let s = Session {
        stdout: "* Received alert '48': CA is unknown.\n".into(),
        stderr: "|<5>| REC[0x55bb]: Alert[2|48] - CA is unknown - was received\n\
                     Error in handshake: A TLS fatal alert has been received.\n"
            .into(),
        status: None,
        connected: true,
        triggered: false,
        tapped: Default::default(),
    };
    let SideOutcome::Failed(f) = server_outcome(&s) else { panic!("a failure") };
    assert_eq!((f.received_alert, f.sent_alert, f.error), (Some(Alert::UNKNOWN_CA), None, ErrorClass::PeerAlert));
    assert_eq!(
        f.message,
        "* Received alert '48': CA is unknown.; Error in handshake: A TLS fatal alert has been received."
    );
}

#[test]
fn a_sent_alert_counts_once_its_record_is_written() {
    let log = "|<5>| REC: Sending Alert[2|40] - Handshake failed\n\
                   |<5>| REC[0x5577]: Preparing Packet Alert(21) with length: 2 and min pad: 0\n\
                   |<5>| REC[0x5577]: Sent Packet[1] Alert(21) in epoch 0 and length: 7\n\
                   |<5>| REC: Sending Alert[1|0] - Close notify\n";
    assert_eq!(debug_alerts(log), vec![(true, 2, Alert::HANDSHAKE_FAILURE)]);
}

#[test]
fn the_listening_line_gives_the_port() {
    let ok = b"Echo Server listening on IPv4 0.0.0.0 port 0...\ntlsmatrix-listening 4242\ndone\n";
    assert_eq!(listening(ok), Some(Ok(4242)));
    assert!(matches!(listening(b"Echo Server listening on IPv4 0.0.0.0 port 0...done\n"), Some(Err(_))));
    assert_eq!(listening(b"Echo Server listening on IPv4 0.0.0.0 port 0..."), None);
}

/// The socket inodes `pid` holds, from its fd links (`socket:[12345]`).
fn socket_inodes(pid: u32) -> Vec<String> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten();
    let links = fds.filter_map(|e| std::fs::read_link(e.path()).ok());
    let inode = |l: PathBuf| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(String::from);
    links.filter_map(inode).collect()
}

#[tokio::test]
async fn gnutls_serv_listens_on_loopback_only() {
    let Some(program) = which("gnutls-serv") else { return };
    assert!(!SHIM.is_empty(), "build.rs built the preload library: {SHIM_ERROR}");
    let dir = TempDir::new("gnutls-loopback-test").unwrap();
    let shim = dir.write("loopback.so", SHIM).unwrap();
    let args = vec![os("--echo"), os("--port=0"), os("--disable-client-cert")];
    let inv = Invocation { program, args, env: vec![("LD_PRELOAD".to_string(), os(&shim))] };
    let mut tool = Tool::spawn(&inv, dir.path()).unwrap();
    assert!(tool.stderr.read_until(|b| listening(b).is_some()).await, "{}", tool.stderr.text());
    let port = listening(&tool.stderr.buf).unwrap().unwrap();
    // Every listening TCP socket of the process (state 0A), IPv4 and IPv6: one, on 127.0.0.1:port.
    let inodes = socket_inodes(tool.pid());
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(|t| std::fs::read_to_string(t).unwrap_or_default());
    let listening: Vec<String> = tables
        .iter()
        .flat_map(|t| t.lines())
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]))
        .map(|f| f[1].to_string())
        .collect();
    assert_eq!(listening, vec![format!("0100007F:{port:04X}")]);
    tool.kill();
}
