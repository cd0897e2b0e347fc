//! Running cells: a server task and a client task over a real loopback TCP connection, each under the cell's deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::backend::conn::{self as tap, Conn, Park};
use crate::backend::{Backend, ConfigError, Endpoint, Registry};
use crate::observation::{ErrorClass, Failure, Observation, Phase, SideOutcome};
use crate::pki::Pki;
use crate::plan::{Cell, Decision, Plannable, Planned};
use crate::relay::Relay;
use crate::scenario::{Fault, Mode};
pub use crate::verdict::CellResult;
use crate::verdict::{Side, Status, Verdict};
use crate::vocab::{BackendId, Role};
use crate::wire::{Capture, Direction, KeyLog, Wire};

/// The default per-cell deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The run's deadline is stretched this much for cells with an external peer (a JVM, a tool process per
/// connection). A JVM that just said ready still runs its first handshakes of a new configuration interpreted, and a
/// loaded machine multiplies that: in a CI run on 2 cores at load ~10, 4 of 60 jsse cells exceeded 5 s and passed on
/// their own. A deadline is there to end hangs, not to race the JIT. A scenario's own `deadline_ms` is stretched
/// alike: under load (`--repeat 5 --jobs 64` beside two busy loops) a jsse server missed `wire::delay`'s 3 s once,
/// and every fault a scenario models (a delay below its deadline, a stall) means the same at three times the time.
pub const EXTERNAL_DEADLINE_FACTOR: u32 = 3;

/// Everything a cell needs besides itself.
#[derive(Clone)]
pub struct Context {
    /// The backends.
    pub registry: Arc<Registry>,
    /// The run's certificates.
    pub pki: Arc<Pki>,
    /// The per-cell deadline.
    pub timeout: Duration,
    /// Where to write one pcapng file per cell (`--pcap DIR`), if anywhere.
    pub pcap: Option<Arc<std::path::PathBuf>>,
}

impl Context {
    /// A context with the default deadline and no pcap output.
    pub fn new(registry: Arc<Registry>, pki: Arc<Pki>) -> Context {
        Context { registry, pki, timeout: DEFAULT_TIMEOUT, pcap: None }
    }

    /// Decides, runs and judges one cell. Never panics on the cell's behalf: harness faults become `error`.
    pub async fn run_cell(&self, cell: &Cell) -> CellResult {
        self.run_planned(&cell.clone().planned(&self.registry)).await
    }

    /// Runs and judges one planned cell as it was decided.
    pub async fn run_planned(&self, planned: &Planned) -> CellResult {
        let start = Instant::now();
        let cell = &planned.cell;
        let (expectation, because) = match &planned.decision {
            Decision::Unsupported(why) => return CellResult::new(cell, Status::Unsupported, Some(why.clone())),
            Decision::Run { expectation, because } => ((**expectation).clone(), because.clone()),
        };
        let mut result = CellResult::new(cell, Status::Error, because);
        result.expected = Some(expectation.clone());
        match self.observe(cell).await {
            Err(NotPlayed::Fault(fault)) => {
                result.reason = Some(fault);
            }
            Err(NotPlayed::Unsupported(why)) => {
                result.status = Status::Unsupported;
                result.expected = None;
                result.reason = Some(why);
            }
            Ok(Played { observation: obs, wire }) => {
                let caps = |id: BackendId, role| self.registry.get(id).expect("decided above").capabilities(role);
                let v = Verdict::of(
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
                    wire.last(),
                    cell.scenario.wire.fault,
                );
                result.status = v.status();
                result.mismatches = v.mismatches;
                result.notes = v.notes;
                result.observed = Some(obs);
                result.wire = wire;
            }
        }
        result.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        result
    }

