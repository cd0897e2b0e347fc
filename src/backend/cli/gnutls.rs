//! `gnutls`: GnuTLS's `gnutls-cli` and `gnutls-serv`, one process per connection.
//!
//! Both tools run at debug level 5 (`--debug=5`), where GnuTLS's record layer logs on stderr every alert it sends
//! (`REC: Sending Alert[2|40] - ...`, then `Sent Packet[n] Alert(21)` once the record is written) and every alert it
//! receives (`REC[..]: Alert[2|48] - ... - was received`, decrypted): the alerts are exact, read by
//! [`debug_alerts`], not inferred from error texts.
//!
//! gnutls-serv plays the server with `--echo` (it has no stdin; the exchange is an echo for that reason). It listens
//! on the wildcard addresses and has no option to choose its address, nor does it print the port it got for
//! `--port 0`; the preload library `loopback.c` (built by build.rs, embedded here) keeps it on 127.0.0.1 and prints
//! the port.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream};

use super::hello;
use super::openssl_cli::server_bytes;
use super::process::{Invocation, Script, Session, Tool, contains, drive, never_connected};
use super::{TempDir, collect_keys, first_line, os, which, write_identity, write_trust};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, PING, client_host, credential};
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::pki::Pki;
use crate::scenario::{ClientAuth, ClientConfig, ServerConfig, SideConfig};
use crate::settings::Settings;
use crate::tap::Conn;
use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion, Role};
use crate::wire::KeyLog;

/// GnuTLS's group names in priority strings, by IANA group.
const GROUPS: &[(u16, &str)] = &[
    (0x0017, "GROUP-SECP256R1"),
    (0x0018, "GROUP-SECP384R1"),
    (0x0019, "GROUP-SECP521R1"),
    (0x001d, "GROUP-X25519"),
    (0x001e, "GROUP-X448"),
    (0x0100, "GROUP-FFDHE2048"),
    (0x0101, "GROUP-FFDHE3072"),
    (0x0102, "GROUP-FFDHE4096"),
    (0x0103, "GROUP-FFDHE6144"),
    (0x0104, "GROUP-FFDHE8192"),
];

