//! The `tlsmatrix` command end to end: exit codes, the JSON contract, bad input, and new scenario files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tlsmatrix(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--root").arg(root).args(args).output().expect("the binary runs")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A project root with the real fixtures and only the given scenario files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    std::fs::copy(Path::new(ROOT).join("fixtures/pki.yaml"), fixtures.join("pki.yaml")).unwrap();
    for (name, body) in files {
        let path: PathBuf = dir.path().join("scenarios").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

/// A scenario every pair passes (the one `tlsmatrix bench` uses).
const TRUSTED: &str = tlsmatrix::bench::SCENARIO;

#[test]
fn json_lists_every_cell_with_both_observations() {
    let out = tlsmatrix(
        Path::new(ROOT),
        &[
            "run",
            "--filter",
            "seed::untrusted_ca",
            "--format",
            "json",
            "--client",
            "in-process",
            "--server",
            "in-process",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["version"], 1);
    assert!(report["environment"]["backends"][0]["library"].as_str().unwrap().contains("OpenSSL"));
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 9, "one scenario x 3 clients x 3 servers");
    for c in cells {
        assert_eq!(c["status"], "pass", "{c}");
        assert_eq!(c["observed"]["client"]["result"], "failed");
        assert_eq!(c["observed"]["client"]["sent_alert"], "unknown_ca", "{c}");
        assert_eq!(c["observed"]["server"]["received_alert"], "unknown_ca", "{c}");
    }
    assert_eq!(report["summary"]["pass"], 9);
}

#[test]
fn a_new_yaml_file_adds_its_cells_without_code() {
    let p = project(&[("mine/trusted.yaml", TRUSTED)]);
    let out = tlsmatrix(p.path(), &["run", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 36, "every backend on both sides by default");
    assert!(cells.iter().all(|c| c["scenario"] == "mine::trusted"));
}

#[test]
fn a_wrong_expectation_exits_1_and_shows_expected_and_observed() {
    let wrong = TRUSTED.replace("  result: success\n", "  result: success\n  version: tls1.2\n");
    let p = project(&[("mine/wrong.yaml", &wrong)]);
    let out = tlsmatrix(p.path(), &["run", "--client", "openssl", "--server", "openssl"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("mine::wrong::openssl->openssl [fail]"), "{stdout}");
    assert!(stdout.contains("client.version: expected tls1.2, observed tls1.3"), "{stdout}");
}

#[test]
fn bad_scenarios_exit_2_naming_file_line_and_the_allowed_values() {
    let cases = [
        (
            "bad/alert.yaml",
            TRUSTED.replace(
                "  result: success\n",
                "  result: failure\n  client: { sent_alert: unknown_cert }\n  server: {}\n",
            ),
            ":9:25:",
            "expected one of: close_notify",
        ),
        ("bad/field.yaml", TRUSTED.replace("  server_name:", "  server_nam:"), ":6:", "expected one of"),
        ("bad/fixture.yaml", TRUSTED.replace("server-ec", "server-nope"), ":3:", "unknown fixture `server-nope`"),
        ("bad/syntax.yaml", "description: [unclosed\n".to_string(), "bad/syntax.yaml", ""),
        ("bad/binary.yaml", "\u{0}\u{1}".to_string() + "\u{fffd}", "bad/binary.yaml", ""),
    ];
    for (name, body, at, says) in cases {
        let p = project(&[(name, &body), ("good/trusted.yaml", TRUSTED)]);
        for cmd in ["validate", "run"] {
            let out = tlsmatrix(p.path(), &[cmd]);
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {name}: {stdout}{stderr}");
            let all = format!("{stdout}{stderr}");
            assert!(all.contains(name) && all.contains(at) && all.contains(says), "{cmd} {name}: {all}");
            assert!(!all.contains("panicked"), "{all}");
        }
        // The good file still ran: one bad file never hides the others' results.
        let (stdout, _) = text(&tlsmatrix(p.path(), &["run"]));
        assert!(stdout.contains("good::trusted"), "{stdout}");
    }
}

#[test]
fn an_override_without_reason_is_rejected() {
    let body = format!("{TRUSTED}overrides:\n  - when: {{ server: rustls }}\n    expect: {{ alpn: h2 }}\n");
    let p = project(&[("bad/noreason.yaml", &body)]);
    let out = tlsmatrix(p.path(), &["validate"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("noreason.yaml:10:") && stderr.contains("needs a `reason`"), "{stderr}");
}

#[test]
fn a_missing_pki_or_unknown_backend_is_a_usage_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = tlsmatrix(empty.path(), &["run"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("fixtures/pki.yaml"), "{stderr}");

    let out = tlsmatrix(Path::new(ROOT), &["run", "--client", "boringssl"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("unknown backend `boringssl`, expected one of: openssl, native-tls, rustls"), "{stderr}");
}

#[test]
fn unsupported_cells_are_reported_with_their_reason() {
    let out = tlsmatrix(
        Path::new(ROOT),
        &["run", "--filter", "seed::tls13_success", "--client", "in-process", "--server", "native-tls"],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("never negotiates TLS 1.3"), "{stdout}");
    assert!(stdout.contains("0 passed, 0 failed, 3 unsupported"), "{stdout}");
}

#[test]
fn list_shows_backends_capabilities_and_scenarios() {
    let out = tlsmatrix(Path::new(ROOT), &["list"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("native-tls") && stdout.contains("cannot set cipher_suites"), "{stdout}");
    assert!(stdout.contains("seed::legacy_tls10_server"), "{stdout}");
}

#[test]
fn a_broken_file_is_one_failing_trial_and_the_rest_still_run() {
    let p = project(&[("bad/alert.yaml", "description: x\nserver: {}\n"), ("good/trusted.yaml", TRUSTED)]);
    let trials = tlsmatrix::harness::trials(&tlsmatrix::Layout::at(p.path()));
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert!(names.iter().any(|n| n.starts_with("load::") && n.ends_with("alert.yaml")), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("good::trusted::")).count(), 36, "{names:?}");
}

#[test]
fn baseline_and_diff_report_a_changed_expectation_as_a_regression() {
    let p = project(&[("mine/trusted.yaml", TRUSTED)]);
    let old = p.path().join("old.json");
    let pairs = ["--client", "in-process", "--server", "in-process"];
    let out =
        tlsmatrix(p.path(), &[&["run", "--format", "json", "--output", old.to_str().unwrap()][..], &pairs].concat());
    assert_eq!(out.status.code(), Some(0));
    // Same behaviour, stricter expectation: every cell now fails against the same observation.
    let stricter = TRUSTED.replace("  result: success\n", "  result: success\n  alpn: h2\n");
    std::fs::write(p.path().join("scenarios/mine/trusted.yaml"), stricter).unwrap();
    let out = tlsmatrix(p.path(), &[&["run", "--baseline", old.to_str().unwrap()][..], &pairs].concat());
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("9 regressions"), "{stderr}");
    assert!(stderr.contains("was: pass") && stderr.contains("now: fail") && stderr.contains("expected h2"), "{stderr}");

    let new = p.path().join("new.json");
    tlsmatrix(p.path(), &[&["run", "--format", "json", "--output", new.to_str().unwrap()][..], &pairs].concat());
    let out = tlsmatrix(p.path(), &["diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = tlsmatrix(p.path(), &["diff", old.to_str().unwrap(), old.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("no differences"), "{stdout}");
    let out = tlsmatrix(p.path(), &["diff", old.to_str().unwrap(), "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_format_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for (format, needle) in [
        ("table", "seed::untrusted_ca"),
        ("json", "\"version\": 1"),
        ("markdown", "| `seed::untrusted_ca` |"),
        ("junit", "<testsuite name=\"seed::untrusted_ca\""),
        ("html", "<!doctype html>"),
    ] {
        let path = dir.path().join(format!("report.{format}"));
        let out = tlsmatrix(
            Path::new(ROOT),
            &["run", "--filter", "seed::untrusted_ca", "--format", format, "--output", path.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{format}");
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.to_lowercase().contains(&needle.to_lowercase()), "{format}: {written}");
    }
}

#[test]
fn compare_names_the_backends_that_differ() {
    let out = tlsmatrix(Path::new(ROOT), &["compare", "--filter", "certificates::not_yet_valid"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("clients against openssl servers"), "{stdout}");
    assert!(stdout.contains("rustls -> C→S certificate_expired"), "{stdout}");
}

#[test]
fn the_committed_schema_is_current_and_new_writes_a_valid_skeleton() {
    let committed = std::fs::read_to_string(Path::new(ROOT).join("docs/scenario.schema.json")).unwrap();
    let out = tlsmatrix(Path::new(ROOT), &["schema"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "regenerate: tlsmatrix schema > docs/scenario.schema.json"
    );

    let p = project(&[]);
    let out = tlsmatrix(p.path(), &["new", "mine/first"]);
    assert_eq!(out.status.code(), Some(0));
    let out = tlsmatrix(p.path(), &["run"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("mine::first"), "{stdout}");
    assert_eq!(tlsmatrix(p.path(), &["new", "mine/first"]).status.code(), Some(2), "no overwrite");
    assert_eq!(tlsmatrix(p.path(), &["new", "../escape"]).status.code(), Some(2));
}

#[test]
fn explain_gives_cause_evidence_and_fix() {
    let out =
        tlsmatrix(Path::new(ROOT), &["explain", "seed::untrusted_ca", "--client", "openssl", "--server", "openssl"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("cause: the server's certificate is issued by a CA the client does not trust"), "{stdout}");
    assert!(stdout.contains("fix: add root-b to the client's trust"), "{stdout}");
    let out = tlsmatrix(Path::new(ROOT), &["explain", "seed::no_such_thing"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn repeat_reports_no_variation_on_a_stable_selection() {
    let out = tlsmatrix(
        Path::new(ROOT),
        &[
            "run",
            "--filter",
            "seed::*",
            "--repeat",
            "3",
            "--jobs",
            "16",
            "--client",
            "in-process",
            "--server",
            "in-process",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("3 runs of 90 cells: 0 cells varied"), "{stderr}");
    assert_eq!(tlsmatrix(Path::new(ROOT), &["run", "--repeat", "0"]).status.code(), Some(2));
}

#[test]
fn bench_reports_every_pair_and_the_catalog_throughput() {
    let out = tlsmatrix(Path::new(ROOT), &["bench", "--iterations", "2"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for pair in ["openssl->openssl", "native-tls->rustls", "rustls->native-tls"] {
        assert!(stdout.lines().any(|l| l.starts_with(pair) && l.trim_end().ends_with('x')), "{pair}: {stdout}");
    }
    assert!(stdout.contains("cells/s") && stdout.contains("peak memory"), "{stdout}");
}

/// The bench compares linked-in backends with their bare libraries: an external peer is a usage error, not a table
/// with a hole in it.
#[test]
fn bench_refuses_external_peers() {
    let out = tlsmatrix(Path::new(ROOT), &["bench", "--client", "rustls,jsse"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--client jsse") && stderr.contains("external peer"), "{stderr}");
}

/// `run --pcap DIR` on a TLS 1.3 certificate failure whose alert travels encrypted (rustls's client encrypts its
/// unknown_ca under the handshake keys): tshark reads the file as written, with the embedded key log and no other
/// setup, and shows the decrypted alert. Without the key log in the file the same alert would be opaque
/// (tests/pcapng.rs proves the key log block is what decrypts).
#[test]
fn pcap_export_opens_in_tshark_with_the_encrypted_alert_decrypted() {
    let Some(tshark) = tool("tshark") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--root", ROOT, "run", "--filter", "seed::untrusted_ca", "--client", "rustls", "--server", "openssl"])
        .arg("--pcap")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let file = dir.path().join("seed__untrusted_ca__rustls--openssl.pcapng");
    assert!(file.exists(), "no pcapng written: {:?}", std::fs::read_dir(dir.path()).unwrap().collect::<Vec<_>>());
    let fields = ["-T", "fields", "-e", "tcp.srcport", "-e", "tls.alert_message.level", "-e", "tls.alert_message.desc"];
    // `-o tls.keylog_file:` makes sure no key log configured elsewhere is what decrypts.
    let shown = Command::new(tshark)
        .arg("-r")
        .arg(&file)
        .args(["-o", "tls.keylog_file:", "-Y", "tls.alert_message"])
        .args(fields)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&shown.stdout);
    // From the client's port, fatal (2), unknown_ca (48).
    assert_eq!(stdout.trim(), "49152\t2\t48", "tshark: {stdout} {}", String::from_utf8_lossy(&shown.stderr));
}

/// A tool the test needs from the machine: `None` (after saying so loudly) when it is missing, unless CI asked for
/// every tool with `TLSMATRIX_REQUIRE_TOOLS`, where a missing tool fails the test.
fn tool(name: &str) -> Option<PathBuf> {
    let found =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()));
    if found.is_none() {
        assert!(
            std::env::var_os("TLSMATRIX_REQUIRE_TOOLS").is_none(),
            "{name} is required (TLSMATRIX_REQUIRE_TOOLS is set) but not on PATH"
        );
        eprintln!("NOT CHECKED: {name} is not installed (apt-get install {name}); this test checked nothing");
    }
    found
}