    /// Plays the cell over loopback. `Err` is a harness fault, described.
    ///
    /// Both sides are configured once; `mode: resume` then runs two connections through them and the second one is
    /// the observation (unless the first already failed, which is then what the cell reports). Every connection goes
    /// through the recording relay; its bytes are analysed with the key log the backends wrote, and written as a
    /// pcapng file when the context asks for one.
    pub async fn observe(&self, cell: &Cell) -> Result<Played, NotPlayed> {
        let get = |id| self.registry.get(id).cloned().ok_or_else(|| format!("{id} is not compiled into this build"));
        let (client, server): (Arc<dyn Backend>, Arc<dyn Backend>) = (get(cell.client)?, get(cell.server)?);
        let fault = |role: Role, id: BackendId| move |e: ConfigError| NotPlayed::of(e, role, id);
        let mut server_end =
            server.server(&cell.scenario.server, &self.pki).map_err(fault(Role::Server, cell.server))?;
        let mut client_end =
            client.client(&cell.scenario.client, &self.pki).map_err(fault(Role::Client, cell.client))?;
        let rounds = if cell.scenario.mode == Mode::Resume { 2 } else { 1 };
        let keys = KeyLog::new();
        let mut captures = Vec::new();
        let mut last = None;
        for round in 1..=rounds {
            let (obs, capture) = self.connect_once(&mut *server_end, &mut *client_end, cell, &keys).await?;
            captures.push(capture);
            // A first connection whose only failure is a close without close_notify (a server that does not answer
            // the client's, nginx) completed its handshake and exchange: the session is there to resume.
            let closed_only = matches!(&obs.server, SideOutcome::Established(_))
                && obs.client.failure().is_some_and(|f| {
                    f.phase == Phase::Data
                        && f.error == ErrorClass::Eof
                        && f.sent_alert.is_none()
                        && f.received_alert.is_none()
                });
            let failed = (obs.client.failure().is_some() || obs.server.failure().is_some()) && !closed_only;
            last = Some(obs);
            if failed && round < rounds {
                last = last.map(|o| prefix(o, "first connection (before resuming): "));
                break;
            }
        }
        let keylog = keys.text();
        if let Some(dir) = &self.pcap {
            write_pcap(dir, cell, &captures, &keylog)?;
        }
        let wire = captures.iter().map(|c| crate::wire::analyse(c, &keylog)).collect();
        Ok(Played { observation: last.expect("at least one round"), wire })
    }

    /// The deadline of one connection of this cell: the scenario's own, or the run's - times
    /// [`EXTERNAL_DEADLINE_FACTOR`] when an external peer plays a side.
    pub(crate) fn deadline(&self, cell: &Cell) -> Duration {
        let base = cell.scenario.wire.deadline_ms.map_or(self.timeout, Duration::from_millis);
        if cell.linked_in() { base } else { base * EXTERNAL_DEADLINE_FACTOR }
    }

