//! Each diagnosis on a real cell: the project's scenario and PKI, played over loopback by the real backends, then
//! explained. The cell must pass its own expectation first, so the finding explains the failure the scenario
//! documents.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rstest::rstest;

use super::hostname::dns_matches;
use super::*;
use crate::observation::{ErrorClass, Failure, Phase};
use crate::plan::Cell;
use crate::runner::Context;

// The backends the cells are played by (cell selection: explain itself never matches on a backend).
use crate::vocab::BackendId as Lib;
use Lib::{Gnutls, Jsse, NativeTls, Openssl, OpensslCli, Rustls};

/// The findings for one cell of `scenarios/<file>`, and the run's PKI (for the certificates' real dates).
async fn explain(file: &str, client: BackendId, server: BackendId) -> (Vec<Finding>, Arc<Pki>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios").join(file)]).expect("project loads");
    assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
    let scenario = Arc::new(catalog.scenarios.into_iter().next().expect("one scenario"));
    let registry = Arc::new(Registry::all());
    let ctx = Context { registry: registry.clone(), pki: Arc::new(pki), timeout: Duration::from_secs(10), pcap: None };
    let result = ctx.run_cell(&Cell { scenario: scenario.clone(), client, server }).await;
    assert_eq!(result.status, Status::Pass, "{}: {:?} {:?}", result.name(), result.mismatches, result.reason);
    (diagnose_with(&scenario, &ctx.pki, &registry, &result), ctx.pki)
}

/// The one finding of a cell with a single cause.
async fn only(file: &str, client: BackendId, server: BackendId) -> Finding {
    let (mut findings, _) = explain(file, client, server).await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    findings.remove(0)
}

#[tokio::test]
async fn a_connected_cell_has_nothing_to_explain() {
    let (findings, _) = explain("seed/tls13_success.yaml", Openssl, Openssl).await;
    assert_eq!(findings, Vec::new());
}

#[tokio::test]
async fn disjoint_versions_name_both_ranges_and_move_the_legacy_server_up() {
    let f = only("seed/legacy_tls10_server.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no protocol version in common");
    assert_eq!(
        f.detail,
        "client offers tls1.2-tls1.3; server accepts tls1.0 only. Observed: the server sent protocol_version."
    );
    assert_eq!(
        f.fix,
        "enable tls1.2 on the server (server.versions: [tls1.0, tls1.1, tls1.2]); or, if the server cannot change, \
         enable tls1.0 on the client (client.versions: [tls1.0, tls1.1, tls1.2, tls1.3], security_level: 0), \
         which weakens it"
    );
}

#[tokio::test]
async fn a_pinned_tls12_client_is_told_to_enable_tls13() {
    let f = only("seed/tls12_client_tls13_server.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no protocol version in common");
    assert!(f.detail.starts_with("client offers tls1.2 only; server accepts tls1.3 only."), "{}", f.detail);
    assert!(f.fix.starts_with("enable tls1.3 on the client (client.versions: [tls1.2, tls1.3])"), "{}", f.fix);
}

#[tokio::test]
async fn library_defaults_fill_in_and_an_impossible_fix_is_not_offered() {
    // native-tls's server defaults to TLS 1.2 only and cannot enable TLS 1.3 at all.
    let f = only("versions/default_server_tls13_client.yaml", Openssl, NativeTls).await;
    assert_eq!(f.cause, "no protocol version in common");
    assert!(f.detail.contains("server accepts tls1.2 only (native-tls's default"), "{}", f.detail);
    assert!(f.fix.starts_with("native-tls as server cannot enable tls1.3 ("), "{}", f.fix);
    assert!(f.fix.ends_with("instead enable tls1.2 on the client (client.versions: [tls1.2, tls1.3])"), "{}", f.fix);
}

