//! Adapter processes: started on first use, shared by every cell that needs the same launch settings, answered
//! concurrently, restarted after they die.
//!
//! Nothing here belongs to a tokio runtime: `cargo test` gives every trial a runtime of its own, and a process must
//! outlive them all. Responses are read by a plain thread and handed to each request's unbounded channel, whose sender
//! needs no runtime; stdin is written under a mutex, one whole line at a time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::observation::SideOutcome;

/// How many stderr lines of an adapter are kept for the error message when it dies.
const STDERR_TAIL: usize = 20;
/// The longest stderr line kept (the rest of the line is read and dropped): the tail stays under 20 x 2 KiB.
const STDERR_LINE: usize = 2048;
/// The longest stdout line an adapter may write. Replies are one JSON object a line; a longer one (or output without
/// a newline) breaks the contract, and the process is stopped instead of being read into memory without end.
const STDOUT_LINE: usize = 1 << 20;
/// The longest native error text kept from an adapter's outcome; a longer one is cut with a marker saying how much.
pub(crate) const MESSAGE_LIMIT: usize = 4096;
/// At most this many adapter processes of one backend run at once. Every distinct launch setting (a `java_security`
/// map, a JVM-wide group list) needs a process of its own, and each JVM holds tens of MiB to hundreds under load.
///
/// A cell that needs another process retires the least recently used idle one (never the one with default settings,
/// nor one still starting) and waits until a process has really exited: a retired process that a cell still holds
/// lives until that cell ends, and counts until then. See [`STALLED`] for the one case that may exceed the cap.
pub(crate) const MAX_PROCESSES: usize = 4;
/// When every running process is busy and no request of the pool has finished for this long, the cells holding them
/// may be waiting for a process of their own (a jsse client and a jsse server with different settings), which could
/// never start: then one more starts, beyond the cap, and says so in the log. Busy processes that finish requests
/// (the normal case) keep new ones waiting.
const STALLED: Duration = Duration::from_secs(3);

/// Request ids, unique in this process (across adapters, so a log line names one request).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical section here is one step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What distinguishes one adapter process from another: settings that a runtime reads once per process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProcessKey {
    /// System properties (`-Dname=value` for a JVM).
    pub system: BTreeMap<String, String>,
    /// Security properties (a `java.security` override file for a JVM).
    pub security: BTreeMap<String, String>,
}

/// One message from the adapter about one request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// The server is listening on this loopback port.
    Listening(u16),
    /// The connection is over; what the adapter's side saw.
    Outcome(SideOutcome),
    /// One line of the connection's key log (NSS format), for the harness to decrypt the recorded bytes with.
    KeyLog(String),
    /// The adapter cannot express this configuration.
    Unsupported(String),
    /// The adapter failed to handle the request (a fault, not a TLS outcome).
    Error(String),
    /// The process ended before answering.
    Died(String),
}

impl Reply {
    /// Whether no further message follows for the request.
    fn is_final(&self) -> bool {
        !matches!(self, Reply::Listening(_) | Reply::KeyLog(_))
    }
}

enum State {
    Starting,
    Ready(String),
    Dead(String),
}

type Pending = Arc<Mutex<HashMap<u64, UnboundedSender<Reply>>>>;

/// A running adapter.
pub(crate) struct Process {
    name: String,
    child: Mutex<Child>,
    stdin: Mutex<ChildStdin>,
    pending: Pending,
    state: Arc<(Mutex<State>, Condvar)>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    last_used: Mutex<Instant>,
    /// The pool's count of running processes (decremented when this one has exited) and of finished requests.
    counters: Arc<Counters>,
}

/// What a pool counts across its processes, retired ones included.
#[derive(Default)]
struct Counters {
    /// Processes started and not yet exited.
    live: std::sync::atomic::AtomicUsize,
    /// Requests finished or abandoned: progress, which tells a busy pool from a stuck one.
    finished: AtomicU64,
}

/// A request in flight: its replies arrive on `replies`; dropping it (the cell's deadline passed) forgets the request,
/// so a late answer is discarded.
pub(crate) struct Ticket {
    pub id: u64,
    pub replies: UnboundedReceiver<Reply>,
    pending: Pending,
    counters: Arc<Counters>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.pending).remove(&self.id);
        self.counters.finished.fetch_add(1, Ordering::Relaxed);
    }
}

