//! The command-line peers (`openssl-cli`, `gnutls`) against the in-process backends, on the seed scenarios: real
//! processes, real handshakes, judged by the runner like any other cell. A test whose tool is missing is ignored with
//! the install command (a failure under `TLSMATRIX_REQUIRE_TOOLS=1`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tlsmatrix::backend::Registry;
use tlsmatrix::expect::Status;
use tlsmatrix::harness::{Tool, describe, run_trials, trial_needing};
use tlsmatrix::plan::Cell;
use tlsmatrix::runner::{CellResult, Context};
use tlsmatrix::{BackendId, Role, Scenario};

/// The tests run one at a time, so the process check sees only its own cells' children.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn context() -> (Context, Vec<Arc<Scenario>>) {
    tlsmatrix::backend::keep_system_trust_out();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (pki, catalog) = tlsmatrix::Layout::at(root).load(&[root.join("scenarios/seed")]).expect("seed loads");
    let ctx = Context {
        registry: Arc::new(Registry::all()),
        pki: Arc::new(pki),
        timeout: Duration::from_secs(5),
        pcap: None,
    };
    (ctx, catalog.scenarios.into_iter().map(Arc::new).collect())
}

fn run(ctx: &Context, scenarios: &[Arc<Scenario>], id: &str, client: BackendId, server: BackendId) -> CellResult {
    let scenario = scenarios.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("{id} is in scenarios/seed"));
    let cell = Cell { scenario: scenario.clone(), client, server };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(ctx.run_cell(&cell))
}

/// Every seed scenario the brief names, for the tool as client and as server against openssl and rustls.
const SEEDS: &[&str] = &[
    "seed::tls13_success",
    "seed::untrusted_ca",
    "seed::untrusted_ca_fixed",
    "seed::legacy_tls10_server",
    "seed::tls12_client_tls13_server",
    "seed::tls12_client_tls13_server_fixed",
];

fn pairs(tool: BackendId) -> Vec<(BackendId, BackendId)> {
    let peers = [BackendId::Openssl, BackendId::Rustls];
    peers.iter().flat_map(|&p| [(tool, p), (p, tool)]).collect()
}

/// Real differences from the seed expectations: (scenario, client, server, a mismatch text the cell shows until the
/// scenario carries an override for it, then it passes with the override's reason). gnutls-cli answers an untrusted
/// issuer with bad_certificate, not unknown_ca; gnutls-serv cannot decrypt OpenSSL's plaintext TLS 1.3 unknown_ca and
/// answers bad_record_mac, and answers a TLS 1.2-only ClientHello without TLS 1.2 suites it can use with
/// handshake_failure.
const KNOWN: &[(&str, BackendId, BackendId, &str)] = &[
    (
        "seed::untrusted_ca",
        BackendId::Gnutls,
        BackendId::Openssl,
        "sent_alert: expected unknown_ca, observed bad_certificate",
    ),
    (
        "seed::untrusted_ca",
        BackendId::Gnutls,
        BackendId::Rustls,
        "sent_alert: expected unknown_ca, observed bad_certificate",
    ),
    (
        "seed::untrusted_ca",
        BackendId::Openssl,
        BackendId::Gnutls,
        "server.sent_alert: expected none, observed bad_record_mac",
    ),
    (
        "seed::tls12_client_tls13_server",
        BackendId::Openssl,
        BackendId::Gnutls,
        "server.sent_alert: expected protocol_version, observed handshake_failure",
    ),
];