/// The TLS 1.2-and-earlier suites gnutls-serv can enable, as the priority-string items that make them up: key
/// exchange, cipher, MAC (from `gnutls-cli --list`; DSS, PSK, SRP, anonymous and Camellia suites left out). GnuTLS
/// enables every known combination of the items listed, so a suite list is expressible only when it is such a product.
const SUITES_12: &[(u16, &str, &str, &str)] = &[
    (0xc02b, "ECDHE-ECDSA", "AES-128-GCM", "AEAD"),
    (0xc02c, "ECDHE-ECDSA", "AES-256-GCM", "AEAD"),
    (0xcca9, "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc0ac, "ECDHE-ECDSA", "AES-128-CCM", "AEAD"),
    (0xc0ad, "ECDHE-ECDSA", "AES-256-CCM", "AEAD"),
    (0xc0ae, "ECDHE-ECDSA", "AES-128-CCM-8", "AEAD"),
    (0xc0af, "ECDHE-ECDSA", "AES-256-CCM-8", "AEAD"),
    (0xc009, "ECDHE-ECDSA", "AES-128-CBC", "SHA1"),
    (0xc00a, "ECDHE-ECDSA", "AES-256-CBC", "SHA1"),
    (0xc023, "ECDHE-ECDSA", "AES-128-CBC", "SHA256"),
    (0xc024, "ECDHE-ECDSA", "AES-256-CBC", "SHA384"),
    (0xc008, "ECDHE-ECDSA", "3DES-CBC", "SHA1"),
    (0xc02f, "ECDHE-RSA", "AES-128-GCM", "AEAD"),
    (0xc030, "ECDHE-RSA", "AES-256-GCM", "AEAD"),
    (0xcca8, "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc013, "ECDHE-RSA", "AES-128-CBC", "SHA1"),
    (0xc014, "ECDHE-RSA", "AES-256-CBC", "SHA1"),
    (0xc027, "ECDHE-RSA", "AES-128-CBC", "SHA256"),
    (0xc028, "ECDHE-RSA", "AES-256-CBC", "SHA384"),
    (0xc012, "ECDHE-RSA", "3DES-CBC", "SHA1"),
    (0x009e, "DHE-RSA", "AES-128-GCM", "AEAD"),
    (0x009f, "DHE-RSA", "AES-256-GCM", "AEAD"),
    (0xccaa, "DHE-RSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc09e, "DHE-RSA", "AES-128-CCM", "AEAD"),
    (0xc09f, "DHE-RSA", "AES-256-CCM", "AEAD"),
    (0xc0a2, "DHE-RSA", "AES-128-CCM-8", "AEAD"),
    (0xc0a3, "DHE-RSA", "AES-256-CCM-8", "AEAD"),
    (0x0033, "DHE-RSA", "AES-128-CBC", "SHA1"),
    (0x0039, "DHE-RSA", "AES-256-CBC", "SHA1"),
    (0x0067, "DHE-RSA", "AES-128-CBC", "SHA256"),
    (0x006b, "DHE-RSA", "AES-256-CBC", "SHA256"),
    (0x0016, "DHE-RSA", "3DES-CBC", "SHA1"),
    (0x009c, "RSA", "AES-128-GCM", "AEAD"),
    (0x009d, "RSA", "AES-256-GCM", "AEAD"),
    (0xc09c, "RSA", "AES-128-CCM", "AEAD"),
    (0xc09d, "RSA", "AES-256-CCM", "AEAD"),
    (0xc0a0, "RSA", "AES-128-CCM-8", "AEAD"),
    (0xc0a1, "RSA", "AES-256-CCM-8", "AEAD"),
    (0x002f, "RSA", "AES-128-CBC", "SHA1"),
    (0x0035, "RSA", "AES-256-CBC", "SHA1"),
    (0x003c, "RSA", "AES-128-CBC", "SHA256"),
    (0x003d, "RSA", "AES-256-CBC", "SHA256"),
    (0x000a, "RSA", "3DES-CBC", "SHA1"),
];

/// The TLS 1.3 suites and the cipher item each needs. The cipher items are shared with TLS 1.2.
const SUITES_13: &[(u16, &str)] = &[
    (0x1301, "AES-128-GCM"),
    (0x1302, "AES-256-GCM"),
    (0x1303, "CHACHA20-POLY1305"),
    (0x1304, "AES-128-CCM"),
    (0x1305, "AES-128-CCM-8"),
];

/// What `NORMAL` enables on GnuTLS 3.7 (`gnutls-cli --list --priority NORMAL`): the default the scenario's unset
/// lists stand for.
const NORMAL_KX: &[&str] = &["ECDHE-ECDSA", "ECDHE-RSA", "RSA", "DHE-RSA"];
const NORMAL_CIPHERS: &[&str] =
    &["AES-256-GCM", "CHACHA20-POLY1305", "AES-256-CCM", "AES-256-CBC", "AES-128-GCM", "AES-128-CCM", "AES-128-CBC"];
const NORMAL_MACS: &[&str] = &["SHA1", "AEAD"];

/// The gnutls command-line tools as a backend.
pub struct GnutlsBackend {
    cli: Option<PathBuf>,
    serv: Option<PathBuf>,
    caps_client: Capabilities,
    caps_server: Capabilities,
}

/// The preload library that keeps gnutls-serv on loopback (empty when build.rs could not build it).
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/loopback.so"));
/// Why build.rs could not build [`SHIM`] (empty when it did).
const SHIM_ERROR: &str = env!("TLSMATRIX_LOOPBACK_SHIM_ERROR");

impl GnutlsBackend {
    /// Looks for gnutls-cli and gnutls-serv on PATH.
    pub fn new() -> Self {
        let cli = which("gnutls-cli");
        let serv = which("gnutls-serv");
        use crate::settings::Knob::*;
        let common = Settings::new()
            .supports([Versions, Groups, Alpn, Certificate, Trust])
            .lacks(SecurityLevel, "an OpenSSL notion; GnuTLS has no equivalent setting")
            .lacks(SignatureAlgorithms, "GnuTLS +SIGN-* priority items are not mapped (not implemented)")
            .not_applicable(JavaSecurity, crate::backend::NOT_JAVA);
        let client_settings = common
            .clone()
            .supports([ServerName, Sni])
            .lacks(
                CipherSuites,
                "GnuTLS priority strings combine key exchange, cipher and MAC items independently; an IANA suite \
                 list cannot be expressed exactly (not implemented)",
            )
            .lacks(
                Tls13CipherSuites,
                "GnuTLS's +CIPHER items apply to TLS 1.2 and 1.3 at once; a TLS 1.3-only suite list cannot be \
                 expressed exactly (not implemented)",
            )
            .lacks(Resumption, "each connection is a new process; gnutls-cli --resume is not wired up");
        let server_settings = common
            .supports([CipherSuites, Tls13CipherSuites, ClientAuth, SniCertificates, SessionTickets])
            .lacks(
                Resumption,
                "each connection is a new gnutls-serv process: its session cache and ticket key die with it (not \
                 implemented by keeping one gnutls-serv for both connections)",
            )
            .lacks(
                ChainShape,
                "gnutls-serv sorts the certificate list it loads into issuer order, so a reversed chain cannot be \
                 sent (and a leaf-only shape is not implemented)",
            );
        let suites_12 = SUITES_12.iter().map(|s| CipherSuite(s.0));
        let suites = suites_12.chain(SUITES_13.iter().map(|s| CipherSuite(s.0)));
        let caps = |settings, cipher_suites, exact_alerts, unavailable| Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings,
            cipher_suites,
            groups: GROUPS.iter().map(|(g, _)| Group(*g)).collect(),
            exact_alerts,
            reports_parameters: true,
            unavailable,
        };
        let cli_missing = cli.is_none().then(|| "gnutls-cli not found on PATH: apt-get install gnutls-bin".to_string());
        let serv_missing = match &serv {
            None => Some("gnutls-serv not found on PATH: apt-get install gnutls-bin".to_string()),
            Some(_) if SHIM.is_empty() => Some(format!(
                "the preload library that keeps gnutls-serv on 127.0.0.1 (src/backend/cli/loopback.c) was not \
                 built: {SHIM_ERROR}"
            )),
            Some(_) => None,
        };
        GnutlsBackend {
            cli,
            serv,
            caps_client: caps(client_settings, Default::default(), false, cli_missing),
            caps_server: caps(server_settings, suites.collect(), true, serv_missing),
        }
    }
}

impl Default for GnutlsBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The priority string for a side: NORMAL, narrowed by the scenario's versions and groups.
fn priority<C: SideConfig>(cfg: &C) -> Option<String> {
    let mut p = String::from("NORMAL");
    if let Some(v) = cfg.versions() {
        p.push_str(":-VERS-ALL");
        for v in v {
            p.push_str(match v {
                ProtocolVersion::Tls10 => ":+VERS-TLS1.0",
                ProtocolVersion::Tls11 => ":+VERS-TLS1.1",
                ProtocolVersion::Tls12 => ":+VERS-TLS1.2",
                ProtocolVersion::Tls13 => ":+VERS-TLS1.3",
            });
        }
    }
    if let Some(g) = cfg.groups() {
        p.push_str(":-GROUP-ALL");
        for g in g {
            if let Some((_, name)) = GROUPS.iter().find(|(c, _)| *c == g.0) {
                p.push_str(&format!(":+{name}"));
            }
        }
    }
    (p != "NORMAL").then_some(p)
}

/// Pushes `item` unless already there (priority items keep the scenario's order).
fn add<'a>(list: &mut Vec<&'a str>, item: &'a str) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The priority items for the server's suite lists, `Ok(None)` when it sets none. GnuTLS has one set of key
/// exchange, cipher and MAC items for every version and enables each known combination of them, so the lists are
/// expressed only when what GnuTLS would enable is exactly what they say (for the versions enabled); otherwise the
/// error says which suites would come along.
fn suite_items(cfg: &ServerConfig) -> Result<Option<String>, ConfigError> {
    let versions = cfg.versions().unwrap_or(&ProtocolVersion::ALL);
    let tls12 = versions.iter().any(|v| *v != ProtocolVersion::Tls13);
    let tls13 = versions.contains(&ProtocolVersion::Tls13);
    let list12 = cfg.cipher_suites().filter(|_| tls12);
    let list13 = cfg.tls13_cipher_suites().filter(|_| tls13);
    if list12.is_none() && list13.is_none() {
        return Ok(None);
    }
    let (mut kx, mut ciphers, mut macs) = (Vec::new(), Vec::new(), Vec::new());
    match list12 {
        Some(list) => {
            for s in list {
                let Some(&(_, k, c, m)) = SUITES_12.iter().find(|t| t.0 == s.0) else {
                    return Err(ConfigError(format!("{s} has no GnuTLS priority items")));
                };
                add(&mut kx, k);
                add(&mut ciphers, c);
                add(&mut macs, m);
            }
        }
        None if tls12 => {
            kx.extend(NORMAL_KX);
            NORMAL_CIPHERS.iter().for_each(|c| add(&mut ciphers, c));
            macs.extend(NORMAL_MACS);
        }
        None => {}
    }
    match list13 {
        Some(list) => {
            for s in list {
                let Some(&(_, c)) = SUITES_13.iter().find(|t| t.0 == s.0) else {
                    return Err(ConfigError(format!("{s} has no GnuTLS priority item")));
                };
                add(&mut ciphers, c);
            }
        }
        None if tls13 => {
            SUITES_13.iter().filter(|t| NORMAL_CIPHERS.contains(&t.1)).for_each(|t| add(&mut ciphers, t.1))
        }
        None => {}
    }
    // Without a TLS 1.2 list the key exchange and MAC items stay NORMAL's (TLS 1.3 needs its AEAD one).
    let keep_kx_and_macs = list12.is_none();
    if keep_kx_and_macs {
        kx = NORMAL_KX.to_vec();
        macs = NORMAL_MACS.to_vec();
    } else if tls13 {
        add(&mut macs, "AEAD");
    }
    // What GnuTLS enables with these items, against what the scenario asks for.
    let mut extra: Vec<CipherSuite> = Vec::new();
    let mut missing: Vec<CipherSuite> = Vec::new();
    if tls12 {
        let enabled = SUITES_12
            .iter()
            .filter(|t| kx.contains(&t.1) && ciphers.contains(&t.2) && macs.contains(&t.3))
            .map(|t| CipherSuite(t.0));
        let wanted: Vec<CipherSuite> = match list12 {
            Some(l) => l.to_vec(),
            None => SUITES_12
                .iter()
                .filter(|t| NORMAL_KX.contains(&t.1) && NORMAL_CIPHERS.contains(&t.2) && NORMAL_MACS.contains(&t.3))
                .map(|t| CipherSuite(t.0))
                .collect(),
        };
        let enabled: Vec<CipherSuite> = enabled.collect();
        extra.extend(enabled.iter().filter(|s| !wanted.contains(s)));
        missing.extend(wanted.iter().filter(|s| !enabled.contains(s)));
    }
    if tls13 {
        let enabled: Vec<CipherSuite> =
            SUITES_13.iter().filter(|t| ciphers.contains(&t.1)).map(|t| CipherSuite(t.0)).collect();
        let wanted: Vec<CipherSuite> = match list13 {
            Some(l) => l.to_vec(),
            None => SUITES_13.iter().filter(|t| NORMAL_CIPHERS.contains(&t.1)).map(|t| CipherSuite(t.0)).collect(),
        };
        extra.extend(enabled.iter().filter(|s| !wanted.contains(s)));
        missing.extend(wanted.iter().filter(|s| !enabled.contains(s)));
    }
    if !extra.is_empty() || !missing.is_empty() {
        let names = |v: &[CipherSuite]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        return Err(ConfigError(format!(
            "the suite lists cannot be expressed as a GnuTLS priority string: its key exchange, cipher and MAC items \
             apply to every version enabled and combine freely, so it would also enable [{}] and miss [{}]",
            names(&extra),
            names(&missing)
        )));
    }
    let mut p = String::new();
    let mut items = |all: &str, list: &[&str]| {
        p.push_str(&format!(":-{all}-ALL"));
        list.iter().for_each(|item| p.push_str(&format!(":+{item}")));
    };
    if !keep_kx_and_macs {
        items("KX", &kx);
    }
    items("CIPHER", &ciphers);
    if !keep_kx_and_macs {
        items("MAC", &macs);
    }
    Ok(Some(p))
}

struct Client {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
}

struct Server {
    program: PathBuf,
    args: Vec<OsString>,
    dir: TempDir,
    shim: PathBuf,
}

impl Backend for GnutlsBackend {
    fn id(&self) -> BackendId {
        BackendId::Gnutls
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        match role {
            Role::Client => &self.caps_client,
            Role::Server => &self.caps_server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Preset, Strength};
        let normal = "GnuTLS's NORMAL priority string";
        // The TLS 1.3 suites of NORMAL's ciphers, in NORMAL's order (as `suite_items` assumes for an unset list).
        let tls13 = NORMAL_CIPHERS.iter().filter_map(|c| SUITES_13.iter().find(|t| t.1 == *c));
        let server = role == Role::Server;
        crate::backend::Behaviour {
            // NORMAL on GnuTLS 3.7.9 still enables TLS 1.0 and 1.1 (catalog:
            // versions::tls10_client_default_security_level, legacy_tls10_tls11_server_default_client).
            versions: Preset::new(ProtocolVersion::ALL, normal),
            tls12_suites: None,
            tls13_suites: Some(Preset::new(tls13.map(|t| CipherSuite(t.0)), normal)),
            // secp256r1 first (catalog: groups::default_groups).
            groups: Some(Preset::new(GROUPS.iter().map(|(g, _)| Group(*g)), normal)),
            security_level: None,
            // NORMAL verifies with the low profile: RSA-1024 passes, a SHA-1 leaf does not (catalog:
            // certificates::rsa1024_leaf, sha1_leaf).
            strength: Strength::Floor {
                bits: 80,
                rule: "verifies with NORMAL's low profile (80-bit security): RSA-1024 passes, SHA-1 signatures do not",
            },
            // The trust list shortens the chain at the first trusted certificate (catalog: trust_intermediate_only).
            self_signed_anchor_only: None,
            // A CN-only certificate matches its host name (catalog: certificates::cn_only).
            cn_fallback: !server,
            cn_name_constraints: true,
            // Without --alpn-fatal a list with no common protocol is ignored (catalog: alpn::no_overlap).
            ignores_alpn_mismatch: server,
            // gnutls-serv picks a built-in 2048-bit group (catalog: cipher_suites::dhe_only_server).
            dhe_without_parameters: None,
        }
    }

    fn version(&self) -> String {
        let v = self.cli.as_deref().or(self.serv.as_deref()).and_then(|p| first_line(p, &["--version"]));
        let v = v.unwrap_or_else(|| "gnutls-cli not found".into());
        format!("{v} (gnutls-cli/gnutls-serv)")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        if let Some(why) = &self.caps_server.unavailable {
            return Err(ConfigError(why.clone()));
        }
        let program = self.serv.clone().ok_or_else(|| ConfigError("gnutls-serv not found on PATH".into()))?;
        let dir = TempDir::new("gnutls-server")?;
        let shim = dir.write("loopback.so", SHIM)?;
        // `--debug=5`: the record layer's log, where the alerts are (see the module docs).
        let mut args = vec![os("--echo"), os("--port=0"), os("--debug=5")];
        // Each certificate is a pair of files; with several, GnuTLS serves the one whose names match the client's
        // SNI, and the first one without a match (or without SNI).
        let id = write_identity(&dir, "server", credential(pki, &cfg.certificate.0)?, Default::default())?;
        args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        for (n, name) in cfg.sni_certificates.values().enumerate() {
            let id = write_identity(&dir, &format!("sni{n}"), credential(pki, &name.0)?, Default::default())?;
            args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        }
        // gnutls-serv asks for a client certificate unless told not to, and checks one only when told to.
        match cfg.client_auth {
            ClientAuth::None => args.push(os("--disable-client-cert")),
            ClientAuth::Optional => args.push(os("--verify-client-cert")),
            ClientAuth::Required => args.extend([os("--require-client-cert"), os("--verify-client-cert")]),
        }
        args.extend([os("--x509cafile"), os(write_trust(&dir, pki, &cfg.trust)?)]);
        for p in cfg.alpn.iter().flatten() {
            args.push(os(format!("--alpn={p}")));
        }
        if cfg.session_tickets == Some(false) {
            args.push(os("--noticket"));
        }
        let suites = suite_items(cfg)?;
        let prio = match (priority(cfg), suites) {
            (p, None) => p,
            (p, Some(items)) => Some(format!("{}{items}", p.unwrap_or_else(|| "NORMAL".into()))),
        };
        if let Some(p) = prio {
            args.push(os(format!("--priority={p}")));
        }
        Ok(Box::new(Server { program, args, dir, shim }))
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let program = self.cli.clone().ok_or_else(|| ConfigError("gnutls-cli not found on PATH".into()))?;
        let dir = TempDir::new("gnutls-client")?;
        // `--debug=5`: the record layer's log, where the alerts are (see the module docs).
        let mut args = vec![os("--debug=5"), os("--x509cafile"), os(write_trust(&dir, pki, &cfg.trust)?)];
        let host = client_host(cfg);
        // Connecting to 127.0.0.1, gnutls-cli verifies that address (IP SAN) and sends no SNI; with a name, it
        // verifies the name and sends it as SNI unless told not to.
        if host.parse::<IpAddr>().is_err() {
            args.push(os(format!("--verify-hostname={host}")));
            match cfg.sni {
                Some(false) => args.push(os("--disable-sni")),
                _ => args.push(os(format!("--sni-hostname={host}"))),
            }
        }
        if let Some(name) = &cfg.certificate {
            let id = write_identity(&dir, "client", credential(pki, &name.0)?, Default::default())?;
            args.extend([os("--x509certfile"), os(&id.bundle), os("--x509keyfile"), os(&id.key)]);
        }
        for p in cfg.alpn.iter().flatten() {
            args.push(os(format!("--alpn={p}")));
        }
        if let Some(p) = priority(cfg) {
            args.push(os(format!("--priority={p}")));
        }
        Ok(Box::new(Client { program, args, dir }))
    }
}

#[async_trait]
impl Endpoint for Client {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let keyfile = self.dir.path().join("keys.log");
        let _ = std::fs::remove_file(&keyfile);
        let mut args = self.args.clone();
        args.extend([os("-p"), os(port.to_string()), os("127.0.0.1")]);
        let env = vec![("SSLKEYLOGFILE".to_string(), os(&keyfile))];
        let inv = Invocation { program: self.program.clone(), args, env };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError(format!("{}: {e}", inv.display())))?;
        let accepted = tokio::select! {
            a = listener.accept() => a.ok(),
            () = tool.stdout.read_to_end() => None,
        };
        let session = match accepted {
            None => never_connected(tool).await,
            Some((conn, _)) => {
                let _ = conn.set_nodelay(true);
                // The ping goes in at once; once its echo is back (gnutls-cli prints what it reads, never what it
                // sends), closing stdin makes gnutls-cli send close_notify and exit.
                let script = Script { first: Some(PING), trigger: PING, reply: None, persistent: false };
                drive(tool, io, conn, script).await
            }
        };
        collect_keys(&keyfile, keys);
        Ok(outcome(Role::Client, &session))
    }
}

