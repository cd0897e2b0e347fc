//! The `rustls` backend: rustls 0.23 with its default aws-lc-rs provider, through tokio-rustls.
//!
//! rustls has no alert callback. A received alert arrives as `Error::AlertReceived`; the alert rustls *sent* is the
//! one it pairs with the error it raised, at the call site that raised it. [`sent_alert`] writes that pairing down
//! (from rustls 0.23's `send_fatal_alert` call sites and `impl From<CertificateError> for AlertDescription`), and
//! every rustls cell against an `openssl` peer re-checks it against the alert OpenSSL actually received. An error whose
//! alert depends on where it arose is `unmapped` rather than guessed.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    Error as RustlsError, InvalidMessage, PeerIncompatible, PeerMisbehaved, RootCertStore, SupportedProtocolVersion,
};

use super::{Backend, Capabilities, ConfigCache, ConfigError, Endpoint, client_host, credential, exchange};
use crate::backend::conn::Conn;
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{ChainShape, ClientAuth, ClientConfig, FixtureName, ServerConfig, SideConfig};
use crate::settings::Settings;
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// The rustls backend.
pub struct RustlsBackend {
    caps: Capabilities,
    servers: ConfigCache<Arc<rustls::ServerConfig>>,
    clients: ConfigCache<Arc<rustls::ClientConfig>>,
}

impl RustlsBackend {
    /// rustls with the aws-lc-rs provider's full suite and group lists available to scenarios.
    pub fn new() -> Self {
        use crate::settings::Knob::*;
        RustlsBackend {
            caps: Capabilities {
                versions: [ProtocolVersion::Tls12, ProtocolVersion::Tls13].into_iter().collect(),
                versions_reason: "rustls implements only TLS 1.2 and TLS 1.3",
                settings: Settings::new()
                    .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, Alpn, ChainShape, ClientAuth])
                    .supports([SniCertificates, SessionTickets, Certificate, Resumption, Trust, ServerName, Sni])
                    .supports([AlpnMismatchFatal])
                    .lacks(
                        AlpnMismatchIgnore,
                        "rustls's server refuses a client ALPN list with nothing in common (no_application_protocol, \
                         RFC 7301) and has no setting to accept it",
                    )
                    .lacks(SecurityLevel, "rustls has no security levels; it simply implements no algorithm they would forbid")
                    .lacks(
                        SignatureAlgorithms,
                        "rustls offers and accepts the schemes of its provider's verifier; restricting them needs a custom \
                         verifier, which this backend does not build",
                    )
                    .not_applicable(JavaSecurity, super::NOT_JAVA)
                    .not_applicable(Nginx, super::NOT_NGINX),
                cipher_suites: rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
                    .iter()
                    .map(|s| CipherSuite(u16::from(s.suite())))
                    .collect(),
                groups: rustls::crypto::aws_lc_rs::ALL_KX_GROUPS.iter().map(|g| Group(u16::from(g.name()))).collect(),
                exact_alerts: false,
                reports_parameters: true,
                unavailable: None,
            },
            servers: ConfigCache::default(),
            clients: ConfigCache::default(),
        }
    }
}

impl Default for RustlsBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The default provider narrowed and ordered by the scenario's suites and groups. A list that is left out keeps the
/// provider's defaults for that part (so TLS 1.2 suites alone leave TLS 1.3 with its default suites, as in OpenSSL).
fn provider<C: SideConfig>(cfg: &C) -> Arc<CryptoProvider> {
    use rustls::crypto::aws_lc_rs as p;
    let mut prov = p::default_provider();
    fn pick(want: &[CipherSuite]) -> impl Iterator<Item = rustls::SupportedCipherSuite> + '_ {
        want.iter().filter_map(|w| p::ALL_CIPHER_SUITES.iter().find(|s| u16::from(s.suite()) == w.0).copied())
    }
    let defaults = |tls13: bool| {
        prov.cipher_suites.iter().filter(move |s| CipherSuite(u16::from(s.suite())).is_tls13() == tls13).copied()
    };
    let tls13: Vec<_> = match cfg.tls13_cipher_suites() {
        Some(w) => pick(w).collect(),
        None => defaults(true).collect(),
    };
    let tls12: Vec<_> = match cfg.cipher_suites() {
        Some(w) => pick(w).collect(),
        None => defaults(false).collect(),
    };
    prov.cipher_suites = tls13.into_iter().chain(tls12).collect();
    if let Some(groups) = cfg.groups() {
        prov.kx_groups = groups
            .iter()
            .filter_map(|g| p::ALL_KX_GROUPS.iter().find(|k| u16::from(k.name()) == g.0).copied())
            .collect();
    }
    Arc::new(prov)
}

