//! The `native-tls` backend: only what native-tls's portable API can say.
//!
//! On Linux native-tls is OpenSSL underneath, but it keeps the `SSL*` to itself: no alert callback, no cipher, group or
//! security-level knobs, no client-certificate requests on the server, and its server is OpenSSL's
//! `SslAcceptor::mozilla_intermediate`, which disables TLS 1.3. Each of those is a capability it lacks, so the planner
//! marks such cells unsupported with the reason. Its sent alert is inferred from OpenSSL's error by
//! [`super::openssl_errors`], and an `openssl` peer re-checks that inference in every cell.

use async_trait::async_trait;
use native_tls::{Certificate, Identity, Protocol};

use super::openssl_errors::{Mapped, diagnose};
use super::{
    Backend, Capabilities, ConfigCache, ConfigError, Endpoint, client_host, credential, exchange, pem_chain,
    version_range,
};
use crate::backend::conn::Conn;
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, ProtocolVersion, Role};
use crate::wire::KeyLog;

const NO_SUITES: &str = "native-tls has no cipher-suite API (it exposes only what SChannel, Security.framework and \
                         OpenSSL have in common)";
const NO_GROUPS: &str = "native-tls has no key-exchange group API";
const NO_LEVEL: &str =
    "native-tls has no OpenSSL security-level API (only a process-wide OPENSSL_CONF could change it)";

/// The native-tls backend.
pub struct NativeTlsBackend {
    client: Capabilities,
    server: Capabilities,
    acceptors: ConfigCache<native_tls::TlsAcceptor>,
    connectors: ConfigCache<native_tls::TlsConnector>,
}

impl NativeTlsBackend {
    /// The capabilities of native-tls 0.2 on OpenSSL.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        let common = Settings::new()
            .supports([Versions, Alpn, Certificate, Trust])
            .lacks(CipherSuites, NO_SUITES)
            .lacks(Tls13CipherSuites, NO_SUITES)
            .lacks(Groups, NO_GROUPS)
            .lacks(SecurityLevel, NO_LEVEL)
            .lacks(SignatureAlgorithms, "native-tls has no signature-algorithm API")
            .not_applicable(JavaSecurity, super::NOT_JAVA)
            .not_applicable(Nginx, super::NOT_NGINX);
        let client_settings = common
            .clone()
            .supports([ServerName, Sni])
            .lacks(Resumption, "native-tls has no session API: every connection of its client starts a full handshake");
        let client = Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings: client_settings,
            cipher_suites: Default::default(),
            groups: Default::default(),
            exact_alerts: false,
            reports_parameters: false,
            unavailable: None,
        };
        let server_settings = common
            .supports([Resumption, ChainShape, AlpnMismatchIgnore])
            .lacks(
                AlpnMismatchFatal,
                "native-tls's server ALPN callback (imp/openssl.rs, feature alpn-accept) answers NOACK when nothing \
                 matches: it always ignores a mismatch and cannot be told to refuse it",
            )
            .lacks(ClientAuth, "native-tls's TlsAcceptorBuilder cannot request or verify client certificates")
            .lacks(SniCertificates, "native-tls's TlsAcceptor takes exactly one identity; it cannot choose by SNI")
            .lacks(SessionTickets, "native-tls has no session-ticket API (OpenSSL's default, tickets on, applies)");
        let server = Capabilities {
            versions: [ProtocolVersion::Tls10, ProtocolVersion::Tls11, ProtocolVersion::Tls12].into_iter().collect(),
            versions_reason: "native-tls's server is OpenSSL's SslAcceptor::mozilla_intermediate, which sets \
                              SSL_OP_NO_TLSv1_3: it never negotiates TLS 1.3",
            settings: server_settings,
            ..client.clone()
        };
        NativeTlsBackend { client, server, acceptors: ConfigCache::default(), connectors: ConfigCache::default() }
    }
}

impl Default for NativeTlsBackend {
    fn default() -> Self {
        Self::new()
    }
}

fn protocol(v: ProtocolVersion) -> Protocol {
    match v {
        ProtocolVersion::Tls10 => Protocol::Tlsv10,
        ProtocolVersion::Tls11 => Protocol::Tlsv11,
        ProtocolVersion::Tls12 => Protocol::Tlsv12,
        ProtocolVersion::Tls13 => Protocol::Tlsv13,
    }
}