    /// One connection between the two endpoints, recorded, under the cell's deadline: through the relay when the
    /// cell has a fault to play or an external peer to bridge, tapped ([`crate::backend::conn`]) otherwise.
    pub(crate) async fn connect_once(
        &self,
        server: &mut dyn Endpoint,
        client: &mut dyn Endpoint,
        cell: &Cell,
        keys: &KeyLog,
    ) -> Result<(Observation, Capture), NotPlayed> {
        let bind = || async { TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind 127.0.0.1:0: {e}")) };
        let path = Path::of(cell);
        let listener = bind().await?;
        let relay_listener = if path == Path::Relay { Some(bind().await?) } else { None };
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let relay_addr = relay_listener.as_ref().map(TcpListener::local_addr).transpose().map_err(|e| e.to_string())?;
        let timeout = self.deadline(cell);
        let deadline = tokio::time::Instant::now() + timeout;
        let ms = timeout.as_millis();
        let relay = Relay::new();
        let ((park_c, linger_c), (park_s, linger_s)) = (tap::linger(), tap::linger());
        let conn = |sock: TcpStream, dir: Direction, park: Park| -> Conn {
            match path {
                Path::Tap => Conn::tapped(sock, dir, relay.recorder(), park),
                Path::Relay | Path::Unrecorded => Conn::Direct(sock),
            }
        };
        let server_side = async {
            let park = park_s;
            let (sock, _) = listener.accept().await.map_err(|e| ConfigError::new(format!("accept: {e}")))?;
            // Without TCP_NODELAY every handshake flight waits out Nagle + delayed ACK (~44 ms a cell).
            sock.set_nodelay(true)?;
            server.run(conn(sock, Direction::ServerToClient, park), keys).await
        };
        let client_side = async {
            let park = park_c;
            let sock = TcpStream::connect(relay_addr.unwrap_or(addr))
                .await
                .map_err(|e| ConfigError::new(format!("connect: {e}")))?;
            sock.set_nodelay(true)?;
            client.run(conn(sock, Direction::ClientToServer, park), keys).await
        };
        let wire = cell.scenario.wire.clone();
        let relay_side = async {
            match (path, &relay_listener) {
                (Path::Relay, Some(relay_listener)) => {
                    let Ok((c, _)) = relay_listener.accept().await else { return };
                    let Ok(s) = TcpStream::connect(addr).await else { return };
                    let _ = (c.set_nodelay(true), s.set_nodelay(true));
                    relay.run(c, s, wire.fault, Duration::from_millis(wire.delay_ms.unwrap_or(0))).await;
                }
                // Each tapped socket lingers from its endpoint's end until the peer's (polled along with the
                // endpoints, so a socket dropped early is drained early).
                (Path::Tap, _) => {
                    tokio::join!(linger_c.run(), linger_s.run());
                }
                _ => {}
            }
        };
        let endpoints = async {
            tokio::join!(tokio::time::timeout_at(deadline, server_side), tokio::time::timeout_at(deadline, client_side))
        };
        tokio::pin!(relay_side, endpoints);
        let mut relay_done = false;
        let (s, c) = loop {
            tokio::select! {
                r = &mut endpoints => break r,
                () = &mut relay_side, if !relay_done => relay_done = true,
            }
        };
        if !relay_done {
            // Both endpoints have closed their sockets: the relay reads their last bytes (an alert written just
            // before closing) and ends. A fault that holds the connection open ends here instead.
            let _ = tokio::time::timeout(RELAY_GRACE, relay_side).await;
        }
        let settle = |r: Result<Result<SideOutcome, ConfigError>, _>, role: Role, id: BackendId| match r {
            Err(_elapsed) => Ok(SideOutcome::Failed(Failure {
                phase: Phase::Handshake,
                sent_alert: None,
                received_alert: None,
                error: ErrorClass::Timeout,
                message: format!("no result within the {ms} ms deadline"),
            })),
            Ok(Ok(o)) => Ok(o),
            Ok(Err(e)) => Err(NotPlayed::of(e, role, id)),
        };
        let obs = Observation {
            server: settle(s, Role::Server, cell.server)?,
            client: settle(c, Role::Client, cell.client)?,
        };
        Ok((obs, relay.capture()))
    }

    /// Runs many cells concurrently, at most `jobs` at a time, and returns the results in the cells' order. A panic
    /// inside one cell is contained and reported as that cell's `error`.
    pub async fn run_all<C: Plannable>(
        &self,
        cells: Vec<C>,
        jobs: usize,
        progress: Option<indicatif::ProgressBar>,
    ) -> Vec<CellResult> {
        let mut out: Vec<Option<CellResult>> = (0..cells.len()).map(|_| None).collect();
        self.run_each(cells.into_iter().enumerate(), jobs, |i, r| {
            if let Some(p) = &progress {
                p.inc(1);
            }
            out[i] = Some(r);
        })
        .await;
        // Every cell reports, unless a signal stopped the run: then the ones that completed.
        out.into_iter().flatten().collect()
    }

    /// Runs cells as they come from `cells`, at most `jobs` at a time, handing each result to `sink` as soon as it
    /// is done (in completion order, with the key it came with). Nothing is kept here, so a run of any length holds
    /// only `jobs` cells in memory: what the sink keeps is up to it (`run --format jsonl` writes and forgets).
    ///
    /// A cell whose fault waits on purpose (`stall` until its deadline, `delay`) does not
    /// take one of the `jobs` slots but one of [`WAITING_SLOTS`] of its own: it only sleeps, and counted as work it
    /// held up the rest of the catalog (the in-process catalog took 5 s at `--jobs 4`, 2.4 s when waiting cells
    /// overlapped with the others). The same holds with an external peer: a tool or JVM whose answer the relay holds
    /// back does nothing meanwhile (in the default matrix these cells held the four slots for 10 s of 29).
    pub async fn run_each<K: Send + 'static, C: Plannable>(
        &self,
        cells: impl Iterator<Item = (K, C)>,
        jobs: usize,
        mut sink: impl FnMut(K, CellResult),
    ) {
        let mut running: tokio::task::JoinSet<(K, CellResult, bool, Vec<OwnProcess>)> = tokio::task::JoinSet::new();
        let mut cells = cells.peekable();
        let (mut busy, mut waiting) = (0usize, 0usize);
        let mut own = OwnProcesses::default();
        loop {
            // Asked to stop (SIGINT, SIGTERM: `crate::interrupt`): no new cell starts; the ones in flight get a
            // bounded time to report, then are abandoned (dropping them drops their endpoints).
            if crate::interrupt::requested().is_some() {
                let until = tokio::time::Instant::now() + crate::interrupt::GRACE;
                while let Ok(Some(Ok((key, result, ..)))) = tokio::time::timeout_at(until, running.join_next()).await {
                    sink(key, result);
                }
                running.abort_all();
                while running.join_next().await.is_some() {}
                break;
            }
            while let Some((_, next)) = cells.peek() {
                let waits = next.waits();
                let room = if waits { waiting < WAITING_SLOTS } else { busy < jobs.max(1) };
                let needs = own.of(next.cell(), &self.registry);
                if !room || (!running.is_empty() && !own.fits(&needs)) {
                    break;
                }
                own.take(&needs);
                let Some((key, cell)) = cells.next() else { break };
                let planned = cell.planned(&self.registry);
                *(if waits { &mut waiting } else { &mut busy }) += 1;
                let ctx = self.clone();
                running.spawn(async move {
                    let mut fallback = CellResult::new(&planned.cell, Status::Error, None);
                    // Its own task, so a panic in a backend ends that task only and becomes this cell's error.
                    let result = match tokio::spawn(async move { ctx.run_planned(&planned).await }).await {
                        Ok(r) => r,
                        Err(e) => {
                            fallback.reason = Some(format!("the cell panicked: {e}"));
                            fallback
                        }
                    };
                    (key, result, waits, needs)
                });
            }
            let joined = tokio::select! {
                j = running.join_next() => j,
                () = crate::interrupt::stopped() => continue,
            };
            match joined {
                None => break,
                Some(Ok((key, result, waits, needs))) => {
                    *(if waits { &mut waiting } else { &mut busy }) -= 1;
                    own.give_back(&needs);
                    sink(key, result)
                }
                Some(Err(e)) => unreachable!("the wrapper task only awaits a handle and cannot panic: {e}"),
            }
        }
    }
}

