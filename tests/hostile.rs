//! Hostile input: every file of the corpus under `tests/hostile/` (plus the big ones generated here, too large to
//! commit) is fed to `tlsmatrix validate`, as a scenario and, under `pki/`, as the project's `fixtures/pki.yaml`.
//! Each must end in exit 2 with a message naming the file, the spot (when there is one) and what was expected, with
//! no panic, in bounded time and memory.
//!
//! Time is judged on the child's CPU time against a valid scenario's, not on wall time: `validate` signs the whole
//! test PKI first (about 1 s of CPU in a debug build), and on a loaded CI machine wall time says more about the
//! neighbours than about the parser. A hard wall-clock limit still catches a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tlsmatrix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// CPU a hostile file may cost beyond a valid scenario's: the parse itself, with the debug build's slowness.
const EXTRA_CPU: Duration = Duration::from_secs(1);
/// Past this the child is killed and the case fails as a hang.
const HANG: Duration = Duration::from_secs(60);
/// Peak resident memory allowed: a valid run needs about 16 MiB; a 20 MB file read once before refusing it fits.
/// (A child that ends before the first 2 ms poll reports 0: it had no time to grow.)
const MAX_RSS_KIB: u64 = 128 * 1024;

/// What a corpus file must produce: the text stderr must contain, and the `:line:col:` (or `:line:`) after the path
/// when the error has a location.
struct Want {
    needle: &'static str,
    at: Option<&'static str>,
}

fn want(needle: &'static str, at: Option<&'static str>) -> Want {
    Want { needle, at }
}

/// The committed corpus, by path under tests/hostile/.
fn committed() -> Vec<(&'static str, Want)> {
    vec![
        ("scenario/empty.yaml", want("missing field `description`", Some(":1:1:"))),
        ("scenario/comments_only.yaml", want("missing field `description`", Some(":3:1:"))),
        ("scenario/binary.yaml", want("control characters are not allowed", Some(":1:1:"))),
        ("scenario/invalid_utf8.yaml", want("not UTF-8 text (invalid byte at offset 16)", None)),
        ("scenario/utf16.yaml", want("not UTF-8 text (invalid byte at offset 0)", None)),
        ("scenario/tabs.yaml", want("found character that cannot start any token", Some(":3:1:"))),
        ("scenario/duplicate_key.yaml", want("duplicate field `description`", Some(":1:1:"))),
        ("scenario/top_list.yaml", want("invalid type: sequence, expected struct Scenario", Some(":1:1:"))),
        (
            "scenario/top_scalar.yaml",
            want("invalid type: string \"just a string\", expected struct Scenario", Some(":1:1:")),
        ),
        ("scenario/two_documents.yaml", want("more than one document", None)),
        ("scenario/unknown_anchor.yaml", want("unknown anchor", Some(":5:11:"))),
        (
            "scenario/self_alias.yaml",
            want("client.trust[0]: invalid type: sequence, expected a string", Some(":5:10:")),
        ),
        ("scenario/alias_bomb.yaml", want("unknown field `a0`", Some(":1:1:"))),
        ("scenario/merge_key.yaml", want("unknown field `base`", Some(":1:1:"))),
        ("scenario/number_overflow.yaml", want("expected u8", Some(":5:"))),
        ("scenario/wrong_type.yaml", want("expected struct ServerConfig", Some(":2:"))),
        ("scenario/unknown_top.yaml", want("unknown field `extra`, expected one of", Some(":9:1:"))),
        ("scenario/unknown_server.yaml", want("unknown field `ciphers`, expected one of", Some(":4:3:"))),
        ("scenario/unknown_client.yaml", want("unknown field `server_nam`, expected one of", Some(":6:3:"))),
        ("scenario/unknown_expect.yaml", want("unknown field `outcome`, expected one of", Some(":9:3:"))),
        ("scenario/unknown_expect_client.yaml", want("unknown field `alert`, expected one of", Some(":8:13:"))),
        ("scenario/unknown_expect_server.yaml", want("unknown field `why`, expected one of", Some(":9:"))),
        ("scenario/unknown_override.yaml", want("unknown field `note`, expected one of", Some(":13:5:"))),
        ("scenario/unknown_override_when.yaml", want("unknown field `os`, expected", Some(":11:"))),
        ("scenario/unknown_override_expect.yaml", want("unknown field `verdict`, expected one of", Some(":14:7:"))),
        (
            "scenario/unknown_one_of.yaml",
            want("received_alert: unknown field `all`, expected `one_of`", Some(":14:82:")),
        ),
        ("pki/empty.yaml", want("missing field `certificates`", Some(":1:1:"))),
        ("pki/binary.yaml", want("control characters are not allowed", Some(":1:1:"))),
        ("pki/invalid_utf8.yaml", want("not UTF-8 text (invalid byte at offset", None)),
        ("pki/tabs.yaml", want("found character that cannot start any token", Some(":3:1:"))),
        ("pki/duplicate_certificate.yaml", want("certificates: duplicate key `root-a`", Some(":2:3:"))),
        ("pki/certificates_list.yaml", want("expected a map", Some(":2:"))),
        ("pki/alias_bomb.yaml", want("unknown field `a0`, expected `replace` or `certificates`", Some(":1:1:"))),
        ("pki/unknown_top.yaml", want("unknown field `keys`, expected `replace` or `certificates`", Some(":12:1:"))),
        (
            "pki/unknown_certificate_field.yaml",
            want("certificates.server-ec: unknown field `serial`, expected one of", Some(":10:5:")),
        ),
        (
            "pki/unknown_name_constraints_field.yaml",
            want("unknown field `permitted_ip`, expected `permitted_dns` or `excluded_dns`", Some(":7:7:")),
        ),
        ("pki/unknown_key_type.yaml", want("unknown variant `dsa-512`, expected one of", Some(":10:"))),
        // Semantic errors: the file parses, the certificates cannot be made.
        ("pki/issuer_cycle.yaml", want("certificate `ca-one`: issuers form a cycle", Some(":3:46:"))),
        ("pki/issuer_not_a_ca.yaml", want("certificate `leaf-two`: issuer `leaf-one` is not a CA", Some(":9:5:"))),
        ("pki/unknown_issuer.yaml", want("certificate `leaf`: unknown issuer `root-z`", Some(":6:5:"))),
        ("pki/bad_offset.yaml", want("certificate `root`: not_after: `1\u{e9}`: expected an offset", Some(":7:5:"))),
        ("pki/huge_offset.yaml", want("within 200 years", Some(":3:45:"))),
        ("pki/bad_ip_san.yaml", want("san `IP:999.0.0.1`: expected an IPv4 or IPv6 address", Some(":8:5:"))),
    ]
}