#[tokio::test]
async fn a_legacy_overlap_blocked_by_the_security_level_says_so() {
    let f = only("versions/legacy_tls10_tls11_server_default_client.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the only common versions need OpenSSL security level 0");
    assert!(f.detail.contains("so tls1.1 would be negotiated"), "{}", f.detail);
    assert!(f.detail.contains("the client runs at level 2 (OpenSSL's default)"), "{}", f.detail);
    assert!(f.detail.ends_with("Observed: the client sent internal_error."), "{}", f.detail);
    assert_eq!(
        f.fix,
        "enable tls1.2 on the server (server.versions: [tls1.0, tls1.1, tls1.2]); or set security_level: 0 on the \
         client (which weakens it)"
    );
}

#[tokio::test]
async fn no_common_tls12_suite_lists_both_and_adds_the_servers_suite_to_the_client() {
    let f = only("seed/no_common_cipher_tls12.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no cipher suite in common");
    assert_eq!(
        f.detail,
        "both enable tls1.2, so its suites decide; client offers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 \
         (client.cipher_suites); server accepts TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (server.cipher_suites). \
         Observed: the server sent handshake_failure."
    );
    assert_eq!(
        f.fix,
        "add one of the server's suites to the client: client.cipher_suites: \
         [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]"
    );
}

#[tokio::test]
async fn a_default_suite_list_is_enumerated_and_the_suggestion_fits_the_certificate() {
    // rustls implements no static-RSA suite, so the server must add one of rustls's, and an RSA one at that.
    let f = only("cipher_suites/static_rsa_only_server.yaml", Rustls, Openssl).await;
    assert_eq!(f.cause, "no cipher suite in common");
    assert!(f.detail.contains("(rustls's default); server accepts TLS_RSA_WITH_AES_128_GCM_SHA256"), "{}", f.detail);
    assert!(
        f.fix.ends_with(
            "server.cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]"
        ),
        "{}",
        f.fix
    );
}

#[tokio::test]
async fn no_common_group_in_tls13_between_rustls_peers() {
    let f = only("groups/no_common_group_tls13.yaml", Rustls, Rustls).await;
    assert_eq!(f.cause, "no key-exchange group in common");
    assert_eq!(
        f.detail,
        "tls1.3 would be negotiated and needs a common group for its key share; client offers x25519 (client.groups); \
         server accepts secp384r1 (server.groups). Observed: the server sent handshake_failure."
    );
    assert_eq!(f.fix, "add one of the server's groups to the client: client.groups: [x25519, secp384r1]");
}

#[tokio::test]
async fn no_common_curve_in_tls12_with_an_ecdsa_certificate() {
    let f = only("groups/no_common_group_tls12.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no key-exchange group in common");
    assert!(
        f.detail.starts_with("tls1.2 would be negotiated and every suite usable with the server's ECDSA"),
        "{}",
        f.detail
    );
}

#[tokio::test]
async fn an_untrusted_issuer_is_named_with_what_the_client_trusts() {
    let f = only("seed/untrusted_ca.yaml", Openssl, Openssl).await;
    assert_eq!(
        f,
        Finding {
            cause: "the server's certificate is issued by a CA the client does not trust".into(),
            detail: "the server's certificate server-root-b (CN \"localhost\") is issued by root-b (CN \"tlsmatrix \
                     Root CA B\"); the client trusts root-a (CN \"tlsmatrix Root CA A\"). Observed: the client \
                     sent unknown_ca."
                .into(),
            fix: "add root-b to the client's trust (client.trust: [root-a, root-b]), or give the server a \
                  certificate issued by a CA the client trusts"
                .into(),
        }
    );
}

#[tokio::test]
async fn a_ca_with_a_trusted_name_but_another_key_is_called_out() {
    let f = only("certificates/same_subject_other_ca.yaml", Openssl, Openssl).await;
    assert!(f.detail.contains("root-a-twin has the same subject name as the trusted root-a"), "{}", f.detail);
    assert!(f.fix.starts_with("add root-a-twin to the client's trust"), "{}", f.fix);
}

#[tokio::test]
async fn a_missing_intermediate_asks_for_the_full_chain() {
    let f = only("certificates/missing_intermediate.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server does not send the intermediate CA certificate");
    assert!(
        f.detail.starts_with(
            "the server's certificate server-ec (CN \"localhost\") is issued by intermediate-a (CN \"tlsmatrix \
             Intermediate CA A1\"); the server sends only its leaf (server.chain: leaf_only)"
        ),
        "{}",
        f.detail
    );
    assert_eq!(f.fix, "send the full chain (server.chain: full, the default), so the intermediate goes with the leaf");
}

