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
    let all = tlsmatrix::BackendId::ALL.len();
    assert_eq!(cells.len(), all * all, "every backend on both sides by default");
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
        // The linked-in backends are enough to see how a bad file is reported (no JVM start per run).
        let linked: &[&str] = &["--client", "in-process", "--server", "in-process"];
        for cmd in [&["validate"][..], &[&["run"][..], linked].concat()] {
            let out = tlsmatrix(p.path(), cmd);
            let cmd = cmd[0];
            let (stdout, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {name}: {stdout}{stderr}");
            let all = format!("{stdout}{stderr}");
            assert!(all.contains(name) && all.contains(at) && all.contains(says), "{cmd} {name}: {all}");
            assert!(!all.contains("panicked"), "{all}");
        }
        // The good file still ran: one bad file never hides the others' results.
        let (stdout, _) = text(&tlsmatrix(p.path(), &[&["run", "--view", "grid"][..], linked].concat()));
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
    // A root with neither scenarios nor certificates: the built-in certificates load, the missing directory is
    // named.
    let empty = tempfile::tempdir().unwrap();
    let out = tlsmatrix(empty.path(), &["run"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.contains("scenarios: no such file or directory"), "{stdout}{stderr}");
    let missing = empty.path().join("nowhere/pki.yaml");
    let out = tlsmatrix(empty.path(), &["--pki", missing.to_str().unwrap(), "validate"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains(&format!("{}: cannot read", missing.display())), "{stderr}");

    let out = tlsmatrix(Path::new(ROOT), &["run", "--client", "wolfssl"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("unknown backend `wolfssl`, expected one of: openssl, native-tls, rustls"), "{stderr}");
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
    let all = tlsmatrix::BackendId::ALL.len();
    assert_eq!(names.iter().filter(|n| n.starts_with("good::trusted::")).count(), all * all, "{names:?}");
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
            &["run", "--filter", "seed::untrusted_ca", "--format", format, "--output", path.to_str().unwrap()]
                .into_iter()
                .chain(["--client", "in-process", "--server", "in-process"])
                .collect::<Vec<_>>(),
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
    assert!(stdout.contains("rustls, boringssl -> C→S certificate_expired"), "{stdout}");
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
    let committed = std::fs::read_to_string(Path::new(ROOT).join("docs/pki.schema.json")).unwrap();
    let out = tlsmatrix(Path::new(ROOT), &["schema", "pki"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "regenerate: tlsmatrix schema pki > docs/pki.schema.json"
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

/// A streamed run (`--format jsonl`) keeps no report, yet `--repeat` still compares every cell across the runs, and
/// `--output` holds every run's lines (appended, not overwritten by each repeat).
#[test]
fn repeat_compares_streamed_runs_and_keeps_every_runs_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cells.jsonl");
    let args = ["run", "--filter", "seed::*", "--repeat", "3", "--client", "in-process", "--server", "in-process"];
    let mut args: Vec<&str> = args.to_vec();
    let file_arg = file.display().to_string();
    args.extend(["--format", "jsonl", "--output", &file_arg]);
    let out = tlsmatrix(Path::new(ROOT), &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("3 runs of 90 cells: 0 cells varied"), "{stderr}");
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    assert_eq!(lines, 270, "three runs of 90 cells");
}

#[test]
fn bench_reports_every_pair_and_the_catalog_throughput() {
    let out = tlsmatrix(Path::new(ROOT), &["bench", "--iterations", "2"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for pair in ["openssl->openssl", "native-tls->rustls", "rustls->native-tls"] {
        assert!(stdout.lines().any(|l| l.starts_with(pair) && l.trim_end().ends_with('x')), "{pair}: {stdout}");
    }
    // Every external peer against openssl, both ways round: figures, or why not (a missing runtime).
    for pair in ["jsse->openssl", "openssl->jsse", "openssl-cli->openssl", "openssl->gnutls"] {
        let row = |l: &&str| l.starts_with(&format!("{pair} ")) && l.trim_end().ends_with('x');
        let not = |l: &&str| l.starts_with(&format!("{pair}: not measured: "));
        assert!(stdout.lines().any(|l| row(&l) || not(&l)), "{pair}: {stdout}");
    }
    assert!(stdout.contains("cells/s") && stdout.contains("peak memory"), "{stdout}");
}

/// `bench --client jsse` measures jsse against openssl where Java is installed (the bare JVM loop and the cells), says
/// why not where it is missing (with the install hint, and not as an error), and an unknown backend or a selection
/// with nothing to measure is still a usage error.
#[test]
fn bench_measures_external_peers_or_says_why_not() {
    let no_tools = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--root", ROOT, "bench", "--client", "jsse", "--iterations", "4"])
        .env("PATH", no_tools.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let missing = stdout.lines().find(|l| l.starts_with("jsse->openssl: not measured: java not found on PATH"));
    assert!(missing.is_some_and(|l| l.contains("apt-get install openjdk-17")), "{stdout}");
    assert!(!stdout.contains("openssl->openssl"), "--client jsse asks for no linked-in pair: {stdout}");

    if tlsmatrix::harness::Tool::JAVA.find().is_some() {
        let out = tlsmatrix(Path::new(ROOT), &["bench", "--client", "jsse", "--iterations", "4"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let row = stdout.lines().find(|l| l.starts_with("jsse->openssl ")).unwrap_or_else(|| panic!("{stdout}"));
        // bare ms, cell ms, ratio, bare/s, cells/s, ms/cell, ratio: all measured, all positive.
        let figures: Vec<f64> =
            row.split_whitespace().skip(1).map(|f| f.trim_end_matches('x').parse().unwrap_or(0.0)).collect();
        assert!(figures.len() == 7 && figures.iter().all(|f| *f > 0.0), "{row}");
        assert!(stdout.contains("jsse: slowest pair"), "{stdout}");
    }

    for (args, says) in [
        (&["bench", "--client", "rustls,nosuch"][..], "nosuch"),
        (&["bench", "--client", "jsse", "--server", "rustls"][..], "nothing to measure"),
    ] {
        let out = tlsmatrix(Path::new(ROOT), args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// Hostile arguments end fast with the file or flag named and the limit said: a report path that never ends is not
/// read forever, a deadline of 0 or a `--jobs` beyond the descriptor budget is refused before anything runs.
#[test]
fn hostile_arguments_are_refused_with_the_limit() {
    let root = Path::new(ROOT);
    let started = std::time::Instant::now();
    let o = tlsmatrix(root, &["diff", "/dev/zero", "/dev/zero"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("larger than 128 MiB"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    for (flag, value, said) in [("--timeout", "0", "1..=600000"), ("--jobs", "100000", "from 1 to 1024")] {
        let o = tlsmatrix(root, &["run", flag, value]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(said), "{flag} {value}: {err}");
    }
}

/// A wedged `openssl` on PATH (it never answers, and leaves a child behind) does not hang `tlsmatrix list`: the
/// version probe gives up after its deadline and kills the tool's whole process group.
#[test]
fn a_wedged_tool_on_path_does_not_hang_list() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("openssl");
    std::fs::write(&fake, "#!/bin/sh\nsleep 987654 &\nexec sleep 987653\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let started = std::time::Instant::now();
    let o = Command::new(BIN).arg("--root").arg(ROOT).arg("list").env("PATH", path).output().unwrap();
    let took = started.elapsed();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
    assert!(out.contains("did not answer within 5 s"), "{out}");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("sleep 98765"))
        .collect();
    assert!(left.is_empty(), "the tool's processes outlived the probe: {left:?}");
}

/// SIGINT during a run: the cells in flight finish or are abandoned within the grace period, every completed result
/// is written whole (a streamed run: each line a complete object; a buffered run: a valid report of what completed),
/// and the exit code is 130.
#[test]
fn sigint_keeps_every_completed_result_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    // The streamed run says when cells complete (its first line); the buffered one is given that long and a second
    // more. A fixed wait was too short for a debug build beside the rest of `cargo test` on 2 cores.
    let mut first_result = std::time::Duration::from_secs(4);
    for format in ["jsonl", "json"] {
        let file = dir.path().join(format!("out.{format}"));
        let tmp = dir.path().join(format!("tmp-{format}"));
        std::fs::create_dir(&tmp).unwrap();
        let child = Command::new(BIN)
            .args(["--root", ROOT, "run", "--format", format, "--output"])
            .arg(&file)
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let spawned = std::time::Instant::now();
        if format == "jsonl" {
            while std::fs::read_to_string(&file).map_or(true, |t| !t.contains('\n'))
                && spawned.elapsed() < std::time::Duration::from_secs(60)
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            first_result = spawned.elapsed();
            std::thread::sleep(std::time::Duration::from_millis(500));
        } else {
            // No file to watch until the end: wait well past the first result of the streamed run (a loaded
            // machine, e.g. the other tests of this binary running beside it, can double that time).
            std::thread::sleep(first_result * 2 + std::time::Duration::from_secs(3));
        }
        let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let started = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{format}: {stderr}");
        assert!(took < std::time::Duration::from_secs(15), "{format}: {took:?} after SIGINT");
        assert!(stderr.contains("stopped by a signal after"), "{format}: {stderr}");
        // Every cell's private directory (tool keys, key logs) and every adapter's went with the run.
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{format}: left in TMPDIR: {left:?}");
        let text = std::fs::read_to_string(&file).unwrap();
        if format == "jsonl" {
            let lines: Vec<&str> = text.lines().collect();
            assert!(!lines.is_empty(), "no result was kept");
            for l in &lines {
                serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("a cut line ({e}): {l}"));
            }
        } else {
            let report: serde_json::Value = serde_json::from_str(&text).expect("a valid report");
            assert!(!report["cells"].as_array().unwrap().is_empty(), "no result was kept");
        }
    }
}

/// SIGINT before the first cell (while the PKI is made and the scenarios load): still exit 130 with a valid,
/// empty report, never death by the signal with nothing written.
#[test]
fn sigint_before_the_run_starts_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    let child = Command::new(BIN)
        .args(["--root", ROOT, "run", "--format", "json", "--output"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).expect("a whole report");
    assert!(report["summary"].is_object(), "{report}");
}

/// A scenario directory that brings its own certificates, as another repository's `tests/tls` does.
const OWN_PKI: &str = "certificates:\n  own-root: { cn: Own Root, o: Own, key: ec-p256, ca: true }\n  own-leaf: { cn: \
                       own.test, key: ec-p256, issuer: own-root, san: ['DNS:own.test'], eku: [server_auth] }\n";
const OWN_SCENARIO: &str = "description: own certificates\nserver: { certificate: own-leaf }\nclient: { trust: \
                            [own-root], server_name: own.test }\nexpect: { result: success }\n";

fn own_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tls/mine")).unwrap();
    std::fs::write(dir.path().join("tls/pki.yaml"), OWN_PKI).unwrap();
    std::fs::write(dir.path().join("tls/mine/own.yaml"), OWN_SCENARIO).unwrap();
    dir
}

#[test]
fn a_scenario_directory_brings_its_own_pki() {
    let d = own_dir();
    let tls = d.path().join("tls");
    let pairs = ["--client", "in-process", "--server", "in-process"];
    // From anywhere: the directory's pki.yaml adds to the built-in certificates.
    let out = Command::new(BIN).current_dir(d.path()).args([&["run", "tls"][..], &pairs].concat()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("9 cells: 9 passed"), "{stdout}");
    // The same through the harness, for a crate's `cargo test`: per-cell names relative to the directory.
    let trials = tlsmatrix::harness::Harness::new(&tls)
        .clients([tlsmatrix::BackendId::Rustls])
        .servers([tlsmatrix::BackendId::Openssl])
        .trials();
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert!(names.contains(&"mine::own::rustls->openssl"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("->rustls") || n.starts_with("load::")), "{names:?}");

    // A pki.yaml named as a scenario is refused for what it is.
    let out = Command::new(BIN).current_dir(d.path()).args(["validate", "tls/pki.yaml"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(format!("{stdout}{stderr}").contains("a PKI description (pki.yaml), not a scenario"), "{stdout}{stderr}");

    // A name that clashes with the built-in certificates is an error naming both files.
    std::fs::write(tls.join("pki.yaml"), OWN_PKI.replace("own-root:", "root-a:").replace("own-root", "root-a"))
        .unwrap();
    let out = Command::new(BIN).current_dir(d.path()).args(["validate", "tls"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("tls/pki.yaml:2:3: certificate `root-a` is already defined in <built-in fixtures/pki.yaml>"),
        "{said}"
    );

    // `replace: true` leaves the built-in ones out: the same file is then the whole PKI, and server-ec is unknown.
    std::fs::write(tls.join("pki.yaml"), format!("replace: true\n{OWN_PKI}")).unwrap();
    std::fs::write(tls.join("mine/builtin.yaml"), OWN_SCENARIO.replace("own-leaf", "server-ec")).unwrap();
    let out = Command::new(BIN).current_dir(d.path()).args(["validate", "tls"]).output().unwrap();
    let said = format!("{}{}", text(&out).0, text(&out).1);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("builtin.yaml") && said.contains("server-ec"), "{said}");
    assert!(!said.contains("own.yaml"), "{said}");
}

#[test]
fn pki_adds_a_description_to_any_run() {
    let d = own_dir();
    let elsewhere = d.path().join("certs.yaml");
    std::fs::rename(d.path().join("tls/pki.yaml"), &elsewhere).unwrap();
    let run = |extra: &[&str]| {
        let args = [&["validate", "tls"][..], extra].concat();
        Command::new(BIN).current_dir(d.path()).args(args).output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2), "without its certificates the scenario names unknown fixtures");
    let out = run(&["--pki", elsewhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

/// A server config before and after raising its floor to TLS 1.3, with clients pinned to TLS 1.2.
const BEFORE: &str = "description: An API server with TLS 1.2 and 1.3.
server: { certificate: server-ec, versions: [tls1.2, tls1.3] }
client: { trust: [root-a], server_name: localhost, versions: [tls1.2] }
expect: { result: success }
";
const AFTER: &str = "description: The same server raised to TLS 1.3 only.
server: { certificate: server-ec, versions: [tls1.3] }
client: { trust: [root-a], server_name: localhost, versions: [tls1.2] }
expect: { result: success }
";

#[test]
fn compat_gives_each_client_its_outcome_with_the_alert_error_cause_and_fix() {
    let dir = project(&[("api/before.yaml", BEFORE), ("api/after.yaml", AFTER)]);
    let out = tlsmatrix(dir.path(), &["compat", "api::after", "--client", "in-process", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["server"], "openssl");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(
        rows.iter().map(|r| r["client"].as_str().unwrap()).collect::<Vec<_>>(),
        ["openssl", "native-tls", "rustls"]
    );
    for r in rows {
        assert_eq!(r["verdict"], "fails", "{r}");
        // Observed on both sides: the server refuses the TLS 1.2-only ClientHello.
        assert_eq!(r["server_sent"], "protocol_version", "{r}");
        assert_eq!(r["client_received"], "protocol_version", "{r}");
        assert_eq!(r["cause"], "no protocol version in common", "{r}");
        assert!(r["fix"].as_str().unwrap().contains("tls1.3"), "{r}");
        assert!(!r["client_error"].as_str().unwrap().is_empty(), "{r}");
        assert!(!r["library"].as_str().unwrap().is_empty(), "{r}");
    }
    let out = tlsmatrix(dir.path(), &["compat", "api::before", "--client", "rustls", "--server", "rustls"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("1 of 1 clients connect, 0 fail"), "{stdout}");
    assert!(stdout.contains("rustls  connects  tls1.2 TLS_ECDHE_ECDSA_WITH_"), "{stdout}");
    for format in ["markdown", "html"] {
        let out = tlsmatrix(dir.path(), &["compat", "api::after", "--client", "rustls", "--format", format]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("no protocol version in common"), "{format}: {stdout}");
    }
}

#[test]
fn impact_names_the_clients_a_change_breaks_and_exits_1() {
    let dir = project(&[("api/before.yaml", BEFORE), ("api/after.yaml", AFTER)]);
    let out = tlsmatrix(dir.path(), &["impact", "api::before", "api::after", "--client", "openssl,rustls"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a client that connected fails now: {stdout}{stderr}");
    assert!(stdout.contains("2 of 2 clients break, 0 are fixed"), "{stdout}");
    assert!(stdout.contains("before: tls1.2"), "{stdout}");
    assert!(stdout.contains("after:  S→C protocol_version"), "{stdout}");
    // The other way round the same change fixes them, and nothing breaks.
    let out = tlsmatrix(
        dir.path(),
        &["impact", "api::after", "api::before", "--client", "openssl,rustls", "--format", "json"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let impact: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let changes: Vec<&str> =
        impact["clients"].as_array().unwrap().iter().map(|m| m["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["fixes", "fixes"]);
}

#[test]
fn import_writes_a_scenario_that_compat_plays() {
    let dir = project(&[]);
    let file = dir.path().join("scenarios/imported/cbc_only.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = tlsmatrix(
        dir.path(),
        &[
            "import",
            "ssl_protocols TLSv1.2;",
            "ssl_ciphers ECDHE-ECDSA-AES128-SHA;",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let out = tlsmatrix(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "the imported file is a valid scenario: {:?}", text(&out));
    let out = tlsmatrix(dir.path(), &["compat", "imported::cbc_only", "--client", "in-process", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let row = |b: &str| report["rows"].as_array().unwrap().iter().find(|r| r["client"] == b).unwrap().clone();
    // The server speaks exactly the one CBC suite OpenSSL expanded the string to.
    assert_eq!(row("openssl")["verdict"], "connects");
    assert_eq!(row("openssl")["cipher"], "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA");
    // rustls implements no CBC suite.
    assert_eq!(row("rustls")["verdict"], "fails");
    assert_eq!(row("rustls")["cause"], "no cipher suite in common");
    let out = tlsmatrix(dir.path(), &["import", "ssl_ciphers NOSUCHCIPHER"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("OpenSSL selects no cipher suite for `NOSUCHCIPHER`"), "{:?}", text(&out));
}