/// The big hostile files, built here: (name, contents, expectation). Each goes in as a scenario and as pki.yaml.
fn generated() -> Vec<(&'static str, Vec<u8>, Want)> {
    let deep = 100_000;
    // Nine levels of nine aliases each (the classic "billion laughs"), then the same seed aliased 200,000 times.
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        laughs.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", ")));
    }
    let wide = format!("a: &a [{}]\nb: [{}]\n", vec!["x"; 1000].join(", "), vec!["*a"; 200_000].join(", "));
    let indent: String = (0..1400).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    vec![
        ("huge_scalar", format!("description: {}\n", "x".repeat(20 << 20)).into_bytes(), {
            want("bytes: expected a YAML file of at most 1048576 bytes", None)
        }),
        (
            "deep_flow",
            format!("description: {}{}\n", "[".repeat(deep), "]".repeat(deep)).into_bytes(),
            want("flow collections nested more than 64 deep", Some(":1:78:")),
        ),
        (
            "deep_flow_over_lines",
            format!("description: {}x{}\n", "[\n".repeat(deep), "]\n".repeat(deep)).into_bytes(),
            want("more than 41 `[`/`{` in a document of 400015 bytes", Some(":42:1:")),
        ),
        (
            "deep_flow_behind_apostrophe",
            format!("description: [a 'b, {}{}]\n", "[".repeat(deep), "]".repeat(deep)).into_bytes(),
            want("`[`/`{` in a document of 200022 bytes", Some(":1:")),
        ),
        (
            "deep_block_sequence",
            format!("{}x\n", "- ".repeat(deep)).into_bytes(),
            want("invalid type: sequence, expected struct", Some(":1:1:")),
        ),
        ("deep_block_mapping", indent.into_bytes(), want("unknown field `k`, expected", Some(":1:1:"))),
        (
            "deep_complex_keys",
            format!("{}x\n", "? ".repeat(deep)).into_bytes(),
            want("invalid type: map, expected field identifier", Some(":1:3:")),
        ),
        ("alias_bomb_nine_levels", format!("{laughs}b: *a9\n").into_bytes(), want("unknown field `a0`", Some(":1:1:"))),
        ("alias_bomb_wide", wide.into_bytes(), want("unknown field `a`", Some(":1:1:"))),
        // An error names the offending value by its first 80 characters and its size, never the whole of it.
        (
            "huge_value",
            // A plain scalar, since YAML keys end at 1,024 characters: the document is one 500 KB string.
            format!("{}: 1\n", "a".repeat(500_000)).into_bytes(),
            want("invalid type: string \"aaaaaaaaaa", Some(":1:1:")),
        ),
    ]
}

