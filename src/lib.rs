//! tlsmatrix: a TLS compatibility test harness.
//!
//! Data flows one way: YAML scenarios and `fixtures/pki.yaml` load into a validated [`Catalog`] and [`Pki`]; the
//! [`plan`] expands each scenario into cells (scenario x client backend x server backend) and decides from each
//! backend's [`Capabilities`](backend::Capabilities) whether the cell can run; the [`runner`] plays each runnable cell
//! over a real loopback connection and records an [`Observation`] per side; [`expect`] judges it against the
//! scenario's expectation (overrides resolved); [`report`] renders the matrix, and [`harness`] turns every cell into a
//! named `cargo test` trial.
//!
//! # Use from another crate
//!
//! Two entry points. Under `cargo test`, a `harness = false` test target whose `main` is
//! [`harness::main`]`("tests/tls")` (or a [`harness::Harness`] that picks the backends) makes every cell of the
//! scenarios in that directory one named test; `examples/downstream` in the repository is such a crate. From code,
//! [`Run`] loads a [`Layout`], plans cells for a [`Selection`](plan::Selection) and plays them into typed
//! [`CellResult`](runner::CellResult)s, which any renderer of [`report`] turns into text:
//!
//! ```
//! use tlsmatrix::{BackendId, Layout, Run, expect::Status, plan::Selection, report};
//!
//! // A scenario directory of its own; the built-in certificates (root-a, server-ec, ...) are there, and a
//! // pki.yaml beside the scenarios would add more.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("pinned_client.yaml"), r#"
//! description: A TLS 1.3-only server meets a client pinned to TLS 1.2.
//! server: { certificate: server-ec, versions: [tls1.3] }
//! client: { trust: [root-a], server_name: localhost, versions: [tls1.2] }
//! expect:
//!   result: failure
//!   client: { received_alert: protocol_version }
//!   server: { sent_alert: protocol_version }
//! "#)?;
//!
//! let run = Run::load(&Layout::dir(dir.path()), &[], |_| true)?;
//! let both = vec![BackendId::Openssl, BackendId::Rustls];
//! let results = run.collect(run.plan(&Selection { clients: both.clone(), servers: both }), None)?;
//! assert_eq!(results.len(), 4);
//! for r in &results {
//!     // Real handshakes over loopback: each side's alert, checked against the expectation.
//!     assert_eq!(r.status, Status::Pass, "{}", tlsmatrix::harness::describe(r));
//! }
//! let report = report::Report::new(report::Environment::of(run.registry()), results, Vec::new());
//! assert!(report::markdown(&report).contains("pinned_client"));
//! assert_eq!(report.exit_code(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backend;
pub mod bench;
pub mod cache;
pub mod catalog;
pub mod compat;
mod error;
mod ffi;
/// The judging API under its earlier name: see [`verdict`].
pub mod expect {
    pub use crate::verdict::{Side, Status, Verdict as Judgement, judge};
}
mod cipherstring;
pub mod explain;
pub mod grid;
pub mod harness;
pub mod interrupt;
mod observation;
pub mod pki;
pub mod plan;
pub mod relay;
pub mod report;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod settings;
pub mod try_client;
pub mod verdict;
mod vocab;
pub mod wire;
mod yaml;

pub mod cli;

use std::path::{Path, PathBuf};

pub use catalog::{Catalog, scenario_id};
pub use error::{Error, LoadError, PkiError};
pub use observation::{ErrorClass, Established, Failure, Observation, Phase, SideOutcome};
pub use pki::Pki;
pub use run::Run;
pub use scenario::Scenario;
pub use vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role, SignatureScheme};

/// Where a project keeps its scenarios and certificates.
///
/// Two shapes: a project root (this repository: `scenarios/` and `fixtures/pki.yaml`, [`Layout::at`]) and a
/// directory of scenarios that brings its own certificates (another crate's `tests/tls/`, [`Layout::dir`]). In both,
/// every `pki.yaml` among the scenarios adds its certificates to the base ones (the project's `fixtures/pki.yaml`,
/// or the built-in set when there is none); see [`pki::PkiSources`].
#[derive(Clone, Debug)]
pub struct Layout {
    /// The directory scenario ids are relative to (`scenarios/`).
    pub scenarios: PathBuf,
    /// The certificates: the base description and the files added to it. The `pki.yaml` files among the
    /// scenarios loaded are added when the run loads ([`Layout::load`]).
    pub pki: pki::PkiSources,
}

impl Layout {
    /// The standard layout under a project root: `scenarios/`, and `fixtures/pki.yaml` as the base certificates
    /// when it exists (the built-in ones otherwise).
    pub fn at(root: &Path) -> Layout {
        let base = root.join("fixtures").join("pki.yaml");
        let base = base.is_file().then_some(base);
        Layout { scenarios: root.join("scenarios"), pki: pki::PkiSources { base, added: Vec::new() } }
    }

    /// A directory of scenarios on its own (`tests/tls`): ids are relative to it, and its `pki.yaml` files add to
    /// the built-in certificates.
    pub fn dir(dir: &Path) -> Layout {
        Layout { scenarios: dir.to_path_buf(), pki: pki::PkiSources::default() }
    }

    /// With one more PKI description added (`--pki FILE`).
    pub fn with_pki(mut self, file: PathBuf) -> Layout {
        self.pki.add(file);
        self
    }

    /// The certificates a load of `paths` uses: the layout's, plus every `pki.yaml` in the scenario directory and
    /// under (or, for a file, beside) each path.
    pub fn pki_for(&self, paths: &[PathBuf]) -> pki::PkiSources {
        let mut sources = self.pki.clone();
        let mut dirs = vec![self.scenarios.clone()];
        for p in paths {
            if p.is_dir() {
                dirs.push(p.clone());
            } else if let Some(parent) = p.parent() {
                let beside = parent.join("pki.yaml");
                if beside.is_file() {
                    sources.add(beside);
                }
            }
        }
        let mut found: Vec<PathBuf> = dirs.iter().flat_map(|d| pki::find_descriptions(d)).collect();
        found.sort();
        for f in found {
            // The same file reached by two routes (`scenarios/` and `scenarios/x`) is added once.
            let f = f.canonicalize().unwrap_or(f);
            if !sources.added.iter().any(|a| a.canonicalize().ok().as_ref() == Some(&f) || a == &f) {
                sources.add(f);
            }
        }
        sources
    }

    /// Checks the PKI descriptions and loads the scenarios under `paths`, without generating real keys (`validate`).
    pub fn check(&self, paths: &[PathBuf]) -> Result<Catalog, Error> {
        let pki = Pki::check_sources(&self.pki_for(paths))?;
        let paths = if paths.is_empty() { vec![self.scenarios.clone()] } else { paths.to_vec() };
        Ok(Catalog::load(&self.scenarios, &paths, &pki.names()))
    }

    /// Generates the PKI, then loads the scenarios under `paths` (all of the scenario directory when empty).
    pub fn load(&self, paths: &[PathBuf]) -> Result<(Pki, Catalog), Error> {
        let pki = Pki::load_sources(&self.pki_for(paths))?;
        let paths = if paths.is_empty() { vec![self.scenarios.clone()] } else { paths.to_vec() };
        let catalog = Catalog::load(&self.scenarios, &paths, &pki.names());
        Ok((pki, catalog))
    }
}
