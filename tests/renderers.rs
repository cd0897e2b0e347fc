//! Every renderer on a hand-built matrix (tests/data/report.json: a pass, a failure with mismatches, a success, a
//! harness error, an unsupported cell and a load error), as snapshots (`cargo insta review` to accept a change).

use tlsmatrix::report::{self, Diff, Report};

fn sample() -> Report {
    Report::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/report.json"))).unwrap()
}

#[test]
fn table() {
    insta::assert_snapshot!(report::table(&sample()));
}

#[test]
fn grid_table() {
    let options = report::TableOptions { view: report::View::Grid, ..report::TableOptions::default() };
    insta::assert_snapshot!(report::table_opts(&sample(), &options));
}

#[test]
fn coloured_table_marks_each_status() {
    let text = report::table_styled(&sample(), true);
    for code in ["\x1b[32m", "\x1b[1;31m", "\x1b[33m", "\x1b[1;35m"] {
        assert!(text.contains(code), "missing {code:?}");
    }
}

#[test]
fn markdown() {
    insta::assert_snapshot!(report::markdown(&sample()));
}

#[test]
fn json_round_trips() {
    let text = report::json(&sample());
    let again: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(report::json(&again), text);
    insta::assert_snapshot!(text);
}

#[test]
fn junit() {
    insta::assert_snapshot!(report::junit(&sample()));
}

#[test]
fn junit_is_read_by_a_junit_parser() {
    let xml = report::junit(&sample());
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).expect("valid JUnit XML");
    let cases: Vec<_> = suites.suites.iter().flat_map(|s| s.cases.iter()).collect();
    assert_eq!(cases.len(), 5);
    let count = |f: fn(&junit_parser::TestStatus) -> bool| cases.iter().filter(|c| f(&c.status)).count();
    assert_eq!(count(|s| s.is_success()), 2);
    assert_eq!(count(|s| s.is_failure()), 1);
    assert_eq!(count(|s| s.is_error()), 1);
    assert_eq!(count(|s| s.is_skipped()), 1);
    let failed = cases.iter().find(|c| c.status.is_failure()).unwrap();
    assert_eq!(failed.classname.as_deref(), Some("seed::untrusted_ca"));
    assert!(failed.status.failure_as_ref().text.contains("expected unknown_ca, observed decrypt_error"));
}

#[test]
fn html() {
    insta::assert_snapshot!(report::html(&sample()));
}

/// `compare` puts a family's releases side by side against the same peer: here Java 17 and Java 25 servers facing
/// one openssl client, beside a rustls server, where Java 25 answers the client's unknown_ca differently.
#[test]
fn compare_shows_where_a_familys_releases_differ() {
    let mut r = sample();
    let base = r
        .cells
        .iter()
        .find(|c| c.scenario == "seed::untrusted_ca" && c.client == tlsmatrix::BackendId::Openssl)
        .unwrap()
        .clone();
    r.cells.retain(|c| c.scenario != "seed::untrusted_ca");
    let mut cell = |server, answer: Option<&str>| {
        let mut c = base.clone();
        c.server = server;
        let text = serde_json::json!({"result": "failed", "phase": "handshake", "sent_alert": answer,
            "received_alert": "unknown_ca", "error": "peer_alert", "message": "x"});
        c.observed.as_mut().unwrap().server = serde_json::from_value(text).unwrap();
        r.cells.push(c);
    };
    use tlsmatrix::BackendId::{Jsse, Jsse25, Rustls};
    cell(Jsse, Some("handshake_failure"));
    cell(Jsse25, Some("unexpected_message"));
    cell(Rustls, None);
    let text = report::compare(&r);
    assert!(
        text.contains("  jsse releases as servers facing openssl: jsse -> C→S unknown_ca, S→C handshake_failure; jsse@25 -> C→S unknown_ca, S→C unexpected_message"),
        "{text}"
    );
}

#[test]
fn compare() {
    insta::assert_snapshot!(report::compare(&sample()));
}

#[test]
fn a_changed_expectation_is_a_regression_with_old_and_new_outcome() {
    let old = sample();
    let mut new = sample();
    // The passing openssl->openssl cell now fails: same observation, stricter expectation.
    new.cells[0].status = tlsmatrix::expect::Status::Fail;
    new.cells[0].mismatches = vec!["client.sent_alert: expected bad_certificate, observed unknown_ca".into()];
    // The successful cell now negotiates TLS 1.2: an observation change, whatever its status.
    let obs = new.cells[2].observed.as_mut().unwrap();
    if let tlsmatrix::SideOutcome::Established(e) = &mut obs.client {
        e.version = Some(tlsmatrix::ProtocolVersion::Tls12);
    }
    new.cells.pop();
    let diff = Diff::between(&old, &new);
    assert_eq!(diff.exit_code(), 1);
    insta::assert_snapshot!(diff.render());
    assert_eq!(Diff::between(&old, &old).exit_code(), 0);
}

#[test]
fn repeated_runs_name_the_cells_that_varied() {
    let stable = sample();
    assert!(report::unstable(&[stable.clone(), stable.clone()]).is_empty());
    let mut flaky = sample();
    if let Some(tlsmatrix::SideOutcome::Failed(f)) = flaky.cells[0].observed.as_mut().map(|o| &mut o.client) {
        f.sent_alert = Some(tlsmatrix::Alert::BAD_CERTIFICATE);
        f.message = "a different message alone would not count".into();
    }
    let varied = report::unstable(&[stable.clone(), flaky, stable]);
    assert_eq!(varied.len(), 1);
    assert_eq!(varied[0].0, "seed::untrusted_ca::openssl->openssl");
    assert_eq!(varied[0].1, ["pass: C→S unknown_ca", "pass: C→S bad_certificate"]);
}
