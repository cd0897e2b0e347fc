//! The `openssl` backend: the openssl crate over the system's OpenSSL 3, every knob, alerts captured exactly.
//!
//! Alerts come from OpenSSL's message callback ([`ffi`]), which sees each alert as it is sent or received, after
//! decryption, so this backend is the witness the others are checked against.

use crate::ffi;

pub use ffi::keep_system_trust_out;

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::OnceLock;

use ::openssl::ex_data::Index;

use ::openssl::ssl::{
    AlpnError, NameType, SniError, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef, SslSession,
    SslVerifyMode, SslVersion, select_next_proto,
};
use ::openssl::stack::Stack;
use ::openssl::x509::X509;
use ::openssl::x509::store::X509StoreBuilder;
use async_trait::async_trait;
use tokio_openssl::SslStream;

use super::openssl_errors::{Diagnosis, diagnose};
use super::{
    Backend, Capabilities, ConfigCache, ConfigError, Endpoint, client_host, credential, exchange, version_range,
};
use crate::backend::conn::Conn;
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{AlpnMismatch, ClientAuth, ClientConfig, FixtureName, ServerConfig, SideConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// The openssl crate backend.
pub struct OpensslBackend {
    caps: Capabilities,
    servers: ConfigCache<SslContext>,
    clients: ConfigCache<SslContext>,
}

/// The fingerprint of the sources this build of the library is made from (build.rs: every file under src/, the
/// manifest, and the OpenSSL 3.5 peer's source and lock). The peer that runs this backend's code over another OpenSSL
/// (`peers/openssl`) links the library too and reports its own: one built from other sources is refused, its cells
/// unsupported until the setup script rebuilds it, instead of running stale code.
pub fn source_fingerprint() -> &'static str {
    env!("TLSMATRIX_SOURCE_HASH")
}

impl OpensslBackend {
    /// Probes what the linked OpenSSL implements.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        let cipher_suites = CipherSuite::known()
            .filter(|s| s.is_tls13() || s.name().is_some_and(|n| ::openssl::ssl::cipher_name(n) != "(NONE)"))
            .collect();
        // OpenSSL 3.0 has no post-quantum hybrid groups; every other group we name it implements.
        let groups = Group::known().filter(|g| !g.name().is_some_and(|n| n.contains("MLKEM"))).collect();
        OpensslBackend {
            caps: Capabilities {
                versions: ProtocolVersion::ALL.into_iter().collect(),
                versions_reason: "",
                settings: Settings::new()
                    .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, SecurityLevel, Alpn])
                    .supports([AlpnMismatchFatal, AlpnMismatchIgnore])
                    .supports([SignatureAlgorithms, ChainShape, ClientAuth, SniCertificates, SessionTickets])
                    .supports([Certificate, Resumption, Trust, ServerName, Sni])
                    .not_applicable(JavaSecurity, super::NOT_JAVA)
                    .not_applicable(Nginx, super::NOT_NGINX),
                cipher_suites,
                groups,
                exact_alerts: true,
                reports_parameters: true,
                unavailable: None,
            },
            servers: ConfigCache::default(),
            clients: ConfigCache::default(),
        }
    }
}

impl Default for OpensslBackend {
    fn default() -> Self {
        Self::new()
    }
}

fn ssl_version(v: ProtocolVersion) -> SslVersion {
    match v {
        ProtocolVersion::Tls10 => SslVersion::TLS1,
        ProtocolVersion::Tls11 => SslVersion::TLS1_1,
        ProtocolVersion::Tls12 => SslVersion::TLS1_2,
        ProtocolVersion::Tls13 => SslVersion::TLS1_3,
    }
}

/// ALPN protocols in wire format (each prefixed by its length, RFC 7301 section 3.1).
pub(crate) fn alpn_wire(list: &[String]) -> Vec<u8> {
    list.iter().flat_map(|p| std::iter::once(p.len() as u8).chain(p.bytes())).collect()
}

/// The knobs both roles share.
fn configure_common<C: SideConfig>(b: &mut SslContextBuilder, cfg: &C) -> Result<(), ConfigError> {
    // Every context exports its secrets into the connection's key log (set per `Ssl` in `drive`), so the relay's
    // capture of the connection can be decrypted.
    b.set_keylog_callback(|ssl, line| {
        if let Some(keys) = ssl.ex_data(keylog_index()) {
            keys.push(line);
        }
    });
    if let Some((lo, hi)) = version_range(cfg.versions()) {
        b.set_min_proto_version(Some(ssl_version(lo)))?;
        b.set_max_proto_version(Some(ssl_version(hi)))?;
    }
    if let Some(level) = cfg.security_level() {
        b.set_security_level(u32::from(level));
    }
    if let Some(suites) = cfg.cipher_suites() {
        let names: Vec<&str> = suites.iter().filter_map(|s| s.name()).map(::openssl::ssl::cipher_name).collect();
        b.set_cipher_list(&names.join(":"))?;
    }
    if let Some(suites) = cfg.tls13_cipher_suites() {
        let names: Vec<&str> = suites.iter().filter_map(|s| s.name()).collect();
        b.set_ciphersuites(&names.join(":"))?;
    }
    if let Some(groups) = cfg.groups() {
        let names: Vec<&str> = groups.iter().filter_map(|g| g.openssl_name()).collect();
        b.set_groups_list(&names.join(":"))?;
    }
    if let Some(schemes) = cfg.signature_algorithms() {
        let names: Vec<&str> = schemes.iter().filter_map(|s| s.name()).collect();
        b.set_sigalgs_list(&names.join(":"))?;
    }
    Ok(())
}

