//! The peer-process backends (jsse, python, node, boringssl, nss) against real stacks: Java's, Python's, BoringSSL's and NSS's own
//! error texts, an openssl witness for the alerts Java is inferred to send, resumption across two requests, the
//! unavailable backend when the runtime is missing, and their speed.
//!
//! The tests that need a JVM (a `python3`) are ignored, with the install command, on a machine without `java`
//! (`python3`) on PATH (a failure under `TLSMATRIX_REQUIRE_TOOLS=1`); the unavailable path is tested on every machine,
//! by hiding the runtime.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use tlsmatrix::backend::Registry;
use tlsmatrix::expect::Status;
use tlsmatrix::harness::{Tool, run_trials, trial, trial_needing};
use tlsmatrix::plan::Cell;
use tlsmatrix::runner::{Context, DEFAULT_TIMEOUT};
use tlsmatrix::{Alert, BackendId, ErrorClass, Layout, Observation, ProtocolVersion, Scenario, SideOutcome};

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The seed scenarios, and a context over every backend (one jsse adapter shared by the calls).
fn setup() -> (Context, Vec<Arc<Scenario>>) {
    tlsmatrix::backend::keep_system_trust_out();
    let (pki, catalog) = Layout::at(Path::new(ROOT)).load(&[]).expect("the project loads");
    let ctx = Context { registry: Arc::new(Registry::all()), pki: Arc::new(pki), timeout: DEFAULT_TIMEOUT, pcap: None };
    (ctx, catalog.scenarios.into_iter().map(Arc::new).collect())
}

fn cell(scenarios: &[Arc<Scenario>], id: &str, client: BackendId, server: BackendId) -> Cell {
    let scenario = scenarios.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("{id} is in scenarios/")).clone();
    Cell { scenario, client, server }
}

fn observe(ctx: &Context, cell: &Cell) -> Observation {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(ctx.observe(cell)).unwrap_or_else(|e| panic!("{}: harness fault {e}", cell.name())).observation
}

fn failure(o: &SideOutcome) -> &tlsmatrix::Failure {
    o.failure().unwrap_or_else(|| panic!("expected a failure, observed {o}"))
}

fn jsse_against_openssl_on_the_seed_scenarios() {
    let (ctx, scenarios) = setup();
    use BackendId::{Jsse, Openssl};

    // Success both ways, with the parameters Java reports.
    for (client, server) in [(Jsse, Openssl), (Openssl, Jsse)] {
        let c = cell(&scenarios, "seed::tls13_success", client, server);
        let r = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(ctx.run_cell(&c));
        assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
        let o = r.observed.expect("observed");
        for side in [&o.client, &o.server] {
            let SideOutcome::Established(e) = side else { panic!("{side}") };
            assert_eq!(e.version, Some(ProtocolVersion::Tls13));
            assert_eq!(e.cipher.map(|c| c.to_string()).as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        }
    }
    let c = cell(&scenarios, "seed::no_common_cipher_tls12_fixed", Openssl, Jsse);
    let o = observe(&ctx, &c);
    let SideOutcome::Established(e) = &o.server else { panic!("{}", o.server) };
    assert_eq!(e.cipher.map(|c| c.to_string()).as_deref(), Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));

    // A Java client meets a TLS 1.0-only server: the server's alert, in Java's words.
    let o = observe(&ctx, &cell(&scenarios, "seed::legacy_tls10_server", Jsse, Openssl));
    let f = failure(&o.client);
    assert_eq!(f.message, "javax.net.ssl.SSLHandshakeException: Received fatal alert: protocol_version");
    assert_eq!((f.received_alert, f.error), (Some(Alert::PROTOCOL_VERSION), ErrorClass::PeerAlert));

    // No suite in common: Java as server says so, and the openssl client saw the handshake_failure it inferred.
    let o = observe(&ctx, &cell(&scenarios, "seed::no_common_cipher_tls12", Openssl, Jsse));
    let f = failure(&o.server);
    assert_eq!(f.message, "javax.net.ssl.SSLHandshakeException: no cipher suites in common");
    assert_eq!(f.sent_alert, Some(Alert::HANDSHAKE_FAILURE));
    assert_eq!(o.client.received_alert(), Some(Alert::HANDSHAKE_FAILURE));

    // Untrusted CA: the famous PKIX message; Java sends certificate_unknown (not unknown_ca), as openssl witnesses.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Jsse, Openssl));
    let f = failure(&o.client);
    assert_eq!(
        f.message,
        "javax.net.ssl.SSLHandshakeException: PKIX path building failed: \
         sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to \
         requested target"
    );
    assert_eq!(f.sent_alert, Some(Alert::CERTIFICATE_UNKNOWN));
    assert_eq!(o.server.received_alert(), Some(Alert::CERTIFICATE_UNKNOWN));

    // A TLS 1.2-only Java client against a TLS 1.3-only Java server: both messages as Java prints them.
    let o = observe(&ctx, &cell(&scenarios, "seed::tls12_client_tls13_server", Jsse, Jsse));
    assert_eq!(
        failure(&o.server).message,
        "javax.net.ssl.SSLHandshakeException: The client supported protocol versions [TLSv1.2] are not accepted by \
         server preferences [TLSv1.3]"
    );
    assert_eq!(failure(&o.client).received_alert, Some(Alert::PROTOCOL_VERSION));
}