/// The line the preload library prints once gnutls-serv listens: `tlsmatrix-listening PORT`.
const LISTENING: &str = "tlsmatrix-listening ";

/// What gnutls-serv's stderr says about its listening socket so far: `Some(Ok(port))` once it listens on loopback,
/// `Some(Err(..))` when it listened without the preload library (or gave up), `None` while undecided.
fn listening(stderr: &[u8]) -> Option<Result<u16, String>> {
    let text = String::from_utf8_lossy(stderr);
    let line = |l: &str| l.strip_prefix(LISTENING).and_then(|p| p.trim().parse::<u16>().ok());
    if let Some(port) = text.lines().find_map(line) {
        return Some(Ok(port));
    }
    // gnutls-serv ends each "listening on ..." line with "done" after listen(); without our line before it, the
    // preload library was not loaded and the socket is on the wildcard address.
    if text.contains("...done") || text.contains("cannot be preloaded") {
        return Some(Err(format!("gnutls-serv did not load the loopback preload library: {}", text.trim())));
    }
    None
}

#[async_trait]
impl Endpoint for Server {
    async fn run(&mut self, io: Conn, keys: &KeyLog) -> Result<SideOutcome, ConfigError> {
        // The tool gets a socket of its own, bridged to this one: only the relay's plain socket will do.
        let io = io.into_tcp()?;
        let keyfile = self.dir.path().join("keys.log");
        let _ = std::fs::remove_file(&keyfile);
        let env = vec![("SSLKEYLOGFILE".to_string(), os(&keyfile)), ("LD_PRELOAD".to_string(), os(&self.shim))];
        let inv = Invocation { program: self.program.clone(), args: self.args.clone(), env };
        let mut tool =
            Tool::spawn(&inv, self.dir.path()).map_err(|e| ConfigError(format!("{}: {e}", inv.display())))?;
        // The listening line, or the end of stderr: gnutls-serv refused its arguments or files and exited.
        let port = match tool.stderr.read_until(|b| listening(b).is_some()).await {
            true => listening(&tool.stderr.buf),
            false => None,
        };
        let session = match port {
            None => never_connected(tool).await,
            Some(Err(why)) => return Err(ConfigError(why)),
            Some(Ok(port)) => match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    // gnutls-serv echoes by itself and serves forever: it is ended once its connection is over
                    // (everything it prints is out by then: the preload library makes stdout line-buffered).
                    let script = Script { first: None, trigger: b"- Description: ", reply: None, persistent: true };
                    drive(tool, io, conn, script).await
                }
                Err(e) => return Err(ConfigError(format!("connecting to gnutls-serv on port {port}: {e}"))),
            },
        };
        collect_keys(&keyfile, keys);
        Ok(server_outcome(&session))
    }
}

