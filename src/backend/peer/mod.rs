//! Peer-process backends: a TLS stack outside this process joins the matrix through a small adapter program.
//!
//! The contract (docs/peers.md): one long-lived adapter process reads JSON requests, one per line, on stdin and
//! answers with JSON lines carrying the request's `id` on stdout. A request names the role, the scenario's side config
//! as serde writes it, and the *material*: certificates and keys already resolved to PEM, so an adapter never reads
//! the PKI. A server answers `listening` with a loopback port, then plays one connection; a client connects to the
//! port it was given. Both finish with `outcome`, a [`SideOutcome`] in its JSON form.
//!
//! The harness keeps owning the connection: its endpoint bridges the relay's `TcpStream` to the adapter's loopback
//! socket byte for byte, so the relay still sees (and records) every byte, and the cell's deadline still applies: when
//! it cancels [`Endpoint::run`] the bridge is dropped, the adapter's socket closes, and its late answer is discarded.

mod boringssl;
mod c_adapter;
mod go;
mod jsse;
mod node;
mod nss;
mod openssl35;
pub(crate) mod process;
mod python;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};

use std::sync::Arc;

use self::process::{Process, Reply, Ticket};
use super::bridge::{Tapped, bridge};
use super::{ConfigError, Endpoint, credential, pem_chain};
use crate::backend::conn::Conn;
use crate::observation::SideOutcome;
use crate::pki::Pki;
use crate::scenario::{ChainShape, ClientConfig, FixtureName, ServerConfig};
use crate::vocab::Role;
use crate::wire::KeyLog;

pub use self::boringssl::BoringsslBackend;
pub use self::go::GoBackend;
pub(crate) use self::jsse::JVM_FLAGS;
pub use self::jsse::JsseBackend;
pub use self::node::NodeBackend;
pub use self::nss::NssBackend;
pub use self::openssl35::Openssl35Backend;
pub use self::python::PythonBackend;

/// Runs an adapter's `--probe` command and parses the one JSON object it prints. `Err` is why the runtime cannot serve
/// (it did not start, timed out, or failed: then with its last stderr line, after `unusable`, e.g. "... has no
/// usable ssl module").
pub(crate) fn run_probe(
    cmd: &mut std::process::Command,
    unusable: impl FnOnce(&str) -> String,
) -> Result<Value, String> {
    let out = super::probe::run(cmd, super::probe::PROBE_DEADLINE)?;
    let probe: Option<Value> = serde_json::from_slice(&out.stdout).ok();
    probe.filter(|_| out.success).ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        unusable(stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output"))
    })
}

/// Whether `p` is a file this process may execute (a runtime in the cache, a launcher on PATH).
pub(crate) fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A private temporary directory holding an adapter's files (its source, its tables), written once.
pub(crate) fn adapter_dir(name: &str, files: &[(&str, String)]) -> Result<super::TempDir, String> {
    let dir = super::TempDir::new(name).map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    for (file, text) in files {
        dir.write(file, text.as_bytes()).map_err(|e| format!("cannot write {file}: {e}"))?;
    }
    Ok(dir)
}

/// A certificate and its key, as the contract carries them.
fn credential_json(pki: &Pki, name: &FixtureName, shape: ChainShape) -> Result<Value, ConfigError> {
    let cred = credential(pki, &name.0)?;
    let pem = |b: Vec<u8>| String::from_utf8(b).map_err(|e| ConfigError::new(format!("PEM is not UTF-8: {e}")));
    Ok(json!({ "chain_pem": pem(pem_chain(&cred.chain(shape)))?, "key_pem": pem(cred.key_pkcs8_pem())? }))
}

/// The PEM of every trusted CA.
fn trust_pem(pki: &Pki, trust: &[FixtureName]) -> Result<String, ConfigError> {
    let mut out = String::new();
    for t in trust {
        let cert = &credential(pki, &t.0)?.cert;
        out.push_str(&String::from_utf8_lossy(&cert.to_pem()?));
    }
    Ok(out)
}

/// A server request without its id: the config as serde writes it, and the material it names, resolved.
pub(crate) fn server_request(cfg: &ServerConfig, pki: &Pki) -> Result<Map<String, Value>, ConfigError> {
    let mut sni = Map::new();
    for (host, name) in &cfg.sni_certificates {
        sni.insert(host.clone(), credential_json(pki, name, ChainShape::Full)?);
    }
    let material = json!({
        "certificate": credential_json(pki, &cfg.certificate, cfg.chain)?,
        "trust_pem": trust_pem(pki, &cfg.trust)?,
        "sni_certificates": sni,
    });
    request("server", serde_json::to_value(cfg)?, material)
}

