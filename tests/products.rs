//! Real server products against what tlsmatrix imports from their configs: nginx running a config's `ssl_*` lines
//! verbatim gives, client by client, the rows of the scenario `tlsmatrix import` makes of the same lines played by
//! the linked-in OpenSSL server (the three Mozilla profiles as Mozilla publishes them for nginx, and lines seen in
//! real configs); and `compat --target` against an nginx serving HTTPS that the test starts gives the rows of the
//! equivalent scenario. Needs nginx with its stream module (ignored with the install command otherwise).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use tlsmatrix::harness::{run_trials, trial_needing_backend};
use tlsmatrix::{BackendId, Role};

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
/// The clients compared: one of each stack (the Java and OpenSSL releases of the cache add JVM starts, not stacks).
const CLIENTS: &str = "openssl,native-tls,rustls,jsse,openssl-cli,gnutls,python,go,boringssl,nss";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Mozilla's Server Side TLS 5.7 intermediate suites, as its generator writes them for nginx.
const INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
/// The old profile's suites.
const OLD: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:\
ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:\
ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:\
AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA";

fn tlsmatrix(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--root").arg(root).args(args).output().expect("the binary runs")
}

/// `tlsmatrix ... --format json`, parsed; panics with stderr unless the exit code is 0.
fn json(root: &Path, args: &[&str]) -> Value {
    let out = tlsmatrix(root, args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// A project with the real fixtures and an empty `scenarios/products/`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios/products")).unwrap();
    std::fs::copy(Path::new(ROOT).join("fixtures/pki.yaml"), dir.path().join("fixtures/pki.yaml")).unwrap();
    dir
}

/// What a row says of the handshake: the client, whether it connected, what it negotiated, the alerts each way.
fn seen(row: &Value) -> Value {
    let f = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
    let first = |a: &str, b: &str| if f(a).is_null() { f(b) } else { f(a) };
    serde_json::json!({
        "client": f("client"), "verdict": f("verdict"), "version": f("version"), "cipher": f("cipher"),
        "group": f("group"), "alpn": f("alpn"),
        "c_to_s": first("client_sent", "server_received"), "s_to_c": first("server_sent", "client_received"),
    })
}

/// Asserts two compat reports agree client by client (but for the suite when the server picks by its own order),
/// and returns the verdicts seen.
fn same_rows(what: &str, a: &Value, b: &Value, server_order: bool) -> Vec<String> {
    let (a, b) = (a["rows"].as_array().unwrap(), b["rows"].as_array().unwrap());
    assert_eq!(a.len(), b.len(), "{what}: not the same clients");
    let mut verdicts = Vec::new();
    let view = |r: &Value| {
        let mut v = seen(r);
        if server_order {
            v["cipher"] = Value::Null;
        }
        v
    };
    for (a, b) in a.iter().zip(b) {
        assert_eq!(view(a), view(b), "{what}\nimported: {a}\nnginx:    {b}");
        verdicts.push(a["verdict"].as_str().unwrap_or_default().to_string());
    }
    assert!(verdicts.iter().any(|v| v == "connects"), "{what}: nobody connects, so nothing was compared: {verdicts:?}");
    verdicts
}

/// `tlsmatrix import LINES` played by the openssl server, against the same lines run verbatim by nginx (a
/// scenario with `server: { nginx: LINES }`, the imported file's certificate and client); every client's row agrees.
///
/// `ssl_prefer_server_ciphers on` (the server's own suite order, no scenario setting) leaves the suite out of the
/// comparison; the import says so in its notes, and the scenario's other backends are `unsupported` for it.
fn imported_matches_nginx(name: &str, import: &[&str], lines: &str) -> Vec<String> {
    let server_order = lines.contains("ssl_prefer_server_ciphers on");
    let dir = project();
    let imported = dir.path().join(format!("scenarios/products/{name}.yaml"));
    let out = tlsmatrix(dir.path(), &[&["import"], import, &["--output", &imported.to_string_lossy()]].concat());
    assert!(out.status.success(), "import {import:?}: {}", String::from_utf8_lossy(&out.stderr));
    let file: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&imported).unwrap()).unwrap();
    let verbatim = serde_json::json!({
        "description": format!("{name} as nginx runs it"),
        "server": { "certificate": file["server"]["certificate"], "nginx": lines },
        "client": file["client"],
        "expect": { "result": "success" },
    });
    let path = dir.path().join(format!("scenarios/products/{name}_nginx.yaml"));
    std::fs::write(&path, serde_yaml::to_string(&verbatim).unwrap()).unwrap();
    let a = json(
        dir.path(),
        &["compat", &format!("products::{name}"), "--server", "openssl", "--client", CLIENTS, "--format", "json"],
    );
    let b = json(
        dir.path(),
        &["compat", &format!("products::{name}_nginx"), "--server", "nginx", "--client", CLIENTS, "--format", "json"],
    );
    if server_order {
        let args = ["compat", &format!("products::{name}_nginx"), "--server", "openssl", "--format", "json"];
        let other = tlsmatrix(dir.path(), &args);
        let text = String::from_utf8_lossy(&other.stdout).into_owned() + &String::from_utf8_lossy(&other.stderr);
        assert!(text.contains("has no scenario setting"), "only nginx plays the verbatim lines: {text}");
    }
    same_rows(name, &a, &b, server_order)
}