/// The lines gnutls prints about a failure (`*** ...`), verbatim.
fn error_lines(s: &Session) -> Vec<String> {
    s.stdout.lines().chain(s.stderr.lines()).map(str::trim).filter(|l| l.starts_with("***")).map(String::from).collect()
}

/// The error text after `*** Fatal error: ` or `*** handshake has failed: `.
fn fatal_text(lines: &[String]) -> Option<&str> {
    lines.iter().find_map(|l| {
        l.strip_prefix("*** Fatal error: ").or_else(|| l.strip_prefix("*** handshake has failed: ")).map(str::trim)
    })
}

/// The first fatal alert sent and received, from the debug log (close_notify aside).
fn fatal_alerts(log: &str) -> (Option<Alert>, Option<Alert>) {
    let alerts = debug_alerts(log);
    let first = |sent: bool| {
        alerts.iter().find(|(s, level, a)| *s == sent && *level == 2 && *a != Alert::CLOSE_NOTIFY).map(|a| a.2)
    };
    (first(true), first(false))
}

/// The error class of a failure: the alerts first, then what the error text says.
fn error_class(sent: Option<Alert>, received: Option<Alert>, text: Option<&str>) -> ErrorClass {
    // The stream's end or a reset is the peer's or the network's doing even when GnuTLS answers it with an alert
    // (gnutls_alert_send_appropriate maps GNUTLS_E_PREMATURE_TERMINATION to unexpected_message): it is classed by the
    // error text before "an alert was sent, so it failed locally".
    match (received, sent, text) {
        (Some(_), _, _) => ErrorClass::PeerAlert,
        (None, _, Some(t)) if t.contains("non-properly terminated") => ErrorClass::Eof,
        (None, _, Some(t)) if t.contains("push function") || t.contains("pull function") => ErrorClass::Io,
        (None, Some(_), _) => ErrorClass::Local,
        (None, None, None) => ErrorClass::Eof,
        (None, None, Some(_)) => ErrorClass::Local,
    }
}