fn without_java_every_jsse_cell_is_unsupported_and_the_rest_still_runs() {
    without_its_runtime("jsse", "java not found on PATH");
}

/// With an empty PATH, every seed cell with `peer` on a side is unsupported, the ones the peer itself decides name
/// the missing runtime (`missing`) with the install hint, every other cell still runs, and the report's environment
/// says the library was not found.
fn without_its_runtime(peer: &str, missing: &str) {
    let empty = tempfile::tempdir().unwrap();
    let backends = format!("openssl,rustls,{peer}");
    let out = Command::new(BIN)
        .env("PATH", empty.path())
        .args(["--root", ROOT, "run", "--format", "json", "--filter", "seed::*"])
        .args(["--client", &backends, "--server", &backends])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let cells = report["cells"].as_array().expect("cells");
    let (mut with_peer, mut naming) = (0, 0);
    for c in cells {
        let (client, server, status) = (c["client"].as_str(), c["server"].as_str(), c["status"].as_str());
        if client == Some(peer) || server == Some(peer) {
            with_peer += 1;
            assert_eq!(status, Some("unsupported"), "{c}");
            // The client is checked first: a rustls client that cannot set a knob says so before the peer is asked.
            let reason = c["reason"].as_str().unwrap_or_default();
            if reason.starts_with(&format!("{peer} as")) {
                assert!(reason.contains(missing) && reason.contains("apt-get install"), "{reason}");
                naming += 1;
            }
        } else {
            assert!(matches!(status, Some("pass" | "unsupported")), "{c}");
        }
    }
    assert_eq!(with_peer, 10 * 5, "every seed scenario has 5 cells with {peer} on a side");
    assert!(naming >= 40, "only {naming} {peer} cells name the missing runtime");
    let backends = report["environment"]["backends"].as_array().expect("environment.backends");
    let lib = backends.iter().find(|b| b["name"] == peer).map(|b| b["library"].to_string()).unwrap_or_default();
    assert!(lib.contains("not found"), "{lib}");
}

