//! Expanding scenarios into cells (scenario x client backend x server backend) and deciding, before anything runs,
//! what each cell should do: run against an expectation, or stay unsupported with the reason.

use std::sync::Arc;

use crate::backend::Registry;
use crate::scenario::{Expectation, Knob, Mode, Resolved, Scenario};
use crate::vocab::{BackendId, Role};

/// One client backend against one server backend on one scenario.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// The client backend.
    pub client: BackendId,
    /// The server backend.
    pub server: BackendId,
}

impl Cell {
    /// The cell's test name: `seed::legacy_tls10_server::openssl->rustls`.
    pub fn name(&self) -> String {
        format!("{}::{}->{}", self.scenario.id, self.client, self.server)
    }

    /// Whether both sides are linked-in libraries (no external peer: no tool process, no JVM).
    pub fn linked_in(&self) -> bool {
        [self.client, self.server].iter().all(|b| BackendId::IN_PROCESS.contains(b))
    }

    /// What to do with the cell: the capability model first (a backend that cannot express a setting), then the
    /// scenario's overrides.
    pub fn decide(&self, registry: &Registry) -> Decision {
        for (role, id) in [(Role::Client, self.client), (Role::Server, self.server)] {
            let Some(backend) = registry.get(id) else {
                return Decision::Unsupported(format!("{id} is not compiled into this build"));
            };
            let caps = backend.capabilities(role);
            let extra: &[Knob] = if self.scenario.mode == Mode::Resume { &[Knob::Resumption] } else { &[] };
            let checked = match role {
                Role::Client => caps.check(&self.scenario.client, extra),
                Role::Server => caps.check(&self.scenario.server, extra),
            };
            if let Err(why) = checked.and_then(|()| backend.expressible(role, &self.scenario)) {
                return Decision::Unsupported(format!("{id} as {role}: {why}"));
            }
        }
        match self.scenario.resolve(self.client, self.server) {
            Resolved::Unsupported(why) => Decision::Unsupported(why),
            Resolved::Expect { expectation, because } => Decision::Run { expectation, because },
        }
    }
}

/// A cell with its decision, made once: the harness turns it into a trial (ignored or run), the runner plays it as
/// decided, and neither asks the capability model again.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The cell.
    pub cell: Cell,
    /// What to do with it.
    pub decision: Decision,
}

/// Something the runner can play: a cell already planned, or a cell it plans as it starts it.
pub trait Plannable: Send + 'static {
    /// The cell with its decision.
    fn planned(self, registry: &Registry) -> Planned;
    /// The cell.
    fn cell(&self) -> &Cell;
}

impl Plannable for Planned {
    fn planned(self, _: &Registry) -> Planned {
        self
    }
    fn cell(&self) -> &Cell {
        &self.cell
    }
}

impl Plannable for Cell {
    fn planned(self, registry: &Registry) -> Planned {
        let decision = self.decide(registry);
        Planned { cell: self, decision }
    }
    fn cell(&self) -> &Cell {
        self
    }
}

/// Every cell with its decision.
pub fn plan(cells: Vec<Cell>, registry: &Registry) -> Vec<Planned> {
    cells.into_iter().map(|c| c.planned(registry)).collect()
}

/// What a cell does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run it and compare with the expectation (`because`: the override's reason, if one applied).
    Run {
        /// The expectation.
        expectation: Expectation,
        /// The reason of the applied override.
        because: Option<String>,
    },
    /// Do not run it.
    Unsupported(String),
}

/// Which backends play which side.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Client backends.
    pub clients: Vec<BackendId>,
    /// Server backends.
    pub servers: Vec<BackendId>,
}

/// Every backend on both sides: an external peer whose runtime is missing turns its cells `unsupported` with the
/// install hint, so the default run is the whole matrix this machine can play and says what it cannot.
impl Default for Selection {
    fn default() -> Self {
        Selection { clients: BackendId::ALL.to_vec(), servers: BackendId::ALL.to_vec() }
    }
}

impl Selection {
    /// The backends linked into this binary, on both sides (the benchmark's catalog, which must not measure JVMs).
    pub fn in_process() -> Self {
        Selection { clients: BackendId::IN_PROCESS.to_vec(), servers: BackendId::IN_PROCESS.to_vec() }
    }
}

/// Every cell of the scenarios, scenario by scenario, clients outer, servers inner.
pub fn cells(scenarios: &[Arc<Scenario>], sel: &Selection) -> Vec<Cell> {
    let mut out = Vec::new();
    for s in scenarios {
        for &client in &sel.clients {
            for &server in &sel.servers {
                out.push(Cell { scenario: s.clone(), client, server });
            }
        }
    }
    out
}
