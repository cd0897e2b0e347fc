//! `tlsmatrix compat --target`: the client matrix against a server the test starts itself (`openssl s_server` on
//! 127.0.0.1), compared with the scenario that describes the same server; a service that does not echo; a server
//! that asks for a client certificate. And the other way, `tlsmatrix try-client`: `openssl s_client` as the user's
//! own client against the server backends. Needs the `openssl` tool (ignored with the install command otherwise).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use tlsmatrix::harness::{Tool, run_trials, trial_needing};

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The clients compared: the linked-in ones and the tools and runtimes `.ci/run` installs (a missing one is
/// `unsupported` in both reports alike).
const CLIENTS: &str = "openssl,native-tls,rustls,jsse,openssl-cli,gnutls,python";

/// A server that allows only TLS 1.2 with ECDHE-ECDSA-AES128-SHA (issue 17's example), as a scenario.
const CBC_ONLY: &str = "\
description: a legacy server, TLS 1.2 with ECDHE-ECDSA-AES128-SHA only
server: { certificate: server-ec, versions: [tls1.2], cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA] }
client: { trust: [root-a], server_name: localhost }
expect: { result: success }
";

fn tlsmatrix(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--root").arg(root).args(args).output().expect("the binary runs")
}

/// `tlsmatrix ... --format json`, parsed; panics with stderr unless the exit code is 0.
fn json(root: &Path, args: &[&str]) -> Value {
    let out = tlsmatrix(root, args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// A project with the real fixtures, the CBC-only scenario, and the fixtures exported as PEM files under `pem/`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios/live")).unwrap();
    std::fs::copy(Path::new(ROOT).join("fixtures/pki.yaml"), dir.path().join("fixtures/pki.yaml")).unwrap();
    std::fs::write(dir.path().join("scenarios/live/cbc_only.yaml"), CBC_ONLY).unwrap();
    let out = tlsmatrix(dir.path(), &["pki-export", &dir.path().join("pem").to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// `openssl s_server` on 127.0.0.1:0 with the exported `server-ec` and `args`, answering the harness's ping as the
/// openssl-cli backend does (its stdin is what it sends): the port, and the process (killed on drop).
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(pem: &Path, args: &[&str], echo: bool) -> SServer {
        let p = |f: &str| pem.join(f).to_string_lossy().into_owned();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0"])
            .args(["-cert", &p("server-ec.crt"), "-key", &p("server-ec.key"), "-cert_chain", &p("server-ec.chain.crt")])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl runs");
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("s_server prints ACCEPT").unwrap();
            if let Some(addr) = line.strip_prefix("ACCEPT ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if echo && line.contains("tlsmatrix ping") {
                    let _ = stdin.write_all(b"tlsmatrix ping\n").and_then(|()| stdin.flush());
                }
            }
        });
        SServer { child, port }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `compat --target TARGET --trust ROOT --server-name localhost`, then `rest`.
fn live(dir: &Path, target: &str, root: &str, rest: &[&str]) -> Value {
    let base = ["compat", "--target", target, "--trust", root, "--server-name", "localhost"];
    json(dir, &[&base[..], rest].concat())
}

fn rows(report: &Value) -> &Vec<Value> {
    report["rows"].as_array().expect("rows")
}

/// What both reports observe of a row: the client's side and the alerts as they travelled.
fn seen(row: &Value) -> Value {
    let f = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
    let first = |a: &str, b: &str| if f(a).is_null() { f(b) } else { f(a) };
    serde_json::json!({
        "client": f("client"), "verdict": f("verdict"), "version": f("version"), "cipher": f("cipher"),
        "alpn": f("alpn"), "client_sent": f("client_sent"), "client_received": f("client_received"),
        "c_to_s": first("client_sent", "server_received"), "s_to_c": first("server_sent", "client_received"),
    })
}

fn a_live_target_gives_the_rows_of_the_equivalent_scenario() {
    let dir = project();
    let pem = dir.path().join("pem");
    let server = SServer::start(
        &pem,
        &["-min_protocol", "TLSv1.2", "-max_protocol", "TLSv1.2", "-cipher", "ECDHE-ECDSA-AES128-SHA"],
        true,
    );
    let scenario = json(
        dir.path(),
        &["compat", "live::cbc_only", "--server", "openssl-cli", "--client", CLIENTS, "--format", "json"],
    );
    let root_a = pem.join("root-a.crt").to_string_lossy().into_owned();
    let target = server.target();
    let live = live(dir.path(), &target, &root_a, &["live::cbc_only", "--client", CLIENTS, "--format", "json"]);
    assert_eq!(live["live"], true);
    assert_eq!(live["server"], target.as_str());
    let (a, b) = (rows(&scenario), rows(&live));
    assert_eq!(a.len(), CLIENTS.split(',').count());
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        assert_eq!(seen(a), seen(b), "\nscenario: {a}\nlive:     {b}");
    }
    // Both outcomes occur: the test compares connections and refusals, not only one kind.
    let verdicts: Vec<&str> = a.iter().map(|r| r["verdict"].as_str().unwrap()).collect();
    assert!(verdicts.contains(&"connects") && verdicts.contains(&"fails"), "{verdicts:?}");
    let openssl = &b[0];
    assert_eq!(
        (openssl["version"].as_str(), openssl["cipher"].as_str()),
        (Some("tls1.2"), Some("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"))
    );
    let rustls = b.iter().find(|r| r["client"] == "rustls").unwrap();
    // rustls implements no CBC suite: the server finds nothing in common and says so on the wire.
    assert_eq!(
        (rustls["verdict"].as_str(), rustls["server_sent"].as_str()),
        (Some("fails"), Some("handshake_failure"))
    );
}

fn a_service_that_does_not_echo_still_counts_its_handshake() {
    let dir = project();
    let pem = dir.path().join("pem");
    // `-www` answers an HTTP GET and waits for one: the harness's ping never gets an answer.
    let server = SServer::start(&pem, &["-www"], false);
    let root_a = pem.join("root-a.crt").to_string_lossy().into_owned();
    let target = server.target();
    let live = live(dir.path(), &target, &root_a, &["--client", "openssl,rustls,jsse", "--format", "json"]);
    assert_eq!(live["scenario"], "library defaults");
    for r in rows(&live) {
        if r["verdict"] == "unsupported" {
            continue;
        }
        assert_eq!(r["verdict"], "connects", "{r}");
        assert_eq!(r["version"], "tls1.3", "{r}");
        assert!(r["reason"].as_str().unwrap().contains("did not echo"), "{r}");
    }
    // The wrong CA: every client refuses the chain, with its own alert, seen by the harness on the wire.
    let root_b = pem.join("root-b.crt").to_string_lossy().into_owned();
    let out = tlsmatrix(
        dir.path(),
        &[
            "compat",
            "--target",
            &target,
            "--trust",
            &root_b,
            "--server-name",
            "localhost",
            "--client",
            "openssl,rustls",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("only the client side is observed"), "{stdout}");
    assert!(stdout.contains("openssl  FAILS     C→S unknown_ca"), "{stdout}");
    assert!(stdout.contains("rustls   FAILS     C→S unknown_ca"), "{stdout}");
}

fn a_client_certificate_is_presented_when_given() {
    let dir = project();
    let pem = dir.path().join("pem");
    let p = |f: &str| pem.join(f).to_string_lossy().into_owned();
    let server = SServer::start(&pem, &["-Verify", "1", "-CAfile", &p("root-a.crt"), "-verify_return_error"], true);
    let (target, root_a, chain, key) = (server.target(), p("root-a.crt"), p("client-a.chain.crt"), p("client-a.key"));
    let without = live(dir.path(), &target, &root_a, &["--client", "openssl", "--format", "json"]);
    let row = &rows(&without)[0];
    // TLS 1.3: the server's refusal comes after the client's Finished, encrypted; the client's keys decrypt it.
    assert_eq!(
        (row["verdict"].as_str(), row["server_sent"].as_str()),
        (Some("fails"), Some("certificate_required")),
        "{row}"
    );
    let cert = ["--client-cert", &chain, "--client-key", &key, "--client", "openssl,rustls", "--format", "json"];
    let with = live(dir.path(), &target, &root_a, &cert);
    for r in rows(&with) {
        assert_eq!(r["verdict"], "connects", "{r}");
    }
}

/// `openssl s_client` as the user's own client, with the placeholders and `extra`.
fn s_client(extra: &[&'static str]) -> Vec<&'static str> {
    let base = ["--", "openssl", "s_client", "-connect", "{addr}", "-servername", "{host}", "-verify_return_error"];
    [&base[..], extra].concat()
}

fn try_client_reports_what_each_server_saw() {
    let dir = project();
    let run = |servers: &str, scenario: Option<&str>, client: &[&str]| {
        let mut args = vec!["try-client", "--format", "json", "--server", servers];
        if let Some(s) = scenario {
            args.extend(["--scenario", s]);
        }
        json(dir.path(), &[&args[..], client].concat())
    };
    // Trusting `{ca}`, with -quiet (which ignores the end of stdin): s_client waits for the server to speak, and
    // the harness stops both once the line has settled after the handshake.
    let trusted =
        run("openssl,native-tls,rustls", None, &s_client(&["-CAfile", "{ca}", "-verify_hostname", "{host}", "-quiet"]));
    for r in rows(&trusted) {
        assert_eq!(r["seen"], "connects", "{r}");
        assert!(r["version"].as_str().is_some() && r["cipher"].as_str().is_some(), "{r}");
        assert!(r["detail"].as_str().unwrap().contains("nothing moved"), "{r}");
    }
    assert_eq!(rows(&trusted)[0]["version"], "tls1.3");
    // No CA: OpenSSL's client refuses the chain, and each server reports the alert it received.
    let untrusted = run("openssl,rustls", None, &s_client(&[]));
    for r in rows(&untrusted) {
        assert_eq!((r["seen"].as_str(), r["received_alert"].as_str()), (Some("fails"), Some("unknown_ca")), "{r}");
        assert_eq!(r["exit_code"], 1, "{r}");
        assert!(r["client_said"].as_str().unwrap().contains("certificate verify failed"), "{r}");
    }
    // A TLS 1.3-only server (the scenario's server block) and a client pinned to TLS 1.2.
    std::fs::write(
        dir.path().join("scenarios/live/tls13_only.yaml"),
        "description: a TLS 1.3-only server\nserver: { certificate: server-ec, versions: [tls1.3] }\n\
         client: { trust: [root-a], server_name: localhost }\nexpect: { result: success }\n",
    )
    .unwrap();
    let pinned = run("openssl,rustls", Some("live::tls13_only"), &s_client(&["-CAfile", "{ca}", "-tls1_2"]));
    for r in rows(&pinned) {
        assert_eq!((r["seen"].as_str(), r["sent_alert"].as_str()), (Some("fails"), Some("protocol_version")), "{r}");
    }
}

fn main() -> std::process::ExitCode {
    const OPENSSL: &[Tool] = &[Tool::OPENSSL];
    run_trials(vec![
        trial_needing(
            "a_live_target_gives_the_rows_of_the_equivalent_scenario",
            OPENSSL,
            a_live_target_gives_the_rows_of_the_equivalent_scenario,
        ),
        trial_needing(
            "a_service_that_does_not_echo_still_counts_its_handshake",
            OPENSSL,
            a_service_that_does_not_echo_still_counts_its_handshake,
        ),
        trial_needing(
            "a_client_certificate_is_presented_when_given",
            OPENSSL,
            a_client_certificate_is_presented_when_given,
        ),
        trial_needing("try_client_reports_what_each_server_saw", OPENSSL, try_client_reports_what_each_server_saw),
    ])
}
