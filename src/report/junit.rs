//! JUnit XML: one test suite per scenario, one test case per cell. Unsupported cells are skipped with their reason,
//! a mismatch is a failure whose text is the expected/observed diff, a harness fault is an error.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::expect::Status;
use crate::harness::describe;

/// Renders the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut junit = JUnit::new("tlsmatrix");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for c in &report.cells {
        let status = match c.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Unsupported => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("unsupported: {}", c.reason.as_deref().unwrap_or("")));
                s
            }
            Status::Fail | Status::Error => {
                let kind = if c.status == Status::Fail { NonSuccessKind::Failure } else { NonSuccessKind::Error };
                let mut s = TestCaseStatus::non_success(kind);
                let first = c.mismatches.first().map(|m| &m.text).or(c.reason.as_ref()).cloned().unwrap_or_default();
                s.set_message(first);
                s.set_description(describe(c));
                s
            }
        };
        let mut case = TestCase::new(format!("{}->{}", c.client, c.server), status);
        case.set_classname(c.scenario.clone());
        case.set_time(Duration::from_secs_f64(c.duration_ms / 1000.0));
        suites.entry(c.scenario.as_str()).or_insert_with(|| TestSuite::new(c.scenario.clone())).add_test_case(case);
    }
    junit.add_test_suites(suites.into_values());
    junit.to_string().expect("serialising plain strings to XML")
}
