//! The `python` backend: Python's `ssl` module through `peers/python/tls_peer.py`, run by the `python3` on PATH.
//!
//! The adapter source is compiled into this binary. What the interpreter can do (its version, its OpenSSL's suites,
//! whether `SSLContext._msg_callback` is there) is probed once, the first time the planner asks for the
//! capabilities, by running the adapter source with `--probe` (`python3 -c SOURCE --probe`, a few tens of
//! milliseconds). The adapter itself starts on the first python cell: the source and a table of IANA suite names are
//! written to a private temporary directory, and one process serves every cell (Python reads no setting once per
//! process, unlike Java).
//!
//! Resumption: the two connections of a `mode: resume` cell are two requests through one endpoint. Each endpoint
//! adds an `endpoint` id of its own to its requests, and the adapter keeps that endpoint's contexts (a server's
//! session cache and ticket keys live in its `SSLContext`) and a client's last session for the next request.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::Pool;
use super::{adapter_dir, adapter_version, client_request, pooled_endpoint, run_probe, server_request};
use crate::backend::cli::which;
use crate::backend::{Backend, Capabilities, ConfigError, Endpoint, TempDir};
use crate::pki::Pki;
use crate::scenario::{ClientConfig, ServerConfig};
use crate::settings::Settings;
use crate::vocab::{BackendId, CipherSuite, ProtocolVersion, Role};

/// The adapter, as shipped in the repository.
const SOURCE: &str = include_str!("../../../peers/python/tls_peer.py");
/// What to do when `python3` is missing or unusable.
const INSTALL_HINT: &str = "install Python 3.8+ with its ssl module (apt-get install python3)";
/// How long the interpreter may take to start and say ready (a few tens of milliseconds on an idle machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the process is called in errors.
const NAME: &str = "python adapter";

/// What the probe found: the interpreter, its version, and the capabilities of both roles.
struct Probed {
    /// The interpreter itself (`sys.executable`), so starting the adapter skips launcher shims (pyenv's cost 0.2 s).
    executable: Option<PathBuf>,
    version: Option<String>,
    client: Capabilities,
    server: Capabilities,
}

/// The python backend.
pub struct PythonBackend {
    python: Option<PathBuf>,
    probed: OnceLock<Probed>,
    pool: Pool,
    dir: OnceLock<Result<TempDir, String>>,
    /// How long the adapter may take to say it is ready.
    start_within: Duration,
}

