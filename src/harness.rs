//! `cargo test` integration: one libtest-mimic trial per cell, named `<scenario id>::<client>-><server>`, discovered
//! at run time, so a new YAML file is a new set of tests with no recompilation, and `cargo test -- seed::`,
//! `-- rustls`, `--list`, `--exact` and nextest all select cells as users expect.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::Layout;
use crate::backend::Registry;
use crate::expect::Status;
use crate::plan::{Decision, Selection, cells};
use crate::runner::{CellResult, Context, DEFAULT_TIMEOUT};

/// Runs every cell of the project at `root` as a test; the entry point of `tests/scenarios.rs`.
pub fn main(root: &Path) -> ExitCode {
    crate::backend::keep_system_trust_out();
    let args = Arguments::from_args();
    let (trials, unsupported) = trials_and_reasons(&Layout::at(root));
    // Unsupported cells are ignored trials (nextest shows them as SKIP, libtest as `ignored`); libtest cannot print
    // a static ignore's reason, so the reasons come first, unless a runner is only listing or picking one test.
    if !args.list && !args.exact && !unsupported.is_empty() {
        println!("{} unsupported cells (ignored):", unsupported.len());
        for (name, why) in &unsupported {
            println!("  {name}: {why}");
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The trials: one per cell, plus one failing trial per file that failed to load (the others still run).
pub fn trials(layout: &Layout) -> Vec<Trial> {
    trials_and_reasons(layout).0
}

/// The trials, and the name and reason of every unsupported cell.
fn trials_and_reasons(layout: &Layout) -> (Vec<Trial>, Vec<(String, String)>) {
    let (pki, catalog) = match layout.load(&[]) {
        Ok(x) => x,
        Err(e) => {
            let msg = e.to_string();
            return (vec![Trial::test("fixtures::pki", move || Err(msg.into()))], Vec::new());
        }
    };
    let mut trials: Vec<Trial> = catalog
        .errors
        .iter()
        .map(|e| {
            let msg = e.to_string();
            let rel = e.path.strip_prefix(&layout.scenarios).unwrap_or(&e.path);
            Trial::test(format!("load::{}", rel.display()), move || Err(msg.into()))
        })
        .collect();
    let mut unsupported = Vec::new();
    let ctx = Context { registry: Arc::new(Registry::all()), pki: Arc::new(pki), timeout: DEFAULT_TIMEOUT, pcap: None };
    let scenarios: Vec<_> = catalog.scenarios.into_iter().map(Arc::new).collect();
    for cell in cells(&scenarios, &Selection::default()) {
        let ctx = ctx.clone();
        let name = cell.name();
        if let Decision::Unsupported(why) = cell.decide(&ctx.registry) {
            unsupported.push((name.clone(), why.clone()));
            // Asked to run anyway (--include-ignored, nextest --run-ignored), it cannot: it fails with the reason
            // rather than pass, since nothing was checked.
            let trial = Trial::test(name, move || Err(format!("unsupported, cannot run: {why}").into()));
            trials.push(trial.with_ignored_flag(true));
            continue;
        }
        trials.push(Trial::test(name, move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failed::from(e.to_string()))?;
            let result = rt.block_on(ctx.run_cell(&cell));
            match result.status {
                Status::Pass => Ok(()),
                _ => Err(describe(&result).into()),
            }
        }));
    }
    (trials, unsupported)
}

/// A failing cell, explained: the mismatches, then what each side observed and what was expected.
pub fn describe(r: &CellResult) -> String {
    let mut s = format!("{} [{}]\n", r.name(), r.status);
    if let Some(why) = &r.reason {
        s.push_str(&format!("  because: {why}\n"));
    }
    for m in &r.mismatches {
        s.push_str(&format!("  mismatch: {m}\n"));
    }
    if let Some(o) = &r.observed {
        s.push_str(&format!("  observed client: {}\n  observed server: {}\n", o.client, o.server));
    }
    for line in crate::report::transcript(r) {
        s.push_str(&format!("  | {line}\n"));
    }
    if let Some(e) = &r.expected {
        let json = serde_json::to_string(e).unwrap_or_default();
        s.push_str(&format!("  expected: {json}\n"));
    }
    s
}
