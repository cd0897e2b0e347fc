//! One tool process per connection, and the byte bridge between the harness's socket and the tool's own connection.
//!
//! The process is a `std::process::Child` whose pipes are turned into tokio pipes (the crate is built without tokio's
//! `process` feature). [`Tool`] kills and reaps the child when it drops, so a cell whose future the harness drops at
//! its deadline leaves neither a running process nor a zombie behind.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::unix::pipe;

pub(crate) use crate::backend::bridge::{Tapped, bridge};

/// How long a tool may stay silent on its pipes before we give up on it (the harness's deadline is usually shorter).
pub(crate) const PIPE_TIMEOUT: Duration = Duration::from_secs(20);

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Invocation {
    /// The executable, resolved on PATH.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment.
    pub env: Vec<(String, OsString)>,
}

impl Invocation {
    /// The command line, for error messages.
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// A running tool: its stdin, its stdout and stderr as collected so far.
pub(crate) struct Tool {
    child: Child,
    /// Its stdin; dropping it closes the pipe (the tools read that as "done": s_client sends close_notify).
    pub stdin: Option<pipe::Sender>,
    /// Its stdout.
    pub stdout: Output,
    /// Its stderr.
    pub stderr: Output,
}

impl Tool {
    /// Starts the tool in `dir` with piped stdio. The trust-store environment points nowhere, so no tool can fall
    /// back to the system's CAs.
    pub fn spawn(inv: &Invocation, dir: &Path) -> io::Result<Tool> {
        let mut cmd = Command::new(&inv.program);
        cmd.args(&inv.args)
            .current_dir(dir)
            .env("SSL_CERT_FILE", "/dev/null")
            .env("SSL_CERT_DIR", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &inv.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(i), Some(o), Some(e)) = pipes else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the child has no piped stdio"));
        };
        let tool = Tool {
            stdin: Some(pipe::Sender::from_owned_fd(OwnedFd::from(i))?),
            stdout: Output::new(pipe::Receiver::from_owned_fd(OwnedFd::from(o))?),
            stderr: Output::new(pipe::Receiver::from_owned_fd(OwnedFd::from(e))?),
            child,
        };
        Ok(tool)
    }

    /// Reads both output pipes to their end and reaps the process; stdin is closed first.
    pub async fn finish(&mut self) -> Option<ExitStatus> {
        self.stdin = None;
        let _ = tokio::join!(self.stdout.read_to_end(), self.stderr.read_to_end());
        self.wait().await
    }

    /// Waits for the process to exit (polling: the pipes are already closed, so this is short).
    pub async fn wait(&mut self) -> Option<ExitStatus> {
        for _ in 0..2000 {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s),
                Ok(None) => tokio::time::sleep(Duration::from_millis(2)).await,
                Err(_) => return None,
            }
        }
        None
    }

    /// The process id.
    #[cfg(test)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends the process now.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// Writes to a tool's stdin (ignoring a tool that already went away: its output says why), dropping it then.
async fn write_stdin(stdin: &mut Option<pipe::Sender>, bytes: &[u8]) {
    if let Some(pipe) = stdin {
        if pipe.write_all(bytes).await.is_err() {
            *stdin = None;
        }
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        self.kill();
        let _ = self.child.wait();
    }
}

/// What is kept of a tool's stdout or stderr: gnutls-serv's level-5 debug log of one connection is some 100 KiB, so a
/// tool printing more is flooding; the rest is read (the tool never blocks on a full pipe) and dropped.
const OUTPUT_LIMIT: usize = 16 << 20;

/// One output pipe and everything read from it so far (at most [`OUTPUT_LIMIT`] bytes).
pub(crate) struct Output {
    pipe: pipe::Receiver,
    /// The bytes so far.
    pub buf: Vec<u8>,
    /// Whether the pipe reached its end.
    pub eof: bool,
    /// Bytes read past the limit and dropped.
    dropped: usize,
}

impl Output {
    fn new(pipe: pipe::Receiver) -> Output {
        Output { pipe, buf: Vec::new(), eof: false, dropped: 0 }
    }

