//! tlsmatrix's openssl backend over OpenSSL 3.5 (vendored), as a peer process: the `openssl@3.5` backend.
//!
//! The code that configures OpenSSL and observes a connection is the openssl backend's own
//! (`tlsmatrix::backend::OpensslBackend`, alerts exact from its message callback); only the OpenSSL underneath
//! differs, because this binary links OpenSSL 3.5 built from source where tlsmatrix links the system's 3.0. It speaks
//! the peer contract (docs/peers.md): JSON requests on stdin, each on a task of its own, JSON replies on stdout.
//!
//!     tlsmatrix-openssl-peer --probe   the linked OpenSSL's version and the sources' fingerprint, as one JSON line
//!     tlsmatrix-openssl-peer           serve requests
//!
//! A request carries certificates and keys as PEM (`material`), not the PKI: they are put back under the names the
//! config uses, so the backend's code reads them as it reads the harness's PKI. The chain arrives shaped already, so
//! the config's `chain` is reset to `full` (shaping it twice would undo `reversed`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use tlsmatrix::Pki;
use tlsmatrix::backend::conn::Conn;
use tlsmatrix::backend::{Backend, ConfigError, Endpoint, OpensslBackend};
use tlsmatrix::pki::Credential;
use tlsmatrix::scenario::{ChainShape, ClientConfig, ServerConfig};
use tlsmatrix::wire::KeyLog;

/// Sockets give up after this long, so a connection the harness abandoned ends by itself.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Endpoints kept for a second connection (`mode: resume`); the oldest go first.
const KEEP_ENDPOINTS: usize = 256;

type Shared = Arc<tokio::sync::Mutex<Box<dyn Endpoint>>>;

/// What the process keeps: the backend (its config cache) and the endpoints by the harness's id.
struct State {
    backend: OpensslBackend,
    endpoints: Mutex<(HashMap<u64, Shared>, Vec<u64>)>,
}

/// One line out, whole.
fn send(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn version() -> String {
    format!("{} (vendored)", openssl::version::version())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tlsmatrix::backend::keep_system_trust_out();
    if std::env::args().nth(1).as_deref() == Some("--probe") {
        let fingerprint = tlsmatrix::backend::openssl_source_fingerprint();
        send(json!({ "version": version(), "fingerprint": fingerprint }));
        return;
    }
    send(json!({ "ready": true, "version": version() }));
    let state = Arc::new(State { backend: OpensslBackend::new(), endpoints: Mutex::new(Default::default()) });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let req: Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => return send(json!({ "id": null, "error": format!("the request is not JSON: {e}") })),
            };
            let id = req["id"].clone();
            match play(&req, &state).await {
                Ok(()) => {}
                Err(e) if e.unsupported => send(json!({ "id": id, "unsupported": e.message })),
                Err(e) => send(json!({ "id": id, "error": e.message })),
            }
        });
    }
}

/// A key for trusted CAs, whose keys the material does not carry (a trust anchor's key is never used).
fn placeholder_key() -> Result<PKey<Private>, ConfigError> {
    static KEY: OnceLock<Option<PKey<Private>>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).ok()?;
        PKey::from_ec_key(openssl::ec::EcKey::generate(&group).ok()?).ok()
    });
    key.clone().ok_or_else(|| ConfigError::new("cannot make a placeholder key"))
}

/// A credential from the contract's `{chain_pem, key_pem}`.
fn credential(v: &Value) -> Result<Credential, ConfigError> {
    let chain = X509::stack_from_pem(v["chain_pem"].as_str().unwrap_or_default().as_bytes())?;
    let key = PKey::private_key_from_pem(v["key_pem"].as_str().unwrap_or_default().as_bytes())?;
    let (leaf, rest) = chain.split_first().ok_or_else(|| ConfigError::new("chain_pem holds no certificate"))?;
    Ok(Credential { cert: leaf.clone(), key, intermediates: rest.to_vec(), ca: false })
}