/// A completed connection as either tool saw it: version, suite and group from the bridged ServerHello (and
/// ServerKeyExchange), ALPN from the tool's `- Application protocol:` line.
fn established(role: Role, s: &Session) -> SideOutcome {
    let h = hello::parse(server_bytes(role, s));
    let alpn = s.stdout.lines().find_map(|l| l.trim().strip_prefix("- Application protocol: "));
    SideOutcome::Established(Established {
        version: h.version,
        cipher: h.cipher,
        group: h.group,
        alpn: alpn.map(|a| a.trim().to_string()),
        resumed: None,
    })
}

fn outcome(role: Role, s: &Session) -> SideOutcome {
    let lines = error_lines(s);
    let (sent, received) = fatal_alerts(&s.stderr);
    let handshake_done = s.stdout.contains("- Handshake was completed");
    let exchanged = contains(s.stdout.as_bytes(), PING);
    let fatal = fatal_text(&lines);
    let clean_exit = s.status.is_some_and(|st| st.success());
    let quiet = received.is_none() && sent.is_none() && fatal.is_none();
    if s.connected && handshake_done && exchanged && quiet && clean_exit {
        return established(role, s);
    }
    let error = error_class(sent, received, fatal);
    let message = if lines.is_empty() {
        let own: Vec<&str> = s.stderr.lines().filter(|l| !l.starts_with("|<")).collect();
        format!("gnutls-cli: {} {}", s.stdout.trim(), own.join("; "))
    } else {
        lines.join("; ")
    };
    let phase = if handshake_done { Phase::Data } else { Phase::Handshake };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error, message })
}

