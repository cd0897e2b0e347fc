//! Arbitrary bytes into the scenario loader, as `Catalog::load` feeds it: UTF-8 text to `Scenario::parse` with the
//! real fixture names. Any panic, abort, timeout or runaway allocation is a finding; an `Err` is the expected answer.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The catalog refuses non-UTF-8 before parsing, so only text reaches the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fixtures: BTreeSet<String> = ["root-a", "root-b", "server-ec", "client-a"].map(String::from).into();
    if let Err(e) = tlsmatrix::Scenario::parse("fuzz::input".into(), Path::new("fuzz.yaml"), text, &fixtures) {
        // Every error names the file and says something.
        assert!(!e.message.is_empty());
        assert!(e.to_string().starts_with("fuzz.yaml"));
    }
});