/// A client request without its id and port.
pub(crate) fn client_request(cfg: &ClientConfig, pki: &Pki) -> Result<Map<String, Value>, ConfigError> {
    let certificate = match &cfg.certificate {
        Some(name) => credential_json(pki, name, ChainShape::Full)?,
        None => Value::Null,
    };
    let material =
        json!({ "certificate": certificate, "trust_pem": trust_pem(pki, &cfg.trust)?, "sni_certificates": {} });
    request("client", serde_json::to_value(cfg)?, material)
}

fn request(role: &str, config: Value, material: Value) -> Result<Map<String, Value>, ConfigError> {
    let mut m = Map::new();
    m.insert("role".into(), role.into());
    m.insert("config".into(), config);
    m.insert("material".into(), material);
    Ok(m)
}

/// Endpoint ids, unique in this process: an adapter keeps what one harness endpoint needs between its connections (a
/// server's session cache and ticket keys, a client's session) under it.
static NEXT_ENDPOINT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One side of a cell on `pool`'s adapter process (started with `launch` when none runs), under a fresh endpoint id.
pub(crate) fn pooled_endpoint(
    pool: &process::Pool,
    launch: impl FnOnce() -> Result<std::process::Command, String>,
    ready_within: std::time::Duration,
    (role, mut request): (Role, Map<String, Value>),
    name: &'static str,
) -> Result<Box<dyn Endpoint>, ConfigError> {
    let process = pool.get(&process::ProcessKey::default(), launch, ready_within).map_err(ConfigError::new)?;
    let id = NEXT_ENDPOINT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    request.insert("endpoint".into(), id.into());
    Ok(Box::new(PeerEndpoint { process, role, request, name }))
}

/// What `Backend::version` says for an adapter backend, without starting a process just to print it: the version
/// the running adapter or the probe reported, else why it cannot run (`unavailable`, or `missing` before any probe),
/// else `waiting`.
pub(crate) fn adapter_version(
    pool: &process::Pool,
    probed: (Option<&str>, Option<&str>),
    missing: Option<String>,
    waiting: &str,
) -> String {
    let (version, unavailable) = probed;
    match (pool.version().or(version.map(String::from)), unavailable) {
        (_, Some(why)) => why.to_string(),
        (Some(v), None) => v,
        (None, None) => missing.unwrap_or_else(|| waiting.to_string()),
    }
}