    /// Reads more; false at the end of the pipe (or after [`PIPE_TIMEOUT`] of silence, or an error).
    async fn more(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(PIPE_TIMEOUT, self.pipe.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                let keep = n.min(OUTPUT_LIMIT.saturating_sub(self.buf.len()));
                self.buf.extend_from_slice(&chunk[..keep]);
                self.dropped += n - keep;
                true
            }
            _ => {
                self.eof = true;
                false
            }
        }
    }

    /// Reads until `found` holds for the bytes so far (true) or the pipe ends (false).
    pub async fn read_until(&mut self, found: impl Fn(&[u8]) -> bool) -> bool {
        loop {
            if found(&self.buf) {
                return true;
            }
            if !self.more().await {
                return false;
            }
        }
    }

    /// Reads until the pipe ends.
    pub async fn read_to_end(&mut self) {
        while self.more().await {}
    }

    /// The output as text (saying how much was dropped past the limit).
    pub fn text(&self) -> String {
        let mut t = String::from_utf8_lossy(&self.buf).into_owned();
        if self.dropped > 0 {
            t.push_str(&format!("\n[... {} more bytes of output dropped]", self.dropped));
        }
        t
    }
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// How a run talks to the tool through its stdin once connected.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Script {
    /// Written as soon as the tool is connected.
    pub first: Option<&'static [u8]>,
    /// When the tool's stdout shows this...
    pub trigger: &'static [u8],
    /// ...write this to its stdin; `None` closes stdin instead.
    pub reply: Option<&'static [u8]>,
    /// The tool serves forever (gnutls-serv): end it as soon as its connection ended.
    pub persistent: bool,
}

/// One connection's worth of a tool's life.
pub(crate) struct Session {
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// How it exited (None: killed after its connection ended, or did not exit in time).
    pub status: Option<ExitStatus>,
    /// Whether the bridge got a connection at all.
    pub connected: bool,
    /// Whether the script's trigger showed up.
    pub triggered: bool,
    /// What crossed the bridge.
    pub tapped: Tapped,
}

impl Session {
    /// The bytes the server sent, whichever side of the bridge the tool was on.
    pub(crate) fn server_bytes(&self, role: crate::vocab::Role) -> &[u8] {
        match role {
            crate::vocab::Role::Server => &self.tapped.from_tool,
            crate::vocab::Role::Client => &self.tapped.to_tool,
        }
    }
}

/// After the connection (or the tool) ended, how long the other may take before it is ended for it.
const GRACE: Duration = Duration::from_millis(300);

/// Plays the script over an established bridge and collects everything.
pub(crate) async fn drive(mut tool: Tool, io: TcpStream, conn: TcpStream, script: Script) -> Session {
    let mut tapped = Tapped::default();
    let mut triggered = false;
    {
        let bridge = bridge(io, conn, &mut tapped, std::future::pending());
        tokio::pin!(bridge);
        let Tool { stdin, stdout, stderr, .. } = &mut tool;
        let talk = async {
            if let Some(first) = script.first {
                write_stdin(stdin, first).await;
            }
            if stdout.read_until(|b| contains(b, script.trigger)).await {
                triggered = true;
                match script.reply {
                    Some(r) => write_stdin(stdin, r).await,
                    None => *stdin = None,
                }
            }
            stdout.read_to_end().await;
        };
        // stderr is read all along, so a tool that says a lot there (gnutls-serv's debug log) never blocks on it.
        let conversation = async {
            tokio::join!(talk, stderr.read_to_end());
        };
        tokio::pin!(conversation);
        tokio::select! {
            () = &mut bridge => {
                if !script.persistent {
                    let _ = tokio::time::timeout(GRACE, &mut conversation).await;
                }
            }
            () = &mut conversation => {
                let _ = tokio::time::timeout(GRACE, &mut bridge).await;
            }
        }
    }
    if script.persistent {
        tool.kill();
    }
    let status = match tokio::time::timeout(GRACE, tool.finish()).await {
        Ok(s) => s,
        Err(_) => {
            tool.kill();
            tool.finish().await
        }
    };
    Session { stdout: tool.stdout.text(), stderr: tool.stderr.text(), status, connected: true, triggered, tapped }
}

/// A tool that never got as far as a connection (bad arguments, unreadable files, a failed bind).
pub(crate) async fn never_connected(mut tool: Tool) -> Session {
    tool.kill();
    let status = tool.finish().await;
    Session {
        stdout: tool.stdout.text(),
        stderr: tool.stderr.text(),
        status,
        connected: false,
        triggered: false,
        tapped: Tapped::default(),
    }
}