/// JVM start (compile the adapter, warm up, ready) and cells per second once it is up, printed for the record.
fn jsse_speed() {
    let (ctx, scenarios) = setup();
    let c = cell(&scenarios, "seed::tls13_success", BackendId::Jsse, BackendId::Openssl);
    let jsse = ctx.registry.get(BackendId::Jsse).expect("registered").clone();
    let t = Instant::now();
    drop(jsse.client(&c.scenario.client, &ctx.pki).expect("the JVM starts"));
    let start = t.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    const N: usize = 100;
    let t = Instant::now();
    let results = rt.block_on(ctx.run_all(vec![c.clone(); N], 4, None));
    let wall = t.elapsed();
    let passed = results.iter().filter(|r| r.status == Status::Pass).count();
    assert_eq!(passed, N, "{:?}", results.iter().find(|r| r.status != Status::Pass));
    println!(
        "jsse: JVM start {:.0} ms; {N} cells jsse->openssl in {:.2} s = {:.0} cells/s ({})",
        start.as_secs_f64() * 1000.0,
        wall.as_secs_f64(),
        N as f64 / wall.as_secs_f64(),
        jsse.version()
    );
}

/// The seed scenarios as a Java user meets them: every cell with jsse on either side passes, including the exact
/// Java exception texts the scenarios expect (`message: { jsse: ... }`) and the Java fix for the TLS 1.0 server.
fn the_seed_scenarios_pass_with_java_on_either_side() {
    seed_scenarios_on_either_side("jsse", 15, "javax.net.ssl.SSLHandshakeException: ");
}