#[tokio::test]
async fn a_self_signed_server_certificate() {
    let f = only("certificates/self_signed.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate is self-signed");
    assert!(f.fix.ends_with("trust it (client.trust: [root-a, server-self-signed])"), "{}", f.fix);
}

#[tokio::test]
async fn openssl_needs_the_root_not_just_the_intermediate() {
    let f = only("certificates/trust_intermediate_only.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the client trusts an intermediate CA but not its root");
    assert_eq!(f.fix, "add the root root-a to the client's trust (client.trust: [intermediate-a, root-a])");
}

#[tokio::test]
async fn a_host_name_mismatch_lists_the_certificates_names() {
    let f = only("certificates/wrong_host.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the certificate does not match the host name");
    assert_eq!(
        f.detail,
        "the client verifies the name localhost (client.server_name); the server's certificate server-other-host \
         has subjectAltName DNS:other.example (CN other.example, ignored because DNS SANs are present). Observed: \
         the client sent bad_certificate."
    );
    assert_eq!(
        f.fix,
        "give the server a certificate whose subjectAltName includes DNS:localhost, or connect with a name it \
         covers (client.server_name: other.example)"
    );
}

#[tokio::test]
async fn an_expired_leaf_shows_its_dates() {
    let (findings, pki) = explain("certificates/expired_leaf.yaml", Openssl, Openssl).await;
    let [f] = &findings[..] else { panic!("{findings:#?}") };
    let not_after = pki.get("server-expired").unwrap().cert.not_after().to_string();
    assert_eq!(f.cause, "the server's certificate has expired");
    assert!(
        f.detail.starts_with(&format!(
            "the server's certificate server-expired (CN \"localhost\") expired on {not_after} (1 day ago;"
        )),
        "{}",
        f.detail
    );
    assert!(f.detail.ends_with("Observed: the client sent certificate_expired."), "{}", f.detail);
    assert_eq!(f.fix, "renew server-expired: issue the server a certificate valid now");
}

#[tokio::test]
async fn a_not_yet_valid_leaf_shows_when_it_starts_even_where_rustls_says_expired() {
    let (findings, pki) = explain("certificates/not_yet_valid.yaml", Rustls, Openssl).await;
    let [f] = &findings[..] else { panic!("{findings:#?}") };
    let not_before = pki.get("server-not-yet-valid").unwrap().cert.not_before().to_string();
    assert_eq!(f.cause, "the server's certificate is not yet valid");
    assert!(f.detail.contains(&format!("becomes valid on {not_before} (in 1 day;")), "{}", f.detail);
    assert!(f.detail.ends_with("Observed: the client sent certificate_expired."), "{}", f.detail);
    assert!(f.fix.starts_with("issue server-not-yet-valid with a notBefore in the past"), "{}", f.fix);
}

