//! `cargo test` integration: one libtest-mimic trial per cell, named `<scenario id>::<client>-><server>`, discovered
//! at run time, so a new YAML file is a new set of tests with no recompilation, and `cargo test -- seed::`,
//! `-- rustls`, `--list`, `--exact` and nextest all select cells as users expect.
//!
//! The cells a test run selects are played together, once, by the same concurrent runner as `tlsmatrix run`
//! (`--jobs` twice the CPU count), the first time any of their trials asks; each trial then reports its own cell.
//! So `cargo test` costs one matrix run, not one runtime per cell, and the catalog check (`catalog::is_current`, the
//! committed docs/catalog.md and docs/catalog.json against this run) reuses the same results instead of running
//! the matrix a second time.
//!
//! Optional tools: a backend whose runtime is missing has its cells ignored with the reason (unsupported), and one
//! trial per missing backend role (`backends::gnutls::server`) says what to install. [`needs`] does the same for any
//! test that needs a tool. With `TLSMATRIX_REQUIRE_TOOLS=1` (CI) a missing tool fails those trials instead.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::Run;
use crate::backend::Registry;
use crate::expect::Status;
use crate::plan::{Cell, Decision, Planned, Selection, cells};
use crate::runner::CellResult;
use crate::vocab::Role;
use crate::{BackendId, Layout, Scenario};

/// The environment variable that turns a missing optional tool from an ignored test into a failure (CI sets it).
pub const REQUIRE_TOOLS: &str = "TLSMATRIX_REQUIRE_TOOLS";

/// Whether every optional tool is required (`TLSMATRIX_REQUIRE_TOOLS` set to anything but empty or `0`).
pub fn tools_required() -> bool {
    std::env::var(REQUIRE_TOOLS).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A program a test needs from the machine, and how to get it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The executable looked up on PATH.
    pub program: &'static str,
    /// What installs it (`apt-get install gnutls-bin`).
    pub install: &'static str,
}

impl Tool {
    /// GnuTLS's client (the `gnutls` backend as client).
    pub const GNUTLS_CLI: Tool = Tool { program: "gnutls-cli", install: "apt-get install gnutls-bin" };
    /// GnuTLS's server (the `gnutls` backend as server).
    pub const GNUTLS_SERV: Tool = Tool { program: "gnutls-serv", install: "apt-get install gnutls-bin" };
    /// Wireshark's command line, which reads the pcapng exports.
    pub const TSHARK: Tool = Tool { program: "tshark", install: "apt-get install tshark" };
    /// A Java runtime (the `jsse` backend).
    pub const JAVA: Tool = Tool { program: "java", install: "apt-get install openjdk-17-jre-headless" };
    /// The OpenSSL command line (the `openssl-cli` backend).
    pub const OPENSSL: Tool = Tool { program: "openssl", install: "apt-get install openssl" };
    /// A Python 3 interpreter with its ssl module (the `python` backend).
    pub const PYTHON3: Tool = Tool { program: "python3", install: "apt-get install python3" };
    /// Node.js, for the `node` backend (its releases `node@8`.. come from the setup script, into the cache).
    pub const NODE: Tool = Tool { program: "node", install: "apt-get install nodejs" };

    /// Where the program is on PATH, if it is.
    pub fn find(&self) -> Option<std::path::PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(self.program))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
    }
}

/// The outcome for a test whose tools are missing: ignored with `why` (and the install commands), or a failure
/// naming them when [`tools_required`].
pub fn missing(why: &str) -> Result<Completion, Failed> {
    let why = format!("{why} (all optional peers and tools: bash scripts/setup-peers.sh)");
    if tools_required() {
        Err(format!("{REQUIRE_TOOLS} is set, but {why}").into())
    } else {
        Ok(Completion::ignored_with(why))
    }
}

/// Runs `test` if every tool is on PATH; otherwise the trial is ignored with the missing tools and their install
/// commands (or fails, under `TLSMATRIX_REQUIRE_TOOLS=1`). `test` fails by panicking, as a `#[test]` does.
pub fn needs(tools: &[Tool], test: impl FnOnce()) -> Result<Completion, Failed> {
    let absent: Vec<String> = tools
        .iter()
        .filter(|t| t.find().is_none())
        .map(|t| format!("{} not on PATH: {}", t.program, t.install))
        .collect();
    if !absent.is_empty() {
        return missing(&absent.join("; "));
    }
    test();
    Ok(Completion::Completed)
}