fn trust_store(pki: &Pki, names: &[FixtureName]) -> Result<::openssl::x509::store::X509Store, ConfigError> {
    let mut store = X509StoreBuilder::new()?;
    for n in names {
        store.add_cert(credential(pki, &n.0)?.cert.clone())?;
    }
    Ok(store.build())
}

fn set_identity(
    b: &mut SslContextBuilder,
    chain: &[X509],
    key: &::openssl::pkey::PKeyRef<::openssl::pkey::Private>,
) -> Result<(), ConfigError> {
    b.set_certificate(&chain[0])?;
    b.set_private_key(key)?;
    for c in &chain[1..] {
        b.add_extra_chain_cert(c.clone())?;
    }
    Ok(())
}

/// A server context for one certificate (the SNI contexts share everything else).
fn server_context(cfg: &ServerConfig, pki: &Pki, cert: &str) -> Result<SslContextBuilder, ConfigError> {
    let mut b = SslContextBuilder::new(SslMethod::tls_server())?;
    configure_common(&mut b, cfg)?;
    let cred = credential(pki, cert)?;
    set_identity(&mut b, &cred.chain(cfg.chain), &cred.key)?;
    if let Some(alpn) = &cfg.alpn {
        let ours = alpn_wire(alpn);
        // Server preference; no overlap is fatal (no_application_protocol), as RFC 7301 section 3.2 asks, unless
        // the scenario wants it ignored (NOACK: no ALPN in the ServerHello / EncryptedExtensions).
        let refuse = match cfg.alpn_mismatch {
            Some(AlpnMismatch::Ignore) => AlpnError::NOACK,
            Some(AlpnMismatch::Fatal) | None => AlpnError::ALERT_FATAL,
        };
        b.set_alpn_select_callback(move |_, client| {
            let chosen = select_next_proto(&ours, client).ok_or(refuse)?;
            client.windows(chosen.len()).find(|w| *w == chosen).ok_or(refuse)
        });
    }
    if cfg.client_auth != ClientAuth::None {
        let mode = match cfg.client_auth {
            ClientAuth::Required => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            _ => SslVerifyMode::PEER,
        };
        b.set_verify(mode);
        b.set_cert_store(trust_store(pki, &cfg.trust)?);
        let mut names = Stack::new()?;
        for n in &cfg.trust {
            names.push(credential(pki, &n.0)?.cert.subject_name().to_owned()?)?;
        }
        b.set_client_ca_list(names);
    }
    match cfg.session_tickets {
        Some(false) => {
            b.set_options(SslOptions::NO_TICKET);
        }
        Some(true) => {
            b.clear_options(SslOptions::NO_TICKET);
        }
        None => {}
    }
    // Required for session resumption with client certificates; harmless otherwise.
    b.set_session_id_context(b"tlsmatrix")?;
    Ok(b)
}

fn server(cfg: &ServerConfig, pki: &Pki) -> Result<SslContext, ConfigError> {
    let mut b = server_context(cfg, pki, &cfg.certificate.0)?;
    if !cfg.sni_certificates.is_empty() {
        let mut by_name = HashMap::new();
        for (host, cert) in &cfg.sni_certificates {
            by_name.insert(host.clone(), server_context(cfg, pki, &cert.0)?.build());
        }
        // Switch to the context holding the certificate for the name the client asked for; unknown names keep
        // the default certificate, as most servers do.
        b.set_servername_callback(move |ssl, _alert| {
            let ctx = ssl.servername(NameType::HOST_NAME).and_then(|n| by_name.get(n));
            if let Some(ctx) = ctx {
                ssl.set_ssl_context(ctx).map_err(|_| SniError::ALERT_FATAL)?;
            }
            Ok(())
        });
    }
    Ok(b.build())
}

fn client_context(cfg: &ClientConfig, pki: &Pki) -> Result<SslContext, ConfigError> {
    let mut b = SslContextBuilder::new(SslMethod::tls_client())?;
    configure_common(&mut b, cfg)?;
    b.set_verify(SslVerifyMode::PEER);
    b.set_cert_store(trust_store(pki, &cfg.trust)?);
    if let Some(name) = &cfg.certificate {
        let cred = credential(pki, &name.0)?;
        set_identity(&mut b, &cred.chain(Default::default()), &cred.key)?;
    }
    if let Some(alpn) = &cfg.alpn {
        b.set_alpn_protos(&alpn_wire(alpn))?;
    }
    Ok(b.build())
}

/// Where each `Ssl` keeps its connection's key log.
fn keylog_index() -> Index<Ssl, KeyLog> {
    static INDEX: OnceLock<Index<Ssl, KeyLog>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("OpenSSL allocates an ex_data index"))
}

