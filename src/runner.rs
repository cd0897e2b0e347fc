//! Running cells: a server task and a client task over a real loopback TCP connection, each under the cell's deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::backend::{Backend, ConfigError, Registry};
use crate::expect::{Side, Status, judge};
use crate::observation::{ErrorClass, Failure, Observation, Phase, SideOutcome};
use crate::pki::Pki;
use crate::plan::{Cell, Decision};
use crate::scenario::Expectation;
use crate::vocab::{BackendId, Role};

/// The default per-cell deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything a cell needs besides itself.
#[derive(Clone)]
pub struct Context {
    /// The backends.
    pub registry: Arc<Registry>,
    /// The run's certificates.
    pub pki: Arc<Pki>,
    /// The per-cell deadline.
    pub timeout: Duration,
}

/// A judged cell: what was expected, what was seen, and the verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellResult {
    /// The scenario id.
    pub scenario: String,
    /// The client backend.
    pub client: BackendId,
    /// The server backend.
    pub server: BackendId,
    /// pass, fail, unsupported or error.
    pub status: Status,
    /// Why the cell is unsupported, or why an override changed its expectation, or what the harness fault was.
    pub reason: Option<String>,
    /// The expectation the cell was judged against.
    pub expected: Option<Expectation>,
    /// Both sides' observations.
    pub observed: Option<Observation>,
    /// What did not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
    /// Checks that could not be made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Wall time of the cell.
    pub duration_ms: f64,
}

impl CellResult {
    /// The cell's test name: `seed::legacy_tls10_server::openssl->rustls`.
    pub fn name(&self) -> String {
        format!("{}::{}->{}", self.scenario, self.client, self.server)
    }

    fn new(cell: &Cell, status: Status, reason: Option<String>) -> Self {
        CellResult {
            scenario: cell.scenario.id.clone(),
            client: cell.client,
            server: cell.server,
            status,
            reason,
            expected: None,
            observed: None,
            mismatches: Vec::new(),
            notes: Vec::new(),
            duration_ms: 0.0,
        }
    }
}

impl Context {
    /// Decides, runs and judges one cell. Never panics on the cell's behalf: harness faults become `error`.
    pub async fn run_cell(&self, cell: &Cell) -> CellResult {
        let start = Instant::now();
        let (expectation, because) = match cell.decide(&self.registry) {
            Decision::Unsupported(why) => return CellResult::new(cell, Status::Unsupported, Some(why)),
            Decision::Run { expectation, because } => (expectation, because),
        };
        let mut result = CellResult::new(cell, Status::Error, because);
        result.expected = Some(expectation.clone());
        match self.observe(cell).await {
            Err(fault) => {
                result.reason = Some(fault);
            }
            Ok(obs) => {
                let caps = |id: BackendId, role| self.registry.get(id).expect("decided above").capabilities(role);
                let j = judge(
                    &expectation,
                    Side {
                        role: Role::Client,
                        backend: cell.client,
                        caps: caps(cell.client, Role::Client),
                        outcome: &obs.client,
                    },
                    Side {
                        role: Role::Server,
                        backend: cell.server,
                        caps: caps(cell.server, Role::Server),
                        outcome: &obs.server,
                    },
                );
                result.status = if j.mismatches.is_empty() { Status::Pass } else { Status::Fail };
                result.mismatches = j.mismatches;
                result.notes = j.notes;
                result.observed = Some(obs);
            }
        }
        result.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        result
    }

    /// Plays the cell over loopback. `Err` is a harness fault, described.
    pub async fn observe(&self, cell: &Cell) -> Result<Observation, String> {
        let get = |id| self.registry.get(id).cloned().ok_or_else(|| format!("{id} is not compiled into this build"));
        let (client, server): (Arc<dyn Backend>, Arc<dyn Backend>) = (get(cell.client)?, get(cell.server)?);
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let ms = self.timeout.as_millis();
        let pki = &*self.pki;
        let server_side = async {
            let (sock, _) = listener.accept().await.map_err(|e| ConfigError(format!("accept: {e}")))?;
            // Without TCP_NODELAY every handshake flight waits out Nagle + delayed ACK (~44 ms a cell).
            sock.set_nodelay(true)?;
            server.accept(&cell.scenario.server, pki, sock).await
        };
        let client_side = async {
            let sock = TcpStream::connect(addr).await.map_err(|e| ConfigError(format!("connect {addr}: {e}")))?;
            sock.set_nodelay(true)?;
            client.connect(&cell.scenario.client, pki, sock).await
        };
        let (s, c) = tokio::join!(
            tokio::time::timeout_at(deadline, server_side),
            tokio::time::timeout_at(deadline, client_side)
        );
        let settle = |r: Result<Result<SideOutcome, ConfigError>, _>, role: Role, id: BackendId| match r {
            Err(_elapsed) => Ok(SideOutcome::Failed(Failure {
                phase: Phase::Handshake,
                sent_alert: None,
                received_alert: None,
                error: ErrorClass::Timeout,
                message: format!("no result within the {ms} ms deadline"),
            })),
            Ok(Ok(o)) => Ok(o),
            Ok(Err(ConfigError(m))) => Err(format!("{id} as {role}: {m}")),
        };
        Ok(Observation { server: settle(s, Role::Server, cell.server)?, client: settle(c, Role::Client, cell.client)? })
    }

    /// Runs many cells concurrently, at most `jobs` at a time, and returns the results in the cells' order. A panic
    /// inside one cell is contained and reported as that cell's `error`.
    pub async fn run_all(&self, cells: Vec<Cell>, jobs: usize) -> Vec<CellResult> {
        let permits = Arc::new(Semaphore::new(jobs.max(1)));
        let mut handles = Vec::with_capacity(cells.len());
        for cell in cells {
            let ctx = self.clone();
            let permits = permits.clone();
            let fallback = CellResult::new(&cell, Status::Error, None);
            let handle = tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore never closed");
                ctx.run_cell(&cell).await
            });
            handles.push((handle, fallback));
        }
        let mut out = Vec::with_capacity(handles.len());
        for (h, mut fallback) in handles {
            out.push(match h.await {
                Ok(r) => r,
                Err(e) => {
                    fallback.reason = Some(format!("the cell panicked: {e}"));
                    fallback
                }
            });
        }
        out
    }
}