fn mozilla_modern() {
    let lines = "ssl_protocols TLSv1.3; ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_prefer_server_ciphers off;";
    imported_matches_nginx("modern", &["mozilla:modern"], lines);
}

fn mozilla_intermediate() {
    let lines = format!(
        "ssl_protocols TLSv1.2 TLSv1.3; ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_ciphers {INTERMEDIATE}; \
         ssl_prefer_server_ciphers off;"
    );
    imported_matches_nginx("intermediate", &["mozilla:intermediate"], &lines);
}

fn mozilla_old() {
    // On OpenSSL 3 the old profile serves TLS 1.0 and 1.1 only at security level 0, which its generator adds.
    let lines = format!(
        "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; ssl_ecdh_curve X25519:prime256v1:secp384r1; \
         ssl_ciphers {OLD}:@SECLEVEL=0; ssl_prefer_server_ciphers on;"
    );
    imported_matches_nginx("old", &["mozilla:old"], &lines);
}

/// The field report's server: TLS 1.2 with one CBC suite (rustls and Python refuse it).
fn cbc_only() {
    let v = imported_matches_nginx("cbc_only", &[CBC], CBC);
    assert!(v.iter().any(|v| v == "fails"), "{v:?}");
}
const CBC: &str = "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES128-SHA;";

/// cipherli.st, copied into countless configs: AES-GCM only, P-384 only, the cipher string quoted.
fn cipherlist() {
    let lines = "ssl_protocols TLSv1.2; ssl_ciphers 'EECDH+AESGCM:EDH+AESGCM'; ssl_ecdh_curve secp384r1;";
    imported_matches_nginx("cipherlist", &[lines], lines);
}

/// Only the suites: the versions are nginx 1.22's default, TLS 1.0-1.2.
fn ciphers_only() {
    let lines = "ssl_ciphers ECDHE+AESGCM:!aNULL;";
    imported_matches_nginx("ciphers_only", &[lines], lines);
}

/// TLS 1.3 with one suite, through OpenSSL's configuration commands.
fn tls13_chacha() {
    let lines = "ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;";
    imported_matches_nginx("tls13_chacha", &[lines], lines);
}