/// The connection the adapter made, if it is already waiting to be accepted.
///
/// An adapter client that fails at once (OpenSSL 3.5 with no protocol left at its security level writes its alert
/// before any ClientHello) connects, writes, closes and reports its outcome in well under a millisecond, so its reply
/// can reach the harness before the reactor has told the listener about the connection. Loopback connects complete
/// in the kernel before the adapter's `connect` returns, so whatever it connected is in the accept queue by the time
/// its reply is read: a non-blocking accept here finds it, and its bytes (that alert) are bridged to the relay like
/// any other instead of being dropped with the listener.
fn accept_now(listener: TcpListener) -> Result<Option<TcpStream>, ConfigError> {
    let listener = listener.into_std()?;
    match listener.accept() {
        Ok((conn, _)) => {
            conn.set_nonblocking(true)?;
            Ok(Some(TcpStream::from_std(conn)?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One side of a cell played by an adapter process.
pub(crate) struct PeerEndpoint {
    /// The adapter, already running and ready.
    pub process: Arc<Process>,
    /// Which side it plays.
    pub role: Role,
    /// The request, without id (and, for a client, without port).
    pub request: Map<String, Value>,
    /// What the adapter is called in errors (`jsse adapter`).
    pub name: &'static str,
}

impl PeerEndpoint {
    /// A reply that ends the request before a connection was made, as the endpoint's result.
    fn early_end(&self, reply: Option<Reply>) -> Result<SideOutcome, ConfigError> {
        let name = self.name;
        match reply {
            Some(Reply::Outcome(o)) => Ok(o),
            Some(Reply::Unsupported(why)) => {
                Err(ConfigError::unsupported(format!("the {name} cannot express this: {why}")))
            }
            Some(Reply::Error(e)) => Err(ConfigError::new(format!("the {name} failed: {e}"))),
            Some(Reply::Died(why)) => Err(ConfigError::new(why)),
            Some(Reply::Listening(_)) => Err(ConfigError::new(format!("the {name} announced a port twice"))),
            Some(Reply::KeyLog(_)) => Err(ConfigError::new(format!("the {name} sent a key log before connecting"))),
            None => Err(ConfigError::new(format!("the {name} forgot the request"))),
        }
    }

    /// Bridges the harness's connection with the adapter's until the adapter reports its outcome (and has
    /// finished writing: its last alert or close_notify must reach the harness). What the harness sends after the
    /// outcome no longer matters and is not waited for.
    /// Key log lines the adapter sends meanwhile go into the cell's key log, so the recorded bytes can be decrypted.
    async fn finish(
        &self,
        io: TcpStream,
        conn: TcpStream,
        ticket: &mut Ticket,
        keys: &KeyLog,
        first: Option<Option<Reply>>,
    ) -> Result<SideOutcome, ConfigError> {
        conn.set_nodelay(true)?;
        let reported = tokio::sync::Notify::new();
        let outcome = async {
            let mut first = first;
            let reply = loop {
                let next = match first.take() {
                    Some(reply) => reply,
                    None => ticket.replies.recv().await,
                };
                match next {
                    Some(Reply::KeyLog(line)) => keys.push(&line),
                    other => break other,
                }
            };
            reported.notify_one();
            reply
        };
        let mut tapped = Tapped::default();
        let (_, reply) = tokio::join!(bridge(io, conn, &mut tapped, reported.notified()), outcome);
        self.early_end(reply)
    }
}

#[async_trait]
impl Endpoint for PeerEndpoint {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The adapter gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let name = self.name;
        match self.role {
            Role::Server => {
                let mut ticket = self.process.request(self.request.clone()).map_err(ConfigError::new)?;
                let port = match ticket.replies.recv().await {
                    Some(Reply::Listening(p)) => p,
                    other => return self.early_end(other),
                };
                let conn = TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map_err(|e| ConfigError::new(format!("connect to the {name} on 127.0.0.1:{port}: {e}")))?;
                self.finish(io, conn, &mut ticket, keys, None).await
            }
            Role::Client => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let port = listener.local_addr()?.port();
                let mut req = self.request.clone();
                req.insert("connect".into(), port.into());
                let mut ticket = self.process.request(req).map_err(ConfigError::new)?;
                let (conn, first) = tokio::select! {
                    biased;
                    accepted = listener.accept() => (accepted?.0, None),
                    reply = ticket.replies.recv() => match accept_now(listener)? {
                        Some(conn) => (conn, Some(reply)),
                        None => return self.early_end(reply),
                    },
                };
                self.finish(io, conn, &mut ticket, keys, first).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use tokio::io::AsyncReadExt;

    use super::process::{Pool, ProcessKey};
    use super::*;

    /// The alert OpenSSL 3.5 writes when a TLS 1.0-only client has no version left: protocol_version, fatal.
    const ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46];

    /// A client adapter that connects, writes its alert, closes and reports at once, with no ClientHello and no
    /// answer to wait for: the fastest a real one (OpenSSL 3.5 with no protocols available) can be.
    fn instant_failure() -> Result<Command, String> {
        let script = r#"echo '{"ready":true,"version":"fake"}'
while read -r line; do
  id=$(printf '%s' "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
  port=$(printf '%s' "$line" | sed 's/.*"connect":\([0-9]*\).*/\1/')
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '\025\003\003\000\002\002\106' >&3
  exec 3>&-
  echo "{\"id\":$id,\"outcome\":{\"result\":\"failed\",\"phase\":\"handshake\",\"sent_alert\":\"protocol_version\",\"received_alert\":null,\"error\":\"local\",\"message\":\"no protocols available\"}}"
done"#;
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script]);
        Ok(cmd)
    }

    /// What an adapter client wrote before it reported reaches the relay, round after round. Which of the two the
    /// harness sees first depends on its reactor: on an idle machine the connection usually wins, under a full
    /// matrix the reply often did, and then the listener was dropped with the connection and its alert unread. The
    /// reply-first path cannot be forced from here; `accept_now_takes_a_waiting_connection_without_the_reactor`
    /// covers it, and this test the whole way from the adapter's bytes to the relay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_writes_and_reports_at_once_still_reaches_the_relay() {
        let pool = Pool::new("fake adapter");
        let process = pool.get(&ProcessKey::default(), instant_failure, Duration::from_secs(10)).unwrap();
        for round in 0..20 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut relay = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (io, _) = listener.accept().await.unwrap();
            let mut endpoint = PeerEndpoint {
                process: process.clone(),
                role: Role::Client,
                request: Map::new(),
                name: "fake adapter",
            };
            let outcome = endpoint.run(Conn::Direct(io), &KeyLog::new()).await.unwrap();
            assert!(matches!(&outcome, SideOutcome::Failed(f) if f.sent_alert.is_some()), "round {round}: {outcome:?}");
            let mut seen = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), relay.read_to_end(&mut seen)).await.unwrap().unwrap();
            assert_eq!(seen, ALERT, "round {round}: the adapter's alert must reach the relay");
        }
    }

    /// The non-blocking accept finds a connection the reactor has not reported yet, and nothing when none came.
    #[tokio::test]
    async fn accept_now_takes_a_waiting_connection_without_the_reactor() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut early = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(&mut early, &ALERT).unwrap();
        drop(early);
        let mut conn = accept_now(listener).unwrap().expect("the connection was in the accept queue");
        let mut seen = Vec::new();
        conn.read_to_end(&mut seen).await.unwrap();
        assert_eq!(seen, ALERT);
        let empty = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(accept_now(empty).unwrap().is_none());
    }
}