#[tokio::test]
async fn a_required_client_certificate_that_is_not_sent_suggests_one() {
    let f = only("client_auth/required_not_sent_tls13.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "client certificate required but not sent");
    assert_eq!(
        f.detail,
        "the server requires a client certificate (server.client_auth: required) from root-a, but the client has \
         none (client.certificate is not set). Observed: the server sent certificate_required."
    );
    assert_eq!(f.fix, "give the client a certificate issued under root-a (client.certificate: client-a)");
}

#[tokio::test]
async fn a_client_certificate_from_an_untrusted_ca() {
    let f = only("client_auth/untrusted_client_ca.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the client's certificate is issued by a CA the server does not trust");
    assert!(f.detail.ends_with("Observed: the server sent unknown_ca."), "{}", f.detail);
    assert!(f.fix.starts_with("add root-b to the server's trust (server.trust: [root-a, root-b])"), "{}", f.fix);
}

#[tokio::test]
async fn an_expired_client_certificate() {
    let f = only("client_auth/expired_client_cert.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the client's certificate has expired");
    assert!(f.detail.starts_with("the client's certificate client-expired"), "{}", f.detail);
    assert_eq!(f.fix, "renew client-expired: issue the client a certificate valid now");
}

#[tokio::test]
async fn a_server_certificate_for_client_auth_only_asks_for_server_auth() {
    let f = only("certificates/client_eku_as_server.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate is not meant for TLS servers (extended key usage)");
    assert_eq!(
        f.detail,
        "the server's certificate server-client-eku (CN \"localhost\") has extendedKeyUsage clientAuth only; the \
         client verifies it for TLS server authentication, which needs serverAuth. Observed: the client sent \
         unsupported_certificate."
    );
    // The suggested replacement keeps the names, key type and issuer, so nothing else breaks.
    assert_eq!(
        f.fix,
        "give the server a certificate whose extendedKeyUsage includes serverAuth (server.certificate: server-ec), \
         or reissue server-client-eku with serverAuth added (eku: [client_auth, server_auth])"
    );
}

#[tokio::test]
async fn a_client_certificate_for_server_auth_only_asks_for_client_auth() {
    let f = only("client_auth/client_cert_server_eku.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the client's certificate is not meant for TLS clients (extended key usage)");
    assert!(f.detail.contains("has extendedKeyUsage serverAuth only; the server verifies it"), "{}", f.detail);
    assert!(f.detail.ends_with("Observed: the server sent unsupported_certificate."), "{}", f.detail);
    assert!(
        f.fix.starts_with(
            "give the client a certificate whose extendedKeyUsage includes clientAuth (client.certificate: client-a)"
        ),
        "{}",
        f.fix
    );
}

#[tokio::test]
async fn an_issuer_marked_ca_false_is_named_even_though_the_root_is_trusted() {
    let f = only("certificates/intermediate_not_ca.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate is issued by a certificate that is not a CA");
    assert_eq!(
        f.detail,
        "the server's certificate server-under-non-ca (CN \"localhost\") is issued by not-a-ca (CN \"tlsmatrix Not \
         A CA\"), whose certificate says basicConstraints CA:FALSE: it is not a CA and may not issue certificates, \
         although the chain goes on to root-a, which the client trusts. Observed: the client sent unknown_ca."
    );
    assert_eq!(
        f.fix,
        "issue the server's certificate from a real CA (basicConstraints CA:TRUE), such as intermediate-a, instead \
         of not-a-ca"
    );
}

#[tokio::test]
async fn a_name_outside_the_permitted_subtree_shows_both() {
    let f = only("certificates/name_constraints_violated.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate names a host its CA may not certify (name constraints)");
    assert_eq!(
        f.detail,
        "the server's certificate server-nc-violation (CN \"localhost\") is for DNS:localhost, but its issuer \
         intermediate-constrained (CN \"tlsmatrix Constrained CA\") may only certify names allowed by its \
         nameConstraints: permitted DNS example.com (and the names below it). Observed: the client sent \
         certificate_unknown."
    );
    assert_eq!(
        f.fix,
        "issue the server's certificate for DNS:localhost from a CA without these name constraints (such as \
         intermediate-a), or serve a name intermediate-constrained may certify (server.certificate: server-nc-ok, \
         client.server_name: www.example.com)"
    );
}

#[tokio::test]
async fn a_1024_bit_key_below_the_default_security_level() {
    let f = only("certificates/rsa1024_leaf.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate chain has a key or signature too weak for the client");
    assert_eq!(
        f.detail,
        "the server's certificate server-rsa1024 (CN \"localhost\") has a 1024-bit RSA key (80-bit security); the \
         client (openssl) runs at OpenSSL security level 2 (OpenSSL's default), which needs 112-bit security from \
         every key and signature in the chain. Observed: the client sent bad_certificate."
    );
    // RSA 1024 rates 80 bits, exactly what level 1 asks: that level is enough (checked by hand on this cell).
    assert_eq!(
        f.fix,
        "reissue server-rsa1024 with a 2048-bit RSA or an EC key (key: rsa2048 or ec-p256); or, OpenSSL only, \
         lower the client to security_level: 1 (which weakens it)"
    );
}

#[tokio::test]
async fn a_sha1_signature_below_the_default_security_level() {
    let f = only("certificates/sha1_leaf.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server's certificate chain has a key or signature too weak for the client");
    assert!(
        f.detail.starts_with(
            "the server's certificate server-sha1 (CN \"localhost\") has a SHA-1 signature from intermediate-rsa \
             (sha1WithRSAEncryption; 63-bit security as OpenSSL 3 rates it); the client (openssl) runs at OpenSSL \
             security level 2"
        ),
        "{}",
        f.detail
    );
    assert!(f.detail.ends_with("Observed: the client sent bad_certificate."), "{}", f.detail);
    assert_eq!(
        f.fix,
        "reissue server-sha1 with a SHA-256 signature (digest: sha256, the default); or, OpenSSL only, lower the \
         client to security_level: 0 (which weakens it)"
    );
}

#[tokio::test]
async fn rustls_refuses_sha1_with_no_level_to_lower() {
    let f = only("certificates/sha1_leaf.yaml", Rustls, Openssl).await;
    assert!(
        f.detail.contains("the client (rustls) refuses SHA-1 signatures and RSA keys under 2048 bits at any setting"),
        "{}",
        f.detail
    );
    assert!(f.detail.ends_with("Observed: the client sent decrypt_error."), "{}", f.detail);
    assert_eq!(f.fix, "reissue server-sha1 with a SHA-256 signature (digest: sha256, the default)");
}

#[tokio::test]
async fn a_dhe_only_openssl_server_without_parameters() {
    let f = only("cipher_suites/dhe_only_server.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "the server enables only DHE suites but has no DH parameters");
    assert_eq!(
        f.detail,
        "tls1.2 would be negotiated and the server accepts only the DHE suites TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 \
         (server.cipher_suites); DHE needs DH parameters, and the openssl backend's plain SSL_CTX has none (no \
         dhparam file, no SSL_CTX_set_dh_auto), so OpenSSL never selects these suites, whatever the client offers. \
         Observed: the server sent handshake_failure."
    );
    assert_eq!(
        f.fix,
        "use the ECDHE form of the suites, which needs no parameters (server.cipher_suites: \
         [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]); or give the server DH parameters (a dhparam file or \
         SSL_CTX_set_dh_auto), which the harness's openssl backend does not set"
    );
}

#[tokio::test]
async fn alpn_without_overlap_lists_both() {
    let f = only("alpn/no_overlap.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no ALPN protocol in common");
    assert!(
        f.detail.starts_with("client offers http/1.1 (client.alpn); server accepts h2 (server.alpn)"),
        "{}",
        f.detail
    );
    assert_eq!(
        f.fix,
        "offer h2 on the client (client.alpn: [http/1.1, h2]), or accept http/1.1 on the server (server.alpn: \
         [h2, http/1.1])"
    );
}

#[tokio::test]
async fn an_unexplained_failure_names_the_side_its_alert_and_its_message() {
    // No rule covers signature_algorithms without a scheme for the server's key: the finding falls back to what
    // the failing side said.
    let f = only("signatures/ecdsa_cert_rsa_only_client.yaml", Openssl, Openssl).await;
    assert_eq!(f.cause, "no specific diagnosis: the server (openssl) sent handshake_failure");
    assert!(f.detail.starts_with("client (openssl): failed (Handshake, peer_alert)"), "{}", f.detail);
    assert!(f.detail.contains("no suitable signature algorithm"), "{}", f.detail);
    assert!(f.fix.ends_with("start from the server's own error above"), "{}", f.fix);
}

#[test]
fn a_harness_fault_is_reported_and_an_unsupported_cell_has_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios/seed/untrusted_ca.yaml")]).unwrap();
    let scenario = &catalog.scenarios[0];
    let mut cell = CellResult {
        scenario: scenario.id.clone(),
        client: Openssl,
        server: Openssl,
        status: Status::Error,
        reason: Some("bind 127.0.0.1:0: address in use".into()),
        expected: None,
        observed: None,
        wire: Vec::new(),
        mismatches: Vec::new(),
        notes: Vec::new(),
        duration_ms: 0.0,
    };
    let findings = diagnose(scenario, &pki, &cell);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].detail, "bind 127.0.0.1:0: address in use");
    cell.status = Status::Unsupported;
    assert_eq!(diagnose(scenario, &pki, &cell), Vec::new());
}

