//! Unit tests of the PKI: names, export, validity, extensions, layered descriptions.
use super::*;
use rstest::rstest;

/// A fixture name becomes a file name: a path in it is refused with its line.
#[rstest]
#[case("../x")]
#[case("/etc/passwd")]
#[case(".hidden")]
#[case("a/b")]
fn a_fixture_name_must_be_a_plain_name(#[case] name: &str) {
    let text = format!(
        "certificates:\n  root: {{ cn: r, key: ec-p256, ca: true }}\n  \"{name}\": {{ cn: x, key: ec-p256, issuer: root }}\n"
    );
    let err = parse_spec(Path::new("pki.yaml"), &text).unwrap_err();
    assert_eq!(err.line, Some(3), "{err}");
    assert!(err.message.contains("expected a plain name"), "{err}");
}

/// `pki-export` into a directory with a planted symbolic link: the link is replaced, its target untouched, and
/// the key is written 0600.
#[test]
fn export_replaces_a_planted_link_and_keeps_keys_private() {
    use std::os::unix::fs::PermissionsExt;
    let text = "certificates:\n  root: { cn: r, key: ec-p256, ca: true }\n";
    let pki = Pki::generate(parse_spec(Path::new("pki.yaml"), text).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("root.key")).unwrap();
    pki.export(&out).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let key = out.join("root.key");
    assert!(!key.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(key.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    let fresh = tmp.path().join("fresh");
    pki.export(&fresh).unwrap();
    assert_eq!(fresh.metadata().unwrap().permissions().mode() & 0o777, 0o700);
}

#[rstest]
#[case("-1d", Ok(-86_400))]
#[case("12h", Ok(43_200))]
#[case("0", Ok(0))]
#[case("1y", Err(()))]
#[case("d", Err(()))]
// Hostile input: a multi-byte last character, the smallest i64 (whose absolute value does not fit), empty.
#[case("1\u{e9}", Err(()))]
#[case("\u{e9}", Err(()))]
#[case("-9223372036854775808s", Err(()))]
#[case("9223372036854775807d", Err(()))]
#[case("", Err(()))]
fn offsets(#[case] s: &str, #[case] want: Result<i64, ()>) {
    assert_eq!(parse_offset(s).map_err(|_| ()), want);
}

#[test]
fn chains_and_validity_follow_the_spec() {
    let text = "
certificates:
  root: { cn: Root, o: A, key: ec-p256, ca: true, not_after: 10d }
  int: { cn: Int, o: A, key: ec-p256, ca: true, issuer: root }
  leaf: { cn: localhost, key: ec-p256, issuer: int, san: ['DNS:localhost', 'IP:127.0.0.1'], not_after: -1d }
";
    let file: PkiFile = yaml::from_str(text).unwrap();
    let pki = Pki::generate(file.certificates).unwrap();
    let leaf = pki.get("leaf").unwrap();
    assert_eq!(leaf.chain(ChainShape::Full).len(), 2);
    assert_eq!(leaf.chain(ChainShape::LeafOnly).len(), 1);
    assert!(leaf.cert.not_after() < Asn1Time::days_from_now(0).unwrap());
    assert!(pki.get("root").unwrap().intermediates.is_empty());
    // Keys live in this process's memory: a second load reuses them, certificates are signed afresh.
    let again = Pki::generate(yaml::from_str::<PkiFile>(text).unwrap().certificates).unwrap();
    assert!(again.get("leaf").unwrap().key.public_eq(&leaf.key));
    assert_ne!(
        again.get("leaf").unwrap().cert.serial_number().to_bn().unwrap(),
        leaf.cert.serial_number().to_bn().unwrap()
    );
}

/// Semantic errors in a PKI description that parses (hostile input) name the file, the entry's field line and
/// column, and what was expected, as scenario errors do; none is a bare "OpenSSL error".
#[rstest]
#[case::unknown_issuer("  leaf:\n    cn: x\n    key: ec-p256\n    issuer: nope\n", 6, 5, "unknown issuer `nope`")]
#[case::issuer_not_a_ca("  leaf:\n    cn: x\n    key: ec-p256\n    issuer: plain\n", 6, 5, "not a CA")]
#[case::cycle(
    "  a: { cn: a, key: ec-p256, ca: true, issuer: b }\n  b: { cn: b, key: ec-p256, ca: true, issuer: a }\n",
    3,
    39,
    "cycle"
)]
#[case::bad_offset("  leaf:\n    cn: x\n    key: ec-p256\n    not_after: \"1\u{e9}\"\n", 6, 5, "not_after")]
#[case::huge_offset("  leaf: { cn: x, key: ec-p256, not_before: -9223372036854775808s }\n", 3, 32, "200 years")]
#[case::bad_ip_san("  leaf:\n    cn: x\n    key: ec-p256\n    san: ['IP:999.1.1.1']\n", 6, 5, "IPv4 or IPv6")]
#[case::bad_san_kind("  leaf: { cn: x, key: ec-p256, san: ['URI:x'] }\n", 3, 32, "expected DNS:<name> or IP:<address>")]
fn pki_semantic_errors_have_a_location(
    #[case] entries: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] says: &str,
) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("pki.yaml");
    let text = format!("certificates:\n  plain: {{ cn: p, key: ec-p256 }}\n{entries}");
    std::fs::write(&path, &text).unwrap();
    let Err(crate::Error::Load(err)) = Pki::check(&path) else { panic!("expected a load error for\n{text}") };
    assert_eq!((err.line, err.column), (Some(line), Some(column)), "{err}\n{text}");
    assert!(err.message.contains(says), "{err}");
    assert!(err.to_string().starts_with(&format!("{}:{line}:{column}: certificate `", path.display())), "{err}");
}