/// The capabilities of both roles, in one place: `probe` is the adapter's `--probe` output (`None`: unavailable).
fn capabilities(probe: Option<&Value>, unavailable: Option<String>) -> (Capabilities, Capabilities) {
    let has = |v: ProtocolVersion| probe.and_then(|p| p["versions"][v.name()].as_bool()).unwrap_or(false);
    use crate::settings::Knob::*;
    let settings = Settings::new()
        .supports([Versions, CipherSuites, SecurityLevel, Alpn, ChainShape, ClientAuth, SniCertificates])
        .supports([SessionTickets, Certificate, Resumption, Trust, ServerName, AlpnMismatchIgnore])
        .lacks(
            AlpnMismatchFatal,
            "Python's ssl module has no API to refuse an ALPN mismatch: CPython's selection callback (_selectALPN_cb \
             in Modules/_ssl.c) answers SSL_TLSEXT_ERR_NOACK when nothing matches, so the handshake goes on",
        )
        .lacks(
            Tls13CipherSuites,
            "Python's ssl module (3.11) has no API for TLS 1.3 suites: SSLContext.set_ciphers sets the TLS 1.2 list \
             only, and OpenSSL's SSL_CTX_set_ciphersuites is not wrapped (OpenSSL's three default suites are used)",
        )
        .lacks(
            Groups,
            "Python's ssl module (3.11) has no API for a group list: SSLContext.set_ecdh_curve sets a single EC curve \
             (no X25519, no ffdhe, no order), and OpenSSL's SSL_CTX_set1_groups_list is not wrapped",
        )
        .lacks(
            SignatureAlgorithms,
            "Python's ssl module (3.11) has no API for signature algorithms: OpenSSL's SSL_CTX_set1_sigalgs_list is \
             not wrapped",
        )
        .lacks(
            Sni,
            "Python's ssl module has no API for SNI on its own: wrap_socket(server_hostname=...) sets both the SNI \
             and the name verified (_ssl_configure_hostname in Modules/_ssl.c), and without server_hostname \
             check_hostname must be off",
        )
        .not_applicable(JavaSecurity, crate::backend::NOT_JAVA)
        .not_applicable(Nginx, crate::backend::NOT_NGINX);
    let client = Capabilities {
        versions: ProtocolVersion::ALL.into_iter().filter(|v| has(*v)).collect(),
        versions_reason: "this Python's OpenSSL does not implement it (ssl.HAS_TLSv1* is false)",
        settings,
        // The TLS 1.2-and-older suites OpenSSL can enable through set_ciphers; TLS 1.3 suites cannot be chosen.
        cipher_suites: probe
            .and_then(|p| p["suites"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_u64().and_then(|c| u16::try_from(c).ok()).map(CipherSuite))
            .filter(|s| !s.is_tls13() && s.name().is_some())
            .collect(),
        // None can be chosen (see lacks): OpenSSL's default list is used.
        groups: BTreeSet::new(),
        exact_alerts: true,
        // Version and suite from SSLSocket.version() / cipher(); the group has no API (the wire shows it).
        reports_parameters: true,
        unavailable,
    };
    let server = client.clone();
    (client, server)
}

impl PythonBackend {
    /// The python backend with the `python3` found on PATH now (none: every cell is unsupported, with the hint).
    pub fn new() -> Self {
        Self::with_python(which("python3"))
    }

    /// The python backend with this interpreter (tests pass `None` to see the unavailable backend).
    pub fn with_python(python: Option<PathBuf>) -> Self {
        PythonBackend {
            python,
            probed: OnceLock::new(),
            pool: Pool::new(NAME),
            dir: OnceLock::new(),
            start_within: START_TIMEOUT,
        }
    }

    /// With another start-up deadline (the hostile tests' adapter that never says ready).
    #[cfg(test)]
    pub(crate) fn start_within(mut self, d: Duration) -> Self {
        self.start_within = d;
        self
    }

    /// Runs the probe once and keeps what it found.
    fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let unavailable = |why: String| {
                let (client, server) = capabilities(None, Some(format!("{why}: {INSTALL_HINT}")));
                Probed { executable: None, version: None, client, server }
            };
            let Some(python) = &self.python else {
                return unavailable("python3 not found on PATH".into());
            };
            let mut cmd = Command::new(python);
            cmd.arg("-c").arg(SOURCE).arg("--probe");
            let probe =
                match run_probe(&mut cmd, |last| format!("{} has no usable ssl module ({last})", python.display())) {
                    Ok(p) => p,
                    Err(why) => return unavailable(why),
                };
            let version = probe["version"].as_str().map(String::from);
            if probe["msg_callback"].as_bool() != Some(true) {
                let v = version.clone().unwrap_or_else(|| python.display().to_string());
                return unavailable(format!(
                    "{v} has no ssl.SSLContext._msg_callback (Python 3.8+), which the adapter needs to see alerts"
                ));
            }
            let (client, server) = capabilities(Some(&probe), None);
            let executable = probe["executable"].as_str().filter(|e| !e.is_empty()).map(PathBuf::from);
            Probed { executable, version, client, server }
        })
    }

    /// The private directory holding the adapter and its suite-name table, written on first use.
    fn dir(&self) -> Result<&TempDir, String> {
        let made = self.dir.get_or_init(|| {
            // The adapter's IANA names: by code point, from the vocabulary (OpenSSL's names come from OpenSSL).
            let names: Map<String, Value> =
                CipherSuite::known().filter_map(|s| Some((s.0.to_string(), s.name()?.into()))).collect();
            adapter_dir(
                "python",
                &[("tls_peer.py", SOURCE.to_string()), ("suites.json", Value::Object(names).to_string())],
            )
        });
        made.as_ref().map_err(Clone::clone)
    }

    /// `python3 tls_peer.py --suites suites.json` in the private directory.
    fn launch(&self) -> Result<Command, String> {
        let probed = self.probed();
        if let Some(why) = &probed.client.unavailable {
            return Err(why.clone());
        }
        let python = probed.executable.clone().or_else(|| self.python.clone()).ok_or("python3 not found")?;
        let dir = self.dir()?.path();
        let mut cmd = Command::new(python);
        cmd.arg(dir.join("tls_peer.py")).arg("--suites").arg(dir.join("suites.json")).current_dir(dir);
        Ok(cmd)
    }

    fn endpoint(&self, role: Role, request: Map<String, Value>) -> Result<Box<dyn Endpoint>, ConfigError> {
        pooled_endpoint(&self.pool, || self.launch(), self.start_within, (role, request), NAME)
    }
}

