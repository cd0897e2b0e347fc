//! Loading and validating scenarios: good input resolves, bad input names its line.

use super::*;
use crate::vocab::Alert;
use rstest::rstest;

fn fixtures() -> BTreeSet<String> {
    ["root-a", "server-ec"].into_iter().map(String::from).collect()
}

const GOOD: &str = "\
description: d
server:
  certificate: server-ec
client:
  trust: [root-a]
expect:
  result: failure
  client: { received_alert: protocol_version }
  server: { sent_alert: protocol_version }
overrides:
  - when: { client: rustls }
    reason: because
    expect:
      client: { received_alert: { one_of: [protocol_version, handshake_failure] } }
  - when: { client: native-tls, server: rustls }
    unsupported: cannot
";

fn parse(text: &str) -> Result<Scenario, LoadError> {
    Scenario::parse("t::x".into(), Path::new("scenarios/t/x.yaml"), text, &fixtures())
}

/// What `GOOD` resolves to per pair: `None` = the base expectation, `Some(Err)` = unsupported, `Some(Ok)` = the
/// rustls-client override (its reason and a client alert it accepts).
#[rstest]
#[case::no_override(BackendId::Openssl, BackendId::Openssl, None)]
#[case::client_override(BackendId::Rustls, BackendId::Openssl, Some(Ok(Alert::HANDSHAKE_FAILURE)))]
#[case::client_override_any_server(BackendId::Rustls, BackendId::NativeTls, Some(Ok(Alert::PROTOCOL_VERSION)))]
#[case::pair_unsupported(BackendId::NativeTls, BackendId::Rustls, Some(Err(())))]
#[case::pair_only(BackendId::NativeTls, BackendId::Openssl, None)]
fn overrides_resolve_most_specific_first(
    #[case] client: BackendId,
    #[case] server: BackendId,
    #[case] want: Option<Result<Alert, ()>>,
) {
    let s = parse(GOOD).unwrap();
    match (s.resolve(client, server), want) {
        (Resolved::Expect { expectation, because: None }, None) => assert_eq!(*expectation, s.expect),
        (Resolved::Unsupported(why), Some(Err(()))) => assert_eq!(why, "cannot"),
        (Resolved::Expect { expectation, because: Some(r) }, Some(Ok(alert))) => {
            assert_eq!(r, "because");
            assert!(expectation.client.unwrap().received_alert.matches(Some(alert)));
            assert_eq!(expectation.server, s.expect.server, "the override changed only the client");
        }
        (got, want) => panic!("{client}->{server}: got {got:?}, want {want:?}"),
    }
}

#[rstest]
#[case::unknown_field(GOOD.replace("  trust:", "  trusts:"), 5, "unknown field `trusts`")]
#[case::unknown_alert(GOOD.replace("protocol_version }\n  server", "protocol_versio }\n  server"), 8, "unknown alert `protocol_versio`")]
#[case::unknown_fixture(GOOD.replace("server-ec", "server-xx"), 3, "unknown fixture `server-xx`")]
#[case::unknown_backend(GOOD.replace("client: rustls", "client: boring"), 11, "unknown backend `boring`")]
#[case::no_reason(GOOD.replace("    reason: because\n", ""), 11, "needs a `reason`")]
#[case::gap(GOOD.replace("server:\n  cert", "server:\n  versions: [tls1.0, tls1.2]\n  cert"), 3, "contiguous")]
#[case::bad_yaml(GOOD.replace("expect:\n  result", "expect:\n result"), 7, "")]
#[case::second_override(GOOD.replace("    unsupported: cannot", "    unsupported: cannot\n    reason: twice"), 15, "drop `reason`")]
#[case::empty_reason(GOOD.replace("reason: because", "reason: \"  \""), 11, "the reason is empty")]
#[case::tied(GOOD.replace("client: native-tls, server: rustls }\n    unsupported: cannot", "server: openssl }\n    unsupported: cannot"), 15, "both apply to rustls->openssl")]
#[case::empty_alpn(GOOD.replace("  trust: [root-a]", "  trust: [root-a]\n  alpn: [\"\"]"), 6, "1 to 255 bytes")]
#[case::bad_host(GOOD.replace("  trust: [root-a]", "  trust: [root-a]\n  server_name: not a host"), 6, "neither a DNS name")]
#[case::resumed_single(GOOD.replace("  result: failure\n  client: { received_alert: protocol_version }\n  server: { sent_alert: protocol_version }", "  result: success\n  resumed: true"), 8, "needs `mode: resume`")]
#[case::value_below_the_first_key(GOOD.replace("  result: failure\n", "  result: failure\n  version: tls9\n"), 8, "unknown protocol version `tls9`")]
#[case::null_description(GOOD.replace("description: d", "description: null"), 1, "expected the real-world situation")]
#[case::empty_groups(GOOD.replace("  trust: [root-a]", "  trust: [root-a]\n  groups: []"), 6, "an empty list enables nothing")]
#[case::endless_deadline(format!("{GOOD}wire:\n  deadline_ms: 18446744073709551615\n"), 18, "at most 600000 ms")]
#[case::failure_without_sides(GOOD.replace("  server: { sent_alert: protocol_version }\n", ""), 7, "needs both")]
fn bad_input_names_line_and_expectation(#[case] text: String, #[case] line: usize, #[case] needle: &str) {
    let err = parse(&text).unwrap_err();
    assert_eq!(err.line, Some(line), "{err}");
    assert!(err.message.contains(needle), "{err}");
    assert!(err.to_string().starts_with(&format!("scenarios/t/x.yaml:{line}:")), "{err}");
}