/// Every seed cell with `peer` on either side (against the linked-in backends and itself) passes or is unsupported
/// with its reason, at least `at_least` of them run, and the report carries the stack's own error texts (one
/// starting with `text`), as its users print them.
fn seed_scenarios_on_either_side(peer: &str, at_least: usize, text: &str) {
    let all = format!("{peer},openssl,native-tls,rustls");
    for (side, other) in [("--client", "--server"), ("--server", "--client")] {
        let out = Command::new(BIN)
            .args(["--root", ROOT, "run", "--filter", "seed::*", side, peer, other, &all, "--format", "json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        let cells = report["cells"].as_array().unwrap();
        let bad: Vec<_> = cells.iter().filter(|c| c["status"] != "pass" && c["status"] != "unsupported").collect();
        assert!(bad.is_empty(), "{side} {peer}: {bad:#?}");
        let ran = cells.iter().filter(|c| c["status"] == "pass").count();
        assert!(ran >= at_least, "{side} {peer}: only {ran} cells ran");
        assert_eq!(out.status.code(), Some(0));
        let texts = cells.iter().filter(|c| c[&side[2..]] == peer).flat_map(|c| {
            ["client", "server"].map(|s| c["observed"][s]["message"].as_str().unwrap_or_default().to_string())
        });
        assert!(texts.into_iter().any(|m| m.starts_with(text)), "{side} {peer}: no message starts with {text:?}");
    }
}

/// `seed::tls13_success` with `peer` on either side against openssl: both pass and report TLS 1.3 with
/// TLS_AES_256_GCM_SHA384 (OpenSSL's first default suite, and Java's, Python's and Node's), not resumed.
fn tls13_success_both_ways(ctx: &Context, scenarios: &[Arc<Scenario>], peer: BackendId) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (client, server) in [(peer, BackendId::Openssl), (BackendId::Openssl, peer)] {
        let c = cell(scenarios, "seed::tls13_success", client, server);
        let r = rt.block_on(ctx.run_cell(&c));
        assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
        let o = r.observed.expect("observed");
        for side in [&o.client, &o.server] {
            let SideOutcome::Established(e) = side else { panic!("{side}") };
            assert_eq!(e.version, Some(ProtocolVersion::Tls13));
            assert_eq!(e.cipher.map(|c| c.to_string()).as_deref(), Some("TLS_AES_256_GCM_SHA384"));
            assert_eq!(e.resumed, Some(false));
        }
    }
}

/// Python's texts, alerts and parameters against openssl. A message keeps CPython's `(_ssl.c:N)` suffix, exactly as a
/// Python program prints it; only the prefix is compared, since N differs between CPython builds.
fn python_against_openssl_on_the_seed_scenarios() {
    let (ctx, scenarios) = setup();
    use BackendId::{Openssl, Python};
    tls13_success_both_ways(&ctx, &scenarios, Python);

    // Untrusted CA: the famous message, and the alert Python sent, seen by its own callback and by openssl.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Python, Openssl));
    let f = failure(&o.client);
    assert!(
        f.message.starts_with(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate \
             (_ssl.c:"
        ),
        "{}",
        f.message
    );
    assert_eq!((f.sent_alert, f.error), (Some(Alert::UNKNOWN_CA), ErrorClass::Local));
    assert_eq!(o.server.received_alert(), Some(Alert::UNKNOWN_CA));

    // No suite in common: the Python server says so and sends handshake_failure.
    let o = observe(&ctx, &cell(&scenarios, "seed::no_common_cipher_tls12", Openssl, Python));
    let f = failure(&o.server);
    assert!(f.message.starts_with("[SSL: NO_SHARED_CIPHER] no shared cipher (_ssl.c:"), "{}", f.message);
    assert_eq!(f.sent_alert, Some(Alert::HANDSHAKE_FAILURE));
    assert_eq!(o.client.received_alert(), Some(Alert::HANDSHAKE_FAILURE));

    // A TLS 1.0-only server: the alert Python received, in Python's words.
    let o = observe(&ctx, &cell(&scenarios, "seed::legacy_tls10_server", Python, Openssl));
    let f = failure(&o.client);
    assert!(f.message.starts_with("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version"), "{}", f.message);
    assert_eq!((f.received_alert, f.error), (Some(Alert::PROTOCOL_VERSION), ErrorClass::PeerAlert));
}

/// The two connections of a `mode: resume` cell are two adapter requests: the second resumes the first one's
/// session (TLS 1.3 ticket, TLS 1.2 session id), with python as client, as server, and on both sides.
fn python_resumes_sessions_across_requests() {
    let (ctx, scenarios) = setup();
    use BackendId::{Openssl, Python};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in ["resumption::tls13_ticket", "resumption::tls12_session_id"] {
        for (client, server) in [(Python, Openssl), (Openssl, Python), (Python, Python)] {
            let c = cell(&scenarios, id, client, server);
            let r = rt.block_on(ctx.run_cell(&c));
            assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
            let o = r.observed.expect("observed");
            for side in [&o.client, &o.server] {
                let SideOutcome::Established(e) = side else { panic!("{side}") };
                assert_eq!(e.resumed, Some(true), "{}: {side}", c.name());
            }
        }
    }
}

fn without_python_every_python_cell_is_unsupported_and_the_rest_still_runs() {
    without_its_runtime("python", "python3 not found on PATH");
}

/// The seed scenarios as a Python user meets them: every cell with python on either side passes or is unsupported
/// with its reason, and the report carries Python's own messages.
fn the_seed_scenarios_pass_with_python_on_either_side() {
    seed_scenarios_on_either_side("python", 25, "[SSL: ");
}

/// The adapter's start (probe, interpreter, ready) and cells per second once it is up, printed for the record.
fn python_speed() {
    let (ctx, scenarios) = setup();
    let c = cell(&scenarios, "seed::tls13_success", BackendId::Python, BackendId::Openssl);
    let python = ctx.registry.get(BackendId::Python).expect("registered").clone();
    let t = Instant::now();
    drop(python.client(&c.scenario.client, &ctx.pki).expect("the adapter starts"));
    let start = t.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    const N: usize = 100;
    let t = Instant::now();
    let results = rt.block_on(ctx.run_all(vec![c.clone(); N], 4, None));
    let wall = t.elapsed();
    let passed = results.iter().filter(|r| r.status == Status::Pass).count();
    assert_eq!(passed, N, "{:?}", results.iter().find(|r| r.status != Status::Pass));
    println!(
        "python: adapter start {:.0} ms; {N} cells python->openssl in {:.2} s = {:.0} cells/s ({})",
        start.as_secs_f64() * 1000.0,
        wall.as_secs_f64(),
        N as f64 / wall.as_secs_f64(),
        python.version()
    );
}

/// Node's texts and alerts against openssl, as a Node program meets them. The alerts come from the records the
/// adapter's tap kept (TLS 1.3 decrypted with the keylog secrets), and openssl, which sees every alert, is the witness.
fn node_against_openssl_on_the_seed_scenarios() {
    let (ctx, scenarios) = setup();
    use BackendId::{Node, Openssl};
    tls13_success_both_ways(&ctx, &scenarios, Node);

    // Untrusted CA: Node checks the certificate after OpenSSL's handshake (its verify callback accepts everything,
    // and tls.connect's rejectUnauthorized destroys the socket): no alert at all, and the server sees the stream end
    // before the client's Finished. Node's message is the famous one.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Node, Openssl));
    let f = failure(&o.client);
    assert_eq!(f.message, "UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate");
    assert_eq!((f.sent_alert, f.received_alert, f.error), (None, None, ErrorClass::Local));
    let s = failure(&o.server);
    assert_eq!((s.sent_alert, s.received_alert, s.error), (None, None, ErrorClass::Eof), "{}", s.message);

    // No suite in common: the Node server's handshake_failure, read from its records and received by openssl.
    let o = observe(&ctx, &cell(&scenarios, "seed::no_common_cipher_tls12", Openssl, Node));
    let f = failure(&o.server);
    assert!(f.message.starts_with("ERR_SSL_NO_SHARED_CIPHER: "), "{}", f.message);
    assert_eq!((f.sent_alert, f.error), (Some(Alert::HANDSHAKE_FAILURE), ErrorClass::Local));
    assert_eq!(o.client.received_alert(), Some(Alert::HANDSHAKE_FAILURE));

    // openssl rejects the Node server's certificate under TLS 1.3: its unknown_ca, received by Node.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Openssl, Node));
    let f = failure(&o.server);
    assert_eq!((f.received_alert, f.error), (Some(Alert::UNKNOWN_CA), ErrorClass::PeerAlert), "{}", f.message);
    assert_eq!(o.client.sent_alert(), Some(Alert::UNKNOWN_CA));
}

/// `mode: resume` through the adapter: the second request resumes the first one's TLS 1.3 ticket, with node as
/// client and as server.
fn node_resumes_tls13_sessions_across_requests() {
    let (ctx, scenarios) = setup();
    use BackendId::{Node, Openssl};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (client, server) in [(Node, Openssl), (Openssl, Node)] {
        let c = cell(&scenarios, "resumption::tls13_ticket", client, server);
        let r = rt.block_on(ctx.run_cell(&c));
        assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
        let o = r.observed.expect("observed");
        for side in [&o.client, &o.server] {
            let SideOutcome::Established(e) = side else { panic!("{side}") };
            assert_eq!(e.resumed, Some(true), "{}: {side}", c.name());
        }
    }
}

/// The pinned releases from the setup script: each one runs and names its bundled OpenSSL (the reason it is in the
/// ladder), and connects to openssl with the newest version it has.
fn node_releases() -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
    let (ctx, scenarios) = setup();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let releases = [
        (BackendId::Node8, "OpenSSL 1.0.2s", ProtocolVersion::Tls12),
        (BackendId::Node16, "OpenSSL 1.1.1v", ProtocolVersion::Tls13),
        (BackendId::Node24, "OpenSSL 3.5.9", ProtocolVersion::Tls13),
    ];
    let missing: Vec<String> = releases
        .iter()
        .filter_map(|(id, ..)| {
            ctx.registry.get(*id).and_then(|b| b.capabilities(tlsmatrix::Role::Client).unavailable.clone())
        })
        .collect();
    if !missing.is_empty() {
        return tlsmatrix::harness::missing(&missing.join("; "));
    }
    for (id, openssl, newest) in releases {
        let c = cell(&scenarios, "versions::library_defaults", id, BackendId::Openssl);
        let o = rt.block_on(ctx.observe(&c)).expect("runs").observation;
        let SideOutcome::Established(e) = &o.client else { panic!("{id}: {}", o.client) };
        assert_eq!(e.version, Some(newest), "{id}");
        let backend = ctx.registry.get(id).expect("registered");
        assert!(backend.version().contains(openssl), "{id}: {}", backend.version());
    }
    Ok(libtest_mimic::Completion::Completed)
}

/// BoringSSL's texts, alerts and parameters against openssl (the alerts from libssl's own info callback, each
/// witnessed by openssl's message callback), and its sessions resumed across two requests. Ignored, with the install
/// command, where Debian's android-libboringssl-dev is missing.
fn boringssl_against_openssl() -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
    let (ctx, scenarios) = setup();
    use BackendId::{Boringssl, Openssl};
    if let Some(why) = ctx.registry.unavailable(Boringssl, tlsmatrix::Role::Client) {
        return tlsmatrix::harness::missing(&why);
    }
    let backend = ctx.registry.get(Boringssl).expect("registered");
    assert!(backend.version().starts_with("BoringSSL (Debian android-libboringssl "), "{}", backend.version());

    // Untrusted CA: libssl's error and the verifier's reason, unknown_ca sent and seen by openssl.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Boringssl, Openssl));
    let f = failure(&o.client);
    assert_eq!(
        f.message,
        "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED (unable to get local issuer certificate)"
    );
    assert_eq!((f.sent_alert, f.error), (Some(Alert::UNKNOWN_CA), ErrorClass::Local));
    assert_eq!(o.server.received_alert(), Some(Alert::UNKNOWN_CA));

    // Where BoringSSL differs from OpenSSL: a certificate not yet valid is "expired" on the wire.
    let o = observe(&ctx, &cell(&scenarios, "certificates::not_yet_valid", Boringssl, Openssl));
    assert_eq!(failure(&o.client).sent_alert, Some(Alert::CERTIFICATE_EXPIRED));
    assert_eq!(o.server.received_alert(), Some(Alert::CERTIFICATE_EXPIRED));

    // A TLS 1.0-only server refuses the modern client: the alert BoringSSL received, in its words.
    let o = observe(&ctx, &cell(&scenarios, "seed::legacy_tls10_server", Boringssl, Openssl));
    let f = failure(&o.client);
    assert!(f.message.contains("TLSV1_ALERT_PROTOCOL_VERSION"), "{}", f.message);
    assert_eq!((f.received_alert, f.error), (Some(Alert::PROTOCOL_VERSION), ErrorClass::PeerAlert));

    // No suite in common: the BoringSSL server says so and sends handshake_failure.
    let o = observe(&ctx, &cell(&scenarios, "seed::no_common_cipher_tls12", Openssl, Boringssl));
    let f = failure(&o.server);
    assert!(f.message.contains("NO_SHARED_CIPHER"), "{}", f.message);
    assert_eq!(f.sent_alert, Some(Alert::HANDSHAKE_FAILURE));
    assert_eq!(o.client.received_alert(), Some(Alert::HANDSHAKE_FAILURE));

    // The endpoint keeps a client's session (TLS 1.3 tickets reach it through the new-session callback) and a
    // server's context (session cache, ticket keys) between the two requests of a cell.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in ["resumption::tls13_ticket", "resumption::tls12_session_id"] {
        for (client, server) in [(Boringssl, Openssl), (Openssl, Boringssl), (Boringssl, Boringssl)] {
            let c = cell(&scenarios, id, client, server);
            let r = rt.block_on(ctx.run_cell(&c));
            assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
            let o = r.observed.expect("observed");
            for side in [&o.client, &o.server] {
                let SideOutcome::Established(e) = side else { panic!("{side}") };
                assert_eq!(e.resumed, Some(true), "{}: {side}", c.name());
            }
        }
    }
    Ok(libtest_mimic::Completion::Completed)
}