/// The processes with settings of their own ([`Backend::own_process`]) that the cells in flight use, by backend
/// and launch settings, with how many cells use each. A cell whose own processes would take a backend past
/// [`crate::backend::OWN_PROCESSES`] distinct settings waits until cells end: admitted cells always get their
/// processes, so none holds a JVM while it waits for another (8 jsse-to-jsse scenarios with settings on both sides
/// at `--jobs 16` ran 12 JVMs when each cell took its first and waited for its second).
#[derive(Default)]
struct OwnProcesses(HashMap<OwnProcess, usize>);

/// A backend and the launch settings of a process of its own.
type OwnProcess = (BackendId, String);

impl OwnProcesses {
    /// The own processes a cell needs, one per side that needs one.
    fn of(&self, cell: &Cell, registry: &Registry) -> Vec<OwnProcess> {
        let mut needs: Vec<OwnProcess> = [(cell.client, Role::Client), (cell.server, Role::Server)]
            .into_iter()
            .filter_map(|(id, role)| Some((id, registry.get(id)?.own_process(role, &cell.scenario)?)))
            .collect();
        needs.sort();
        needs.dedup();
        needs
    }

    /// Whether the cell's processes fit beside those in use.
    fn fits(&self, needs: &[OwnProcess]) -> bool {
        needs.iter().all(|(id, _)| {
            let in_use = self.0.keys().filter(|(b, _)| b == id).count();
            let new = needs.iter().filter(|n| n.0 == *id && !self.0.contains_key(n)).count();
            in_use + new <= crate::backend::OWN_PROCESSES
        })
    }

