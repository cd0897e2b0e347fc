//! The command-line peers (`openssl-cli`, `gnutls`) against the in-process backends, on the seed scenarios: real
//! processes, real handshakes, judged by the runner like any other cell.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tlsmatrix::backend::Registry;
use tlsmatrix::expect::Status;
use tlsmatrix::harness::describe;
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

/// Real differences from the seed expectations, for the integrator's overrides: (scenario, client, a mismatch text
/// the cell must show). gnutls-cli answers an untrusted issuer with bad_certificate, not unknown_ca.
const KNOWN: &[(&str, BackendId, &str)] =
    &[("seed::untrusted_ca", BackendId::Gnutls, "sent_alert: expected unknown_ca, observed bad_certificate")];

fn check_tool(tool: BackendId) {
    let _one = serial();
    let (ctx, scenarios) = context();
    let mut failures = Vec::new();
    for id in SEEDS {
        for (client, server) in pairs(tool) {
            let r = run(&ctx, &scenarios, id, client, server);
            let known = KNOWN.iter().find(|(s, c, _)| s == id && *c == client);
            if let Some((_, _, text)) = known {
                let shown = r.mismatches.iter().any(|m| m.contains(text));
                if r.status != Status::Fail || !shown {
                    failures.push(format!("expected the known difference `{text}`:\n{}", describe(&r)));
                }
                continue;
            }
            match r.status {
                Status::Pass => {}
                // A role the tool cannot play must say why (gnutls-serv, see below).
                Status::Unsupported if r.reason.as_deref().is_some_and(|w| !w.is_empty()) => {}
                _ => failures.push(describe(&r)),
            }
        }
    }
    assert!(failures.is_empty(), "{} cells failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
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

#[test]
fn gnutls_client_passes_the_seed_scenarios() {
    check_tool(BackendId::Gnutls);
}

#[test]
fn gnutls_server_is_unsupported_with_the_reason() {
    let registry = Registry::all();
    let caps = registry.get(BackendId::Gnutls).expect("registered").capabilities(Role::Server);
    let why = caps.unavailable.as_deref().unwrap_or("");
    assert!(why.contains("gnutls-serv"), "{why}");
}

#[test]
fn no_tool_process_outlives_its_cell() {
    let _one = serial();
    let (ctx, scenarios) = context();
    let mut short = ctx.clone();
    short.timeout = Duration::from_millis(1);
    // A deadline too short for anything: the future is dropped mid-run, and the tool must go with it.
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::OpensslCli, BackendId::Openssl);
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::Openssl, BackendId::OpensslCli);
    let _ = run(&short, &scenarios, "seed::tls13_success", BackendId::Gnutls, BackendId::Openssl);
    std::thread::sleep(Duration::from_millis(200));
    let me = std::process::id().to_string();
    let children: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)) == Some(me.as_str()))
        .filter(|stat| stat.contains("(openssl)") || stat.contains("(gnutls-cli)"))
        .collect();
    assert!(children.is_empty(), "left behind: {children:?}");
}