/// A PKI path that is a FIFO or a device is refused at once, never read for ever.
#[test]
fn a_pki_path_that_is_not_a_file_is_refused() {
    let err = Pki::check(Path::new("/dev/zero")).err().unwrap();
    assert!(err.to_string().contains("a device, not a regular file"), "{err}");
}

#[test]
fn unknown_issuer_is_named() {
    let file: PkiFile = yaml::from_str("certificates:\n  leaf: { cn: x, key: ec-p256, issuer: nope }\n").unwrap();
    let err = Pki::generate(file.certificates).err().unwrap();
    assert!(err.to_string().contains("unknown issuer `nope`"), "{err}");
}

/// Fixed dates: days since the epoch by the proleptic Gregorian calendar, leap days included, and anything else
/// refused with what was expected.
#[rstest]
#[case("1970-01-01", Ok(0))]
#[case("2020-02-01", Ok(1_580_515_200))]
#[case("2020-02-01T12:30:05Z", Ok(1_580_515_200 + 45_005))]
#[case("2000-02-29", Ok(951_782_400))]
#[case("1950-01-01", Ok(-631_152_000))]
#[case("9999-12-31T23:59:59Z", Ok(253_402_300_799))]
#[case("2001-02-29", Err(()))]
#[case("1900-02-29", Err(()))]
#[case("2020-13-01", Err(()))]
#[case("2020-00-10", Err(()))]
#[case("2020-02-01T24:00:00Z", Err(()))]
#[case("2020-02-01T12:00:00", Err(()))]
#[case("1949-12-31", Err(()))]
#[case("2020-02-01-05", Err(()))]
#[case("2020-+2-01", Err(()))]
fn dates(#[case] s: &str, #[case] want: Result<i64, ()>) {
    assert_eq!(parse_time(s, 1_000).map_err(|_| ()), want, "{s}");
}

#[test]
fn an_offset_is_relative_to_now() {
    assert_eq!(parse_time("-1d", 100_000), Ok(100_000 - 86_400));
    assert!(parse_time("2020-02-31", 0).unwrap_err().contains("expected a UTC date"));
}

/// The X.509 knobs reach the certificate: no key identifiers when asked, fixed dates, and each extension kind
/// with its criticality, as OpenSSL itself prints them.
#[test]
fn key_identifiers_dates_and_extensions_reach_the_certificate() {
    let text = "
certificates:
  root: { cn: Root, key: ec-p256, ca: true }
  plain: { cn: plain, key: ec-p256, issuer: root }
  bare:
    cn: bare
    key: ec-p256
    issuer: root
    key_identifiers: false
    not_before: 2019-02-01
    not_after: 2020-02-01T12:00:00Z
    extensions:
      - { oid: 1.3.6.1.4.1.55555.1.1, der: '0500', critical: true }
      - { policies: [2.23.140.1.2.1, 1.3.6.1.4.1.55555.2] }
      - { aia: { ocsp: ['http://ocsp.example.test'], ca_issuers: ['http://pki.example.test/ca.crt'] } }
      - { crl_distribution_points: ['http://crl.example.test/ca.crl'], critical: false }
";
    let pki = Pki::generate(parse_spec(Path::new("pki.yaml"), text).unwrap()).unwrap();
    let shown = |name: &str| String::from_utf8(pki.get(name).unwrap().cert.to_text().unwrap()).unwrap();
    let (plain, bare) = (shown("plain"), shown("bare"));
    assert!(plain.contains("X509v3 Subject Key Identifier") && plain.contains("X509v3 Authority Key Identifier"));
    assert!(!bare.contains("Key Identifier"), "{bare}");
    assert!(bare.contains("1.3.6.1.4.1.55555.1.1: critical"), "{bare}");
    assert!(bare.contains("Policy: 2.23.140.1.2.1") && bare.contains("Policy: 1.3.6.1.4.1.55555.2"), "{bare}");
    assert!(bare.contains("OCSP - URI:http://ocsp.example.test"), "{bare}");
    assert!(bare.contains("CA Issuers - URI:http://pki.example.test/ca.crt"), "{bare}");
    assert!(bare.contains("URI:http://crl.example.test/ca.crl"), "{bare}");
    let cert = &pki.get("bare").unwrap().cert;
    assert_eq!(cert.not_before(), Asn1Time::from_unix(1_548_979_200).unwrap().as_ref());
    assert_eq!(cert.not_after(), Asn1Time::from_unix(1_580_515_200 + 43_200).unwrap().as_ref());
}

