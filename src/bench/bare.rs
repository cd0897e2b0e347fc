//! The *bare* side of the benchmark: what a program written directly against each library does to make one
//! connection, with its configuration built once. No relay, no capture, no key log, no verdict: the floor the
//! harness is measured against.
//!
//! Each connection is the same work a cell's connection does (handshake, one message each way, close_notify both
//! ways, via [`crate::backend::exchange`], which is only the protocol), over loopback with TCP_NODELAY.

use std::sync::{Arc, Mutex, PoisonError};

use openssl::ssl::{SslConnector, SslContext, SslContextBuilder, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};

use crate::backend::exchange;
use crate::pki::Pki;
use crate::vocab::{BackendId, Role};

/// A server configured once.
pub enum BareServer {
    /// openssl.
    Openssl(SslContext),
    /// native-tls.
    NativeTls(tokio_native_tls::TlsAcceptor),
    /// rustls.
    Rustls(tokio_rustls::TlsAcceptor),
}

/// A client configured once.
pub enum BareClient {
    /// openssl.
    Openssl(SslConnector),
    /// native-tls.
    NativeTls(tokio_native_tls::TlsConnector),
    /// rustls.
    Rustls(tokio_rustls::TlsConnector),
}

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The bench scenario's server (`cert`, its full chain) for `id`.
pub fn server(id: BackendId, pki: &Pki, cert: &str) -> Fallible<BareServer> {
    let cred = pki.get(cert).ok_or("no such fixture")?;
    let chain = cred.chain(Default::default());
    Ok(match id {
        BackendId::Openssl => {
            // OpenSSL's own defaults, as the harness's openssl backend uses them.
            let mut b = SslContextBuilder::new(SslMethod::tls_server())?;
            b.set_certificate(&chain[0])?;
            b.set_private_key(&cred.key)?;
            for c in &chain[1..] {
                b.add_extra_chain_cert(c.clone())?;
            }
            BareServer::Openssl(b.build())
        }
        BackendId::NativeTls => {
            let pem: Vec<u8> = chain.iter().flat_map(|c| c.to_pem().unwrap_or_default()).collect();
            let id = native_tls::Identity::from_pkcs8(&pem, &cred.key_pkcs8_pem())?;
            BareServer::NativeTls(native_tls::TlsAcceptor::new(id)?.into())
        }
        BackendId::Rustls => {
            let certs = chain.iter().map(|c| c.to_der().map(CertificateDer::from)).collect::<Result<Vec<_>, _>>()?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cred.key.private_key_to_pkcs8()?));
            let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key)?;
            BareServer::Rustls(Arc::new(config).into())
        }
        other => {
            return Err(
                format!("{other} has no bare library loop (external peers have their own: bench/external.rs)").into()
            );
        }
    })
}

/// The bench scenario's client (trusting `root`) for `id`.
pub fn client(id: BackendId, pki: &Pki, root: &str) -> Fallible<BareClient> {
    let root = &pki.get(root).ok_or("no such fixture")?.cert;
    Ok(match id {
        BackendId::Openssl => {
            let mut b = SslConnector::builder(SslMethod::tls_client())?;
            let mut store = X509StoreBuilder::new()?;
            store.add_cert(root.clone())?;
            b.set_cert_store(store.build());
            b.set_verify(SslVerifyMode::PEER);
            BareClient::Openssl(b.build())
        }
        BackendId::NativeTls => {
            let c = native_tls::TlsConnector::builder()
                .disable_built_in_roots(true)
                .add_root_certificate(native_tls::Certificate::from_der(&root.to_der()?)?)
                .build()?;
            BareClient::NativeTls(c.into())
        }
        BackendId::Rustls => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(root.to_der()?))?;
            let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
            // rustls's client keeps a session store by default and would resume every connection after the first
            // (rustls, OpenSSL and native-tls servers all issue tickets), while a cell's first connection is always a
            // full handshake: comparing the two made rustls's pairs look 1.8-2.8x slower than they are. The OpenSSL
            // and native-tls clients here never offer a session, so they do full handshakes already.
            config.resumption = rustls::client::Resumption::disabled();
            BareClient::Rustls(Arc::new(config).into())
        }
        other => {
            return Err(
                format!("{other} has no bare library loop (external peers have their own: bench/external.rs)").into()
            );
        }
    })
}

/// A cell's first connection is a full handshake; a bare loop that resumed would be measuring less work.
const RESUMED: &str = "the bare client resumed a session: it must do the full handshake a cell does";

/// One connection between a bare client and a bare server, verifying `localhost`.
pub async fn connect(server: &BareServer, client: &BareClient) -> Fallible<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serve = async {
        let (sock, _) = listener.accept().await?;
        serve_one(server, sock).await
    };
    let (s, c) = tokio::join!(serve, dial(client, addr.port()));
    s?;
    c
}

/// The server's side of one accepted connection.
async fn serve_one(server: &BareServer, sock: TcpStream) -> Fallible<()> {
    sock.set_nodelay(true)?;
    match server {
        BareServer::Openssl(a) => {
            let mut s = tokio_openssl::SslStream::new(openssl::ssl::Ssl::new(a)?, sock)?;
            std::pin::Pin::new(&mut s).accept().await?;
            // The external peers' clients are checked here, on the one side the bench controls.
            if s.ssl().session_reused() {
                return Err(RESUMED.into());
            }
            exchange(&mut s, Role::Server).await?;
        }
        BareServer::NativeTls(a) => exchange(&mut a.accept(sock).await?, Role::Server).await?,
        BareServer::Rustls(a) => exchange(&mut a.accept(sock).await?, Role::Server).await?,
    }
    Ok(())
}

/// One connection of a bare client to a server listening on `127.0.0.1:port`, verifying `localhost`.
pub async fn dial(client: &BareClient, port: u16) -> Fallible<()> {
    let sock = TcpStream::connect(("127.0.0.1", port)).await?;
    sock.set_nodelay(true)?;
    match client {
        BareClient::Openssl(c) => {
            let ssl = c.configure()?.into_ssl("localhost")?;
            let mut s = tokio_openssl::SslStream::new(ssl, sock)?;
            std::pin::Pin::new(&mut s).connect().await?;
            if s.ssl().session_reused() {
                return Err(RESUMED.into());
            }
            exchange(&mut s, Role::Client).await?;
        }
        BareClient::NativeTls(c) => exchange(&mut c.connect("localhost", sock).await?, Role::Client).await?,
        BareClient::Rustls(c) => {
            let mut s = c.connect(ServerName::try_from("localhost")?, sock).await?;
            if s.get_ref().1.handshake_kind() != Some(rustls::HandshakeKind::Full) {
                return Err(RESUMED.into());
            }
            exchange(&mut s, Role::Client).await?
        }
    }
    Ok(())
}

/// A bare server that keeps accepting on one loopback port, each connection in a task of its own: what an external
/// client's bare loop connects to, many times and several at once. Dropping it stops it.
pub struct Serving {
    /// The port it listens on (`127.0.0.1`).
    pub port: u16,
    failure: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    /// Starts serving `server` (on the current runtime).
    pub async fn start(server: Arc<BareServer>) -> Fallible<Serving> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        let failed = failure.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (server, failed) = (server.clone(), failed.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve_one(&server, sock).await {
                        failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e.to_string());
                    }
                });
            }
        });
        Ok(Serving { port, failure, task })
    }

    /// The first connection that failed on the server's side, if one did (a client that resumed a session fails
    /// here, where its own loop would not notice).
    pub fn check(&self) -> Result<(), String> {
        match self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            Some(e) => Err(format!("the bare openssl server: {e}")),
            None => Ok(()),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}