/// A project root with the real PKI description (its keys are generated in memory by each run) and an empty
/// scenarios/.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::copy(Path::new(ROOT).join("fixtures/pki.yaml"), fixtures.join("pki.yaml")).unwrap();
    dir
}

/// What one `tlsmatrix` run did.
struct Run {
    code: Option<i32>,
    stderr: String,
    cpu: Duration,
    wall: Duration,
    peak_rss_kib: u64,
}

/// `(state, utime + stime)` from /proc/<pid>/stat; readable until the child is reaped, zombie included.
fn proc_stat(pid: u32) -> Option<(char, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI.
    Some((fields.first()?.chars().next()?, Duration::from_millis(ticks * 10)))
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `tlsmatrix --root ROOT validate ARGS`, polling the child's peak RSS and reading its CPU time before reaping.
fn validate(root: &Path, args: &[PathBuf]) -> Run {
    // Output to files, not pipes: a child blocked on a full pipe would look like a hang.
    let err_path = root.join("stderr.txt");
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .arg("validate")
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("the binary runs");
    let pid = child.id();
    let (mut peak, mut cpu) = (0, Duration::ZERO);
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        match proc_stat(pid) {
            Some((state, used)) => {
                cpu = used;
                if state == 'Z' {
                    break;
                }
            }
            None => break,
        }
        if start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{args:?}: still running after {HANG:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    Run {
        code: status.code(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        cpu,
        wall: start.elapsed(),
        peak_rss_kib: peak,
    }
}

/// The CPU time of validating a good scenario: what every run pays before it reads the file under test.
fn baseline() -> Duration {
    static BASE: OnceLock<Duration> = OnceLock::new();
    *BASE.get_or_init(|| {
        let p = project();
        let good = p.path().join("scenarios/good.yaml");
        std::fs::write(&good, tlsmatrix::bench::SCENARIO).unwrap();
        let runs: Vec<Run> = (0..2).map(|_| validate(p.path(), std::slice::from_ref(&good))).collect();
        for r in &runs {
            assert_eq!(r.code, Some(0), "{}", r.stderr);
        }
        let base = runs.iter().map(|r| r.cpu).max().unwrap();
        eprintln!("baseline: a valid scenario costs {base:?} of CPU");
        base
    })
}

/// Runs one hostile file as a scenario (`pki == false`) or as fixtures/pki.yaml; says what is wrong, if anything.
fn check(name: &str, bytes: &[u8], pki: bool, w: &Want) -> Result<(), String> {
    let base = baseline();
    let p = project();
    let (file, args) = if pki {
        (p.path().join("fixtures/pki.yaml"), vec![])
    } else {
        let f = p.path().join("scenarios/h").join(name.rsplit('/').next().unwrap());
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        (f.clone(), vec![f])
    };
    std::fs::write(&file, bytes).unwrap();
    let r = validate(p.path(), &args);
    let what = format!("{name} as {}", if pki { "pki.yaml" } else { "a scenario" });
    eprintln!("{what}: exit {:?}, cpu {:?}, wall {:?}, peak {} KiB", r.code, r.cpu, r.wall, r.peak_rss_kib);
    let fail = |why: String| Err(format!("{what}: {why}\n  stderr: {}", r.stderr.trim_end()));
    if r.code != Some(2) || r.stderr.contains("panicked at") {
        return fail(format!("exit {:?}, expected 2 without a panic", r.code));
    }
    let shown = file.display().to_string();
    let Some(line) = r.stderr.lines().find(|l| l.contains(&shown)) else {
        return fail("no error names the file".into());
    };
    let after = &line[line.find(&shown).unwrap() + shown.len()..];
    let located = after.strip_prefix(':').and_then(|a| a.split(':').next()).is_some_and(|l| l.parse::<usize>().is_ok());
    match w.at {
        Some(at) if !(after.starts_with(at) && located) => return fail(format!("expected `{at}` after the path")),
        None if !after.starts_with(": ") => return fail("expected no location after the path".into()),
        _ => {}
    }
    if !after.contains(w.needle) {
        return fail(format!("expected `{}` in the message", w.needle));
    }
    if line.len() > 2000 {
        return fail(format!("a {}-byte message is not a clear one", line.len()));
    }
    if r.cpu > base + EXTRA_CPU {
        return fail(format!("{:?} of CPU against {base:?} for a valid file", r.cpu));
    }
    if r.peak_rss_kib > MAX_RSS_KIB {
        return fail(format!("peak RSS {} KiB, expected at most {MAX_RSS_KIB}", r.peak_rss_kib));
    }
    Ok(())
}

/// Every failure at once, so one run shows the whole corpus.
fn all_ok(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_committed_hostile_file_ends_in_a_clear_error() {
    let dir = Path::new(ROOT).join("tests/hostile");
    let table = committed();
    let mut on_disk: Vec<String> = ["scenario", "pki"]
        .iter()
        .flat_map(|sub| {
            std::fs::read_dir(dir.join(sub))
                .unwrap()
                .map(move |e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()))
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = table.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every corpus file needs an expectation here, and every expectation a file");
    all_ok(
        table
            .iter()
            .map(|(name, w)| check(name, &std::fs::read(dir.join(name)).unwrap(), name.starts_with("pki/"), w))
            .collect(),
    );
}

#[test]
fn generated_hostile_files_end_in_a_clear_error_as_scenarios() {
    all_ok(generated().iter().map(|(name, bytes, w)| check(&format!("{name}.yaml"), bytes, false, w)).collect());
}

#[test]
fn generated_hostile_files_end_in_a_clear_error_as_the_pki() {
    all_ok(generated().iter().map(|(name, bytes, w)| check(&format!("{name}.yaml"), bytes, true, w)).collect());
}

/// Paths that are not regular files (a device, a FIFO, a FIFO inside a scenario directory) are refused at once with
/// what they are: reading one would block for ever or never end.
#[test]
fn paths_that_are_not_files_are_refused_with_what_they_are() {
    let p = project();
    let fifo = p.path().join("scenarios/pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    for (args, says) in [
        (vec![PathBuf::from("/dev/zero")], "/dev/zero: a device, not a regular file"),
        (vec![fifo.clone()], "pipe.yaml: a named pipe (FIFO), not a regular file"),
        (vec![p.path().join("scenarios")], "pipe.yaml: a named pipe (FIFO), not a regular file: expected a YAML file"),
    ] {
        let r = validate(p.path(), &args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: expected `{says}` in:\n{}", r.stderr);
    }
}

/// `explain FILE` of a file that does not load says why (file, line, column), not that there is no such scenario.
#[test]
fn explain_of_a_broken_file_gives_its_error() {
    let p = project();
    let bad = p.path().join("scenarios/broken.yaml");
    std::fs::write(&bad, "description: [\n").unwrap();
    let out = Command::new(BIN).arg("--root").arg(p.path()).arg("explain").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:1:14:", bad.display())), "{stderr}");
    assert!(!stderr.contains("no scenario"), "{stderr}");
}

/// `--jobs` beyond what the descriptor limit can hold is lowered, with a note, instead of failing cells with "Too
/// many open files".
#[test]
fn jobs_beyond_the_descriptor_limit_are_lowered() {
    let script = format!(
        "ulimit -n 256 && exec '{BIN}' --root '{ROOT}' run --jobs 1024 --client openssl,rustls --server openssl,rustls \
         --format json '{ROOT}/scenarios/seed'"
    );
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--jobs 1024 lowered to 8: the descriptor limit (ulimit -n) is 256"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["summary"]["error"], 0, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
