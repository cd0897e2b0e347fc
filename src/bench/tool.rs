//! The bare loops of the command-line peers (openssl-cli, gnutls): one tool process per connection, the way a
//! shell loop in the spirit of `openssl s_time` uses them, with the arguments a user types and nothing the harness
//! adds for its own sake (no `-msg` log, no key log, no `--debug`).
//!
//! - client: `openssl s_client -connect 127.0.0.1:P -servername localhost -verify_hostname localhost -CAfile ca.pem
//!   -verify_return_error -quiet -no_ign_eof` or `gnutls-cli --x509cafile ca.pem --verify-hostname=localhost
//!   --sni-hostname=localhost --logfile=/dev/null -p P 127.0.0.1`, against the bare openssl server: the ping goes
//!   to its stdin, and once its echo is on stdout, stdin is closed (the tool sends close_notify and exits);
//! - server: `openssl s_server -accept 127.0.0.1:0 -naccept 1 ...` (the echo goes through its stdin, as in a cell)
//!   or `gnutls-serv --echo --port=0 ...` (kept on loopback, and made to print its port, by the preload library
//!   the gnutls backend uses), with the bare openssl client connecting once; gnutls-serv is ended after it.
//!
//! Each connection includes starting the process and waiting for it to exit: that is what such a loop costs its
//! user, and what a cell with the tool costs the harness.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::bare::{self, BareClient};
use super::scratch::Scratch;
use crate::backend::{PING, pem_chain};
use crate::pki::Pki;
use crate::vocab::BackendId;

/// How long one connection (process start to exit) may take before it is ended and the loop fails.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(20);
/// The preload library that keeps gnutls-serv on 127.0.0.1 and prints its port (src/backend/cli/loopback.c, built
/// by build.rs; empty when it could not be built, and then the gnutls server is unavailable anyway).
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/loopback.so"));
/// The line the preload library writes to stderr once gnutls-serv listens.
const LISTENING: &str = "tlsmatrix-listening ";

/// The bench scenario's PEM files, written once for every process of a loop.
pub(super) struct Files {
    /// The trusted root (`root-a`).
    trust: PathBuf,
    /// The server's leaf (`server-ec`).
    leaf: PathBuf,
    /// Its intermediates.
    chain: Option<PathBuf>,
    /// Leaf then intermediates (what gnutls-serv reads).
    bundle: PathBuf,
    /// The server's PKCS#8 key.
    key: PathBuf,
    /// The gnutls-serv preload library.
    shim: PathBuf,
    /// The directory holding them.
    _dir: Scratch,
}

impl Files {
    /// Writes the files of the bench scenario's server `cert` and the client's `root`.
    pub fn write(pki: &Pki, cert: &str, root: &str) -> Result<Files, String> {
        let dir = Scratch::new("tools")?;
        let cred = pki.get(cert).ok_or_else(|| format!("no fixture {cert}"))?;
        let ca = pki.get(root).ok_or_else(|| format!("no fixture {root}"))?;
        let certs = cred.chain(Default::default());
        let chain = match certs.len() {
            1 => None,
            _ => Some(dir.write("server.chain.pem", &pem_chain(&certs[1..]))?),
        };
        Ok(Files {
            trust: dir.write("trust.pem", &pem_chain(std::slice::from_ref(&ca.cert)))?,
            leaf: dir.write("server.crt", &pem_chain(&certs[..1]))?,
            chain,
            bundle: dir.write("server.bundle.pem", &pem_chain(&certs))?,
            key: dir.write("server.key", &cred.key_pkcs8_pem())?,
            shim: dir.write("loopback.so", SHIM)?,
            _dir: dir,
        })
    }
}

/// The client tool's command for one connection to `127.0.0.1:port`, verifying `localhost`.
pub(super) fn client_command(peer: BackendId, program: &Path, files: &Files, port: u16) -> Result<Command, String> {
    let mut cmd = Command::new(program);
    match peer {
        BackendId::OpensslCli => {
            // `-quiet` keeps stdout to the echo; it implies -ign_eof, which `-no_ign_eof` undoes, so the end of
            // stdin makes s_client send close_notify and exit.
            cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
                .args(["-servername", "localhost", "-verify_hostname", "localhost", "-CAfile"])
                .arg(&files.trust)
                .args(["-verify_return_error", "-quiet", "-no_ign_eof"]);
        }
        BackendId::Gnutls => {
            // `--logfile` takes the informational messages off stdout, so it holds the echo alone.
            let mut ca = OsString::from("--x509cafile=");
            ca.push(&files.trust);
            cmd.arg(ca)
                .args(["--verify-hostname=localhost", "--sni-hostname=localhost", "--logfile=/dev/null"])
                .args(["-p", &port.to_string(), "127.0.0.1"]);
        }
        other => return Err(format!("{other} is not a command-line peer")),
    }
    Ok(cmd)
}