/// What an established connection negotiated.
fn established(ssl: &SslRef) -> Established {
    let version = ssl.version2().and_then(|v| {
        [SslVersion::TLS1, SslVersion::TLS1_1, SslVersion::TLS1_2, SslVersion::TLS1_3]
            .iter()
            .zip(ProtocolVersion::ALL)
            .find(|(s, _)| **s == v)
            .map(|(_, p)| p)
    });
    Established {
        version,
        cipher: ssl.current_cipher().map(|c| CipherSuite(u16::from_be_bytes(c.protocol_id()))),
        group: ffi::negotiated_group(ssl),
        alpn: ssl.selected_alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
        resumed: Some(ssl.session_reused()),
    }
}

/// A failure, with the alerts taken from the callback's log rather than inferred.
fn failed(phase: Phase, log: &ffi::SharedLog, d: Diagnosis) -> SideOutcome {
    let (sent, received) = log.lock().map(|l| (l.first(true), l.first(false))).unwrap_or((None, None));
    let error = match (received, sent, d.class) {
        (Some(_), _, _) => ErrorClass::PeerAlert,
        (None, Some(_), _) => ErrorClass::Local,
        (None, None, ErrorClass::PeerAlert) => ErrorClass::Local,
        (None, None, c) => c,
    };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error, message: d.message })
}

/// Handshake, exchange and close on an `SslStream`, for either role; also returns the session for resumption.
async fn drive(
    ssl: Ssl,
    io: Conn,
    role: Role,
    keys: &KeyLog,
) -> Result<(SideOutcome, Option<SslSession>), ConfigError> {
    let mut ssl = ssl;
    ssl.set_ex_data(keylog_index(), keys.clone());
    let log = ffi::record_alerts(&mut ssl);
    let mut stream = SslStream::new(ssl, io)?;
    let hs = match role {
        Role::Client => Pin::new(&mut stream).connect().await,
        Role::Server => Pin::new(&mut stream).accept().await,
    };
    if let Err(e) = hs {
        return Ok((failed(Phase::Handshake, &log, diagnose(&e, &e.to_string())), None));
    }
    let est = established(stream.ssl());
    let outcome = match exchange(&mut stream, role).await {
        Ok(()) => SideOutcome::Established(est),
        Err(e) => failed(Phase::Data, &log, diagnose(&e, &e.to_string())),
    };
    // After the exchange, so a TLS 1.3 client has processed the server's NewSessionTicket messages.
    Ok((outcome, stream.ssl().session().map(|s| s.to_owned())))
}

struct Server {
    ctx: SslContext,
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        Ok(drive(Ssl::new(&self.ctx)?, io, Role::Server, keys).await?.0)
    }
}

struct Client {
    ctx: SslContext,
    host: String,
    sni: bool,
    session: Option<SslSession>,
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        let mut ssl = Ssl::new(&self.ctx)?;
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ssl.param_mut().set_ip(ip)?,
            Err(_) => {
                if self.sni {
                    ssl.set_hostname(&self.host)?;
                }
                ssl.param_mut().set_host(&self.host)?;
            }
        }
        if let Some(session) = &self.session {
            ffi::offer_session(&mut ssl, session)?;
        }
        let (outcome, session) = drive(ssl, io, Role::Client, keys).await?;
        self.session = session;
        Ok(outcome)
    }
}

impl Backend for OpensslBackend {
    fn id(&self) -> BackendId {
        BackendId::Openssl
    }

    fn capabilities(&self, _role: Role) -> &Capabilities {
        &self.caps
    }

    fn behaviour(&self, role: Role) -> super::Behaviour {
        use super::{Behaviour, NoDhParameters, Preset};
        let server = role == Role::Server;
        // A plain SslContextBuilder: every version on, security level 2 from the system (docs/backends.md).
        Behaviour {
            // OpenSSL enables kDHE only with parameters, a callback or dh_auto (ssl_set_masks); this SSL_CTX has none.
            dhe_without_parameters: server.then_some(NoDhParameters {
                why: "the openssl backend's plain SSL_CTX has none (no dhparam file, no SSL_CTX_set_dh_auto), so \
                      OpenSSL never selects these suites, whatever the client offers",
                remedy: "give the server DH parameters (a dhparam file or SSL_CTX_set_dh_auto), which the harness's \
                         openssl backend does not set",
            }),
            ..Behaviour::openssl_library(role, Preset::new(ProtocolVersion::ALL, "openssl's default"))
        }
    }

    fn version(&self) -> String {
        format!("{} (openssl crate {})", ::openssl::version::version(), env!("TLSMATRIX_OPENSSL_CRATE"))
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Ok(Box::new(Server { ctx: self.servers.get_or_build(pki, cfg, || server(cfg, pki))? }))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Ok(Box::new(Client {
            ctx: self.clients.get_or_build(pki, cfg, || client_context(cfg, pki))?,
            host: client_host(cfg).to_string(),
            sni: cfg.sni != Some(false),
            session: None,
        }))
    }
}