/// A bad extension is refused at its entry's `extensions` line, saying what was expected.
#[rstest]
#[case::two_kinds("[{ policies: [1.2.3], aia: { ocsp: ['http://x'] } }]", "expected exactly one of")]
#[case::bad_policy("[{ policies: [not-an-oid] }]", "policies: expected one or more dotted OIDs")]
#[case::bad_oid("[{ oid: 3.1, der: '0500' }]", "expected a dotted OID")]
#[case::bad_der("[{ oid: 1.2.3, der: '050' }]", "der: expected hex bytes")]
#[case::no_der("[{ oid: 1.2.3 }]", "expected both `oid` and `der`")]
#[case::bad_url("[{ crl_distribution_points: ['http://a b'] }]", "expected a URL without spaces or commas")]
#[case::empty_aia("[{ aia: {} }]", "expected `ocsp` or `ca_issuers` URLs")]
fn bad_extensions_are_located(#[case] list: &str, #[case] says: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("pki.yaml");
    let text = format!("certificates:\n  leaf:\n    cn: x\n    key: ec-p256\n    extensions: {list}\n");
    std::fs::write(&path, &text).unwrap();
    let Err(crate::Error::Load(err)) = Pki::check(&path) else { panic!("expected a load error for\n{text}") };
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.message.contains(says), "{err}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// An added file brings its own certificates (which may be issued by the base's), a replacing one leaves the
/// base out, and a name defined twice is refused where the second file defines it, naming the first.
#[test]
fn added_descriptions_merge_replace_and_clash() {
    let tmp = tempfile::tempdir().unwrap();
    let base = write(tmp.path(), "base/pki.yaml", "certificates:\n  root: { cn: r, key: ec-p256, ca: true }\n");
    let own = write(tmp.path(), "own/pki.yaml", "certificates:\n  mine: { cn: m, key: ec-p256, issuer: root }\n");
    let mut sources = PkiSources::file(&base);
    sources.add(own.clone());
    sources.add(own.clone());
    assert_eq!(sources.added.len(), 1, "a file is added once");
    let names = Pki::check_sources(&sources).unwrap().names();
    assert_eq!(names, BTreeSet::from(["root".to_string(), "mine".to_string()]));

    let alone = write(tmp.path(), "alone/pki.yaml", "replace: true\ncertificates:\n  solo: { cn: s, key: ec-p256 }\n");
    let mut replaced = PkiSources::file(&base);
    replaced.add(alone);
    assert_eq!(Pki::check_sources(&replaced).unwrap().names(), BTreeSet::from(["solo".to_string()]));

    let clash = write(
        tmp.path(),
        "clash/pki.yaml",
        "certificates:\n  x: { cn: x, key: ec-p256 }\n  root: { cn: r2, key: ec-p256 }\n",
    );
    let mut clashing = PkiSources::file(&base);
    clashing.add(clash.clone());
    let Err(crate::Error::Load(err)) = Pki::check_sources(&clashing) else { panic!("a clash must be refused") };
    assert_eq!((err.path.as_path(), err.line), (clash.as_path(), Some(3)), "{err}");
    assert!(err.message.contains(&format!("already defined in {}", base.display())), "{err}");
}

/// With no base file the built-in certificates are the base, and an error in an added file names that file.
#[test]
fn the_built_in_base_and_errors_in_added_files() {
    let tmp = tempfile::tempdir().unwrap();
    let own = write(tmp.path(), "pki.yaml", "certificates:\n  mine:\n    cn: m\n    key: ec-p256\n    issuer: ghost\n");
    let mut sources = PkiSources::default();
    sources.add(own.clone());
    let Err(crate::Error::Load(err)) = Pki::check_sources(&sources) else { panic!("unknown issuer") };
    assert_eq!((err.path.as_path(), err.line), (own.as_path(), Some(5)), "{err}");
    std::fs::write(&own, "certificates:\n  mine: { cn: m, key: ec-p256, issuer: intermediate-a }\n").unwrap();
    let names = Pki::check_sources(&sources).unwrap().names();
    assert!(names.contains("mine") && names.contains("root-a") && names.contains("server-ec"), "{names:?}");
    assert_eq!(find_descriptions(tmp.path()), vec![own]);
}
