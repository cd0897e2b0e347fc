//! Live targets: `tlsmatrix compat --target HOST:PORT` plays every client backend against a server the user runs.
//!
//! Only the client side is observed. Each client connects to the harness's recording relay on 127.0.0.1, and the
//! relay connects to the target, so the wire is recorded as in any cell and decrypted with the key log the client
//! writes; what the server did is read from those bytes (the alert it sent, what its ServerHello chose), never from
//! the server itself. No cause can be derived from the server's config, which is unknown here, so a failed row says
//! what the client and the wire show and leaves the fix to the reader (the scenario-based `compat` has both).
//!
//! The exchange after the handshake is the harness's own (a ping the server echoes, docs/peers.md); a real service
//! answers it with its own protocol (an HTTP server's `400 Bad Request`) or not at all. So a row counts as connected
//! when the handshake completed, as the client reports it or as the wire shows it (both sides' Finished), and what
//! followed is kept as a note: an HTTP server's answer is not a TLS failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openssl::pkey::PKey;
use openssl::x509::X509;
use tokio::net::{TcpListener, TcpStream};

use super::{Row, Verdict};
use crate::Error;
use crate::backend::conn::Conn;
use crate::backend::{Backend, ConfigError};
use crate::observation::{ErrorClass, Phase, SideOutcome};
use crate::pki::{Credential, Pki};
use crate::relay::Relay;
use crate::runner::{Context, EXTERNAL_DEADLINE_FACTOR};
use crate::scenario::{ClientConfig, FixtureName, Scenario};
use crate::vocab::{BackendId, Role};
use crate::wire::settle::{QUIET, Settle};
use crate::wire::{KeyLog, Wire};

/// The fixture name of the `i`-th certificate of `--trust`.
fn anchor_name(i: usize) -> String {
    format!("target-ca-{}", i + 1)
}

/// The fixture name of `--client-cert`.
const CLIENT_CERT: &str = "target-client";

/// A running server to test, and how clients reach and verify it.
#[derive(Clone, Debug)]
pub struct Target {
    /// `HOST:PORT`.
    pub address: String,
    /// PEM files of the CAs the clients trust (every certificate in each file).
    pub trust: Vec<PathBuf>,
    /// The name clients send as SNI and verify; by default the host when it is a name, none for an IP address.
    pub server_name: Option<String>,
    /// A client certificate chain (PEM, leaf first) and its key, for a server that asks for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Target {
    /// The host part of the address.
    fn host(&self) -> &str {
        self.address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
    }

    /// The credentials of `--trust` and `--client-cert` added to `base`, and `client` rewritten to use them: trust
    /// the given CAs (replacing the scenario's), verify the given name, present the given certificate.
    pub fn prepare(&self, base: &Pki, client: &ClientConfig) -> Result<(Pki, ClientConfig), Error> {
        let mut creds: BTreeMap<String, Credential> =
            base.names().into_iter().filter_map(|n| base.get(&n).cloned().map(|c| (n, c))).collect();
        let mut client = client.clone();
        let mut anchors = Vec::new();
        for file in &self.trust {
            for cert in read_certs(file)? {
                anchors.push(cert);
            }
        }
        if !anchors.is_empty() {
            // A trust anchor needs no key; the credential type carries one, so every anchor shares one placeholder
            // that nothing signs with (peers receive only the certificates of `trust`).
            let placeholder = placeholder_key()?;
            client.trust.clear();
            for (i, cert) in anchors.into_iter().enumerate() {
                let name = anchor_name(i);
                creds.insert(
                    name.clone(),
                    Credential { cert, key: placeholder.clone(), intermediates: Vec::new(), ca: true },
                );
                client.trust.push(FixtureName(name));
            }
        }
        if let Some((chain, key)) = &self.client_cert {
            let mut certs = read_certs(chain)?.into_iter();
            let leaf = certs.next().ok_or_else(|| usage(chain, "holds no certificate"))?;
            let pem = std::fs::read(key).map_err(|e| usage(key, &e.to_string()))?;
            let key =
                PKey::private_key_from_pem(&pem).map_err(|e| usage(key, &format!("not a PEM private key: {e}")))?;
            creds.insert(
                CLIENT_CERT.to_string(),
                Credential { cert: leaf, key, intermediates: certs.collect(), ca: false },
            );
            client.certificate = Some(FixtureName(CLIENT_CERT.into()));
        }
        if let Some(name) = &self.server_name {
            client.server_name = Some(name.clone());
        } else if client.server_name.is_none() && self.host().parse::<std::net::IpAddr>().is_err() {
            client.server_name = Some(self.host().to_string());
        }
        Ok((Pki::from_credentials(creds), client))
    }
}

