//! tlsmatrix: a TLS compatibility test harness.
//!
//! Data flows one way: YAML scenarios and `fixtures/pki.yaml` load into a validated [`Catalog`] and [`Pki`]; the
//! [`plan`] expands each scenario into cells (scenario x client backend x server backend) and decides from each
//! backend's [`Capabilities`](backend::Capabilities) whether the cell can run; the [`runner`] plays each runnable cell
//! over a real loopback connection and records an [`Observation`] per side; [`expect`] judges it against the
//! scenario's expectation (overrides resolved); [`report`] renders the matrix, and [`harness`] turns every cell into a
//! named `cargo test` trial.

pub mod backend;
pub mod bench;
pub mod cache;
pub mod catalog;
mod error;
/// The judging API under its earlier name: see [`verdict`].
pub mod expect {
    pub use crate::verdict::{Side, Status, Verdict as Judgement, judge};
}
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

/// Where a project keeps its scenarios and fixtures.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The directory scenario ids are relative to (`scenarios/`).
    pub scenarios: PathBuf,
    /// The PKI description (`fixtures/pki.yaml`); its keys are generated in memory at every run.
    pub pki: PathBuf,
}

impl Layout {
    /// The standard layout under a project root.
    pub fn at(root: &Path) -> Layout {
        Layout { scenarios: root.join("scenarios"), pki: root.join("fixtures").join("pki.yaml") }
    }

    /// Checks the PKI description and loads the scenarios under `paths`, without generating real keys (`validate`).
    pub fn check(&self, paths: &[PathBuf]) -> Result<Catalog, Error> {
        let pki = Pki::check(&self.pki)?;
        let paths = if paths.is_empty() { vec![self.scenarios.clone()] } else { paths.to_vec() };
        Ok(Catalog::load(&self.scenarios, &paths, &pki.names()))
    }

    /// Generates the PKI, then loads the scenarios under `paths` (all of `scenarios/` when empty).
    pub fn load(&self, paths: &[PathBuf]) -> Result<(Pki, Catalog), Error> {
        let pki = Pki::load(&self.pki)?;
        let paths = if paths.is_empty() { vec![self.scenarios.clone()] } else { paths.to_vec() };
        let catalog = Catalog::load(&self.scenarios, &paths, &pki.names());
        Ok((pki, catalog))
    }
}