    fn take(&mut self, needs: &[OwnProcess]) {
        for n in needs {
            *self.0.entry(n.clone()).or_default() += 1;
        }
    }

    fn give_back(&mut self, needs: &[OwnProcess]) {
        for n in needs {
            if let Some(c) = self.0.get_mut(n) {
                *c -= 1;
                if *c == 0 {
                    self.0.remove(n);
                }
            }
        }
    }
}

/// How many cells that only wait ([`Fault::waits`]) may be in flight besides `--jobs`.
pub const WAITING_SLOTS: usize = 16;

/// Whether a cell only waits on purpose, so it need not take a `--jobs` slot (see [`Context::run_each`]).
trait Waits {
    fn waits(&self) -> bool;
}

impl<C: Plannable> Waits for C {
    fn waits(&self) -> bool {
        self.cell().scenario.wire.fault.is_some_and(Fault::waits)
    }
}

/// Whether cells record the wire (always, except in `tlsmatrix bench`, which turns it off to measure what it
/// costs: without it there is no capture, no wire check and no pcap).
static CAPTURE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the wire capture (relay and taps) off or on for this process (a measurement knob for `tlsmatrix bench`).
pub fn set_capture(on: bool) {
    CAPTURE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// How a connection of a cell is carried and recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// Through the recording relay: the cell plays a fault, or an external peer bridges its socket to a tool.
    Relay,
    /// Client straight to server, each socket tapped ([`crate::backend::conn`]).
    Tap,
    /// Client straight to server, nothing recorded (`bench` only).
    Unrecorded,
}

impl Path {
    fn of(cell: &Cell) -> Path {
        if !cell.linked_in() || cell.scenario.wire.fault.is_some() {
            Path::Relay
        } else if CAPTURE.load(std::sync::atomic::Ordering::Relaxed) {
            Path::Tap
        } else {
            Path::Unrecorded
        }
    }
}

/// Why a cell was not played to an observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotPlayed {
    /// The harness failed (a socket, a config the library refused, a dead peer process): the cell is an `error`.
    Fault(String),
    /// A backend found, while building its config, that it cannot express it: the cell is `unsupported`.
    Unsupported(String),
}

impl NotPlayed {
    fn of(e: ConfigError, role: Role, id: BackendId) -> NotPlayed {
        let text = format!("{id} as {role}: {}", e.message);
        if e.unsupported { NotPlayed::Unsupported(text) } else { NotPlayed::Fault(text) }
    }
}

impl From<String> for NotPlayed {
    fn from(fault: String) -> NotPlayed {
        NotPlayed::Fault(fault)
    }
}

impl std::fmt::Display for NotPlayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPlayed::Fault(m) => f.write_str(m),
            NotPlayed::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

/// How long the relay may take to drain once both endpoints are done.
const RELAY_GRACE: Duration = Duration::from_millis(200);

/// A played cell: the observation the verdict is about, and the wire of every connection.
#[derive(Clone, Debug)]
pub struct Played {
    /// Both sides' observations (of the last connection).
    pub observation: Observation,
    /// The wire, one per connection.
    pub wire: Vec<Wire>,
}

