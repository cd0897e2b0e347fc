//! Property tests of the two loaders (scenario files and fixtures/pki.yaml): hostile text never panics and always
//! gets an error naming the file; generated valid scenarios survive a serialise/re-parse round trip; a renamed key
//! is reported by name and line. Case counts are small so the file runs in a few seconds in a debug build; the
//! fuzz targets under fuzz/ are where long searches happen.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use tlsmatrix::{Alert, CipherSuite, ProtocolVersion, Scenario};

fn fixtures() -> BTreeSet<String> {
    ["root-a", "server-ec"].into_iter().map(String::from).collect()
}

fn parse(text: &str) -> Result<Scenario, tlsmatrix::LoadError> {
    Scenario::parse("p::x".into(), Path::new("scenarios/p/x.yaml"), text, &fixtures())
}

/// YAML-ish noise: the characters that drive the parser's states, so random text reaches deep into it.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just("- ".to_string()),
            Just(": ".to_string()),
            "[\\[\\]{},&*!|>'\"#?%@`\\t]".prop_map(String::from),
            "(description|server|client|expect|certificate|trust|versions|result|overrides|when|certificates|cn|key)"
                .prop_map(String::from),
            "[a-z0-9._-]{0,8}".prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_scenario_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse(&text) {
            prop_assert!(e.to_string().starts_with("scenarios/p/x.yaml"), "{e}");
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn yamlish_text_gets_an_error_with_a_location(text in yamlish()) {
        // Random text almost never names every required field; when it fails, it says where.
        if let Err(e) = parse(&text) {
            prop_assert!(e.line.is_some(), "no line for {text:?}: {e}");
        }
        if let Err(e) = tlsmatrix::pki::parse_spec(Path::new("pki.yaml"), &text) {
            prop_assert!(e.line.is_some(), "no line for {text:?}: {e}");
            prop_assert!(e.to_string().starts_with("pki.yaml:"), "{e}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_pki_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = tlsmatrix::pki::parse_spec(Path::new("pki.yaml"), &text) {
            prop_assert!(!e.message.is_empty());
        }
    }
}

/// A valid scenario, in text: version ranges, suites and alerts drawn from the vocabularies.
fn valid_scenario() -> impl Strategy<Value = String> {
    let alerts: Vec<Alert> = Alert::all().collect();
    let tls13: Vec<CipherSuite> = CipherSuite::known().filter(|s| s.is_tls13()).collect();
    let tls12: Vec<CipherSuite> = CipherSuite::known().filter(|s| !s.is_tls13()).collect();
    let range = (0..4usize).prop_flat_map(|lo| (Just(lo), lo + 1..=4));
    (
        range,
        proptest::sample::subsequence(tls13, 1..=3),
        proptest::sample::subsequence(tls12, 0..=3),
        proptest::sample::subsequence(alerts.clone(), 2..=3),
        proptest::sample::select(alerts),
        any::<bool>(),
    )
        .prop_map(|((lo, hi), t13, t12, one_of, alert, success)| {
            let names = |v: &[String]| format!("[{}]", v.join(", "));
            let list = |v: &[CipherSuite]| names(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            let versions: Vec<String> = ProtocolVersion::ALL[lo..hi].iter().map(|v| v.to_string()).collect();
            let mut text = format!(
                "description: generated\nserver:\n  certificate: server-ec\n  versions: {}\n  \
                 tls13_cipher_suites: {}\n",
                names(&versions),
                list(&t13),
            );
            if !t12.is_empty() {
                text += &format!("  cipher_suites: {}\n", list(&t12));
            }
            text += "client:\n  trust: [root-a]\n  server_name: localhost\nexpect:\n";
            if success {
                text += &format!("  result: success\n  version: {}\n", versions[versions.len() - 1]);
            } else {
                let one_of = names(&one_of.iter().map(|a| a.to_string()).collect::<Vec<_>>());
                text += &format!(
                    "  result: failure\n  client: {{ sent_alert: {alert} }}\n  \
                     server: {{ received_alert: {{ one_of: {one_of} }} }}\n"
                );
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_scenarios_round_trip(text in valid_scenario()) {
        let first = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let written = serde_yaml::to_string(&first).unwrap();
        let again = parse(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
        prop_assert_eq!(first, again);
    }

    #[test]
    fn a_renamed_key_is_named_with_its_line(text in valid_scenario(), pick in any::<prop::sample::Index>()) {
        let keyed: Vec<usize> = text.lines().enumerate().filter(|(_, l)| l.contains(':')).map(|(i, _)| i).collect();
        let n = keyed[pick.index(keyed.len())];
        let mutated: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == n {
                    let indent = l.len() - l.trim_start().len();
                    let rest = &l[l.find(':').unwrap()..];
                    format!("{}zz_unknown{rest}\n", &l[..indent])
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let err = parse(&mutated).expect_err("an unknown key is refused");
        prop_assert!(err.message.contains("unknown field `zz_unknown`"), "{err}\n{mutated}");
        prop_assert_eq!(err.line, Some(n + 1), "{}\n{}", err, mutated);
    }
}
