//! `tlsmatrix bench`: what the harness costs on top of the handshakes it runs, measured in one process so the
//! machine's noise hits both sides of each ratio alike.
//!
//! For each client->server pair, *bare* is the backends' endpoints configured once and driven through N loopback
//! connections (handshake, one message each way, close_notify), with no planning and no verdict; *cell* is N complete
//! harness cells of the same scenario (configuration built per cell, capability check, override resolution, deadline,
//! judgement). The ratio cell/bare is the harness's overhead. The external peers (jsse, openssl-cli, gnutls) have no
//! library to loop over: their bare side is the peer as its users run it, against openssl (`bench::external`). Then the
//! whole catalog at `--jobs 1` and at the default, in cells per second, the warm start (PKI and catalog loaded, before
//! the first cell) and the peak resident memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod bare;
mod external;
mod jvm;
mod scratch;
mod tool;

use crate::Run;
use crate::backend::Registry;
use crate::plan::{Cell, Selection};
use crate::runner::Context;
use crate::scenario::Scenario;
use crate::vocab::BackendId;
use crate::{Error, Layout};

/// The scenario every pair can run: defaults on both sides, a trusted ECDSA certificate (the CLI tests build their
/// variations from it too).
pub const SCENARIO: &str = "\
description: Every pair connects with its defaults to a trusted ECDSA server.
server:
  certificate: server-ec
client:
  trust: [root-a]
  server_name: localhost
expect:
  result: success
";

/// Peak resident set size of this process, from /proc (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn per_op(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1000.0 / f64::from(n)
}