fn usage(path: &Path, what: &str) -> Error {
    Error::Usage(format!("{}: {what}", path.display()))
}

/// Every certificate in a PEM file.
fn read_certs(path: &Path) -> Result<Vec<X509>, Error> {
    let pem = std::fs::read(path).map_err(|e| usage(path, &e.to_string()))?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| usage(path, &format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(usage(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn placeholder_key() -> Result<PKey<openssl::pkey::Private>, Error> {
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1);
    group
        .and_then(|g| openssl::ec::EcKey::generate(&g))
        .and_then(PKey::from_ec_key)
        .map_err(|e| Error::Usage(format!("generating a placeholder key: {e}")))
}

/// What one client did against the target.
pub struct Played {
    /// The client's own outcome.
    pub client: SideOutcome,
    /// The recorded connection, analysed with the client's key log.
    pub wire: Wire,
}

/// Why a client was not played.
pub enum NotPlayed {
    /// The client backend cannot express the config (or its runtime is missing).
    Unsupported(String),
    /// The harness could not play it (the target refused the connection, a peer did not start).
    Fault(String),
}

/// How long the relay may keep reading once the client is done (a server's last alert).
const GRACE: Duration = Duration::from_millis(300);

/// Plays `client` with the scenario's client config against the target, through the recording relay, under `ctx`'s
/// deadline (stretched for an external client as in any cell). The scenario's server block plays no part.
pub async fn play(ctx: &Context, client: BackendId, scenario: &Scenario, address: &str) -> Result<Played, NotPlayed> {
    let cfg = &scenario.client;
    let backend: &Arc<dyn Backend> =
        ctx.registry.get(client).ok_or_else(|| NotPlayed::Unsupported(format!("{client} is not compiled in")))?;
    let caps = backend.capabilities(Role::Client);
    if let Some(why) = &caps.unavailable {
        return Err(NotPlayed::Unsupported(format!("{client} as client: {why}")));
    }
    caps.check(cfg, &[])
        .and_then(|()| backend.expressible(Role::Client, scenario))
        .map_err(|why| NotPlayed::Unsupported(format!("{client} as client: {why}")))?;
    let fault = |e: ConfigError| {
        let text = format!("{client} as client: {}", e.message);
        if e.unsupported { NotPlayed::Unsupported(text) } else { NotPlayed::Fault(text) }
    };
    let mut end = backend.client(cfg, &ctx.pki).map_err(fault)?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| NotPlayed::Fault(format!("bind: {e}")))?;
    let local = listener.local_addr().map_err(|e| NotPlayed::Fault(e.to_string()))?;
    let timeout =
        if BackendId::IN_PROCESS.contains(&client) { ctx.timeout } else { ctx.timeout * EXTERNAL_DEADLINE_FACTOR };
    let relay = Relay::new();
    let keys = KeyLog::new();
    let relay_side = async {
        let (c, _) = listener.accept().await.map_err(|e| format!("accept: {e}"))?;
        let s =
            TcpStream::connect(address).await.map_err(|e| format!("cannot connect to the target {address}: {e}"))?;
        let _ = (c.set_nodelay(true), s.set_nodelay(true));
        relay.run(c, s, None, Duration::ZERO).await;
        Ok::<(), String>(())
    };
    let client_side = async {
        let sock = TcpStream::connect(local).await.map_err(|e| ConfigError::new(format!("connect: {e}")))?;
        sock.set_nodelay(true)?;
        end.run(Conn::Direct(sock), &keys).await
    };
    let client_side = tokio::time::timeout(timeout, client_side);
    tokio::pin!(relay_side, client_side);
    let mut relayed = None;
    // A service that is no echo leaves both ends waiting after the handshake: once the line settles, the client is
    // stopped and the row says so (crate::wire::settle).
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut settle = Settle::default();
    let outcome = loop {
        tokio::select! {
            r = &mut client_side => break Some(r),
            r = &mut relay_side, if relayed.is_none() => relayed = Some(r),
            _ = tick.tick() => if settle.settled(&relay.capture(), &keys.text()) { break None },
        }
    };
    if relayed.is_none() {
        relayed = tokio::time::timeout(GRACE, relay_side).await.ok();
    }
    if let Some(Err(e)) = relayed {
        return Err(NotPlayed::Fault(e));
    }
    let client = match outcome {
        None => SideOutcome::Failed(crate::observation::Failure {
            phase: Phase::Data,
            sent_alert: None,
            received_alert: None,
            error: ErrorClass::Timeout,
            message: format!(
                "the server did not echo the harness's ping within {} ms (a service that is no echo): the client \
                 was stopped",
                QUIET.as_millis()
            ),
        }),
        Some(Err(_elapsed)) => SideOutcome::Failed(crate::observation::Failure {
            phase: Phase::Handshake,
            sent_alert: None,
            received_alert: None,
            error: ErrorClass::Timeout,
            message: format!("no result within the {} ms deadline", timeout.as_millis()),
        }),
        Some(Ok(Ok(o))) => o,
        Some(Ok(Err(e))) => return Err(fault(e)),
    };
    let wire = crate::wire::analyse(&relay.capture(), &keys.text());
    Ok(Played { client, wire })
}

/// What followed a completed handshake, in one line: the service's answer when it sent one instead of the echo (the
/// in-process clients report it as `unexpected application data [72, 84, ...]`), else the client's first line.
pub(crate) fn after_handshake_note(message: &str) -> String {
    let bytes = message.split_once("unexpected application data [").and_then(|(_, rest)| {
        let list = rest.split_once(']')?.0;
        list.split(',').map(|b| b.trim().parse::<u8>().ok()).collect::<Option<Vec<u8>>>()
    });
    if let Some(bytes) = bytes {
        let text = String::from_utf8_lossy(&bytes);
        return format!(
            "the peer sent {:?}, not the harness's ping or echo (it speaks its own protocol)",
            text.trim_end()
        );
    }
    let line = message.lines().next().unwrap_or("").trim();
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

impl Row {
    /// The row of one client against a live target: the client's outcome, and the server's side as the wire
    /// shows it (see the module's documentation).
    pub fn live(client: BackendId, library: String, played: Result<Played, NotPlayed>) -> Row {
        let mut row = Row::empty(client, library);
        let Played { client: outcome, wire } = match played {
            Ok(p) => p,
            Err(NotPlayed::Unsupported(why)) => {
                row.verdict = Verdict::Unsupported;
                row.reason = Some(why);
                return row;
            }
            Err(NotPlayed::Fault(why)) => {
                row.reason = Some(why);
                return row;
            }
        };
        let seen = |from: Role| wire.alerts.iter().find(|a| a.from == from && a.fatal).map(|a| a.alert);
        match outcome {
            SideOutcome::Established(e) => {
                row.verdict = Verdict::Connects;
                row.version = e.version.map(|v| v.to_string());
                row.cipher = e.cipher.map(|v| v.to_string());
                row.group = e.group.map(|v| v.to_string());
                row.alpn = e.alpn;
                row.fill_from(&wire);
            }
            SideOutcome::Failed(f) => {
                let quiet = f.sent_alert.is_none() && f.received_alert.is_none() && seen(Role::Server).is_none();
                let after_handshake = f.phase == Phase::Data;
                if quiet && after_handshake {
                    // The handshake completed (or, for a client stopped once the line settled, the bytes show it
                    // did); the service does not speak the harness's ping (see above).
                    row.verdict = Verdict::Connects;
                    row.fill_from(&wire);
                    row.reason = Some(format!("handshake completed, then {}", after_handshake_note(&f.message)));
                } else {
                    row.verdict = Verdict::Fails;
                    row.client_sent = f.sent_alert;
                    row.client_received = f.received_alert;
                    row.server_sent = seen(Role::Server).or(f.received_alert);
                    row.server_received = seen(Role::Client).or(f.sent_alert);
                    row.cause = Some(match (f.sent_alert, row.server_sent) {
                        (Some(a), _) => format!("the client refused the handshake ({a})"),
                        (None, Some(a)) => format!("the server refused the handshake ({a})"),
                        (None, None) => format!("no alert either way ({})", f.error),
                    });
                    row.client_error = Some(f.message);
                }
            }
        }
        row
    }
}