#[rstest]
#[case("localhost", "localhost", true)]
#[case("LocalHost.", "localhost", true)]
#[case("*.example.test", "a.example.test", true)]
#[case("*.example.test", "a.b.example.test", false)]
#[case("*.example.test", "example.test", false)]
#[case("other.example", "localhost", false)]
fn host_names_match_like_rfc_6125(#[case] pattern: &str, #[case] host: &str, #[case] matches: bool) {
    assert_eq!(dns_matches(pattern, host), matches);
}

/// A cell of `scenarios/<file>` whose backends this machine may lack (an external peer): the real cell when both
/// can run, else the observation docs/catalog.md records for it, judged against the scenario like a run
/// (`TLSMATRIX_REQUIRE_TOOLS=1` insists on the real cell).
async fn explain_or_recorded(file: &str, client: BackendId, server: BackendId, recorded: Observation) -> Vec<Finding> {
    let registry = Registry::all();
    if registry.runs(client, server) {
        return explain(file, client, server).await.0;
    }
    let why = [registry.unavailable(client, Role::Client), registry.unavailable(server, Role::Server)];
    assert!(!crate::harness::tools_required(), "{:?}", why);
    eprintln!("{client}->{server} cannot run here ({why:?}); judging the catalog's recorded observation");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios").join(file)]).expect("project loads");
    let scenario = catalog.scenarios.into_iter().next().expect("one scenario");
    let cell = CellResult {
        scenario: scenario.id.clone(),
        client,
        server,
        status: Status::Pass,
        reason: None,
        expected: None,
        observed: Some(recorded),
        wire: Vec::new(),
        mismatches: Vec::new(),
        notes: Vec::new(),
        duration_ms: 0.0,
    };
    diagnose_with(&scenario, &pki, &registry, &cell)
}