/// A trial that needs `tools` (see [`needs`]); `test` fails by panicking.
pub fn trial_needing(name: &str, tools: &'static [Tool], test: fn()) -> Trial {
    Trial::ignorable_test(name, move || needs(tools, test))
}

/// A trial that needs backend `id` in `role` (nginx, found on PATH or in /usr/sbin): ignored with the backend's own
/// reason and install command when it is unavailable (or failing, under `TLSMATRIX_REQUIRE_TOOLS=1`).
pub fn trial_needing_backend(name: &str, id: BackendId, role: Role, test: fn()) -> Trial {
    Trial::ignorable_test(name, move || {
        let registry = Registry::all();
        let why = match registry.get(id) {
            Some(b) => b.capabilities(role).unavailable.clone(),
            None => Some(format!("{id} is not compiled into this build")),
        };
        if let Some(why) = why {
            return missing(&format!("{id} as {role}: {why}"));
        }
        test();
        Ok(Completion::Completed)
    })
}

/// A trial that needs nothing from the machine; `test` fails by panicking, as a `#[test]` does.
pub fn trial(name: &str, test: fn()) -> Trial {
    Trial::test(name, move || {
        test();
        Ok(())
    })
}

/// Runs `trials` as the test binary's main (`harness = false`), with the command line's filters.
pub fn run_trials(trials: Vec<Trial>) -> ExitCode {
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

/// Runs every cell under `path` as a test: the `main` of a `harness = false` test target. Short for
/// `Harness::new(path).main()`; [`Harness`] also picks the backends.
///
/// `path` is either a project root holding `scenarios/` (this repository's `tests/scenarios.rs`, whose catalog check
/// also runs) or a directory of scenarios on its own, with `pki.yaml` files beside them adding to the built-in
/// certificates (another crate's `tests/tls`, see [`Layout::dir`]). A relative path is relative to the directory
/// `cargo test` runs the target in, the package's root.
///
/// ```no_run
/// // tests/tls.rs of another crate, with `[[test]] name = "tls" harness = false` in its Cargo.toml:
/// fn main() -> std::process::ExitCode {
///     tlsmatrix::harness::main(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls"))
/// }
/// ```
pub fn main(path: impl AsRef<Path>) -> ExitCode {
    Harness::new(path).main()
}

/// A `cargo test` harness over one project: which scenarios and certificates ([`Layout`]), which backends play
/// each side (every judged backend unless told: [`Selection::default`]), and whether the committed catalog is
/// checked.
///
/// A crate whose servers run on one stack asks which clients break against them:
///
/// ```no_run
/// use tlsmatrix::BackendId;
/// fn main() -> std::process::ExitCode {
///     tlsmatrix::harness::Harness::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls"))
///         .servers([BackendId::Openssl, BackendId::Rustls])
///         .main()
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Harness {
    layout: Layout,
    docs: Option<std::path::PathBuf>,
    selection: Selection,
}

impl Harness {
    /// The harness for `path`, a project root or a directory of scenarios (see [`main`]).
    pub fn new(path: impl AsRef<Path>) -> Harness {
        let path = path.as_ref();
        if path.join("scenarios").is_dir() {
            Harness { docs: Some(path.join("docs")), ..Harness::with_layout(Layout::at(path)) }
        } else {
            Harness::with_layout(Layout::dir(path))
        }
    }

    /// The harness for a layout built by hand (more `pki.yaml` files: [`Layout::with_pki`]); no catalog check.
    pub fn with_layout(layout: Layout) -> Harness {
        Harness { layout, docs: None, selection: Selection::default() }
    }

    /// Only these backends as clients. The committed catalog covers the whole matrix, so a narrower selection
    /// drops its check.
    pub fn clients(mut self, clients: impl IntoIterator<Item = BackendId>) -> Harness {
        self.selection.clients = clients.into_iter().collect();
        self.docs = None;
        self
    }

    /// Only these backends as servers (and no catalog check, as for [`Harness::clients`]).
    pub fn servers(mut self, servers: impl IntoIterator<Item = BackendId>) -> Harness {
        self.selection.servers = servers.into_iter().collect();
        self.docs = None;
        self
    }

    /// The trials, as [`main`] would run them with no command-line filter (for a test of the harness itself).
    pub fn trials(&self) -> Vec<Trial> {
        Suite::new(self).trials(&Arguments::default())
    }

    /// Runs the trials the command line selects (`cargo test -- FILTER`, `--list`, `--exact`, nextest) and returns
    /// the test binary's exit code.
    pub fn main(self) -> ExitCode {
        crate::backend::keep_system_trust_out();
        let args = Arguments::from_args();
        let suite = Suite::new(&self);
        // Unsupported cells are ignored trials (nextest shows them as SKIP, libtest as `ignored`); libtest cannot
        // print a static ignore's reason, so the reasons come first, grouped by cause, unless a runner is only
        // listing or picking one test.
        if !args.list && !args.exact && !suite.unsupported.is_empty() {
            println!("{} unsupported cells (ignored), by cause:", suite.unsupported.len());
            for (why, n) in crate::report::group_reasons(suite.unsupported.iter().map(|(_, why)| why.as_str())) {
                println!("  {n:>5} cells: {why}");
            }
        }
        let trials = suite.trials(&args);
        libtest_mimic::run(&args, trials).exit_code()
    }
}

/// The trials: one per cell, plus one failing trial per file that failed to load (the others still run).
pub fn trials(layout: &Layout) -> Vec<Trial> {
    Harness::with_layout(layout.clone()).trials()
}

/// The cells of a project, the shared run that plays them, and the extra trials.
struct Suite {
    trials: Vec<Trial>,
    unsupported: Vec<(String, String)>,
    /// The shared run (none when the project did not load).
    batch: Option<Arc<Batch>>,
}

/// The cells to play together, and their results once played.
struct Batch {
    run: Run,
    /// Every cell, decided, runnable or not (the catalog needs the unsupported ones too).
    cells: Mutex<Option<Vec<Planned>>>,
    /// Names of the cells selected by the command line (filled before any trial runs).
    wanted: OnceLock<Wanted>,
    results: OnceLock<HashMap<String, CellResult>>,
}

enum Wanted {
    /// The catalog trial runs: every cell.
    All,
    /// Only these.
    Some(std::collections::HashSet<String>),
}

impl Batch {
    /// The result of the cell named `name`, playing the batch first if no trial has yet.
    fn result(&self, name: &str) -> Result<&CellResult, Failed> {
        self.results().get(name).ok_or_else(|| Failed::from(format!("{name}: not played (a harness bug)")))
    }

    fn results(&self) -> &HashMap<String, CellResult> {
        self.results.get_or_init(|| {
            let all = self.cells.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().unwrap_or_default();
            let todo: Vec<Planned> = match self.wanted.get() {
                Some(Wanted::Some(names)) => all.into_iter().filter(|p| names.contains(&p.cell.name())).collect(),
                _ => all,
            };
            match self.run.collect(todo, None) {
                Ok(results) => results.into_iter().map(|r| (r.name(), r)).collect(),
                Err(e) => {
                    eprintln!("tlsmatrix: cannot start a runtime: {e}");
                    HashMap::new()
                }
            }
        })
    }
}

/// The name of the trial that checks docs/catalog.md and docs/catalog.json.
pub const CATALOG_TRIAL: &str = "catalog::is_current";

impl Suite {
    fn new(harness: &Harness) -> Suite {
        let (layout, docs) = (&harness.layout, harness.docs.as_deref());
        let run = match Run::load(layout, &[], |_| true) {
            Ok(run) => run,
            Err(e) => {
                let msg = e.to_string();
                return Suite {
                    trials: vec![Trial::test("fixtures::pki", move || Err(msg.into()))],
                    unsupported: Vec::new(),
                    batch: None,
                };
            }
        };
        let mut trials: Vec<Trial> = run
            .load_errors
            .iter()
            .map(|e| {
                let msg = e.to_string();
                let rel = e.path.strip_prefix(&layout.scenarios).unwrap_or(&e.path);
                Trial::test(format!("load::{}", rel.display()), move || Err(msg.into()))
            })
            .collect();
        let registry = run.registry().clone();
        trials.extend(availability(&registry, &harness.selection));
        let all = run.plan(&harness.selection);
        let load_ok = run.load_errors.is_empty();
        let scenarios: Vec<Scenario> = run.scenarios.iter().map(|s| Scenario::clone(s)).collect();
        let decided: Vec<(String, Option<String>)> = all
            .iter()
            .map(|p| match &p.decision {
                Decision::Unsupported(why) => (p.cell.name(), Some(why.clone())),
                Decision::Run { .. } => (p.cell.name(), None),
            })
            .collect();
        let batch =
            Arc::new(Batch { run, cells: Mutex::new(Some(all)), wanted: OnceLock::new(), results: OnceLock::new() });
        let mut unsupported = Vec::new();
        for (name, why) in decided {
            if let Some(why) = why {
                unsupported.push((name.clone(), why.clone()));
                // Asked to run anyway (--include-ignored, nextest --run-ignored), it cannot: it fails with the reason
                // rather than pass, since nothing was checked.
                let trial = Trial::test(name, move || Err(format!("unsupported, cannot run: {why}").into()));
                trials.push(trial.with_ignored_flag(true));
                continue;
            }
            let batch = batch.clone();
            trials.push(Trial::ignorable_test(name.clone(), move || {
                let r = batch.result(&name)?;
                match r.status {
                    Status::Pass => Ok(Completion::Completed),
                    // Found inexpressible only when played (a server product that refuses the config as it
                    // starts): ignored with the reason, like a cell the plan found unsupported, never a pass.
                    Status::Unsupported => Ok(Completion::ignored_with(r.reason.clone().unwrap_or_default())),
                    _ => Err(describe(r).into()),
                }
            }));
        }
        // The catalog check only makes sense over a committed catalog (a directory of scenarios has none).
        if let Some(docs) = docs.filter(|d| load_ok && d.join("catalog.json").is_file()) {
            let docs = docs.to_path_buf();
            let batch = batch.clone();
            trials.push(Trial::test(CATALOG_TRIAL, move || {
                let results = batch.results();
                check_catalog(&docs, &scenarios, results, &registry).map_err(Failed::from)
            }));
        }
        Suite { trials, unsupported, batch: Some(batch) }
    }

    /// The trials, after telling the batch which cells the command line selected.
    fn trials(self, args: &Arguments) -> Vec<Trial> {
        let selected = |t: &Trial| !args.is_filtered_out(t) && !args.is_ignored(t);
        let wanted = if self.trials.iter().any(|t| t.name() == CATALOG_TRIAL && selected(t)) {
            Wanted::All
        } else {
            Wanted::Some(self.trials.iter().filter(|t| selected(t)).map(|t| t.name().to_string()).collect())
        };
        if let Some(batch) = &self.batch {
            let _ = batch.wanted.set(wanted);
        }
        self.trials
    }
}

/// One trial per backend role the selection plays: where this machine cannot play it, ignored with the install hint
/// (failing under `TLSMATRIX_REQUIRE_TOOLS=1`); where it can, passing (so the list shows what was checked).
fn availability(registry: &Registry, sel: &Selection) -> Vec<Trial> {
    let mut out = Vec::new();
    for b in registry.iter() {
        for role in [Role::Client, Role::Server] {
            let side = if role == Role::Client { &sel.clients } else { &sel.servers };
            // A role the stack does not have (nginx has no client) is no tool to install.
            if !side.contains(&b.id()) || !b.plays(role) {
                continue;
            }
            let why = b.capabilities(role).unavailable.clone();
            let name = format!("backends::{}::{role}", b.id());
            let id = b.id();
            out.push(Trial::ignorable_test(name, move || match why {
                None => Ok(Completion::Completed),
                Some(why) => missing(&format!("{id} as {role}: {why}; its cells are unsupported")),
            }));
        }
    }
    out
}

/// The catalog check over a played batch (see [`crate::report::CatalogData::check`]).
fn check_catalog(
    docs: &Path,
    scenarios: &[Scenario],
    results: &HashMap<String, CellResult>,
    registry: &Registry,
) -> Result<(), String> {
    let order: Vec<Cell> = cells(&scenarios.iter().cloned().map(Arc::new).collect::<Vec<_>>(), &Selection::default());
    let mut cells_in_order = Vec::with_capacity(order.len());
    for c in &order {
        let name = c.name();
        cells_in_order.push(results.get(&name).cloned().ok_or_else(|| format!("{name} was not played"))?);
    }
    let report = crate::report::Report::new(crate::report::Environment::of(registry), cells_in_order, Vec::new());
    let fresh = crate::report::CatalogData::of(&report);
    let read = |f: &str| std::fs::read_to_string(docs.join(f)).unwrap_or_default();
    crate::report::CatalogData::check(&fresh, scenarios, &read("catalog.json"), &read("catalog.md"), |e| {
        registry.runs(e.client, e.server)
    })
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