/// A native-tls error as a failure: received alerts are exact, the sent alert is inferred or `unmapped`.
fn failed(phase: Phase, err: &(dyn std::error::Error + 'static)) -> SideOutcome {
    let text = err.to_string();
    let d = diagnose(err, &text);
    let (sent_alert, error, message) = match d.sent_alert {
        Mapped::Known(a) => (a, d.class, d.message),
        Mapped::Unmapped(why) => (
            None,
            ErrorClass::Unmapped,
            format!("unmapped: {why}; add it to src/backend/openssl_errors.rs ({})", d.message),
        ),
    };
    SideOutcome::Failed(Failure { phase, sent_alert, received_alert: d.received_alert, error, message })
}

/// native-tls reports neither version nor cipher; ALPN it does.
fn established<S>(s: &tokio_native_tls::TlsStream<S>) -> Established
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let alpn = s.get_ref().negotiated_alpn().ok().flatten().map(|p| String::from_utf8_lossy(&p).into_owned());
    Established { alpn, ..Established::default() }
}

/// Handshake, exchange and close on a native-tls stream.
async fn drive<F>(handshake: F, role: Role) -> SideOutcome
where
    F: std::future::Future<Output = Result<tokio_native_tls::TlsStream<Conn>, native_tls::Error>>,
{
    let mut s = match handshake.await {
        Ok(s) => s,
        Err(e) => return failed(Phase::Handshake, &e),
    };
    let est = established(&s);
    match exchange(&mut s, role).await {
        Ok(()) => SideOutcome::Established(est),
        Err(e) => failed(Phase::Data, &e),
    }
}

struct Server(tokio_native_tls::TlsAcceptor);

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, _keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        Ok(drive(self.0.accept(io), Role::Server).await)
    }
}

struct Client {
    connector: tokio_native_tls::TlsConnector,
    host: String,
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, _keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        Ok(drive(self.connector.connect(&self.host, io), Role::Client).await)
    }
}

impl Backend for NativeTlsBackend {
    fn id(&self) -> BackendId {
        BackendId::NativeTls
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }

    fn behaviour(&self, role: Role) -> super::Behaviour {
        use super::{Behaviour, Preset};
        use ProtocolVersion::{Tls12, Tls13};
        // Both builders default to a minimum of TLS 1.2; the acceptor is SslAcceptor::mozilla_intermediate.
        let versions = match role {
            Role::Client => Preset::new([Tls12, Tls13], "native-tls's default minimum is TLS 1.2"),
            Role::Server => Preset::new(
                [Tls12],
                "native-tls's default: minimum TLS 1.2, and its SslAcceptor::mozilla_intermediate disables TLS 1.3",
            ),
        };
        // native-tls leaves OpenSSL's TLS 1.3 suites, groups and security level as they are; mozilla_intermediate
        // sets ffdhe2048 parameters, so DHE suites work.
        Behaviour {
            // Its ALPN callback answers no overlap with AlpnError::NOACK (catalog: alpn::no_overlap).
            ignores_alpn_mismatch: role == Role::Server,
            ..Behaviour::openssl_library(role, versions)
        }
    }

    fn version(&self) -> String {
        format!("native-tls {} on {}", env!("TLSMATRIX_NATIVE_TLS"), ::openssl::version::version())
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let acceptor = self.acceptors.get_or_build(pki, cfg, || {
            let cred = credential(pki, &cfg.certificate.0)?;
            let identity = Identity::from_pkcs8(&pem_chain(&cred.chain(cfg.chain)), &cred.key_pkcs8_pem())?;
            let mut b = native_tls::TlsAcceptor::builder(identity);
            if let Some((lo, hi)) = version_range(cfg.versions.as_deref()) {
                b.min_protocol_version(Some(protocol(lo)));
                b.max_protocol_version(Some(protocol(hi)));
            }
            if let Some(alpn) = &cfg.alpn {
                b.accept_alpn(alpn);
            }
            Ok(b.build()?)
        })?;
        Ok(Box::new(Server(tokio_native_tls::TlsAcceptor::from(acceptor))))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let connector = self.connectors.get_or_build(pki, cfg, || {
            let mut b = native_tls::TlsConnector::builder();
            b.disable_built_in_roots(true);
            for t in &cfg.trust {
                b.add_root_certificate(Certificate::from_der(&credential(pki, &t.0)?.cert.to_der()?)?);
            }
            if let Some((lo, hi)) = version_range(cfg.versions.as_deref()) {
                b.min_protocol_version(Some(protocol(lo)));
                b.max_protocol_version(Some(protocol(hi)));
            }
            if let Some(name) = &cfg.certificate {
                let cred = credential(pki, &name.0)?;
                b.identity(Identity::from_pkcs8(&pem_chain(&cred.chain(Default::default())), &cred.key_pkcs8_pem())?);
            }
            if let Some(alpn) = &cfg.alpn {
                let list: Vec<&str> = alpn.iter().map(String::as_str).collect();
                b.request_alpns(&list);
            }
            b.use_sni(cfg.sni != Some(false));
            Ok(b.build()?)
        })?;
        let connector = tokio_native_tls::TlsConnector::from(connector);
        Ok(Box::new(Client { connector, host: client_host(cfg).to_string() }))
    }
}