/// Both sides of a cell where `sender` sent `alert` on its own account (`local`) and the other side received it.
fn alert_from(sender: Role, alert: Alert, message: &str) -> Observation {
    let sent = Failure {
        phase: Phase::Handshake,
        sent_alert: Some(alert),
        received_alert: None,
        error: ErrorClass::Local,
        message: message.into(),
    };
    let received = Failure {
        phase: Phase::Handshake,
        sent_alert: None,
        received_alert: Some(alert),
        error: ErrorClass::PeerAlert,
        message: format!("received {alert}"),
    };
    let (client, server) = match sender {
        Role::Client => (sent, received),
        Role::Server => (received, sent),
    };
    Observation { client: SideOutcome::Failed(client), server: SideOutcome::Failed(server) }
}

#[tokio::test]
async fn a_trusted_intermediate_is_an_anchor_for_java_gnutls_and_rustls_but_not_for_openssl() {
    // scenarios/certificates/trust_intermediate_only.yaml: the client trusts only intermediate-a. Each library's own
    // verdict on the path, as explain sees it; only the OpenSSL-based clients need the root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("scenarios/certificates/trust_intermediate_only.yaml");
    let (pki, catalog) = crate::Layout::at(root).load(&[file]).expect("project loads");
    let scenario = &catalog.scenarios[0];
    let registry = Registry::all();
    for client in [Openssl, NativeTls, Rustls, Jsse, OpensslCli, Gnutls] {
        let pair = Pair::new(scenario, &pki, &registry, client, Openssl).expect("compiled in");
        let causes: Vec<String> =
            pair.certificate_problems(&pair.server_certificate_check()).into_iter().map(|c| c.finding.cause).collect();
        let expected: &[&str] = match client {
            Rustls | Jsse | Gnutls => &[],
            _ => &["the client trusts an intermediate CA but not its root"],
        };
        assert_eq!(causes, expected, "{client}");
    }
    // The real Java cell agrees: it connects, so there is nothing to explain (explain used to call it a missing root).
    let connected = Observation {
        client: SideOutcome::Established(Default::default()),
        server: SideOutcome::Established(Default::default()),
    };
    let findings = explain_or_recorded("certificates/trust_intermediate_only.yaml", Jsse, Openssl, connected).await;
    assert_eq!(findings, Vec::new());
}