fn versions<C: SideConfig>(cfg: &C) -> Vec<&'static SupportedProtocolVersion> {
    match cfg.versions() {
        None => rustls::DEFAULT_VERSIONS.to_vec(),
        Some(v) => v
            .iter()
            .filter_map(|v| match v {
                ProtocolVersion::Tls12 => Some(&rustls::version::TLS12),
                ProtocolVersion::Tls13 => Some(&rustls::version::TLS13),
                _ => None,
            })
            .collect(),
    }
}

fn roots(pki: &Pki, names: &[FixtureName]) -> Result<Arc<RootCertStore>, ConfigError> {
    let mut store = RootCertStore::empty();
    for n in names {
        store.add(CertificateDer::from(credential(pki, &n.0)?.cert.to_der()?))?;
    }
    Ok(Arc::new(store))
}

fn identity(
    pki: &Pki,
    name: &str,
    shape: crate::scenario::ChainShape,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ConfigError> {
    let cred = credential(pki, name)?;
    let chain =
        cred.chain(shape).iter().map(|c| c.to_der().map(CertificateDer::from)).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cred.key.private_key_to_pkcs8()?));
    Ok((chain, key))
}

/// The alert rustls sends along with `err`, as it pairs them at the raising call site. `Err` means the pairing is not
/// known for this error (it varies by call site, or we have not needed it yet): the cell reports `unmapped`.
pub fn sent_alert(err: &RustlsError, role: Role) -> Result<Option<Alert>, String> {
    use rustls::AlertDescription as A;
    let a = |d: A| Ok(Some(Alert(u8::from(d))));
    match err {
        RustlsError::AlertReceived(_) => Ok(None),
        // common_state.rs send_cert_verify_error_alert; error.rs impl From<CertificateError> for AlertDescription.
        RustlsError::InvalidCertificate(e) => a(A::from(e.clone())),
        RustlsError::NoApplicationProtocol => a(A::NoApplicationProtocol),
        // server/tls12.rs and server/tls13.rs: a required client certificate was not sent.
        RustlsError::NoCertificatesPresented if role == Role::Server => a(A::CertificateRequired),
        RustlsError::PeerSentOversizedRecord => a(A::RecordOverflow),
        // msgs/deframer: a record that does not parse (not TLS at all, or longer than any version allows) is a
        // decode error before any message exists (seen on the wire: `wire::garbage_server_hello`,
        // `wire::oversized_record`).
        RustlsError::InvalidMessage(InvalidMessage::InvalidContentType | InvalidMessage::MessageTooLarge) => {
            a(A::DecodeError)
        }
        // msgs/handshake.rs: a signature_algorithms extension with an empty list (a Java 25 TLS 1.3 client limited
        // to PKCS#1 schemes sends one) does not decode: S->C Alert(fatal, decode_error) on the wire in
        // signatures::rsa_pkcs1_only_tls13 (jsse@25 -> rustls).
        RustlsError::InvalidMessage(InvalidMessage::NoSignatureSchemes) => a(A::DecodeError),
        RustlsError::InappropriateMessage { .. } | RustlsError::InappropriateHandshakeMessage { .. } => {
            a(A::UnexpectedMessage)
        }
        RustlsError::PeerIncompatible(p) => match p {
            // client/hs.rs and server/hs.rs: version negotiation failures.
            PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::Tls13RequiredForQuic
            | PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig => a(A::ProtocolVersion),
            PeerIncompatible::NullCompressionRequired | PeerIncompatible::UncompressedEcPointsRequired => {
                a(A::IllegalParameter)
            }
            PeerIncompatible::ServerRejectedEncryptedClientHello(_) => a(A::EncryptedClientHelloRequired),
            // server/hs.rs and client/hs.rs send handshake_failure for these (each checked against an OpenSSL peer
            // by a catalog scenario, or read at its send_fatal_alert call site).
            PeerIncompatible::NoCipherSuitesInCommon
            | PeerIncompatible::NoKxGroupsInCommon
            | PeerIncompatible::NoSignatureSchemesInCommon
            | PeerIncompatible::NoCertificateRequestSignatureSchemesInCommon
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired
            | PeerIncompatible::ExtendedMasterSecretExtensionRequired
            | PeerIncompatible::IncorrectCertificateTypeExtension => a(A::HandshakeFailure),
            other => Err(format!("rustls PeerIncompatible::{other:?}")),
        },
        RustlsError::PeerMisbehaved(m) => match m {
            PeerMisbehaved::IllegalMiddleboxChangeCipherSpec
            | PeerMisbehaved::KeyEpochWithPendingFragment
            | PeerMisbehaved::TooMuchEarlyDataReceived => a(A::UnexpectedMessage),
            PeerMisbehaved::DisallowedEncryptedExtension
            | PeerMisbehaved::UnexpectedCleartextExtension
            | PeerMisbehaved::UnsolicitedEncryptedExtension
            | PeerMisbehaved::UnsolicitedServerHelloExtension => a(A::UnsupportedExtension),
            PeerMisbehaved::MissingPskModesExtension => a(A::MissingExtension),
            PeerMisbehaved::SelectedUnofferedCipherSuite => a(A::HandshakeFailure),
            PeerMisbehaved::IncorrectBinder => a(A::DecryptError),
            PeerMisbehaved::SelectedUnofferedApplicationProtocol
            | PeerMisbehaved::SelectedUnofferedKxGroup
            | PeerMisbehaved::SignedKxWithWrongAlgorithm
            | PeerMisbehaved::AttemptedDowngradeToTls12WhenTls13IsSupported
            | PeerMisbehaved::OfferedDuplicateKeyShares
            | PeerMisbehaved::RefusedToFollowHelloRetryRequest => a(A::IllegalParameter),
            other => Err(format!("rustls PeerMisbehaved::{other:?}")),
        },
        // server/tls12.rs: a TLS 1.2 server key that none of the client's signature schemes can sign with (an
        // Ed25519 key, a client without ed25519) fails the ServerKeyExchange with this error and no alert: the wire
        // shows nothing after the ClientHello in signatures::ed25519_server (node@8 -> rustls).
        RustlsError::General(m) if role == Role::Server && m == "incompatible signing key" => Ok(None),
        other => Err(format!("rustls {other:?}")),
    }
}