fn without_a_compiler_every_boringssl_cell_is_unsupported_and_the_rest_still_runs() {
    without_its_runtime("boringssl", "cc not found on PATH");
}

/// NSS's texts, alerts and parameters against openssl (alerts from NSS's own alert callbacks, each witnessed by
/// openssl's message callback). Ignored, with the install command, where Debian's libnss3-dev is missing.
fn nss_against_openssl() -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
    let (ctx, scenarios) = setup();
    use BackendId::{Nss, Openssl};
    if let Some(why) = ctx.registry.unavailable(Nss, tlsmatrix::Role::Client) {
        return tlsmatrix::harness::missing(&why);
    }
    let backend = ctx.registry.get(Nss).expect("registered");
    assert!(backend.version().starts_with("NSS 3."), "{}", backend.version());

    // Untrusted CA: NSS's error code and text, unknown_ca sent and seen by openssl.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Nss, Openssl));
    let f = failure(&o.client);
    assert_eq!(f.message, "SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not recognized.");
    assert_eq!((f.sent_alert, f.error), (Some(Alert::UNKNOWN_CA), ErrorClass::Local));
    assert_eq!(o.server.received_alert(), Some(Alert::UNKNOWN_CA));

    // Where NSS differs: a trusted intermediate is an anchor, so trusting only the issuing CA connects.
    let o = observe(&ctx, &cell(&scenarios, "certificates::trust_intermediate_only", Nss, Openssl));
    assert!(matches!(o.client, SideOutcome::Established(_)), "{}", o.client);

    // A TLS 1.0-only server refuses NSS's default TLS 1.2-1.3 offer.
    let o = observe(&ctx, &cell(&scenarios, "seed::legacy_tls10_server", Nss, Openssl));
    let f = failure(&o.client);
    assert!(f.message.starts_with("SSL_ERROR_PROTOCOL_VERSION_ALERT"), "{}", f.message);
    assert_eq!((f.received_alert, f.error), (Some(Alert::PROTOCOL_VERSION), ErrorClass::PeerAlert));

    // No suite in common: the NSS server says so and sends handshake_failure.
    let o = observe(&ctx, &cell(&scenarios, "seed::no_common_cipher_tls12", Openssl, Nss));
    let f = failure(&o.server);
    assert!(f.message.starts_with("SSL_ERROR_NO_CYPHER_OVERLAP"), "{}", f.message);
    assert_eq!(f.sent_alert, Some(Alert::HANDSHAKE_FAILURE));
    assert_eq!(o.client.received_alert(), Some(Alert::HANDSHAKE_FAILURE));

    // Success both ways, with the parameters NSS reports (its group included).
    for (client, server) in [(Nss, Openssl), (Openssl, Nss), (Nss, Nss)] {
        let o = observe(&ctx, &cell(&scenarios, "seed::tls13_success", client, server));
        for side in [&o.client, &o.server] {
            let SideOutcome::Established(e) = side else { panic!("{client}->{server}: {side}") };
            assert_eq!(e.version, Some(ProtocolVersion::Tls13), "{client}->{server}");
        }
        if let SideOutcome::Established(e) = if client == Nss { &o.client } else { &o.server } {
            assert_eq!(e.group.map(|g| g.to_string()).as_deref(), Some("x25519"), "{client}->{server}");
        }
    }
    Ok(libtest_mimic::Completion::Completed)
}