impl Process {
    /// Starts `cmd` with piped stdio and the threads that read its output.
    fn spawn(name: String, mut cmd: Command, counters: Arc<Counters>) -> Result<Arc<Process>, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the {name} ({cmd:?}): {e}"))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(format!("the {name} started without piped stdio"));
        };
        let p = Arc::new(Process {
            name,
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            pending: Arc::default(),
            state: Arc::new((Mutex::new(State::Starting), Condvar::new())),
            stderr: Arc::default(),
            last_used: Mutex::new(Instant::now()),
            counters,
        });
        p.counters.live.fetch_add(1, Ordering::SeqCst);
        let tail = p.stderr.clone();
        let mut log = peer_log(&p.name, p.child_id());
        std::thread::Builder::new()
            .name("peer-stderr".into())
            .spawn(move || {
                let mut r = BufReader::new(stderr);
                while let Some(line) = bounded_line(&mut r, STDERR_LINE, true) {
                    let line = String::from_utf8_lossy(&line).into_owned();
                    if let Some(f) = log.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    let mut t = lock(&tail);
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        // The reader holds no strong reference to the process, so dropping the last `Arc` kills the child.
        let (pending, state, tail, name) = (p.pending.clone(), p.state.clone(), p.stderr.clone(), p.name.clone());
        std::thread::Builder::new()
            .name("peer-stdout".into())
            .spawn(move || {
                let mut r = BufReader::new(stdout);
                let mut too_long = false;
                while let Some(line) = bounded_line(&mut r, STDOUT_LINE, false) {
                    if line.len() > STDOUT_LINE {
                        too_long = true;
                        break;
                    }
                    dispatch(&String::from_utf8_lossy(&line), &pending, &state);
                }
                // End of output: the process is gone (or closed stdout, which the contract forbids), or it broke the
                // contract with a line without end; either way it serves no more requests (the pool replaces it, and
                // dropping it kills it).
                std::thread::sleep(Duration::from_millis(50)); // let the stderr thread catch the last words
                let tail = lock(&tail).iter().cloned().collect::<Vec<_>>().join("\n");
                let why = if too_long {
                    format!(
                        "the {name} wrote more than {} MiB on stdout without a newline (the contract's replies are one \
                         JSON object a line): stopped; its last stderr lines:\n{tail}",
                        STDOUT_LINE >> 20
                    )
                } else {
                    format!("the {name} exited; its last stderr lines:\n{tail}")
                };
                *lock(&state.0) = State::Dead(why.clone());
                state.1.notify_all();
                for (_, tx) in lock(&pending).drain() {
                    let _ = tx.send(Reply::Died(why.clone()));
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        Ok(p)
    }

    /// Blocks until the adapter said it is ready (its runtime is up), and returns the version it reported.
    pub fn wait_ready(&self, timeout: Duration) -> Result<String, String> {
        let (m, cv) = &*self.state;
        let (guard, _) = cv
            .wait_timeout_while(lock(m), timeout, |s| matches!(s, State::Starting))
            .unwrap_or_else(PoisonError::into_inner);
        match &*guard {
            State::Ready(v) => Ok(v.clone()),
            State::Dead(why) => Err(why.clone()),
            State::Starting => Err(format!("the {} did not become ready within {} s", self.name, timeout.as_secs())),
        }
    }

    fn child_id(&self) -> u32 {
        lock(&self.child).id()
    }

    fn is_dead(&self) -> bool {
        matches!(*lock(&self.state.0), State::Dead(_))
    }

    fn is_ready(&self) -> bool {
        matches!(*lock(&self.state.0), State::Ready(_))
    }

    fn is_idle(&self) -> bool {
        lock(&self.pending).is_empty()
    }

    /// Sends `request` (a JSON object; its `id` is set here) and returns the ticket its replies arrive on.
    pub fn request(&self, mut request: serde_json::Map<String, Value>) -> Result<Ticket, String> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        request.insert("id".into(), id.into());
        let (tx, rx) = unbounded_channel();
        lock(&self.pending).insert(id, tx);
        *lock(&self.last_used) = Instant::now();
        let ticket = Ticket { id, replies: rx, pending: self.pending.clone(), counters: self.counters.clone() };
        if let State::Dead(why) = &*lock(&self.state.0) {
            return Err(why.clone());
        }
        let mut line = Value::Object(request).to_string();
        line.push('\n');
        let mut stdin = lock(&self.stdin);
        stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).map_err(|e| {
            let tail = lock(&self.stderr).iter().cloned().collect::<Vec<_>>().join("\n");
            format!("cannot write to the {}: {e}; its last stderr lines:\n{tail}", self.name)
        })?;
        Ok(ticket)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
        self.counters.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// With `TLSMATRIX_PEER_LOG=DIR`, where an adapter's whole stderr goes (`DIR/<name>-<pid>.log`, created 0600): a JVM
/// run with `JAVA_TOOL_OPTIONS=-Djavax.net.debug=ssl` says there which alert it sent, which the wire cannot show
/// for an encrypted one. Without it only the last lines are kept, for the error message of a dead adapter.
fn peer_log(name: &str, pid: u32) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::var_os("TLSMATRIX_PEER_LOG").filter(|d| !d.is_empty())?;
    let path = std::path::Path::new(&dir).join(format!("{}-{pid}.log", name.replace(' ', "-")));
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).ok()
}

/// The next line of `r` (without its newline), at most `limit` bytes: with `cut`, the rest of a longer line is read
/// and dropped; without, a longer line comes back as `limit + 1` bytes for the caller to refuse. `None` at the end.
fn bounded_line(r: &mut impl BufRead, limit: usize, cut: bool) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut line = Vec::new();
    let n = r.by_ref().take(limit as u64 + 1).read_until(b'\n', &mut line).ok()?;
    if n == 0 {
        return None;
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > limit {
        if !cut {
            return Some(line);
        }
        line.truncate(limit);
        // Drop the rest of the line, a buffer at a time.
        loop {
            let buf = r.fill_buf().ok()?;
            if buf.is_empty() {
                break;
            }
            match buf.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    r.consume(i + 1);
                    break;
                }
                None => {
                    let all = buf.len();
                    r.consume(all);
                }
            }
        }
    }
    Some(line)
}

