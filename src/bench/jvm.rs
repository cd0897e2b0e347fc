//! The bare JSSE loop: a JVM running the jsse adapter (`peers/jsse/TlsPeer.java`) is asked, with a `bench` request,
//! to play K connections itself and to time them with `System.nanoTime`, so the figure is what a Java program sees
//! of its own handshakes, without the harness, the byte bridge or the JSON pipes.
//!
//! The JVM is started here with the flags the jsse backend gives a JVM with the default settings, in source-file mode
//! (`java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 TlsPeer.java`; the backend runs the same source compiled by javac when it can, which
//! changes how fast the JVM starts, not what a warm one costs), and warmed up with bench requests before anything is
//! timed. It is not the cells' JVM: the jsse backend keeps its processes to itself (see [`LAUNCH_FLAGS`]). Only
//! `tlsmatrix bench` sends `bench` requests; the reply is not part of the peer contract (docs/peers.md).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::scratch::Scratch;

/// The adapter, as shipped in the repository (the jsse backend embeds the same file).
const SOURCE: &str = include_str!("../../peers/jsse/TlsPeer.java");
/// What the jsse backend passes to `java` before the adapter, for every JVM it starts.
const LAUNCH_FLAGS: &[&str] = crate::backend::JVM_FLAGS;
/// How long the JVM may take to compile the adapter and say ready (the backend allows as much).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one bench request may take: its connections have 20 s socket timeouts in the JVM.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How many stderr lines are kept for an error message.
const STDERR_TAIL: usize = 20;

/// A running adapter JVM that answers bench requests, one at a time.
pub(super) struct Jvm {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    next_id: u64,
    /// Holds `TlsPeer.java` while the JVM runs.
    _dir: Scratch,
}

impl Jvm {
    /// Starts `java` on the adapter and waits until it is ready (it warms JSSE up before saying so).
    pub fn start(java: &Path) -> Result<Jvm, String> {
        let dir = Scratch::new("jsse")?;
        let source = dir.write("TlsPeer.java", SOURCE.as_bytes())?;
        let mut child = Command::new(java)
            .args(LAUNCH_FLAGS)
            .arg(&source)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", java.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the bench JVM started without piped stdio".into());
        };
        let (tx, lines) = channel();
        std::thread::Builder::new()
            .name("bench-jvm-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let keep = tail.clone();
        std::thread::Builder::new()
            .name("bench-jvm-stderr".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut t = keep.lock().unwrap_or_else(PoisonError::into_inner);
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let mut jvm = Jvm { child, stdin: Some(stdin), lines, stderr: tail, next_id: 1, _dir: dir };
        jvm.next_line(START_TIMEOUT, |m| m.get("ready").and_then(Value::as_bool) == Some(true))?;
        Ok(jvm)
    }

    /// K client connections, `threads` at a time, to `127.0.0.1:port`, verifying `server_name` against `trust_pem`.
    pub fn clients(
        &mut self,
        port: u16,
        count: u32,
        threads: usize,
        trust_pem: &str,
        server_name: &str,
    ) -> Result<Duration, String> {
        let id = self.send(json!({
            "role": "client", "connect": port, "count": count, "threads": threads,
            "trust_pem": trust_pem, "server_name": server_name,
        }))?;
        self.finish(id)
    }

    /// K server connections, `threads` at a time, serving `chain_pem` with `key_pem`: once the JVM listens, `dial`
    /// is called with its port and must make the K connections.
    pub fn servers(
        &mut self,
        count: u32,
        threads: usize,
        chain_pem: &str,
        key_pem: &str,
        dial: impl FnOnce(u16) -> Result<(), String>,
    ) -> Result<Duration, String> {
        let id = self.send(json!({
            "role": "server", "count": count, "threads": threads, "chain_pem": chain_pem, "key_pem": key_pem,
        }))?;
        let listening = self.next_line(REQUEST_TIMEOUT, |m| m.get("id").and_then(Value::as_u64) == Some(id))?;
        let Some(port) = listening.get("listening").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()) else {
            return Err(self.refused(&listening));
        };
        // The JVM's verdict says more than a dial that failed because the JVM gave up, so it is read either way.
        let dialed = dial(port);
        let timed = self.finish(id);
        match (dialed, timed) {
            (Ok(()), t) => t,
            (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(jvm)) => Err(format!("{e}; the JVM: {jvm}")),
        }
    }

    /// Writes one bench request and returns its id.
    fn send(&mut self, bench: Value) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut req = Map::new();
        req.insert("id".into(), id.into());
        req.insert("bench".into(), bench);
        let mut line = Value::Object(req).to_string();
        line.push('\n');
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        written.map_err(|e| format!("cannot write to the bench JVM: {e}{}", self.tail()))?;
        Ok(id)
    }

    /// Waits for the final reply to request `id` and returns the wall time of its connections, as the JVM measured it.
    fn finish(&mut self, id: u64) -> Result<Duration, String> {
        let reply = self.next_line(REQUEST_TIMEOUT, |m| {
            m.get("id").and_then(Value::as_u64) == Some(id) && !m.contains_key("listening")
        })?;
        let ns = reply.get("bench").and_then(|b| b.get("elapsed_ns")).and_then(Value::as_u64);
        match ns {
            Some(ns) => Ok(Duration::from_nanos(ns)),
            None => Err(self.refused(&reply)),
        }
    }

    /// The next JSON object the JVM writes that `wanted` accepts (other lines are skipped).
    fn next_line(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&Map<String, Value>) -> bool,
    ) -> Result<Map<String, Value>, String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&line) {
                        if wanted(&m) {
                            return Ok(m);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("the bench JVM did not answer within {} s{}", timeout.as_secs(), self.tail()));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Let the stderr thread catch the last words.
                    std::thread::sleep(Duration::from_millis(50));
                    return Err(format!("the bench JVM exited{}", self.tail()));
                }
            }
        }
    }

    /// A reply that is not a bench result, as an error.
    fn refused(&self, reply: &Map<String, Value>) -> String {
        match reply.get("error").and_then(Value::as_str) {
            Some(e) => format!("the bench JVM failed: {e}{}", self.tail()),
            None => format!("the bench JVM answered {}", Value::Object(reply.clone())),
        }
    }

    /// The JVM's last stderr lines, for an error message.
    fn tail(&self) -> String {
        let t = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if t.is_empty() {
            return String::new();
        }
        format!("; its last stderr lines:\n{}", t.iter().cloned().collect::<Vec<_>>().join("\n"))
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        // End of stdin ends the adapter; the kill is for a JVM stuck in a request.
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
