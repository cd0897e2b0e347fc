//! The external peers in `tlsmatrix bench`: jsse, openssl-cli and gnutls, each against the linked-in openssl, as
//! client (`peer->openssl`) and as server (`openssl->peer`).
//!
//! An external peer has no library to loop over, so its *bare* side is the peer as its users run it: the JVM playing
//! K connections itself and timing them with `System.nanoTime` ([`super::jvm`]), or one tool process per connection
//! ([`super::tool`]), against a bare openssl endpoint ([`super::bare`]). The *cell* side is K harness cells of the
//! bench scenario with that pair. Both are measured one at a time (cells at `--jobs 1`) and at the default `--jobs`
//! (twice the CPU count: bare loops with as many connections at once), so the ratio is the harness's overhead both
//! in latency and in throughput. A peer whose runtime is missing is reported as not measured, with the install hint,
//! as its cells are unsupported in a run.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use super::bare::{self, BareClient, Serving};
use super::jvm::Jvm;
use super::tool::{self, Files};
use crate::Error;
use crate::expect::Status;
use crate::plan::{Cell, Selection};
use crate::runner::Context;
use crate::scenario::Scenario;
use crate::vocab::{BackendId, Role};

/// The external peers, in report order.
pub(super) const PEERS: [BackendId; 3] = [BackendId::Jsse, BackendId::OpensslCli, BackendId::Gnutls];
/// The linked-in backend every external peer is measured against: the one whose bare loop and exact alerts the
/// harness trusts most, and the one a peer's cells are checked against in the catalog.
const AGAINST: BackendId = BackendId::Openssl;
/// The bench scenario's server certificate and the root its client trusts (as in [`super::SCENARIO`]).
const CERT: &str = "server-ec";
const ROOT: &str = "root-a";
/// The project's targets for the jsse cells (issue 13): throughput at the default `--jobs`, and cost next to the
/// bare JVM loop.
const JSSE_CELLS_PER_S: f64 = 100.0;
const JSSE_RATIO: f64 = 2.0;
/// Connections (and cells) a JVM plays before its first measurement: four measurements' worth, at most this many.
const JVM_WARM_UP: u32 = 200;

/// The external pairs a selection asks for, peer by peer: `peer->openssl`, then `openssl->peer`.
pub(super) fn pairs(sel: &Selection) -> Vec<(BackendId, BackendId)> {
    let mut out = Vec::new();
    for peer in PEERS {
        if sel.clients.contains(&peer) && sel.servers.contains(&AGAINST) {
            out.push((peer, AGAINST));
        }
        if sel.clients.contains(&AGAINST) && sel.servers.contains(&peer) {
            out.push((AGAINST, peer));
        }
    }
    out
}

/// How much to measure.
pub(super) struct Plan {
    /// Connections (bare) and cells per measurement.
    pub connections: u32,
    /// The default `--jobs`: cells in flight, and bare connections at once.
    pub jobs: usize,
}

/// One pair's four figures, each the wall time of `Plan::connections` connections or cells.
struct Figures {
    bare_one: Duration,
    cell_one: Duration,
    bare_many: Duration,
    cell_many: Duration,
}