/// Cuts an over-long native error text, saying how much went, and the line break some runtimes end it with (Node 8's
/// OpenSSL 1.0.2 errors end in a newline, which left an empty line in every report that quotes them).
pub(crate) fn cut_message(message: &mut String) {
    message.truncate(message.trim_end().len());
    crate::error::cut_to(message, MESSAGE_LIMIT);
}

/// Routes one line of adapter output to the request it answers.
fn dispatch(line: &str, pending: &Pending, state: &(Mutex<State>, Condvar)) {
    let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(line) else {
        return; // not a contract line: ignored, as stray output of a runtime would be
    };
    if msg.get("ready").and_then(Value::as_bool) == Some(true) {
        let version = msg.get("java_version").or(msg.get("version")).and_then(Value::as_str).unwrap_or("");
        *lock(&state.0) = State::Ready(version.to_string());
        state.1.notify_all();
        return;
    }
    let Some(id) = msg.get("id").and_then(Value::as_u64) else { return };
    let reply = if let Some(port) = msg.get("listening") {
        match port.as_u64().and_then(|p| u16::try_from(p).ok()) {
            Some(p) => Reply::Listening(p),
            None => Reply::Error(format!("`listening` must be a port number, got {port}")),
        }
    } else if let Some(o) = msg.get("outcome") {
        match serde_json::from_value::<SideOutcome>(o.clone()) {
            Ok(mut o) => {
                if let SideOutcome::Failed(f) = &mut o {
                    cut_message(&mut f.message);
                }
                Reply::Outcome(o)
            }
            Err(e) => Reply::Error(format!("the outcome does not follow the contract ({e}): {o}")),
        }
    } else if let Some(line) = msg.get("keylog") {
        match line.as_str() {
            Some(l) if l.len() <= 512 && l.split(' ').count() == 3 => Reply::KeyLog(l.to_string()),
            _ => {
                let mut shown = line.to_string();
                cut_message(&mut shown);
                Reply::Error(format!("`keylog` must be one NSS key log line, got {shown}"))
            }
        }
    } else if let Some(why) = msg.get("unsupported") {
        Reply::Unsupported(why.as_str().map_or_else(|| why.to_string(), String::from))
    } else if let Some(e) = msg.get("error") {
        Reply::Error(e.as_str().map_or_else(|| e.to_string(), String::from))
    } else {
        Reply::Error(format!("a reply with none of listening, outcome, unsupported, error: {line}"))
    };
    let reply = match reply {
        Reply::Unsupported(mut m) => {
            cut_message(&mut m);
            Reply::Unsupported(m)
        }
        Reply::Error(mut m) => {
            cut_message(&mut m);
            Reply::Error(m)
        }
        other => other,
    };
    let mut map = lock(pending);
    let done = reply.is_final();
    if let Some(tx) = map.get(&id) {
        let _ = tx.send(reply); // a closed receiver is a cell that already gave up
    }
    if done {
        map.remove(&id);
    }
}

