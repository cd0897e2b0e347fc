//! `cargo test` integration: one libtest-mimic trial per cell, named `<scenario id>::<client>-><server>`, discovered
//! at run time, so a new YAML file is a new set of tests with no recompilation, and `cargo test -- seed::`,
//! `-- rustls`, `--list`, `--exact` and nextest all select cells as users expect.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::Layout;
use crate::backend::Registry;
use crate::expect::Status;
use crate::plan::{Decision, Selection, cells};
use crate::runner::{CellResult, Context, DEFAULT_TIMEOUT};

/// Runs every cell of the project at `root` as a test; the entry point of `tests/scenarios.rs`.
pub fn main(root: &Path) -> ExitCode {
    crate::backend::keep_system_trust_out();
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials(&Layout::at(root))).exit_code()
}

/// The trials: one per cell, plus one failing trial per file that failed to load (the others still run).
pub fn trials(layout: &Layout) -> Vec<Trial> {
    let (pki, catalog) = match layout.load(&[]) {
        Ok(x) => x,
        Err(e) => {
            let msg = e.to_string();
            return vec![Trial::test("fixtures::pki", move || Err(msg.into()))];
        }
    };
    let mut trials: Vec<Trial> = catalog
        .errors
        .iter()
        .map(|e| {
            let msg = e.to_string();
            Trial::test(format!("load::{}", e.path.display()), move || Err(msg.into()))
        })
        .collect();
    let ctx = Context { registry: Arc::new(Registry::all()), pki: Arc::new(pki), timeout: DEFAULT_TIMEOUT };
    let scenarios: Vec<_> = catalog.scenarios.into_iter().map(Arc::new).collect();
    for cell in cells(&scenarios, &Selection::default()) {
        let ctx = ctx.clone();
        // Unsupported cells are decided now and reported as ignored with the reason, never as a pass.
        let decision = cell.decide(&ctx.registry);
        trials.push(Trial::ignorable_test(cell.name(), move || {
            if let Decision::Unsupported(why) = decision {
                return Ok(Completion::ignored_with(format!("unsupported: {why}")));
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failed::from(e.to_string()))?;
            let result = rt.block_on(ctx.run_cell(&cell));
            match result.status {
                Status::Pass => Ok(Completion::Completed),
                _ => Err(describe(&result).into()),
            }
        }));
    }
    trials
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
    if let Some(e) = &r.expected {
        let yaml = serde_json::to_string(e).unwrap_or_default();
        s.push_str(&format!("  expected: {yaml}\n"));
    }
    s
}