fn without_a_compiler_every_nss_cell_is_unsupported_and_the_rest_still_runs() {
    without_its_runtime("nss", "cc not found on PATH");
}

/// The openssl backend's own code over OpenSSL 3.5 (the peer built by the setup script): it names its OpenSSL, and
/// where both sides are 3.5 the hybrid ML-KEM group 3.0 lacks is what they agree on. Ignored, with the setup command,
/// where the peer is not built (or was built from other sources).
fn openssl35_against_openssl() -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
    let (ctx, scenarios) = setup();
    use BackendId::{Openssl, Openssl35};
    if let Some(why) = ctx.registry.unavailable(Openssl35, tlsmatrix::Role::Client) {
        return tlsmatrix::harness::missing(&why);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (client, server, group) in
        [(Openssl35, Openssl, "x25519"), (Openssl, Openssl35, "x25519"), (Openssl35, Openssl35, "X25519MLKEM768")]
    {
        let c = cell(&scenarios, "seed::tls13_success", client, server);
        let r = rt.block_on(ctx.run_cell(&c));
        assert_eq!(r.status, Status::Pass, "{}: {:?} {:?}", c.name(), r.mismatches, r.reason);
        let o = r.observed.expect("observed");
        let SideOutcome::Established(e) = &o.client else { panic!("{}", o.client) };
        assert_eq!(e.group.map(|g| g.to_string()).as_deref(), Some(group), "{}", c.name());
    }
    assert!(ctx.registry.get(Openssl35).expect("registered").version().starts_with("OpenSSL 3.5."));
    // The same alert as OpenSSL 3.0 for an untrusted CA, from the same message callback.
    let o = observe(&ctx, &cell(&scenarios, "seed::untrusted_ca", Openssl35, Openssl));
    assert_eq!(failure(&o.client).sent_alert, Some(Alert::UNKNOWN_CA));
    Ok(libtest_mimic::Completion::Completed)
}