fn check_tool(tool: BackendId) {
    let _one = serial();
    let (ctx, scenarios) = context();
    let mut failures = Vec::new();
    for id in SEEDS {
        for (client, server) in pairs(tool) {
            let r = run(&ctx, &scenarios, id, client, server);
            let known = KNOWN.iter().find(|(s, c, v, _)| s == id && *c == client && *v == server);
            if let Some((_, _, _, text)) = known {
                let shown = r.mismatches.iter().any(|m| m.contains(text));
                let overridden = r.status == Status::Pass && r.reason.as_deref().is_some_and(|w| !w.is_empty());
                if !overridden && (r.status != Status::Fail || !shown) {
                    failures.push(format!("expected the known difference `{text}`:\n{}", describe(&r)));
                }
                continue;
            }
            match r.status {
                Status::Pass => {}
                // A setting the tool cannot express must say why.
                Status::Unsupported if r.reason.as_deref().is_some_and(|w| !w.is_empty()) => {}
                _ => failures.push(describe(&r)),
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}

fn openssl_cli_passes_the_seed_scenarios_both_ways() {
    {
        let _one = serial();
        success_reports_parameters();
    }
    check_tool(BackendId::OpensslCli);
}

fn success_reports_parameters() {
    let (ctx, scenarios) = context();
    // The success cell reports the negotiated parameters read from the bridged ServerHello.
    for (client, server) in pairs(BackendId::OpensslCli) {
        let r = run(&ctx, &scenarios, "seed::tls13_success", client, server);
        assert_eq!(r.status, Status::Pass, "{}", describe(&r));
        let obs = r.observed.expect("ran");
        let side = if client == BackendId::OpensslCli { &obs.client } else { &obs.server };
        let tlsmatrix::SideOutcome::Established(e) = side else { panic!("{side}") };
        assert_eq!(e.version, Some(tlsmatrix::ProtocolVersion::Tls13));
        assert!(e.cipher.is_some_and(|c| c.0 >> 8 == 0x13), "{:?}", e.cipher);
        assert!(e.group.is_some(), "the key share's group");
    }
}

fn gnutls_passes_the_seed_scenarios_both_ways() {
    check_tool(BackendId::Gnutls);
}

fn gnutls_server_is_available_and_sees_its_alerts() {
    let registry = Registry::all();
    let caps = registry.get(BackendId::Gnutls).expect("registered").capabilities(Role::Server);
    assert_eq!(caps.unavailable, None);
    assert!(caps.exact_alerts, "gnutls-serv's debug log shows every alert it sends and receives");
    let _one = serial();
    let (ctx, scenarios) = context();
    // rustls sends its unknown_ca encrypted: gnutls-serv reads it, and reports nothing it did not do.
    let r = run(&ctx, &scenarios, "seed::untrusted_ca", BackendId::Rustls, BackendId::Gnutls);
    assert_eq!(r.status, Status::Pass, "{}", describe(&r));
    let obs = r.observed.expect("ran");
    assert_eq!(obs.server.received_alert(), Some(tlsmatrix::Alert::UNKNOWN_CA));
    assert_eq!(obs.server.sent_alert(), None);
}

fn no_tool_process_outlives_its_cell() {
    let _one = serial();
    let (ctx, scenarios) = context();
    let mut short = ctx.clone();
    short.timeout = Duration::from_millis(1);
    // A deadline too short for anything: the future is dropped mid-run, and the tool must go with it.
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::OpensslCli, BackendId::Openssl);
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::Openssl, BackendId::OpensslCli);
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::Gnutls, BackendId::Openssl);
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::Openssl, BackendId::Gnutls);
    std::thread::sleep(Duration::from_millis(200));
    let me = std::process::id().to_string();
    let children: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)) == Some(me.as_str()))
        .filter(|stat| stat.contains("(openssl)") || stat.contains("(gnutls-cli)") || stat.contains("(gnutls-serv)"))
        .collect();
    assert!(children.is_empty(), "left behind: {children:?}");
}

fn main() -> std::process::ExitCode {
    const GNUTLS: &[Tool] = &[Tool::GNUTLS_CLI, Tool::GNUTLS_SERV];
    run_trials(vec![
        trial_needing(
            "openssl_cli_passes_the_seed_scenarios_both_ways",
            &[Tool::OPENSSL],
            openssl_cli_passes_the_seed_scenarios_both_ways,
        ),
        trial_needing("gnutls_passes_the_seed_scenarios_both_ways", GNUTLS, gnutls_passes_the_seed_scenarios_both_ways),
        trial_needing(
            "gnutls_server_is_available_and_sees_its_alerts",
            GNUTLS,
            gnutls_server_is_available_and_sees_its_alerts,
        ),
        trial_needing(
            "no_tool_process_outlives_its_cell",
            &[Tool::OPENSSL, Tool::GNUTLS_CLI, Tool::GNUTLS_SERV],
            no_tool_process_outlives_its_cell,
        ),
    ])
}