/// The server tool's command for one connection, and whether it serves on after it (gnutls-serv does: it is ended
/// once its connection is over).
pub(super) fn server_command(peer: BackendId, program: &Path, files: &Files) -> Result<(Command, bool), String> {
    let mut cmd = Command::new(program);
    match peer {
        BackendId::OpensslCli => {
            cmd.args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cert"])
                .arg(&files.leaf)
                .arg("-key")
                .arg(&files.key);
            if let Some(chain) = &files.chain {
                cmd.arg("-cert_chain").arg(chain);
            }
            Ok((cmd, false))
        }
        BackendId::Gnutls => {
            let (mut cert, mut key) = (OsString::from("--x509certfile="), OsString::from("--x509keyfile="));
            cert.push(&files.bundle);
            key.push(&files.key);
            cmd.args(["--echo", "--port=0", "--disable-client-cert"]).arg(cert).arg(key).env("LD_PRELOAD", &files.shim);
            Ok((cmd, true))
        }
        other => Err(format!("{other} is not a command-line peer")),
    }
}

/// One client process: started, given the ping, its stdin closed once the echo is back, waited for.
pub(super) async fn client_once(cmd: Command) -> Result<(), String> {
    let mut run = Running::spawn(cmd)?;
    let talked = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        let Running { stdin, stdout, stderr, .. } = &mut run;
        let talk = async {
            if let Some(pipe) = stdin.as_mut() {
                pipe.write_all(PING).await.map_err(|e| format!("writing the ping to its stdin: {e}"))?;
            }
            let echoed = stdout.read_until(PING).await;
            *stdin = None;
            stdout.read_to_end().await;
            match echoed {
                true => Ok(()),
                false => Err("it exited without printing the echo".to_string()),
            }
        };
        tokio::join!(talk, stderr.read_to_end()).0
    })
    .await;
    run.end(talked, false)
}

/// One server process: started, `client` connects once it listens, the ping echoed, the process waited for (or ended,
/// if it serves on).
pub(super) async fn server_once(cmd: Command, serves_on: bool, client: Arc<BareClient>) -> Result<(), String> {
    let mut run = Running::spawn(cmd)?;
    let talked = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        let Running { stdin, stdout, stderr, child } = &mut run;
        // s_server prints `ACCEPT 127.0.0.1:PORT` on stdout; the preload library in gnutls-serv its own line on stderr.
        let port =
            if serves_on { stderr.read_until_line(LISTENING).await } else { stdout.read_until_line("ACCEPT ").await };
        let port = port.ok_or_else(|| "it exited before listening".to_string())?;
        let dial = tokio::spawn(async move { bare::dial(&client, port).await.map_err(|e| e.to_string()) });
        if !serves_on {
            // s_server prints what it reads and sends what it is given: the echo goes through its stdin, which stays
            // open until the connection is over (its end would stop s_server).
            if !stdout.read_until(PING).await {
                // The client's error says why (a failed handshake ends s_server too).
                return match dial.await {
                    Ok(Err(e)) => Err(format!("the bare client: {e}")),
                    _ => Err("it exited without printing the ping".to_string()),
                };
            }
            if let Some(pipe) = stdin.as_mut() {
                pipe.write_all(PING).await.map_err(|e| format!("writing the echo to its stdin: {e}"))?;
            }
        }
        let dialed = dial.await.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| format!("the bare client: {e}")));
        *stdin = None;
        if serves_on {
            let _ = child.kill();
        }
        tokio::join!(stdout.read_to_end(), stderr.read_to_end());
        dialed
    })
    .await;
    run.end(talked, serves_on)
}

/// A tool process with its stdio as tokio pipes (the crate is built without tokio's `process` feature).
struct Running {
    child: Child,
    stdin: Option<pipe::Sender>,
    stdout: Output,
    stderr: Output,
}