fn main() -> std::process::ExitCode {
    const JAVA: &[Tool] = &[Tool::JAVA];
    const PYTHON: &[Tool] = &[Tool::PYTHON3];
    const NODE: &[Tool] = &[Tool::NODE];
    run_trials(vec![
        libtest_mimic::Trial::ignorable_test("boringssl_against_openssl", boringssl_against_openssl),
        libtest_mimic::Trial::ignorable_test("nss_against_openssl", nss_against_openssl),
        libtest_mimic::Trial::ignorable_test("openssl35_against_openssl", openssl35_against_openssl),
        trial(
            "without_a_compiler_every_nss_cell_is_unsupported_and_the_rest_still_runs",
            without_a_compiler_every_nss_cell_is_unsupported_and_the_rest_still_runs,
        ),
        trial(
            "without_a_compiler_every_boringssl_cell_is_unsupported_and_the_rest_still_runs",
            without_a_compiler_every_boringssl_cell_is_unsupported_and_the_rest_still_runs,
        ),
        trial_needing("node_against_openssl_on_the_seed_scenarios", NODE, node_against_openssl_on_the_seed_scenarios),
        trial_needing("node_resumes_tls13_sessions_across_requests", NODE, node_resumes_tls13_sessions_across_requests),
        libtest_mimic::Trial::ignorable_test("node_releases_run_with_their_bundled_openssl", node_releases),
        trial_needing("jsse_against_openssl_on_the_seed_scenarios", JAVA, jsse_against_openssl_on_the_seed_scenarios),
        trial(
            "without_java_every_jsse_cell_is_unsupported_and_the_rest_still_runs",
            without_java_every_jsse_cell_is_unsupported_and_the_rest_still_runs,
        ),
        trial_needing("jsse_speed", JAVA, jsse_speed),
        trial_needing(
            "the_seed_scenarios_pass_with_java_on_either_side",
            JAVA,
            the_seed_scenarios_pass_with_java_on_either_side,
        ),
        trial_needing(
            "python_against_openssl_on_the_seed_scenarios",
            PYTHON,
            python_against_openssl_on_the_seed_scenarios,
        ),
        trial_needing("python_resumes_sessions_across_requests", PYTHON, python_resumes_sessions_across_requests),
        trial(
            "without_python_every_python_cell_is_unsupported_and_the_rest_still_runs",
            without_python_every_python_cell_is_unsupported_and_the_rest_still_runs,
        ),
        trial_needing("python_speed", PYTHON, python_speed),
        trial_needing(
            "the_seed_scenarios_pass_with_python_on_either_side",
            PYTHON,
            the_seed_scenarios_pass_with_python_on_either_side,
        ),
    ])
}