/// A failure from an I/O error that may wrap a `rustls::Error`.
fn failed(phase: Phase, role: Role, e: &std::io::Error) -> SideOutcome {
    let message = e.to_string();
    let tls = e.get_ref().and_then(|i| i.downcast_ref::<RustlsError>());
    let failure = match tls {
        Some(RustlsError::AlertReceived(d)) => Failure {
            phase,
            sent_alert: None,
            received_alert: Some(Alert(u8::from(*d))),
            error: ErrorClass::PeerAlert,
            message,
        },
        Some(err) => match sent_alert(err, role) {
            Ok(sent) => Failure { phase, sent_alert: sent, received_alert: None, error: ErrorClass::Local, message },
            Err(why) => Failure {
                phase,
                sent_alert: None,
                received_alert: None,
                error: ErrorClass::Unmapped,
                message: format!("unmapped: {why}; add it to src/backend/rustls.rs ({message})"),
            },
        },
        None => Failure {
            phase,
            sent_alert: None,
            received_alert: None,
            error: if e.kind() == std::io::ErrorKind::UnexpectedEof { ErrorClass::Eof } else { ErrorClass::Io },
            message,
        },
    };
    SideOutcome::Failed(failure)
}

fn established(conn: &rustls::CommonState) -> Established {
    Established {
        version: conn.protocol_version().and_then(|v| ProtocolVersion::from_wire(u16::from(v))),
        cipher: conn.negotiated_cipher_suite().map(|s| CipherSuite(u16::from(s.suite()))),
        group: conn.negotiated_key_exchange_group().map(|g| Group(u16::from(g.name()))),
        alpn: conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
        resumed: Some(conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)),
    }
}

/// Handshake, exchange and close on a tokio-rustls stream.
async fn drive<S, F>(handshake: F, role: Role, common: fn(&S) -> &rustls::CommonState) -> SideOutcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: std::future::Future<Output = std::io::Result<S>>,
{
    let mut s = match handshake.await {
        Ok(s) => s,
        Err(e) => return failed(Phase::Handshake, role, &e),
    };
    let est = established(common(&s));
    match exchange(&mut s, role).await {
        Ok(()) => SideOutcome::Established(est),
        Err(e) => failed(Phase::Data, role, &e),
    }
}