/// The PKI the config's names refer to, rebuilt from the material.
fn pki(config: &Value, material: &Value, own: Option<&str>) -> Result<Pki, ConfigError> {
    let mut creds = BTreeMap::new();
    if let (Some(name), Some(cred)) = (own, material.get("certificate").filter(|c| !c.is_null())) {
        creds.insert(name.to_string(), credential(cred)?);
    }
    // trust_pem is the config's `trust` CAs in order (tlsmatrix writes them so).
    let names: Vec<&str> =
        config["trust"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>();
    let cas = X509::stack_from_pem(material["trust_pem"].as_str().unwrap_or_default().as_bytes()).unwrap_or_default();
    if cas.len() != names.len() {
        return Err(ConfigError::new(format!("{} trusted names but {} certificates", names.len(), cas.len())));
    }
    for (name, cert) in names.into_iter().zip(cas) {
        creds.insert(name.to_string(), Credential { cert, key: placeholder_key()?, intermediates: vec![], ca: true });
    }
    // sni_certificates: host -> fixture in the config, host -> credential in the material.
    if let (Some(by_name), Some(by_host)) =
        (config["sni_certificates"].as_object(), material["sni_certificates"].as_object())
    {
        for (host, name) in by_name {
            if let (Some(name), Some(cred)) = (name.as_str(), by_host.get(host)) {
                creds.insert(name.to_string(), credential(cred)?);
            }
        }
    }
    Ok(Pki::from_credentials(creds))
}

/// The harness's endpoint for this request: kept under its id, so a second connection resumes the first's session.
fn endpoint(
    state: &State,
    req: &Value,
    build: impl FnOnce() -> Result<Box<dyn Endpoint>, ConfigError>,
) -> Result<Shared, ConfigError> {
    let Some(key) = req["endpoint"].as_u64() else { return Ok(Arc::new(tokio::sync::Mutex::new(build()?))) };
    let mut kept = state.endpoints.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = kept.0.get(&key) {
        return Ok(e.clone());
    }
    let e: Shared = Arc::new(tokio::sync::Mutex::new(build()?));
    kept.0.insert(key, e.clone());
    kept.1.push(key);
    if kept.1.len() > KEEP_ENDPOINTS {
        let old = kept.1.remove(0);
        kept.0.remove(&old);
    }
    Ok(e)
}

async fn play(req: &Value, state: &State) -> Result<(), ConfigError> {
    let id = req["id"].clone();
    let (config, material) = (&req["config"], &req["material"]);
    let keys = KeyLog::new();
    let (endpoint, stream) = match req["role"].as_str() {
        Some("server") => {
            let mut cfg: ServerConfig = serde_json::from_value(config.clone())?;
            cfg.chain = ChainShape::Full;
            let pki = pki(config, material, Some(&cfg.certificate.0))?;
            let endpoint = endpoint(state, req, || state.backend.server(&cfg, &pki))?;
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            send(json!({ "id": id, "listening": listener.local_addr()?.port() }));
            let (stream, _) = tokio::time::timeout(SOCKET_TIMEOUT, listener.accept())
                .await
                .map_err(|_| ConfigError::new("no connection came within the socket timeout"))??;
            (endpoint, stream)
        }
        Some("client") => {
            let cfg: ClientConfig = serde_json::from_value(config.clone())?;
            let own = cfg.certificate.as_ref().map(|c| c.0.clone());
            let pki = pki(config, material, own.as_deref())?;
            let endpoint = endpoint(state, req, || state.backend.client(&cfg, &pki))?;
            let port = req["connect"].as_u64().ok_or_else(|| ConfigError::new("a client request needs connect"))?;
            (endpoint, TcpStream::connect(("127.0.0.1", port as u16)).await?)
        }
        other => return Err(ConfigError::new(format!("role must be server or client, got {other:?}"))),
    };
    stream.set_nodelay(true)?;
    let outcome = {
        let mut endpoint = endpoint.lock().await;
        tokio::time::timeout(SOCKET_TIMEOUT, endpoint.run(Conn::Direct(stream), &keys))
            .await
            .map_err(|_| ConfigError::new("the connection did not end within the socket timeout"))??
    };
    for line in keys.text().lines() {
        send(json!({ "id": id, "keylog": line }));
    }
    send(json!({ "id": id, "outcome": serde_json::to_value(&outcome)? }));
    Ok(())
}
