//! Arbitrary bytes into the `fixtures/pki.yaml` parser (`tlsmatrix::pki::parse_spec`), which stops before any key is
//! generated, so each run costs only the parse.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = tlsmatrix::pki::parse_spec(Path::new("pki.yaml"), text) {
        assert!(!e.message.is_empty());
        assert!(e.to_string().starts_with("pki.yaml"));
    }
});