/// The alerts in a GnuTLS tool's debug log (level 5, on stderr), in order: `(sent, level, description)`. A sent alert counts once
/// its record was written (`REC: Sending Alert[2|40] - Handshake failed` followed by `REC[..]: Sent Packet[1]
/// Alert(21) ...`: GnuTLS logs that line only after the write succeeded); a received one when the record layer
/// decoded it (`REC[..]: Alert[2|48] - CA is unknown - was received`).
fn debug_alerts(log: &str) -> Vec<(bool, u8, Alert)> {
    // `[2|48]` -> (2, 48).
    fn pair(s: &str) -> Option<(u8, u8)> {
        let inner = s.strip_prefix('[')?.split(']').next()?;
        let (level, desc) = inner.split_once('|')?;
        Some((level.trim().parse().ok()?, desc.trim().parse().ok()?))
    }
    let mut out = Vec::new();
    let mut sending: Option<(u8, u8)> = None;
    for line in log.lines() {
        let Some(rest) = line.split_once("| ").map(|(_, r)| r) else { continue };
        if let Some(p) = rest.strip_prefix("REC: Sending Alert") {
            sending = pair(p);
        } else if rest.contains("]: Sent Packet[") && rest.contains(" Alert(21) ") {
            if let Some((level, desc)) = sending.take() {
                out.push((true, level, Alert(desc)));
            }
        } else if let Some(p) = rest.split_once("]: Alert").map(|(_, p)| p) {
            if p.ends_with(" was received") {
                if let Some((level, desc)) = pair(p) {
                    out.push((false, level, Alert(desc)));
                }
            }
        }
    }
    out
}