/// Runs the benchmark and writes its report to `out`, line by line as it is measured. The pair table measures the
/// linked-in pairs of `pairs` against their bare libraries; the external pairs of `pairs` (an external peer against
/// openssl, either way round: `bench::external`) get a table of their own. A selection with neither is a usage error.
pub fn run(layout: &Layout, iterations: u32, pairs: &Selection, out: &mut dyn std::io::Write) -> Result<(), Error> {
    let linked = Selection {
        clients: pairs.clients.iter().copied().filter(|b| BackendId::IN_PROCESS.contains(b)).collect(),
        servers: pairs.servers.iter().copied().filter(|b| BackendId::IN_PROCESS.contains(b)).collect(),
    };
    let external_pairs = external::pairs(pairs);
    if (linked.clients.is_empty() || linked.servers.is_empty()) && external_pairs.is_empty() {
        return Err(Error::Usage(format!(
            "bench: nothing to measure: linked-in pairs ({}) are measured against their bare libraries, and the \
             external peers ({}) against {} as client and as server",
            BackendId::IN_PROCESS.map(|b| b.name()).join(", "),
            external::PEERS.map(|b| b.name()).join(", "),
            BackendId::Openssl
        )));
    }
    let started = Instant::now();
    layout.load(&[])?;
    let cold_start = started.elapsed();
    // Keys are generated in memory once per process; a warm start signs the certificates and loads the catalog.
    let started = Instant::now();
    let (pki, catalog) = layout.load(&[])?;
    let warm_start = started.elapsed();
    let fixtures = pki.names();
    let scenario = Arc::new(Scenario::parse("bench::defaults".into(), Path::new("<bench>"), SCENARIO, &fixtures)?);
    let registry = Arc::new(Registry::all());
    let ctx = Context::new(registry.clone(), Arc::new(pki));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    let jobs = crate::run::default_jobs();
    let w = |out: &mut dyn std::io::Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    w(out, format!("tlsmatrix bench: {iterations} connections per measurement, release build recommended\n"));
    let table = !linked.clients.is_empty() && !linked.servers.is_empty();
    if table {
        w(out, format!("{:24} {:>10} {:>10} {:>7}", "pair (client->server)", "bare ms", "cell ms", "ratio"));
        let mut worst: f64 = 0.0;
        for &client in &linked.clients {
            for &server in &linked.servers {
                let cell = Cell { scenario: scenario.clone(), client, server };
                let (bare, harness) = rt
                    .block_on(async {
                        let s = bare::server(server, &ctx.pki, "server-ec").map_err(|e| e.to_string())?;
                        let c = bare::client(client, &ctx.pki, "root-a").map_err(|e| e.to_string())?;
                        // One of each first, so lazy initialisation (providers, tables) is in neither measurement.
                        bare::connect(&s, &c).await.map_err(|e| format!("bare {client}->{server}: {e}"))?;
                        ctx.run_cell(&cell).await;
                        // Alternate the two, so a burst of load from elsewhere hits both sides of the ratio alike.
                        let (mut bare_time, mut cell_time) = (Duration::ZERO, Duration::ZERO);
                        for _ in 0..iterations {
                            let t = Instant::now();
                            bare::connect(&s, &c).await.map_err(|e| format!("bare {client}->{server}: {e}"))?;
                            bare_time += t.elapsed();
                            let t = Instant::now();
                            let r = ctx.run_cell(&cell).await;
                            cell_time += t.elapsed();
                            if r.status != crate::expect::Status::Pass {
                                return Err(format!("{} did not pass: {:?} {:?}", r.name(), r.mismatches, r.reason));
                            }
                        }
                        Ok::<_, String>((bare_time, cell_time))
                    })
                    .map_err(Error::Usage)?;
                let ratio = harness.as_secs_f64() / bare.as_secs_f64();
                worst = worst.max(ratio);
                w(
                    out,
                    format!(
                        "{:24} {:>10.3} {:>10.3} {:>6.2}x",
                        format!("{client}->{server}"),
                        per_op(bare, iterations),
                        per_op(harness, iterations),
                        ratio
                    ),
                );
            }
        }
        w(out, format!("\nworst cell/bare ratio: {worst:.2}x (target: 1.25x)"));
    }
    if !external_pairs.is_empty() {
        if table {
            w(out, String::new());
        }
        // An external connection costs 5-50 times a linked-in one (a JVM's, a process's): a quarter as many keep
        // `bench` within a minute with every peer installed.
        let plan = external::Plan { connections: (iterations / 4).max(1), jobs };
        external::measure(&ctx, &rt, &scenario, &external_pairs, &plan, out)?;
        w(out, String::new());
    }
    let scenarios: Vec<_> = catalog.scenarios.into_iter().map(Arc::new).collect();
    // Fault scenarios wait on purpose (a stall until its deadline, a delay) and need the relay to mean anything: the
    // throughput is measured on the others, with and without the wire capture.
    let plain: Vec<Arc<Scenario>> = scenarios.iter().filter(|s| s.wire.fault.is_none()).cloned().collect();
    w(out, format!("catalog without the {} fault scenarios:", scenarios.len() - plain.len()));
    for capture in [true, false] {
        crate::runner::set_capture(capture);
        for jobs in [1, jobs] {
            let run = Run::new(ctx.clone(), plain.clone()).with_jobs(jobs);
            let todo = run.plan(&Selection::in_process());
            let n = todo.len();
            let t = Instant::now();
            let results = run.collect(todo, None)?;
            let wall = t.elapsed();
            let ran = results.iter().filter(|r| r.status != crate::expect::Status::Unsupported).count();
            w(
                out,
                format!(
                    "catalog, --jobs {jobs:>2}{}: {n} cells ({ran} run) in {:.2} s = {:.0} cells/s",
                    if capture { "" } else { ", capture off" },
                    wall.as_secs_f64(),
                    n as f64 / wall.as_secs_f64()
                ),
            );
        }
    }
    crate::runner::set_capture(true);
    w(
        out,
        format!("cold start (keys generated, PKI signed, catalog loaded): {:.0} ms", cold_start.as_secs_f64() * 1000.0),
    );
    w(
        out,
        format!(
            "warm start (keys ready; PKI signed, catalog loaded): {:.0} ms (target: 100 ms)",
            warm_start.as_secs_f64() * 1000.0
        ),
    );
    if let Some(kib) = peak_rss_kib() {
        w(out, format!("peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0));
    }
    Ok(())
}

/// The grid `bench --scale` runs: `points` clients, each offering an ALPN protocol the server does not know (so
/// every combination is a full handshake that succeeds without ALPN), on every in-process pair.
fn scale_grid(points: usize) -> String {
    let values: Vec<String> = (0..points).map(|i| format!("[\"p{i}\"]")).collect();
    format!(
        "description: generated scale grid\nserver:\n  certificate: server-ec\nclient:\n  trust: [root-a]\n  \
         server_name: localhost\nmatrix:\n  client.alpn: [{}]\nexpect:\n  result: success\n  alpn: null\n",
        values.join(", ")
    )
}

/// Runs generated grids of growing size through the streaming runner and prints, after each, the cost per cell and
/// the process's peak memory: if nothing grows with the cell count, the cost stays flat and the peak stays put.
pub fn scale(layout: &Layout, out: &mut dyn std::io::Write) -> Result<(), Error> {
    let (pki, _) = layout.load(&[])?;
    let fixtures = pki.names();
    let ctx = Context::new(Arc::new(Registry::all()), Arc::new(pki));
    let pairs = BackendId::IN_PROCESS.len() * BackendId::IN_PROCESS.len();
    let w = |out: &mut dyn std::io::Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    w(
        out,
        format!(
            "{:>8} {:>8} {:>10} {:>10} {:>12} {:>10}",
            "cells", "passed", "wall s", "cells/s", "ms/cell", "peak MiB"
        ),
    );
    for points in [12, 112, 1112] {
        let text = scale_grid(points);
        let scenarios = crate::grid::parse_file("bench::scale".into(), Path::new("<scale>"), &text, &fixtures)?;
        let run = Run::new(ctx.clone(), scenarios.into_iter().map(Arc::new).collect());
        // Cells are made as the runner asks for them, not all up front.
        let cells = run.scenarios.iter().flat_map(|s| {
            BackendId::IN_PROCESS.into_iter().flat_map(move |c| {
                BackendId::IN_PROCESS.into_iter().map(move |v| Cell { scenario: s.clone(), client: c, server: v })
            })
        });
        let (mut total, mut passed) = (0usize, 0usize);
        let t = Instant::now();
        run.stream(cells, |r| {
            total += 1;
            passed += usize::from(r.status == crate::verdict::Status::Pass);
        })?;
        let wall = t.elapsed().as_secs_f64();
        debug_assert_eq!(total, points * pairs);
        let peak = peak_rss_kib().map_or(0.0, |k| k as f64 / 1024.0);
        w(
            out,
            format!(
                "{total:>8} {passed:>8} {wall:>10.2} {:>10.0} {:>12.3} {peak:>10.1}",
                total as f64 / wall,
                wall * 1000.0 / total as f64
            ),
        );
    }
    Ok(())
}