/// Picks the certificate by the SNI the client sent, else the default (rustls's own `ResolvesServerCertUsingSni`
/// has no default and refuses clients without SNI).
#[derive(Debug)]
struct BySni {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(hello.server_name().and_then(|n| self.by_name.get(n)).unwrap_or(&self.default).clone())
    }
}

fn certified(
    pki: &Pki,
    name: &str,
    shape: ChainShape,
    prov: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, ConfigError> {
    let (chain, key) = identity(pki, name, shape)?;
    Ok(Arc::new(CertifiedKey::new(chain, prov.key_provider.load_private_key(key)?)))
}

/// rustls's key log hook, writing into the connection's [`KeyLog`] in the NSS format.
#[derive(Debug)]
struct Secrets(KeyLog);

impl rustls::KeyLog for Secrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        self.0.push(&format!("{label} {} {}", hex(client_random), hex(secret)));
    }
}

struct Server(Arc<rustls::ServerConfig>);

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The key log is per connection; the clone shares everything else (session cache, ticketer) by `Arc`.
        let mut config = (*self.0).clone();
        config.key_log = Arc::new(Secrets(keys.clone()));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Ok(drive(acceptor.accept(io), Role::Server, |s: &tokio_rustls::server::TlsStream<Conn>| s.get_ref().1).await)
    }
}

struct Client {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // As for the server: the clone shares the session store, so a second connection can resume.
        let mut config = (*self.config).clone();
        config.key_log = Arc::new(Secrets(keys.clone()));
        let hs = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(self.name.clone(), io);
        Ok(drive(hs, Role::Client, |s: &tokio_rustls::client::TlsStream<Conn>| s.get_ref().1).await)
    }
}

impl Backend for RustlsBackend {
    fn id(&self) -> BackendId {
        BackendId::Rustls
    }

    fn capabilities(&self, _role: Role) -> &Capabilities {
        &self.caps
    }

    fn behaviour(&self, _role: Role) -> super::Behaviour {
        use super::{Preset, Strength};
        // The aws-lc-rs provider's defaults, which `provider` keeps for every list a scenario leaves out.
        let p = rustls::crypto::aws_lc_rs::default_provider();
        let suites = |tls13: bool| {
            let all = p.cipher_suites.iter().map(|s| CipherSuite(u16::from(s.suite())));
            Some(Preset::new(all.filter(|s| s.is_tls13() == tls13), "rustls's default"))
        };
        super::Behaviour {
            versions: Preset::new([ProtocolVersion::Tls12, ProtocolVersion::Tls13], "rustls's default"),
            tls12_suites: suites(false),
            tls13_suites: suites(true),
            groups: Some(Preset::new(p.kx_groups.iter().map(|g| Group(u16::from(g.name()))), "rustls's default")),
            security_level: None,
            // webpki's algorithms refuse SHA-1 signatures and RSA keys under 2048 bits (112-bit security).
            strength: Strength::Floor {
                bits: 112,
                rule: "refuses SHA-1 signatures and RSA keys under 2048 bits at any setting",
            },
            // webpki's anchor_from_trusted_cert takes any certificate as an anchor (trust_intermediate_only).
            self_signed_anchor_only: None,
            // webpki matches names against the subjectAltName only (catalog: certificates::cn_only).
            cn_fallback: false,
            cn_name_constraints: false,
            ignores_alpn_mismatch: false,
            dhe_without_parameters: None,
            no_ed25519: None,
        }
    }

    fn version(&self) -> String {
        concat!("rustls ", env!("TLSMATRIX_RUSTLS"), " (aws-lc-rs provider)").to_string()
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        Ok(Box::new(Server(self.servers.get_or_build(pki, cfg, || build_server(cfg, pki))?)))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let shared = self.clients.get_or_build(pki, cfg, || build_client(cfg, pki))?;
        // A session store of the cell's own: one for every connection of the cell (resumption works across them),
        // none shared with another cell that happens to use the same config.
        let mut config = (*shared).clone();
        config.resumption = rustls::client::Resumption::default();
        let name = ServerName::try_from(client_host(cfg).to_string()).map_err(|e| ConfigError::new(e.to_string()))?;
        Ok(Box::new(Client { config: Arc::new(config), name }))
    }
}