#[tokio::test]
async fn gnutls_defaults_to_tls10_so_a_legacy_openssl_client_meets_the_security_level() {
    // GnuTLS's NORMAL still enables TLS 1.0 (docs/catalog.md, versions::tls10_client_default_security_level): the
    // server picks TLS 1.0 and the OpenSSL client at level 2 refuses its SHA-1 based signature. Explain used to take
    // GnuTLS's defaults for TLS 1.2-1.3 and report disjoint versions.
    let recorded = alert_from(Role::Client, Alert::INTERNAL_ERROR, "legacy sigalg disallowed or unsupported");
    let findings =
        explain_or_recorded("versions/tls10_client_default_security_level.yaml", Openssl, Gnutls, recorded).await;
    let [f] = &findings[..] else { panic!("{findings:#?}") };
    assert_eq!(f.cause, "the only common versions need OpenSSL security level 0");
    assert_eq!(
        f.detail,
        "client offers tls1.0 only; server accepts tls1.0-tls1.3 (GnuTLS's NORMAL priority string); so tls1.0 would be \
         negotiated, whose handshake signatures need SHA-1, which OpenSSL refuses at security level 1 and up: the \
         client runs at level 2 (OpenSSL's default). Observed: the client sent internal_error."
    );
    assert_eq!(
        f.fix,
        "enable tls1.2 on the client (client.versions: [tls1.0, tls1.1, tls1.2]); or set security_level: 0 on the \
         client (which weakens it)"
    );
}

#[tokio::test]
async fn a_gnutls_client_refusing_sha1_is_described_as_gnutls() {
    // gnutls-cli refuses the SHA-1 leaf but accepts RSA-1024 (docs/catalog.md, certificates::sha1_leaf and
    // rsa1024_leaf): its floor is its own, not rustls's.
    let recorded = alert_from(Role::Client, Alert::BAD_CERTIFICATE, "Error in the certificate.");
    let f = match &explain_or_recorded("certificates/sha1_leaf.yaml", Gnutls, Openssl, recorded).await[..] {
        [f] => f.clone(),
        other => panic!("{other:#?}"),
    };
    assert_eq!(f.cause, "the server's certificate chain has a key or signature too weak for the client");
    assert!(
        f.detail.contains(
            "; the client (gnutls) verifies with NORMAL's low profile (80-bit security): RSA-1024 passes, SHA-1 \
             signatures do not. Observed: the client sent bad_certificate."
        ),
        "{}",
        f.detail
    );
    assert_eq!(f.fix, "reissue server-sha1 with a SHA-256 signature (digest: sha256, the default)");
}

#[tokio::test]
async fn java_accepting_rsa1024_and_sha1_gets_no_strength_finding() {
    // Java 17 accepts both certificates (docs/catalog.md); its strength rule is not modelled, so explain says
    // nothing about strength for a Java verifier rather than apply rustls's floor.
    for file in ["certificates/sha1_leaf.yaml", "certificates/rsa1024_leaf.yaml"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (pki, catalog) = crate::Layout::at(root).load(&[root.join("scenarios").join(file)]).expect("loads");
        let registry = Registry::all();
        let pair = Pair::new(&catalog.scenarios[0], &pki, &registry, Jsse, Openssl).expect("compiled in");
        assert!(pair.weak_certificate(&pair.server_certificate_check()).is_none(), "{file}");
        let rustls = Pair::new(&catalog.scenarios[0], &pki, &registry, Rustls, Openssl).expect("compiled in");
        assert!(rustls.weak_certificate(&rustls.server_certificate_check()).is_some(), "{file}");
    }
}