#[rstest]
#[case(&[ProtocolVersion::Tls12, ProtocolVersion::Tls13], true)]
#[case(&[ProtocolVersion::Tls10], true)]
#[case(&[ProtocolVersion::Tls13, ProtocolVersion::Tls12], false)]
#[case(&[ProtocolVersion::Tls11, ProtocolVersion::Tls13], false)]
#[case(&[], false)]
fn version_ranges(#[case] v: &[ProtocolVersion], #[case] ok: bool) {
    assert_eq!(check_versions(v).is_ok(), ok);
}

/// `server: { nginx: "..." }`: the lines become the block's settings, nginx's defaults fill the rest, and a
/// setting given twice, a directive of another product or one without a setting is said with its line.
#[test]
fn nginx_lines_are_imported_into_the_server_block() {
    use crate::vocab::ProtocolVersion::*;
    let with = |server: &str| {
        parse(&format!(
            "description: d\nserver:\n  certificate: server-ec\n{server}\nclient:\n  trust: [root-a]\nexpect:\n  result: success\n"
        ))
    };
    let s = with("  nginx: \"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers 'ECDHE-ECDSA-AES128-SHA';\"").unwrap();
    assert_eq!(s.server.versions, Some(vec![Tls12, Tls13]));
    assert_eq!(
        s.server.cipher_suites.iter().flatten().map(|c| c.to_string()).collect::<Vec<_>>(),
        ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"]
    );
    assert_eq!(s.server.untranslated, None);
    // What the lines leave out is nginx 1.22's default; what the block says itself stays.
    let s = with("  alpn: [h2]\n  nginx: \"ssl_ecdh_curve secp384r1; ssl_session_tickets off;\"").unwrap();
    assert_eq!(s.server.versions, Some(vec![Tls10, Tls11, Tls12]));
    assert!(s.server.cipher_suites.as_ref().is_some_and(|c| c.len() > 10), "HIGH:!aNULL:!MD5 expanded");
    assert_eq!(s.server.groups.iter().flatten().map(|g| g.to_string()).collect::<Vec<_>>(), ["secp384r1"]);
    assert_eq!((s.server.session_tickets, s.server.alpn.clone()), (Some(false), Some(vec!["h2".to_string()])));
    // The server's own suite order has no setting: only nginx can play it.
    let s = with("  nginx: \"ssl_prefer_server_ciphers on;\"").unwrap();
    assert!(s.server.untranslated.as_deref().is_some_and(|u| u.contains("ssl_prefer_server_ciphers on")));
    for (server, says) in [
        ("  versions: [tls1.2]\n  nginx: \"ssl_protocols TLSv1.3;\"", "say the same thing twice"),
        ("  security_level: 0\n  nginx: \"ssl_ciphers DEFAULT;\"", "@SECLEVEL=N"),
        ("  nginx: \"SSLProtocol all\"", "`SSLProtocol all` is not an nginx directive"),
        ("  nginx: \"ssl_protocols TLSv1.4;\"", "unknown protocol `TLSv1.4`"),
        ("  nginx: \"ssl_ciphers NOSUCH;\"", "OpenSSL selects no cipher suite"),
    ] {
        let e = with(server).unwrap_err();
        assert!(e.message.contains(says), "{server}: {e}");
        assert_eq!(e.line, Some(if server.contains("versions") || server.contains("security") { 5 } else { 4 }), "{e}");
    }
}