impl Default for PythonBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The cipher string every SSLContext starts with since Python 3.10 (Modules/_ssl.c, PY_SSL_DEFAULT_CIPHER_STRING):
/// no SHA-1, no static RSA, no CCM.
const PYTHON_CIPHERS: &str = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM";

impl Backend for PythonBackend {
    fn id(&self) -> BackendId {
        BackendId::Python
    }

    fn capabilities(&self, role: Role) -> &Capabilities {
        let p = self.probed();
        match role {
            Role::Client => &p.client,
            Role::Server => &p.server,
        }
    }

    fn behaviour(&self, role: Role) -> crate::backend::Behaviour {
        use crate::backend::{Behaviour, Preset};
        use ProtocolVersion::{Tls12, Tls13};
        // create_default_context's contexts over the system OpenSSL: SSLContext's minimum is TLS 1.2 (3.10+), and
        // its cipher string leaves out SHA-1 and static-RSA suites; security level 2 from the system.
        let versions = Preset::new([Tls12, Tls13], "Python's default: SSLContext's minimum is TLS 1.2 (3.10+)");
        // Expanded by the system OpenSSL, as Python's own SSLContext does with it.
        let tls12_suites = crate::backend::expand_cipher_strings(Some(PYTHON_CIPHERS), None)
            .ok()
            .map(|e| Preset::new(e.tls12, "Python 3.10+'s default cipher string (PY_SSL_DEFAULT_CIPHER_STRING)"));
        Behaviour {
            tls12_suites,
            // Its ALPN selection callback answers no overlap with SSL_TLSEXT_ERR_NOACK (catalog: alpn::no_overlap).
            ignores_alpn_mismatch: role == Role::Server,
            // An SSLContext has no DH parameters until load_dh_params() is called, so OpenSSL never selects a DHE
            // suite (catalog: cipher_suites::dhe_only_server, handshake_failure from the python server).
            dhe_without_parameters: (role == Role::Server).then_some(crate::backend::NoDhParameters {
                why: "a Python SSLContext has none until SSLContext.load_dh_params() is called, so OpenSSL never \
                      selects these suites, whatever the client offers",
                remedy: "call SSLContext.load_dh_params(dhparam_file) on the server's context",
            }),
            ..Behaviour::openssl_library(role, versions)
        }
    }