/// Runs a blocking wait without stalling other cells: on a multi-threaded tokio runtime (`tlsmatrix run`) the worker
/// hands its other tasks to the rest of the pool first; a current-thread runtime (one `cargo test` trial) runs only
/// this cell anyway, and outside a runtime there is nothing to stall.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The adapter processes of one backend, by launch settings.
pub(crate) struct Pool {
    name: &'static str,
    procs: Mutex<HashMap<ProcessKey, Arc<Process>>>,
    version: Mutex<Option<String>>,
    /// Launch settings whose process never became ready in this run, with why: every later cell needing them fails at
    /// once with the reason instead of waiting out the start-up deadline again.
    failed: Mutex<HashMap<ProcessKey, String>>,
    counters: Arc<Counters>,
}

impl Pool {
    /// An empty pool; `name` says what the processes are in error messages (`jsse adapter`).
    pub fn new(name: &'static str) -> Pool {
        Pool {
            name,
            procs: Mutex::default(),
            version: Mutex::default(),
            failed: Mutex::default(),
            counters: Arc::default(),
        }
    }

    /// The runtime version a ready process reported, if one has started.
    pub fn version(&self) -> Option<String> {
        lock(&self.version).clone()
    }

    /// The live process for `key`, started with `launch` if there is none (or the last one died), and ready.
    ///
    /// This blocks while a runtime starts (about 1.5 s for a JVM): that happens while a cell builds its endpoints,
    /// before its deadline starts, so the start-up is never mistaken for a slow handshake. A multi-threaded tokio
    /// runtime moves its other cells off this thread first, so their deadlines are not eaten either.
    pub fn get(
        &self,
        key: &ProcessKey,
        launch: impl FnOnce() -> Result<Command, String>,
        ready_within: Duration,
    ) -> Result<Arc<Process>, String> {
        if let Some(why) = lock(&self.failed).get(key) {
            return Err(format!(
                "the {} did not start earlier in this run, so it is not tried again: {why}",
                self.name
            ));
        }
        let p = blocking(|| self.slot(key, launch, ready_within))?;
        let v = match blocking(|| p.wait_ready(ready_within)) {
            Ok(v) => v,
            Err(why) => {
                // Never ready: stop it (dropping the last reference kills it) and remember why.
                lock(&self.procs).remove(key);
                lock(&self.failed).insert(key.clone(), why.clone());
                return Err(why);
            }
        };
        lock(&self.version).get_or_insert(v);
        Ok(p)
    }

