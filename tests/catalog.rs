//! docs/catalog.md is generated from the scenarios and a real run; this test fails when the committed file is stale.

use std::path::Path;

#[test]
fn the_committed_catalog_is_current() {
    tlsmatrix::backend::keep_system_trust_out();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (report, scenarios) = tlsmatrix::cli::full_run(&tlsmatrix::Layout::at(root)).expect("the catalog loads");
    let fresh = tlsmatrix::report::catalog(&report, &scenarios);
    let committed = std::fs::read_to_string(root.join("docs/catalog.md")).unwrap_or_default();
    if fresh != committed {
        let line = fresh.lines().zip(committed.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "docs/catalog.md is stale (first difference at line {line}): regenerate it with \
             `cargo run --release -- catalog` and commit it"
        );
    }
}