/// gnutls-serv's error: the text after `Error in handshake: `, or after `Error: ` (printed on stdout after `Error
/// while receiving data` / `Error while sending data`), with the phase it belongs to.
fn server_error(s: &Session) -> Option<(Phase, String)> {
    let lines = || s.stdout.lines().chain(s.stderr.lines()).map(str::trim);
    if let Some(t) = lines().find_map(|l| l.strip_prefix("Error in handshake: ")) {
        return Some((Phase::Handshake, t.to_string()));
    }
    let data = lines().any(|l| l == "Error while receiving data" || l == "Error while sending data");
    let text = lines().find_map(|l| l.strip_prefix("Error: ")).map(String::from);
    match (data, text) {
        (true, Some(t)) => Some((Phase::Data, t)),
        (true, None) => Some((Phase::Data, "error without text".to_string())),
        (false, _) => None,
    }
}

fn server_outcome(s: &Session) -> SideOutcome {
    let (sent, received) = fatal_alerts(&s.stderr);
    let handshake_done = s.stdout.contains("- Description: ");
    let echoed = s.stderr.contains("received cmd: tlsmatrix ping");
    let error = server_error(s);
    if s.connected && handshake_done && echoed && sent.is_none() && received.is_none() && error.is_none() {
        return established(Role::Server, s);
    }
    let phase = match &error {
        Some((phase, _)) => *phase,
        None if handshake_done => Phase::Data,
        None => Phase::Handshake,
    };
    let class = match s.connected {
        true => error_class(sent, received, error.as_ref().map(|(_, t)| t.as_str())),
        false => ErrorClass::Eof,
    };
    // Its own words: the error lines and what it printed about alerts, without the debug log.
    let said: Vec<&str> = s
        .stdout
        .lines()
        .chain(s.stderr.lines())
        .map(str::trim)
        .filter(|l| l.starts_with("Error") || l.starts_with("* Received alert"))
        .collect();
    let message = match (said.is_empty(), s.connected) {
        (_, false) => {
            let own: Vec<&str> = s.stderr.lines().filter(|l| !l.starts_with("|<")).collect();
            format!("gnutls-serv never got a connection: {} {}", s.stdout.trim(), own.join("; "))
        }
        (true, true) => format!(
            "the connection ended without an error line (handshake {}, echo {})",
            if handshake_done { "done" } else { "not done" },
            if echoed { "done" } else { "not done" }
        ),
        (false, true) => said.join("; "),
    };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error: class, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::ProtocolVersion::{Tls12, Tls13};

    fn server(versions: &[ProtocolVersion], tls12: &[u16], tls13: &[u16]) -> ServerConfig {
        let list = |l: &[u16]| (!l.is_empty()).then(|| l.iter().map(|c| CipherSuite(*c)).collect());
        ServerConfig {
            versions: Some(versions.to_vec()),
            cipher_suites: list(tls12),
            tls13_cipher_suites: list(tls13),
            ..Default::default()
        }
    }

    #[test]
    fn a_suite_list_that_is_a_product_of_items_is_expressed() {
        let cbc = server(&[Tls12], &[0xc009, 0xc00a], &[]);
        let p = suite_items(&cbc).unwrap().unwrap();
        assert_eq!(p, ":-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1");
        let chacha13 = server(&[Tls13], &[], &[0x1303]);
        assert_eq!(suite_items(&chacha13).unwrap().unwrap(), ":-CIPHER-ALL:+CHACHA20-POLY1305");
        // The other version's list does not matter when that version is off.
        assert!(suite_items(&server(&[Tls12], &[0xc02b], &[0x1301])).is_ok());
        assert_eq!(suite_items(&server(&[Tls13], &[], &[])).unwrap(), None);
    }

    #[test]
    fn a_suite_list_gnutls_would_widen_is_refused_with_the_extra_suites() {
        // ECDHE-ECDSA + ECDHE-RSA with AES-128-GCM + CHACHA20 would enable all four combinations.
        let mixed = server(&[Tls12], &[0xc02b, 0xcca8], &[]);
        let e = suite_items(&mixed).unwrap_err().0;
        assert!(e.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{e}");
        // With TLS 1.3 on as well, its default ciphers come along for TLS 1.2 too.
        let both = server(&[Tls12, Tls13], &[0xc02b], &[]);
        let e = suite_items(&both).unwrap_err().0;
        assert!(e.contains("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), "{e}");
        // And TLS 1.2's default ciphers widen a TLS 1.3 list.
        let e = suite_items(&server(&[Tls12, Tls13], &[], &[0x1301])).unwrap_err().0;
        assert!(e.contains("also enable [TLS_AES_256_GCM_SHA384"), "{e}");
    }

    #[test]
    fn server_output_gives_alerts_and_errors() {
        let s = Session {
            stdout: "* Received alert '48': CA is unknown.\n".into(),
            stderr: "|<5>| REC[0x55bb]: Alert[2|48] - CA is unknown - was received\n\
                     Error in handshake: A TLS fatal alert has been received.\n"
                .into(),
            status: None,
            connected: true,
            triggered: false,
            tapped: Default::default(),
        };
        let SideOutcome::Failed(f) = server_outcome(&s) else { panic!("a failure") };
        assert_eq!((f.received_alert, f.sent_alert, f.error), (Some(Alert::UNKNOWN_CA), None, ErrorClass::PeerAlert));
        assert_eq!(
            f.message,
            "* Received alert '48': CA is unknown.; Error in handshake: A TLS fatal alert has been received."
        );
    }

    #[test]
    fn a_sent_alert_counts_once_its_record_is_written() {
        let log = "|<5>| REC: Sending Alert[2|40] - Handshake failed\n\
                   |<5>| REC[0x5577]: Preparing Packet Alert(21) with length: 2 and min pad: 0\n\
                   |<5>| REC[0x5577]: Sent Packet[1] Alert(21) in epoch 0 and length: 7\n\
                   |<5>| REC: Sending Alert[1|0] - Close notify\n";
        assert_eq!(debug_alerts(log), vec![(true, 2, Alert::HANDSHAKE_FAILURE)]);
    }

    #[test]
    fn the_listening_line_gives_the_port() {
        let ok = b"Echo Server listening on IPv4 0.0.0.0 port 0...\ntlsmatrix-listening 4242\ndone\n";
        assert_eq!(listening(ok), Some(Ok(4242)));
        assert!(matches!(listening(b"Echo Server listening on IPv4 0.0.0.0 port 0...done\n"), Some(Err(_))));
        assert_eq!(listening(b"Echo Server listening on IPv4 0.0.0.0 port 0..."), None);
    }

    /// The socket inodes `pid` holds, from its fd links (`socket:[12345]`).
    fn socket_inodes(pid: u32) -> Vec<String> {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten();
        let links = fds.filter_map(|e| std::fs::read_link(e.path()).ok());
        let inode = |l: PathBuf| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(String::from);
        links.filter_map(inode).collect()
    }

    #[tokio::test]
    async fn gnutls_serv_listens_on_loopback_only() {
        let Some(program) = which("gnutls-serv") else { return };
        assert!(!SHIM.is_empty(), "build.rs built the preload library: {SHIM_ERROR}");
        let dir = TempDir::new("gnutls-loopback-test").unwrap();
        let shim = dir.write("loopback.so", SHIM).unwrap();
        let args = vec![os("--echo"), os("--port=0"), os("--disable-client-cert")];
        let inv = Invocation { program, args, env: vec![("LD_PRELOAD".to_string(), os(&shim))] };
        let mut tool = Tool::spawn(&inv, dir.path()).unwrap();
        assert!(tool.stderr.read_until(|b| listening(b).is_some()).await, "{}", tool.stderr.text());
        let port = listening(&tool.stderr.buf).unwrap().unwrap();
        // Every listening TCP socket of the process (state 0A), IPv4 and IPv6: one, on 127.0.0.1:port.
        let inodes = socket_inodes(tool.pid());
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(|t| std::fs::read_to_string(t).unwrap_or_default());
        let listening: Vec<String> = tables
            .iter()
            .flat_map(|t| t.lines())
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]))
            .map(|f| f[1].to_string())
            .collect();
        assert_eq!(listening, vec![format!("0100007F:{port:04X}")]);
        tool.kill();
    }
}