/// Writes `DIR/<scenario id>__<client>--<server>.pcapng` (`/` and `::` in ids become `__`).
fn write_pcap(dir: &std::path::Path, cell: &Cell, captures: &[Capture], keylog: &str) -> Result<(), String> {
    let name =
        format!("{}__{}--{}.pcapng", cell.scenario.id.replace("::", "__").replace('/', "__"), cell.client, cell.server);
    let path = dir.join(name);
    let mut out = Vec::new();
    crate::wire::pcapng::write(captures, keylog, &mut out).map_err(|e| format!("pcapng: {e}"))?;
    // The file carries the connection's TLS secrets: private to the user (0600), and a link planted in its place is
    // replaced, never followed.
    use std::os::unix::fs::OpenOptionsExt;
    let written = (|| {
        if path.symlink_metadata().is_ok() {
            std::fs::remove_file(&path)?;
        }
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        std::io::Write::write_all(&mut f, &out)
    })();
    written.map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Marks the failure messages of an observation as belonging to an earlier connection.
fn prefix(mut obs: Observation, what: &str) -> Observation {
    for side in [&mut obs.client, &mut obs.server] {
        if let SideOutcome::Failed(f) = side {
            f.message = format!("{what}{}", f.message);
        }
    }
    obs
}

#[cfg(test)]
mod tests {
    //! The runner's promises with misbehaving peers: a hang ends at the deadline on the side that hung, garbage is
    //! classified, and a panic stays inside its cell.

    use std::path::Path;

    use async_trait::async_trait;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Cells needing own processes are admitted only while a backend's distinct settings fit under the cap; the
    /// same settings shared by several cells count once, and ending cells give their room back.
    #[test]
    fn own_processes_are_admitted_under_the_cap() {
        let need = |k: &str| vec![(BackendId::Jsse, k.to_string())];
        let mut own = OwnProcesses::default();
        for k in ["a", "b", "c"].into_iter().take(crate::backend::OWN_PROCESSES) {
            assert!(own.fits(&need(k)));
            own.take(&need(k));
        }
        assert!(!own.fits(&need("d")), "a fourth setting waits");
        assert!(own.fits(&need("a")), "a setting in use is shared");
        let pair = vec![(BackendId::Jsse, "a".to_string()), (BackendId::Jsse, "d".to_string())];
        assert!(!own.fits(&pair));
        assert!(own.fits(&[(BackendId::Python, "x".to_string())]), "other backends have their own room");
        own.give_back(&need("b"));
        assert!(own.fits(&pair));
        own.take(&need("a"));
        own.give_back(&need("a"));
        assert!(!own.fits(&[(BackendId::Jsse, "b".to_string()), (BackendId::Jsse, "d".to_string())]));
    }
    use crate::backend::{Capabilities, OpensslBackend};
    use crate::scenario::{ClientConfig, Scenario, ServerConfig};

    /// Plays the server role badly, in one of several ways; claims to be `rustls` so cells can name it.
    struct Misbehaving {
        how: &'static str,
        caps: Capabilities,
    }

    impl Backend for Misbehaving {
        fn id(&self) -> BackendId {
            BackendId::Rustls
        }
        fn capabilities(&self, _: Role) -> &Capabilities {
            &self.caps
        }
        fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
            // Its capabilities are the openssl backend's; so are its facts.
            OpensslBackend::new().behaviour(role)
        }
        fn version(&self) -> String {
            format!("misbehaving ({})", self.how)
        }
        fn server(&self, _: &ServerConfig, _: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
            match self.how {
                "unsupported" => Err(ConfigError::unsupported("this server cannot express the config")),
                "refuses" => Err(ConfigError::new("the library refused the config")),
                how => Ok(Box::new(MisbehavingServer(how))),
            }
        }
        fn client(&self, _: &ClientConfig, _: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
            unreachable!("only plays the server")
        }
    }

    struct MisbehavingServer(&'static str);

    #[async_trait]
    impl Endpoint for MisbehavingServer {
        async fn run(&mut self, mut io: Conn, _keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
            match self.0 {
                "hang" => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!("the deadline ends the sleep")
                }
                "http" => {
                    let _ = io.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
                    Ok(SideOutcome::Established(Default::default()))
                }
                _ => panic!("a backend bug"),
            }
        }
    }

    fn context(how: &'static str, timeout: Duration) -> (Context, Arc<Scenario>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios/seed/tls13_success.yaml")]).unwrap();
        let openssl = OpensslBackend::new();
        let caps = openssl.capabilities(Role::Server).clone();
        let registry = Registry::new(vec![Arc::new(openssl), Arc::new(Misbehaving { how, caps })]);
        let ctx = Context { registry: Arc::new(registry), pki: Arc::new(pki), timeout, pcap: None };
        (ctx, Arc::new(catalog.scenarios.into_iter().next().unwrap()))
    }

    fn cell(s: &Arc<Scenario>) -> Cell {
        Cell { scenario: s.clone(), client: BackendId::Openssl, server: BackendId::Rustls }
    }

    /// A config a backend finds it cannot express only while building it is `unsupported` with the reason (never an
    /// `error`); a config it fails to build is an `error`.
    #[tokio::test]
    async fn a_config_found_inexpressible_at_build_time_is_unsupported() {
        let (ctx, s) = context("unsupported", Duration::from_secs(5));
        let r = ctx.run_cell(&cell(&s)).await;
        assert_eq!(r.status, Status::Unsupported, "{r:?}");
        assert_eq!(r.reason.as_deref(), Some("rustls as server: this server cannot express the config"));
        let (ctx, s) = context("refuses", Duration::from_secs(5));
        let r = ctx.run_cell(&cell(&s)).await;
        assert_eq!(
            (r.status, r.reason.as_deref()),
            (Status::Error, Some("rustls as server: the library refused the config"))
        );
    }

    #[tokio::test]
    async fn a_hanging_peer_ends_at_the_deadline_as_timeout() {
        let (ctx, s) = context("hang", Duration::from_millis(300));
        let start = Instant::now();
        let obs = ctx.observe(&cell(&s)).await.unwrap().observation;
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
        assert_eq!(obs.server.failure().map(|f| f.error), Some(ErrorClass::Timeout), "{}", obs.server);
        // The client waited for a ServerHello that never came: it hung too.
        assert_eq!(obs.client.failure().map(|f| f.error), Some(ErrorClass::Timeout), "{}", obs.client);
    }

    #[tokio::test]
    async fn an_http_answer_on_the_tls_port_fails_the_client_fast() {
        let (ctx, s) = context("http", Duration::from_secs(5));
        let obs = ctx.observe(&cell(&s)).await.unwrap().observation;
        let f = obs.client.failure().expect("the client cannot parse HTTP as TLS");
        assert_ne!(f.error, ErrorClass::Timeout, "{}", obs.client);
        assert!(f.message.contains("wrong version number") || f.message.contains("packet length"), "{}", f.message);
    }

    /// With one job slot, a `stall` cell (600 ms of waiting) does not hold up the cell after it: it waits in a slot
    /// of its own, so the other cell finishes first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_cell_does_not_take_a_jobs_slot() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = [root.join("scenarios/wire/stall.yaml"), root.join("scenarios/seed/tls13_success.yaml")];
        let (pki, catalog) = crate::Layout::at(root).load(&files).unwrap();
        let registry = Registry::new(vec![Arc::new(OpensslBackend::new())]);
        let ctx = Context::new(Arc::new(registry), Arc::new(pki));
        let mut scenarios: Vec<Arc<Scenario>> = catalog.scenarios.into_iter().map(Arc::new).collect();
        scenarios.sort_by_key(|s| s.wire.fault.is_none()); // the stall first
        assert_eq!(scenarios[0].wire.fault, Some(Fault::Stall));
        let cells = scenarios.iter().map(|s| {
            (s.id.clone(), Cell { scenario: s.clone(), client: BackendId::Openssl, server: BackendId::Openssl })
        });
        let mut done = Vec::new();
        ctx.run_each(cells, 1, |id, r| done.push((id, r.status))).await;
        let ids: Vec<&str> = done.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["seed::tls13_success", "wire::stall"]);
        assert!(done.iter().all(|(_, s)| *s == Status::Pass), "{done:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_backend_is_that_cells_error_only() {
        let (ctx, s) = context("panic", Duration::from_secs(5));
        let good = Cell { scenario: s.clone(), client: BackendId::Openssl, server: BackendId::Openssl };
        let results = ctx.run_all(vec![cell(&s), good], 2, None).await;
        assert_eq!(results[0].status, Status::Error);
        assert!(results[0].reason.as_deref().unwrap_or("").contains("panicked"), "{:?}", results[0].reason);
        assert_eq!(results[1].status, Status::Pass, "{:?}", results[1].mismatches);
    }
}
