//! The library entry point: load a project, plan its cells for a selection of backends, and play them, streamed or
//! collected. The CLI's `run`, `catalog` and `explain`, the `cargo test` harness and `bench` all go through it, so
//! what a user's own program gets from [`Run`] is exactly what those get.
//!
//! ```no_run
//! use tlsmatrix::{Layout, Run, plan::Selection};
//! let run = Run::load(&Layout::at(std::path::Path::new(".")), &[], |_| true)?;
//! let planned = run.plan(&Selection::default());
//! run.stream(planned, |result| println!("{} {}", result.name(), result.status))?;
//! # Ok::<(), tlsmatrix::Error>(())
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::Registry;
use crate::error::{Error, LoadError};
use crate::plan::{Plannable, Planned, Selection, cells};
use crate::runner::Context;
use crate::scenario::Scenario;
use crate::verdict::CellResult;
use crate::{Layout, Pki};

/// A loaded project, ready to play: its scenarios, the backends, the certificates, and how to run.
pub struct Run {
    /// The backends, certificates, deadline and pcap directory every cell uses.
    pub context: Context,
    /// The scenarios that loaded (and were kept).
    pub scenarios: Vec<Arc<Scenario>>,
    /// The files that did not load, each with file, line and what was expected; the rest still run.
    pub load_errors: Vec<LoadError>,
    /// Cells in flight at once.
    pub jobs: usize,
    /// What the run changed of what it was asked, for the user to read (a `--jobs` the descriptor limit cannot serve).
    pub notes: Vec<String>,
    /// Whether SIGINT / SIGTERM stop the run gracefully, keeping what completed ([`crate::interrupt`]); the CLI
    /// sets it, a library user decides.
    pub interruptible: bool,
}

impl Run {
    /// Loads the layout's PKI and the scenarios under `paths` (every scenario when empty), keeping those `keep`
    /// accepts, with every backend compiled in.
    pub fn load(layout: &Layout, paths: &[PathBuf], keep: impl Fn(&Scenario) -> bool) -> Result<Run, Error> {
        let (pki, catalog) = layout.load(paths)?;
        let scenarios = catalog.scenarios.into_iter().filter(|s| keep(s)).map(Arc::new).collect();
        let mut run = Run::new(Context::new(Arc::new(Registry::all()), Arc::new(pki)), scenarios);
        run.load_errors = catalog.errors;
        Ok(run)
    }

    /// A run of scenarios built elsewhere (a generated grid, a test's own registry).
    pub fn new(context: Context, scenarios: Vec<Arc<Scenario>>) -> Run {
        Run {
            context,
            scenarios,
            load_errors: Vec::new(),
            jobs: default_jobs(),
            notes: Vec::new(),
            interruptible: false,
        }
    }

    /// With another set of backends (tests add deliberately broken peers).
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Run {
        self.context.registry = registry;
        self
    }

    /// With a per-connection deadline other than the default.
    pub fn with_timeout(mut self, timeout: Duration) -> Run {
        self.context.timeout = timeout;
        self
    }

    /// Writing one pcapng file per cell into `dir`.
    pub fn with_pcap(mut self, dir: Option<PathBuf>) -> Run {
        self.context.pcap = dir.map(Arc::new);
        self
    }

    /// With `jobs` cells in flight at once, or fewer when the process's descriptor limit cannot serve that many
    /// (see [`fit_jobs`]; the reason is in [`Run::notes`]).
    pub fn with_jobs(mut self, jobs: usize) -> Run {
        let (jobs, note) = fit_jobs(jobs.max(1));
        self.jobs = jobs;
        self.notes.extend(note);
        self
    }

    /// The certificates.
    pub fn pki(&self) -> &Arc<Pki> {
        &self.context.pki
    }

    /// The backends.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.context.registry
    }

    /// Every cell of the scenarios for `sel`, decided once: unsupported with the reason, or run against an
    /// expectation.
    pub fn plan(&self, sel: &Selection) -> Vec<Planned> {
        crate::plan::plan(cells(&self.scenarios, sel), &self.context.registry)
    }

    /// Plays `todo`, handing each result to `sink` as soon as it is done (completion order): memory stays flat
    /// whatever the number of cells.
    pub fn stream<C: Plannable>(
        &self,
        todo: impl IntoIterator<Item = C>,
        mut sink: impl FnMut(CellResult),
    ) -> Result<(), Error> {
        let rt = runtime()?;
        rt.block_on(async {
            if self.interruptible {
                crate::interrupt::listen();
            }
            self.context.run_each(todo.into_iter().map(|c| ((), c)), self.jobs, |(), r| sink(r)).await
        });
        Ok(())
    }

    /// Plays `todo` and returns the results in its order, ticking `progress` per cell (with [`Run::interruptible`]
    /// and a signal: the cells that completed).
    pub fn collect<C: Plannable>(
        &self,
        todo: Vec<C>,
        progress: Option<indicatif::ProgressBar>,
    ) -> Result<Vec<CellResult>, Error> {
        Ok(runtime()?.block_on(async {
            if self.interruptible {
                crate::interrupt::listen();
            }
            self.context.run_all(todo, self.jobs, progress).await
        }))
    }
}

/// The most descriptors one cell holds at once: the listener, the relay's listener, both ends of the connection and
/// the relay's two, plus a tool's pipes.
const DESCRIPTORS_PER_CELL: u64 = 8;
/// Descriptors kept for everything else: stdio, adapter processes' pipes, the report file, the runtime.
const DESCRIPTORS_RESERVED: u64 = 64;

/// `jobs`, or fewer when the descriptor limit (`ulimit -n`) cannot hold that many cells at once beside the waiting
/// cells ([`crate::runner::WAITING_SLOTS`]), with a note saying so. The soft limit is raised to the hard one first,
/// as servers do: before, `--jobs 1000` under `ulimit -n 1024` made hundreds of cells fail with "Too many open files".
pub fn fit_jobs(jobs: usize) -> (usize, Option<String>) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    let Some(soft) = limit.current else { return (jobs, None) };
    let cells = soft.saturating_sub(DESCRIPTORS_RESERVED) / DESCRIPTORS_PER_CELL;
    let room = usize::try_from(cells).unwrap_or(usize::MAX).saturating_sub(crate::runner::WAITING_SLOTS).max(1);
    if jobs <= room {
        return (jobs, None);
    }
    let note = format!(
        "--jobs {jobs} lowered to {room}: the descriptor limit (ulimit -n) is {soft}, and a cell holds up to \
         {DESCRIPTORS_PER_CELL}; raise the limit to run more at once"
    );
    (room, Some(note))
}

/// Twice the CPUs: half the cells of a run wait on a peer process or the network at any moment.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)
}