    /// The process for `key` from the pool, or a new one once fewer than [`MAX_PROCESSES`] run.
    fn slot(
        &self,
        key: &ProcessKey,
        launch: impl FnOnce() -> Result<Command, String>,
        patience: Duration,
    ) -> Result<Arc<Process>, String> {
        let started = Instant::now();
        let (mut seen, mut since) = (self.counters.finished.load(Ordering::Relaxed), Instant::now());
        loop {
            {
                let mut procs = lock(&self.procs);
                if let Some(p) = procs.get(key).filter(|p| !p.is_dead()) {
                    return Ok(p.clone());
                }
                procs.retain(|_, p| !p.is_dead());
                if self.counters.live.load(Ordering::SeqCst) >= MAX_PROCESSES {
                    // Only a ready, idle process with settings of its own may go: one still starting is about to
                    // serve the cell that started it, and the default settings' process serves most cells of every
                    // run (stopping it costs a JVM start and its warm-up each time it comes back).
                    let lru = procs
                        .iter()
                        .filter(|(k, p)| *k != key && **k != ProcessKey::default() && p.is_idle() && p.is_ready())
                        .min_by_key(|(_, p)| *lock(&p.last_used))
                        .map(|(k, _)| k.clone());
                    if let Some(k) = lru {
                        procs.remove(&k); // exits now, or when the last cell holding it ends
                    }
                }
                let live = self.counters.live.load(Ordering::SeqCst);
                let stuck = since.elapsed() >= STALLED;
                if live < MAX_PROCESSES || stuck || started.elapsed() >= patience {
                    if live >= MAX_PROCESSES {
                        eprintln!(
                            "tlsmatrix: {live} processes of the {} run and none finished a request for {} s: \
                             starting one more beyond the cap of {MAX_PROCESSES}",
                            self.name,
                            since.elapsed().as_secs()
                        );
                    }
                    let p = Process::spawn(self.name.to_string(), launch()?, self.counters.clone())?;
                    procs.insert(key.clone(), p.clone());
                    return Ok(p);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
            let now = self.counters.finished.load(Ordering::Relaxed);
            if now != seen {
                (seen, since) = (now, Instant::now());
            }
        }
    }

    /// Processes of this pool that have not exited, retired ones that cells still hold included.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.counters.live.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_native_message_loses_its_trailing_line_break_and_keeps_its_text() {
        let mut m =
            String::from("error:1407742E:SSL routines:SSL23_GET_SERVER_HELLO:tlsv1 alert protocol version:\n\n");
        cut_message(&mut m);
        assert_eq!(m, "error:1407742E:SSL routines:SSL23_GET_SERVER_HELLO:tlsv1 alert protocol version:");
    }

    /// A stand-in adapter: says it is ready, then reads requests and never answers, as a busy JVM would.
    fn fake() -> Result<Command, String> {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo '{\"ready\":true,\"version\":\"fake\"}'; exec cat >/dev/null"]);
        Ok(cmd)
    }

    fn key(n: usize) -> ProcessKey {
        ProcessKey { system: BTreeMap::from([("n".to_string(), n.to_string())]), ..ProcessKey::default() }
    }

    /// The cap holds: with four processes busy, a fifth setting waits (no fifth process), and starts once a cell
    /// ends and its process has exited; a retired process a cell still holds counts until then.
    #[test]
    fn the_process_cap_holds_while_the_pool_is_busy() {
        let pool = Arc::new(Pool::new("fake adapter"));
        let mut held = Vec::new();
        for n in 0..MAX_PROCESSES {
            let p = pool.get(&key(n), fake, Duration::from_secs(10)).unwrap();
            let t = p.request(serde_json::Map::new()).unwrap();
            held.push((p, t));
        }
        assert_eq!(pool.live(), MAX_PROCESSES);
        let waiting = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.get(&key(99), fake, Duration::from_secs(30)).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(1500)); // well under STALLED
        assert_eq!(pool.live(), MAX_PROCESSES, "no fifth process while four are busy");
        assert!(!waiting.is_finished());
        drop(held.remove(1)); // a cell ends: its process is idle, retired, and exits
        waiting.join().unwrap().unwrap();
        assert_eq!(pool.live(), MAX_PROCESSES);
    }

    /// Key log lines come before the outcome and do not end the request; a line that is not one NSS key log line
    /// is a contract error, never pushed into a cell's key log.
    #[test]
    fn key_log_lines_precede_the_outcome_and_a_bad_one_is_an_error() {
        fn adapter() -> Result<Command, String> {
            let script = r#"echo '{"ready":true,"version":"fake"}'
while read -r line; do
  id=$(printf '%s' "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
  if printf '%s' "$line" | grep -q '"bad"'; then
    echo "{\"id\":$id,\"keylog\":\"not a key log line\"}"
  else
    echo "{\"id\":$id,\"keylog\":\"CLIENT_RANDOM 00aa 11bb\"}"
    echo "{\"id\":$id,\"outcome\":{\"result\":\"established\",\"version\":\"tls1.3\",\"cipher\":null,\"alpn\":null}}"
  fi
done"#;
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]);
            Ok(cmd)
        }
        let pool = Pool::new("fake adapter");
        let p = pool.get(&ProcessKey::default(), adapter, Duration::from_secs(10)).unwrap();
        let mut t = p.request(serde_json::Map::new()).unwrap();
        assert!(matches!(t.replies.blocking_recv(), Some(Reply::KeyLog(l)) if l == "CLIENT_RANDOM 00aa 11bb"));
        assert!(matches!(t.replies.blocking_recv(), Some(Reply::Outcome(_))));
        let mut bad = serde_json::Map::new();
        bad.insert("bad".into(), true.into());
        let mut t = p.request(bad).unwrap();
        match t.replies.blocking_recv() {
            Some(Reply::Error(e)) => assert!(e.contains("`keylog` must be one NSS key log line"), "{e}"),
            _ => panic!("a malformed key log line must be an error"),
        }
    }
}
