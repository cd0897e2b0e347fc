//! The versioned JSON contract (see docs/report-format.md).

use super::Report;

/// The report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report is plain data");
    s.push('\n');
    s
}