/// Measures every pair in `pairs` and writes one row per pair (or the reason it was not measured) to `out`.
pub(super) fn measure(
    ctx: &Context,
    rt: &Runtime,
    scenario: &Arc<Scenario>,
    pairs: &[(BackendId, BackendId)],
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (n, jobs) = (plan.connections, plan.jobs);
    let mut w = |line: String| {
        let _ = writeln!(out, "{}", line.trim_end());
        let _ = out.flush();
    };
    w(format!(
        "external peers against the linked-in {AGAINST}, {n} connection{} per measurement (bare: the peer as its \
         users run it)",
        if n == 1 { "" } else { "s" }
    ));
    w(format!("{:24} {:^29} {:^39}", "", "one at a time (--jobs 1)", format!("{jobs} at once (default --jobs)")));
    w(format!(
        "{:24} {:>10} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "pair (client->server)", "bare ms", "cell ms", "ratio", "bare/s", "cells/s", "ms/cell", "ratio"
    ));
    let files = Arc::new(Files::write(&ctx.pki, CERT, ROOT).map_err(Error::Usage)?);
    let mut jvm: Option<Jvm> = None;
    let mut jsse: Vec<(f64, f64)> = Vec::new();
    for &(client, server) in pairs {
        let name = format!("{client}->{server}");
        let (peer, role) = if client == AGAINST { (server, Role::Server) } else { (client, Role::Client) };
        if let Some(why) = missing(ctx, peer, role) {
            w(format!("{name}: not measured: {why}"));
            continue;
        }
        let Some(program) = program(peer, role) else {
            w(format!("{name}: not measured: {} not found on PATH", program_name(peer, role)));
            continue;
        };
        let cell = Cell { scenario: scenario.clone(), client, server };
        let mut bare = |count: u32, at_once: usize| -> Result<Duration, String> {
            match peer {
                BackendId::Jsse => {
                    if jvm.is_none() {
                        jvm = Some(Jvm::start(&program)?);
                    }
                    let jvm = jvm.as_mut().ok_or("the bench JVM did not start")?;
                    jsse_loop(jvm, rt, ctx, role, count, at_once)
                }
                _ => tool_loop(rt, ctx, &files, peer, &program, role, count, at_once),
            }
        };
        let figures = (|| -> Result<Figures, String> {
            // Warm-up, out of every measurement: the JVMs compile JSSE's hot paths, the tools' files are in the page
            // cache, the cells' JVM has started. A JVM needs far more rounds than a tool: after 50 connections a
            // bare JSSE client still took twice as long per connection as after 500.
            let warm = if peer == BackendId::Jsse { n.saturating_mul(4).min(JVM_WARM_UP) } else { 2 };
            bare(warm, jobs)?;
            cells(rt, ctx, &cell, warm, jobs)?;
            // Alternating the two sides, so load from elsewhere hits both alike.
            Ok(Figures {
                bare_one: bare(n, 1)?,
                cell_one: cells(rt, ctx, &cell, n, 1)?,
                bare_many: bare(n, jobs)?,
                cell_many: cells(rt, ctx, &cell, n, jobs)?,
            })
        })()
        .map_err(|e| Error::Usage(format!("bench {name}: {e}")))?;
        let Figures { bare_one, cell_one, bare_many, cell_many } = figures;
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(n);
        let rate = |d: Duration| f64::from(n) / d.as_secs_f64();
        let (ratio_one, ratio_many) =
            (cell_one.as_secs_f64() / bare_one.as_secs_f64(), cell_many.as_secs_f64() / bare_many.as_secs_f64());
        if peer == BackendId::Jsse {
            jsse.push((rate(cell_many), ratio_one.max(ratio_many)));
        }
        w(format!(
            "{name:24} {:>10.3} {:>10.3} {ratio_one:>6.2}x {:>9.0} {:>9.0} {:>9.3} {ratio_many:>8.2}x",
            per(bare_one),
            per(cell_one),
            rate(bare_many),
            rate(cell_many),
            per(cell_many),
        ));
    }
    if !jsse.is_empty() {
        let slowest = jsse.iter().map(|j| j.0).fold(f64::INFINITY, f64::min);
        let worst = jsse.iter().map(|j| j.1).fold(0.0, f64::max);
        w(format!(
            "jsse: slowest pair {slowest:.0} cells/s at --jobs {jobs} (target: {JSSE_CELLS_PER_S:.0}); worst cell/bare \
             ratio {worst:.2}x (target: {JSSE_RATIO:.0}x)"
        ));
    }
    Ok(())
}

/// Why a peer cannot play `role` here (its runtime is missing), as the registry says it: the same words, install
/// hint included, as its unsupported cells in a run.
fn missing(ctx: &Context, peer: BackendId, role: Role) -> Option<String> {
    match ctx.registry.get(peer) {
        None => Some(format!("{peer} is not compiled into this build")),
        Some(b) => b.capabilities(role).unavailable.clone(),
    }
}

/// The executable a peer's bare loop runs in `role`.
fn program_name(peer: BackendId, role: Role) -> &'static str {
    match (peer, role) {
        (BackendId::Jsse, _) => "java",
        (BackendId::Gnutls, Role::Client) => "gnutls-cli",
        (BackendId::Gnutls, Role::Server) => "gnutls-serv",
        _ => "openssl",
    }
}

/// [`program_name`] on PATH (what a shell would run).
fn program(peer: BackendId, role: Role) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let name = program_name(peer, role);
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `count` cells of the pair, `jobs` at a time: the wall time, or the first cell that did not pass.
fn cells(rt: &Runtime, ctx: &Context, cell: &Cell, count: u32, jobs: usize) -> Result<Duration, String> {
    let todo = vec![cell.clone(); count as usize];
    let t = Instant::now();
    let results = rt.block_on(ctx.run_all(todo, jobs, None));
    let wall = t.elapsed();
    match results.iter().find(|r| r.status != Status::Pass) {
        Some(r) => Err(format!("{} was {:?}: {:?} {:?}", r.name(), r.status, r.mismatches, r.reason)),
        None => Ok(wall),
    }
}