impl Running {
    fn spawn(mut cmd: Command) -> Result<Running, String> {
        let shown = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(i), Some(o), Some(e)) = pipes else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown} started without piped stdio"));
        };
        let io = |e: std::io::Error| format!("{shown}: {e}");
        Ok(Running {
            stdin: Some(pipe::Sender::from_owned_fd(OwnedFd::from(i)).map_err(io)?),
            stdout: Output::new(pipe::Receiver::from_owned_fd(OwnedFd::from(o)).map_err(io)?),
            stderr: Output::new(pipe::Receiver::from_owned_fd(OwnedFd::from(e)).map_err(io)?),
            child,
        })
    }

    /// Waits for the process once its conversation is over (it timed out: ended first) and says how it went;
    /// `killed` says it was ended on purpose, so its exit status means nothing.
    fn end(
        mut self,
        talked: Result<Result<(), String>, tokio::time::error::Elapsed>,
        killed: bool,
    ) -> Result<(), String> {
        let talked = talked.unwrap_or_else(|_| Err(format!("no end within {} s", CONNECTION_TIMEOUT.as_secs())));
        if talked.is_err() {
            // It may still be running (it stopped talking, or never listened): the wait below must not hang.
            let _ = self.child.kill();
        }
        // Both output pipes have ended, so the process has exited or is about to: a blocking wait is short (it holds
        // a runtime thread for microseconds), and a polling one would add its interval to every connection.
        let status = self.child.wait().map_err(|e| format!("waiting for it: {e}"));
        let failed = |why: String| {
            let stderr = String::from_utf8_lossy(&self.stderr.buf);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
            Err(format!("{why}; its stderr ends: {}", tail.join(" / ")))
        };
        match (talked, status) {
            (Err(e), _) => failed(e),
            (Ok(()), Err(e)) => failed(e),
            (Ok(()), Ok(s)) if s.success() || killed => Ok(()),
            (Ok(()), Ok(s)) => failed(exit(s)),
        }
    }
}

/// How a process ended, in words.
fn exit(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("it exited with {c}"),
        (None, Some(sig)) => format!("it died of signal {sig}"),
        (None, None) => "it ended".to_string(),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One output pipe and what it said so far.
struct Output {
    pipe: pipe::Receiver,
    buf: Vec<u8>,
    eof: bool,
}

impl Output {
    fn new(pipe: pipe::Receiver) -> Output {
        Output { pipe, buf: Vec::new(), eof: false }
    }

    /// Reads more; false at the end of the pipe (or on an error, which ends it too).
    async fn more(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut chunk = [0u8; 8192];
        match self.pipe.read(&mut chunk).await {
            Ok(n) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => {
                self.eof = true;
                false
            }
        }
    }

    /// Reads until `needle` was output (true) or the pipe ended (false).
    async fn read_until(&mut self, needle: &[u8]) -> bool {
        loop {
            if self.buf.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            if !self.more().await {
                return false;
            }
        }
    }

    /// Reads until a whole line `<prefix><port>` was output, and returns the port.
    async fn read_until_line(&mut self, prefix: &str) -> Option<u16> {
        loop {
            let port = port_line(&self.buf, prefix);
            if port.is_some() {
                return port;
            }
            if !self.more().await {
                return None;
            }
        }
    }

    async fn read_to_end(&mut self) {
        while self.more().await {}
    }
}

/// The port of the first complete line `<prefix>...:PORT` or `<prefix>PORT` in `out` (`ACCEPT 127.0.0.1:45535`,
/// `tlsmatrix-listening 45535`).
fn port_line(out: &[u8], prefix: &str) -> Option<u16> {
    let text = String::from_utf8_lossy(out);
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .find_map(|l| l.trim().strip_prefix(prefix.trim())?.trim().rsplit(':').next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_whole_lines_only() {
        assert_eq!(port_line(b"Using default temp DH parameters\nACCEPT 127.0.0.1:45535\n", "ACCEPT "), Some(45535));
        assert_eq!(port_line(b"ACCEPT 127.0.0.1:455", "ACCEPT "), None, "the rest of the line may still come");
        assert_eq!(port_line(b"bind() failed\ntlsmatrix-listening 40001\n", LISTENING), Some(40001));
    }
}