/// nginx serving HTTPS (its `http` module, `return 200`) on a socket the test bound on 127.0.0.1:0 and hands over as
/// an inherited one; killed on drop.
struct Https {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Https {
    fn start(pem: &Path, directives: &str) -> Https {
        let nginx = ["nginx", "/usr/sbin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| Command::new(p).arg("-v").output().is_ok_and(|o| o.status.success()))
            .expect("nginx is available (checked by the trial)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let p = |f: &str| pem.join(f).display().to_string();
        let bundle = dir.path().join("server-ec.bundle.crt");
        let chain = [std::fs::read(p("server-ec.crt")).unwrap(), std::fs::read(p("server-ec.chain.crt")).unwrap()];
        std::fs::write(&bundle, chain.concat()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let user = if rustix::process::geteuid().is_root() { "user root;" } else { "" };
        let temps: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .map(|t| format!("{t}_temp_path {d}/{t};\n"))
            .collect();
        let conf = format!(
            "{user}\ndaemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\naccess_log off;\n{temps}server {{\nlisten 127.0.0.1:{port} ssl;\n\
             ssl_certificate {bundle};\nssl_certificate_key {key};\n{directives}\n\
             location / {{ return 200 \"hello\\n\"; }}\n}}\n}}\n",
            bundle = bundle.display(),
            key = p("server-ec.key"),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .env("NGINX", format!("{};", listener.as_raw_fd()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(listener);
        Https { child, port, _dir: dir }
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.child.wait();
    }
}

fn a_live_nginx_gives_the_rows_of_its_scenario() {
    let dir = project();
    let pem = dir.path().join("pem");
    let out = tlsmatrix(dir.path(), &["pki-export", &pem.to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = "ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES128-SHA;";
    let scenario = format!(
        "description: nginx serving TLS 1.2 with ECDHE-ECDSA-AES128-SHA only\n\
         server: {{ certificate: server-ec, nginx: \"{lines}\" }}\n\
         client: {{ trust: [root-a], server_name: localhost }}\nexpect: {{ result: success }}\n"
    );
    std::fs::write(dir.path().join("scenarios/products/cbc_only.yaml"), scenario).unwrap();
    let server = Https::start(&pem, lines);
    let target = format!("127.0.0.1:{}", server.port);
    let root_a = pem.join("root-a.crt").to_string_lossy().into_owned();
    let live = json(
        dir.path(),
        &[
            "compat",
            "--target",
            &target,
            "--trust",
            &root_a,
            "--server-name",
            "localhost",
            "products::cbc_only",
            "--client",
            CLIENTS,
            "--format",
            "json",
        ],
    );
    assert_eq!(live["live"], true);
    for server in ["nginx", "openssl"] {
        let played = json(
            dir.path(),
            &["compat", "products::cbc_only", "--server", server, "--client", CLIENTS, "--format", "json"],
        );
        let verdicts = same_rows(&format!("live nginx vs the scenario on {server}"), &played, &live, false);
        assert!(verdicts.iter().any(|v| v == "fails"), "{verdicts:?}");
    }
    let rows = live["rows"].as_array().unwrap();
    for r in rows.iter().filter(|r| r["verdict"] == "connects") {
        assert_eq!(r["cipher"], "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "{r}");
    }
    // A real service: nginx answers the harness's ping as HTTP, which the report notes.
    assert!(rows.iter().any(|r| r["reason"].as_str().unwrap_or_default().contains("HTTP/1.1 400")), "{rows:?}");
}

fn main() -> std::process::ExitCode {
    let nginx = |name, test| trial_needing_backend(name, BackendId::Nginx, Role::Server, test);
    run_trials(vec![
        nginx("mozilla_modern_imported_matches_nginx_running_its_lines", mozilla_modern),
        nginx("mozilla_intermediate_imported_matches_nginx_running_its_lines", mozilla_intermediate),
        nginx("mozilla_old_imported_matches_nginx_running_its_lines", mozilla_old),
        nginx("real_world_cbc_only_imported_matches_nginx", cbc_only),
        nginx("real_world_cipherlist_imported_matches_nginx", cipherlist),
        nginx("real_world_ciphers_only_imported_matches_nginx", ciphers_only),
        nginx("real_world_tls13_chacha_imported_matches_nginx", tls13_chacha),
        nginx("a_live_nginx_gives_the_rows_of_its_scenario", a_live_nginx_gives_the_rows_of_its_scenario),
    ])
}