fn build_server(cfg: &ServerConfig, pki: &Pki) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
    let prov = provider(cfg);
    let builder = rustls::ServerConfig::builder_with_provider(prov.clone()).with_protocol_versions(&versions(cfg))?;
    let builder = match cfg.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let mut v = WebPkiClientVerifier::builder_with_provider(roots(pki, &cfg.trust)?, prov.clone());
            if auth == ClientAuth::Optional {
                v = v.allow_unauthenticated();
            }
            builder.with_client_cert_verifier(v.build()?)
        }
    };
    let mut config = if cfg.sni_certificates.is_empty() {
        let (chain, key) = identity(pki, &cfg.certificate.0, cfg.chain)?;
        builder.with_single_cert(chain, key)?
    } else {
        let mut by_name = HashMap::new();
        for (host, cert) in &cfg.sni_certificates {
            by_name.insert(host.clone(), certified(pki, &cert.0, cfg.chain, &prov)?);
        }
        let default = certified(pki, &cfg.certificate.0, cfg.chain, &prov)?;
        builder.with_cert_resolver(Arc::new(BySni { default, by_name }))
    };
    config.alpn_protocols = cfg.alpn.iter().flatten().map(|p| p.as_bytes().to_vec()).collect();
    // rustls's default is a stateful session cache (TLS 1.2 session ids, TLS 1.3 tickets that name a cache
    // entry); `session_tickets: true` adds a ticketer for stateless tickets, as OpenSSL issues by default.
    if cfg.session_tickets == Some(true) {
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()?;
    }
    Ok(Arc::new(config))
}

fn build_client(cfg: &ClientConfig, pki: &Pki) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let prov = provider(cfg);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(pki, &cfg.trust)?, prov.clone()).build();
    let builder = rustls::ClientConfig::builder_with_provider(prov).with_protocol_versions(&versions(cfg))?;
    // An empty trust list is legal for a scenario (it trusts nothing); WebPki's builder refuses it, so such a
    // client gets a verifier over an empty store that fails every chain with UnknownIssuer, as a real one would.
    let builder = match verifier {
        Ok(v) => builder.with_webpki_verifier(v),
        Err(_) => builder.with_root_certificates(RootCertStore::empty()),
    };
    let mut config = match &cfg.certificate {
        Some(name) => {
            let (chain, key) = identity(pki, &name.0, Default::default())?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = cfg.alpn.iter().flatten().map(|p| p.as_bytes().to_vec()).collect();
    config.enable_sni = cfg.sni != Some(false);
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use rustls::CertificateError as C;

    #[rstest]
    #[case::unknown_issuer(RustlsError::InvalidCertificate(C::UnknownIssuer), Role::Client, Some(Alert::UNKNOWN_CA))]
    #[case::expired(RustlsError::InvalidCertificate(C::Expired), Role::Client, Some(Alert::CERTIFICATE_EXPIRED))]
    #[case::not_yet_valid(
        RustlsError::InvalidCertificate(C::NotValidYet),
        Role::Client,
        Some(Alert::CERTIFICATE_EXPIRED)
    )]
    #[case::wrong_name(RustlsError::InvalidCertificate(C::NotValidForName), Role::Client, Some(Alert::BAD_CERTIFICATE))]
    #[case::no_version(
        RustlsError::PeerIncompatible(PeerIncompatible::Tls12NotOfferedOrEnabled),
        Role::Server,
        Some(Alert::PROTOCOL_VERSION)
    )]
    #[case::no_suite(
        RustlsError::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
        Role::Server,
        Some(Alert::HANDSHAKE_FAILURE)
    )]
    #[case::no_alpn(RustlsError::NoApplicationProtocol, Role::Server, Some(Alert::NO_APPLICATION_PROTOCOL))]
    #[case::no_client_cert(RustlsError::NoCertificatesPresented, Role::Server, Some(Alert::CERTIFICATE_REQUIRED))]
    #[case::received(RustlsError::AlertReceived(rustls::AlertDescription::UnknownCA), Role::Client, None)]
    #[case::no_signing_scheme(RustlsError::General("incompatible signing key".into()), Role::Server, None)]
    fn known_errors_map_to_the_alert_rustls_sends(
        #[case] err: RustlsError,
        #[case] role: Role,
        #[case] want: Option<Alert>,
    ) {
        assert_eq!(sent_alert(&err, role), Ok(want));
    }

    #[rstest]
    #[case::varies_by_site(RustlsError::DecryptError)]
    #[case::general(RustlsError::General("x".into()))]
    fn ambiguous_errors_are_unmapped(#[case] err: RustlsError) {
        assert!(sent_alert(&err, Role::Client).is_err());
    }
}