    /// The version the probe or the adapter reported; no process is started just to print it.
    fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.client.unavailable.as_deref()));
        let missing = self.python.is_none().then(|| format!("python3 not found on PATH: {INSTALL_HINT}"));
        adapter_version(&self.pool, probed, missing, "python3 (version read at first use)")
    }

    fn server(&self, cfg: &ServerConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Server, server_request(cfg, pki)?)
    }

    fn client(&self, cfg: &ClientConfig, pki: &Pki) -> Result<Box<dyn Endpoint>, ConfigError> {
        self.endpoint(Role::Client, client_request(cfg, pki)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default suites the explain rules assume for a Python client are what Python 3.11.7 here lists
    /// (`ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers()`, its TLS 1.2 entries), in OpenSSL's names.
    #[test]
    fn the_default_cipher_string_expands_to_what_python_lists() {
        let e = crate::backend::expand_cipher_strings(Some(PYTHON_CIPHERS), None).unwrap();
        let measured = [
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        ];
        assert_eq!(e.tls12.iter().map(|s| s.to_string()).collect::<Vec<_>>(), measured);
    }

    #[test]
    fn without_python_every_cell_is_unsupported_and_nothing_starts() {
        let b = PythonBackend::with_python(None);
        assert!(b.version().contains("not found"), "{}", b.version());
        for role in [Role::Client, Role::Server] {
            let why = b.capabilities(role).unavailable.clone().unwrap_or_default();
            assert!(why.starts_with("python3 not found on PATH"), "{why}");
            assert!(why.contains("apt-get install python3"), "{why}");
        }
        assert!(b.dir.get().is_none(), "no directory or process before first use");
    }

    #[test]
    fn an_interpreter_without_ssl_is_unavailable_with_its_error() {
        // `false` runs, prints nothing and fails, as an interpreter whose `import ssl` raises would.
        let b = PythonBackend::with_python(which("false"));
        let why = b.capabilities(Role::Client).unavailable.clone().unwrap_or_default();
        assert!(why.contains("has no usable ssl module") && why.contains(INSTALL_HINT), "{why}");
    }

    #[test]
    fn the_lacking_knobs_name_the_missing_api() {
        let (client, _) = capabilities(None, None);
        for (knob, why) in client.settings.lacking().filter(|(k, _)| *k != crate::settings::Knob::Sni) {
            assert!(why.contains("no API"), "{knob:?}: {why}");
        }
        assert!(client.cipher_suites.is_empty() && client.versions.is_empty(), "nothing without a probe");
    }

    /// Adapters that misbehave, played by a fake interpreter (a shell script handing over to a Python script of
    /// modes): the harness stays in charge of each, within a bound of time and memory, and says what went wrong.
    mod hostile {
        use super::*;
        use crate::plan::Cell;
        use crate::runner::Context;
        use crate::verdict::Status;
        use std::sync::Arc;

        const FAKE: &str = r#"
import json, socket, sys, threading, time
mode = sys.argv[1]
if sys.argv[2:4] == ["-c", sys.argv[3]] and "--probe" in sys.argv:
    print(json.dumps({"version": "fake " + mode, "executable": "", "msg_callback": True,
                      "versions": {"tls1.0": False, "tls1.1": False, "tls1.2": True, "tls1.3": True},
                      "suites": [4865, 4866, 4867, 49199]}))
    sys.exit(0)
if mode == "never_ready":
    time.sleep(600)
out = sys.stdout
if mode == "flood_before_ready":
    while True:
        out.write("x" * 65536)
print(json.dumps({"ready": True, "version": "fake " + mode}), flush=True)
lock = threading.Lock()
def reply(msg):
    with lock:
        out.write(json.dumps(msg) + "\n")
        out.flush()
def handle(req):
    rid = req["id"]
    if mode == "flood":
        with lock:
            while True:
                out.write("y" * 65536)
    established = {"result": "established", "version": "tls1.3", "cipher": "TLS_AES_128_GCM_SHA256",
                   "alpn": None, "resumed": False}
    if mode == "huge_message":
        reply({"id": rid, "outcome": {"result": "failed", "phase": "handshake", "sent_alert": None,
               "received_alert": None, "error": "local", "message": "z" * 500_000}})
        return
    # "liar": claims a TLS 1.3 connection without a single TLS byte.
    if req["role"] == "server":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        reply({"id": rid, "listening": s.getsockname()[1]})
        c, _ = s.accept()
        c.close()
    else:
        c = socket.create_connection(("127.0.0.1", req["connect"]))
        c.close()
    reply({"id": rid, "outcome": established})
for line in sys.stdin:
    threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()
"#;

        /// A `python3` that runs [`FAKE`] in `mode`.
        fn fake(dir: &std::path::Path, mode: &str) -> PathBuf {
            use std::os::unix::fs::PermissionsExt;
            let script = dir.join("fake.py");
            std::fs::write(&script, FAKE).unwrap();
            let shim = dir.join(format!("python3-{mode}"));
            let real = which("python3").expect("the hostile tests need python3");
            std::fs::write(&shim, format!("#!/bin/sh\nexec {} {} {mode} \"$@\"\n", real.display(), script.display()))
                .unwrap();
            std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
            shim
        }

        /// python (the fake) against openssl on the seed TLS 1.3 scenario, `n` times, with the registry's
        /// openssl and this python backend.
        fn play(python: PythonBackend, n: usize, server: bool) -> Vec<crate::verdict::CellResult> {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let (pki, catalog) =
                crate::Layout::at(root).load(&[root.join("scenarios/seed/tls13_success.yaml")]).unwrap();
            let registry =
                crate::backend::Registry::new(vec![Arc::new(crate::backend::OpensslBackend::new()), Arc::new(python)]);
            let ctx = Context::new(Arc::new(registry), Arc::new(pki));
            let s = Arc::new(catalog.scenarios.into_iter().next().unwrap());
            let (client, server_id) =
                if server { (BackendId::Openssl, BackendId::Python) } else { (BackendId::Python, BackendId::Openssl) };
            let cells = vec![Cell { scenario: s, client, server: server_id }; n];
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(ctx.run_all(cells, 4, None))
        }

        #[test]
        fn an_adapter_that_never_says_ready_costs_the_run_one_start_deadline() {
            let tmp = tempfile::tempdir().unwrap();
            let b =
                PythonBackend::with_python(Some(fake(tmp.path(), "never_ready"))).start_within(Duration::from_secs(1));
            let started = std::time::Instant::now();
            let results = play(b, 6, false);
            assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
            for r in &results {
                assert_eq!(r.status, Status::Error, "{r:?}");
            }
            let reasons: Vec<&str> = results.iter().filter_map(|r| r.reason.as_deref()).collect();
            assert!(reasons.iter().any(|r| r.contains("did not become ready within 1 s")), "{reasons:?}");
        }

        #[test]
        fn an_adapter_flooding_stdout_is_stopped_not_read_into_memory() {
            for mode in ["flood_before_ready", "flood"] {
                let tmp = tempfile::tempdir().unwrap();
                let b = PythonBackend::with_python(Some(fake(tmp.path(), mode))).start_within(Duration::from_secs(20));
                let r = &play(b, 1, false)[0];
                assert_eq!(r.status, Status::Error, "{mode}: {r:?}");
                let why = r.reason.as_deref().unwrap_or_default();
                assert!(why.contains("more than 1 MiB on stdout without a newline"), "{mode}: {why}");
            }
        }

        #[test]
        fn a_huge_native_message_is_cut_with_a_marker() {
            let tmp = tempfile::tempdir().unwrap();
            let b = PythonBackend::with_python(Some(fake(tmp.path(), "huge_message")));
            let r = &play(b, 1, false)[0];
            let f = r.observed.as_ref().and_then(|o| o.client.failure()).expect("the fake client fails");
            assert!(f.message.len() < 5000 && f.message.ends_with("more bytes cut]"), "{}", f.message.len());
        }

        #[test]
        fn an_adapter_claiming_a_connection_the_wire_never_carried_fails_the_cell() {
            for server in [false, true] {
                let tmp = tempfile::tempdir().unwrap();
                let b = PythonBackend::with_python(Some(fake(tmp.path(), "liar")));
                let r = &play(b, 1, server)[0];
                assert_eq!(r.status, Status::Fail, "{r:?}");
                let liar = if server { "server (python)" } else { "client (python)" };
                assert!(
                    r.mismatches.iter().any(|m| m.contains(liar) && m.contains("no ServerHello crossed the wire")),
                    "{:?}",
                    r.mismatches
                );
            }
        }
    }
}