/// The JVM's own loop: `count` connections, `at_once` threads, timed in the JVM.
fn jsse_loop(
    jvm: &mut Jvm,
    rt: &Runtime,
    ctx: &Context,
    role: Role,
    count: u32,
    at_once: usize,
) -> Result<Duration, String> {
    match role {
        Role::Client => {
            let server = Arc::new(bare::server(AGAINST, &ctx.pki, CERT).map_err(|e| e.to_string())?);
            let serving = rt.block_on(Serving::start(server)).map_err(|e| e.to_string())?;
            let trust = pem(&ctx.pki, ROOT, false)?;
            let took = jvm.clients(serving.port, count, at_once, &trust, "localhost");
            // The server's view first: a connection it failed (a resumed session) resets the JVM's.
            serving.check()?;
            took
        }
        Role::Server => {
            let client = Arc::new(bare::client(AGAINST, &ctx.pki, ROOT).map_err(|e| e.to_string())?);
            let (chain, key) = (pem(&ctx.pki, CERT, true)?, key_pem(&ctx.pki, CERT)?);
            jvm.servers(count, at_once, &chain, &key, |port| {
                rt.block_on(timed(count, at_once, move || {
                    let client = client.clone();
                    async move { bare::dial(&client, port).await.map_err(|e| format!("the bare openssl client: {e}")) }
                }))
                .map(|_| ())
            })
        }
    }
}

/// A tool's loop: `count` processes, `at_once` at a time, timed here.
#[allow(clippy::too_many_arguments)]
fn tool_loop(
    rt: &Runtime,
    ctx: &Context,
    files: &Arc<Files>,
    peer: BackendId,
    program: &Path,
    role: Role,
    count: u32,
    at_once: usize,
) -> Result<Duration, String> {
    let (files, program) = (files.clone(), program.to_path_buf());
    match role {
        Role::Client => {
            let server = Arc::new(bare::server(AGAINST, &ctx.pki, CERT).map_err(|e| e.to_string())?);
            let serving = rt.block_on(Serving::start(server)).map_err(|e| e.to_string())?;
            let port = serving.port;
            let took = rt.block_on(timed(count, at_once, move || {
                let cmd = tool::client_command(peer, &program, &files, port);
                async move { tool::client_once(cmd?).await }
            }))?;
            serving.check()?;
            Ok(took)
        }
        Role::Server => {
            let client: Arc<BareClient> = Arc::new(bare::client(AGAINST, &ctx.pki, ROOT).map_err(|e| e.to_string())?);
            rt.block_on(timed(count, at_once, move || {
                let cmd = tool::server_command(peer, &program, &files);
                let client = client.clone();
                async move {
                    let (cmd, serves_on) = cmd?;
                    tool::server_once(cmd, serves_on, client).await
                }
            }))
        }
    }
}

/// Runs `count` connections made by `one`, at most `at_once` at a time, and returns their wall time; the first
/// failure ends the loop.
async fn timed<F, Fut>(count: u32, at_once: usize, one: F) -> Result<Duration, String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let left = Arc::new(AtomicU32::new(count));
    let one = Arc::new(one);
    let t = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..at_once.clamp(1, count.max(1) as usize) {
        let (left, one) = (left.clone(), one.clone());
        workers.spawn(async move {
            while left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1)).is_ok() {
                one().await?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.map_err(|e| format!("a connection task failed: {e}"))??;
    }
    Ok(t.elapsed())
}

/// A fixture's certificate as PEM: the certificate alone, or (`chain`) followed by its intermediates.
fn pem(pki: &crate::Pki, name: &str, chain: bool) -> Result<String, String> {
    let cred = pki.get(name).ok_or_else(|| format!("no fixture {name}"))?;
    let certs = if chain { cred.chain(Default::default()) } else { vec![cred.cert.clone()] };
    String::from_utf8(crate::backend::pem_chain(&certs)).map_err(|e| e.to_string())
}

/// A fixture's private key as PKCS#8 PEM.
fn key_pem(pki: &crate::Pki, name: &str) -> Result<String, String> {
    let cred = pki.get(name).ok_or_else(|| format!("no fixture {name}"))?;
    String::from_utf8(cred.key_pkcs8_pem()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_is_paired_with_openssl_both_ways_when_asked() {
        let all = pairs(&Selection::default());
        let names: Vec<String> = all.iter().map(|(c, s)| format!("{c}->{s}")).collect();
        assert_eq!(
            names,
            [
                "jsse->openssl",
                "openssl->jsse",
                "openssl-cli->openssl",
                "openssl->openssl-cli",
                "gnutls->openssl",
                "openssl->gnutls"
            ]
        );
        let jsse_client = Selection { clients: vec![BackendId::Jsse], servers: BackendId::ALL.to_vec() };
        assert_eq!(pairs(&jsse_client), [(BackendId::Jsse, BackendId::Openssl)]);
        let no_openssl = Selection { clients: vec![BackendId::Jsse], servers: vec![BackendId::Rustls] };
        assert!(pairs(&no_openssl).is_empty(), "external peers are measured against openssl only");
    }
}
