//! Test certificates, generated for each run with the openssl crate from the PKI descriptions: the built-in
//! `fixtures/pki.yaml` (or a project's own) and every `pki.yaml` that adds to it ([`PkiSources`]).
//!
//! Validity is relative to the moment of the run (`not_after: -1d` is "expired yesterday"), so nothing committed can
//! expire and break the suite, the failure OpenSSL's own ssl-tests hit in 2022. Keys and certificates alike are made
//! in memory at every run and never written to disk (nothing to leak, nothing to clean up); RSA key generation is
//! the costly part, so it is spread over the cores and kept for the life of the process. `tlsmatrix pki-export DIR`
//! writes them out when a user asks for files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{LoadError, PkiError};
use crate::scenario::ChainShape;
use crate::yaml;

mod extensions;
mod sources;
mod validity;

pub use sources::{BUILT_IN, BUILT_IN_NAME, PkiSources, find_descriptions};
pub use validity::{parse_offset, parse_time};

/// The key algorithm of a fixture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
    /// RSA, 2048 bits.
    Rsa2048,
    /// RSA, 1024 bits: too weak for OpenSSL's default security level.
    Rsa1024,
    /// Ed25519.
    Ed25519,
}

/// The digest an issuer signs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Digest {
    /// SHA-1: deprecated for signatures, refused at OpenSSL security level 1 and up and by rustls.
    Sha1,
    /// SHA-256.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
}

/// DNS name constraints on a CA (RFC 5280 section 4.2.1.10).
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameConstraints {
    /// DNS subtrees names must fall in (`.example.com` or `example.com`).
    #[serde(default)]
    pub permitted_dns: Vec<String>,
    /// DNS subtrees names must not fall in.
    #[serde(default)]
    pub excluded_dns: Vec<String>,
}

/// An extended key usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Eku {
    /// id-kp-serverAuth.
    ServerAuth,
    /// id-kp-clientAuth.
    ClientAuth,
}

/// One certificate in fixtures/pki.yaml.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertSpec {
    /// Subject common name.
    pub cn: String,
    /// Subject organisation; every CA needs a unique subject, so this usually names the hierarchy.
    #[serde(default = "default_org")]
    pub o: String,
    /// The key algorithm.
    pub key: KeyType,
    /// The issuing certificate; left out, the certificate is self-signed.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Whether it is a CA (basicConstraints CA:TRUE, keyCertSign) and may issue certificates here.
    #[serde(default)]
    pub ca: bool,
    /// What basicConstraints claims, when it should differ from `ca`: `ca: true, mark_ca: false` makes an issuer
    /// whose own certificate says it is not a CA (a misissued "intermediate").
    #[serde(default)]
    pub mark_ca: Option<bool>,
    /// The digest the issuer signs this certificate with.
    #[serde(default)]
    pub digest: Digest,
    /// Name constraints (CAs only).
    #[serde(default)]
    pub name_constraints: Option<NameConstraints>,
    /// subjectAltName entries: `DNS:name` or `IP:addr`.
    #[serde(default)]
    pub san: Vec<String>,
    /// extendedKeyUsage; left out on a leaf, serverAuth and clientAuth both.
    #[serde(default)]
    pub eku: Option<Vec<Eku>>,
    /// Start of validity: relative to the run (`-1d`, `2h`, `0`) or a fixed UTC date (`2020-01-01`,
    /// `2020-01-01T12:00:00Z`).
    #[serde(default = "default_not_before")]
    pub not_before: String,
    /// End of validity, as `not_before`.
    #[serde(default = "default_not_after")]
    pub not_after: String,
    /// Whether the certificate carries subjectKeyIdentifier and (when issued by another) authorityKeyIdentifier.
    /// Without them a verifier matches issuers by name alone, which changes how it reports an impostor CA.
    #[serde(default = "yes")]
    pub key_identifiers: bool,
    /// More extensions, after the standard ones.
    #[serde(default)]
    pub extensions: Vec<ExtensionSpec>,
}

/// One extra extension: either raw (`oid` and `der`) or one of a small typed vocabulary.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionSpec {
    /// The extension's OID in dotted form (`1.3.6.1.4.1.55555.1`), with `der`.
    #[serde(default)]
    pub oid: Option<String>,
    /// The extnValue contents in hex (the DER of the extension's value: `0500` is NULL), with `oid`.
    #[serde(default)]
    pub der: Option<String>,
    /// certificatePolicies: policy OIDs (`2.23.140.1.2.1`).
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// authorityInfoAccess: where to find the issuer's certificate and the OCSP responder.
    #[serde(default)]
    pub aia: Option<Aia>,
    /// cRLDistributionPoints: CRL URLs.
    #[serde(default)]
    pub crl_distribution_points: Option<Vec<String>>,
    /// Whether it is marked critical (a verifier must reject a critical extension it does not know).
    #[serde(default)]
    pub critical: bool,
}

/// The authorityInfoAccess URLs of a certificate.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Aia {
    /// id-ad-ocsp: the OCSP responder.
    #[serde(default)]
    pub ocsp: Vec<String>,
    /// id-ad-caIssuers: the issuer's certificate.
    #[serde(default)]
    pub ca_issuers: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_org() -> String {
    "tlsmatrix test PKI".into()
}
fn default_not_before() -> String {
    "-1d".into()
}
fn default_not_after() -> String {
    "365d".into()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tlsmatrix PKI description (pki.yaml)")]
struct PkiFile {
    /// In a pki.yaml that adds to the base certificates (one beside a project's scenarios): `true` leaves the base
    /// (built-in or fixtures/pki.yaml) out, so only the added files' certificates exist.
    #[serde(default)]
    replace: bool,
    /// The certificates by name (a plain name: letters, digits, `-`, `_`, `.`), as scenarios refer to them.
    #[serde(deserialize_with = "yaml::unique_keys")]
    certificates: BTreeMap<String, CertSpec>,
}

/// The JSON Schema of a PKI description (`tlsmatrix schema --pki`, committed as docs/pki.schema.json for editors).
pub fn json_schema() -> String {
    let mut text = serde_json::to_string_pretty(&schemars::schema_for!(PkiFile)).expect("a schema is plain JSON");
    text.push('\n');
    text
}

/// Parses the text of a PKI description into its certificates by name, without generating anything: the fuzz target
/// and property tests reach the parser through this, since [`Pki::load`] also makes keys.
pub fn parse_spec(path: &Path, text: &str) -> Result<BTreeMap<String, CertSpec>, LoadError> {
    parse_file(path, text).map(|f| f.certificates)
}

fn parse_file(path: &Path, text: &str) -> Result<PkiFile, LoadError> {
    let file: PkiFile = yaml::from_str(text).map_err(|e| LoadError::at(path, e.line, e.column, e.message))?;
    // A name becomes file names (`pki-export`: NAME.key), so it must be a plain name, never a path.
    if let Some(bad) = file.certificates.keys().find(|n| !plain_name(n)) {
        let line = text.lines().position(|l| l.trim_start().trim_start_matches(['"', '\'']).starts_with(bad.as_str()));
        let shown: String = bad.chars().take(64).collect();
        return Err(LoadError::at(
            path,
            line.map(|l| l + 1),
            None,
            format!(
                "certificate name `{shown}`: expected a plain name (letters, digits, `-`, `_`, `.`; not starting with `.`), not a path"
            ),
        ));
    }
    Ok(file)
}

/// Letters, digits, `-`, `_` and `.`, not starting with `.`, at most 128 bytes: safe as a file name anywhere.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A certificate with its key and the chain a server or client sends with it.
#[derive(Clone)]
pub struct Credential {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
    /// The issuers between it and its self-signed root, nearest first (the root itself is not included).
    pub intermediates: Vec<X509>,
    /// Whether it is a CA.
    pub ca: bool,
}

impl Credential {
    /// The certificates to send for a chain shape, leaf first.
    pub fn chain(&self, shape: ChainShape) -> Vec<X509> {
        let mut v = vec![self.cert.clone()];
        match shape {
            ChainShape::Full => v.extend(self.intermediates.iter().cloned()),
            ChainShape::Reversed => v.extend(self.intermediates.iter().rev().cloned()),
            ChainShape::LeafOnly => {}
        }
        v
    }

    /// The private key as PKCS#8 PEM (what native-tls and rustls read).
    pub fn key_pkcs8_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("serialising a key we generated or loaded")
    }
}

/// Every fixture of a run, by name.
pub struct Pki {
    creds: BTreeMap<String, Credential>,
    specs: BTreeMap<String, CertSpec>,
    id: u64,
}

impl Pki {
    /// A PKI of ready-made credentials, by name: what a peer process rebuilds from the material of a request (see
    /// docs/peers.md) so that a backend's own code can run against it. Its id follows the certificates, so configs
    /// cached for one set of certificates are never used with another.
    pub fn from_credentials(creds: BTreeMap<String, Credential>) -> Pki {
        let mut der = Vec::new();
        // Every certificate of every credential: the same leaf with another chain is another PKI (a config cached
        // for the full chain must not serve a leaf-only one).
        for (name, c) in &creds {
            der.extend_from_slice(name.as_bytes());
            for cert in std::iter::once(&c.cert).chain(&c.intermediates) {
                der.extend(cert.to_der().unwrap_or_default());
            }
        }
        Pki { creds, specs: BTreeMap::new(), id: crate::cache::fingerprint(&der) }
    }

    /// Reads `pki.yaml`, generates every key in memory and signs every certificate.
    ///
    /// Keys never touch the disk (nothing to leak, nothing to clean up); `tlsmatrix pki-export DIR` writes them out
    /// when a user asks for files.
    pub fn load(spec_path: &Path) -> Result<Pki, crate::Error> {
        Self::load_sources(&PkiSources::file(spec_path))
    }

    /// Checks `pki.yaml` as [`Pki::load`] does (every spec field, issuers, validity offsets, SANs, by signing every
    /// certificate) but with a P-256 placeholder key for every entry: `validate` answers in milliseconds, without
    /// the RSA key generation whose cost varies from run to run. The result is only good for its names.
    pub fn check(spec_path: &Path) -> Result<Pki, crate::Error> {
        Self::check_sources(&PkiSources::file(spec_path))
    }

    /// Reads every description of `sources`, merges them (see [`PkiSources`]) and generates the PKI.
    pub fn load_sources(sources: &PkiSources) -> Result<Pki, crate::Error> {
        Self::build(sources, false)
    }

    /// [`Pki::check`] over several descriptions.
    pub fn check_sources(sources: &PkiSources) -> Result<Pki, crate::Error> {
        Self::build(sources, true)
    }

    fn build(sources: &PkiSources, placeholder_keys: bool) -> Result<Pki, crate::Error> {
        let files = sources.read()?;
        let mut parsed = Vec::with_capacity(files.len());
        for (path, text) in &files {
            parsed.push(parse_file(path, text)?);
        }
        // A replacing file leaves the base out; the added files still add to one another.
        let skip = usize::from(parsed.iter().skip(1).any(|f| f.replace));
        let mut specs = BTreeMap::new();
        let mut origin: BTreeMap<String, usize> = BTreeMap::new();
        for (i, file) in parsed.into_iter().enumerate().skip(skip) {
            for (name, mut spec) in file.certificates {
                let (path, text) = &files[i];
                if let Some(&j) = origin.get(&name) {
                    let (line, column) = entry_position(text, &name, None);
                    return Err(LoadError::at(
                        path,
                        line,
                        column,
                        format!(
                            "certificate `{name}` is already defined in {}: expected each name once across a run's \
                             PKI files (rename one, or set `replace: true` to leave out the base certificates)",
                            files[j].0.display()
                        ),
                    )
                    .into());
                }
                if placeholder_keys {
                    spec.key = KeyType::EcP256;
                }
                origin.insert(name.clone(), i);
                specs.insert(name, spec);
            }
        }
        Self::generate(specs).map_err(|e| {
            // The error is located in the file that defines the entry it names.
            let first = match &e {
                PkiError::Spec { name, .. } | PkiError::Openssl { name, .. } => name.split(", ").next(),
                PkiError::KeyFile { .. } => None,
            };
            let i = first.and_then(|n| origin.get(n)).copied().unwrap_or(0);
            locate(&files[i].0, &files[i].1, e)
        })
    }

    /// Which load of the PKI this is, unique in the process: library configurations built from it may be reused
    /// only with the same certificates.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The names of every certificate.
    pub fn names(&self) -> BTreeSet<String> {
        self.creds.keys().cloned().collect()
    }

    /// A credential by name.
    pub fn get(&self, name: &str) -> Option<&Credential> {
        self.creds.get(name)
    }

    /// Writes every fixture as PEM files into `dir` (`<name>.crt`, `<name>.key`, and `<name>.chain.crt` with the
    /// leaf followed by its intermediates), for use with other tools (`openssl s_server -cert ... -key ...`).
    ///
    /// The directory is created private (0700) when it does not exist; keys are written 0600 and certificates 0644.
    /// A file already there is replaced, a symbolic link included: the link itself is removed and a new file
    /// created in its place (`create_new`), so a planted link never makes the export write a key elsewhere.
    pub fn export(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if !dir.is_dir() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let mut written = Vec::new();
        for (name, cred) in &self.creds {
            let pem = |certs: &[X509]| certs.iter().flat_map(|c| c.to_pem().unwrap_or_default()).collect::<Vec<u8>>();
            for (suffix, bytes) in [
                ("crt", pem(std::slice::from_ref(&cred.cert))),
                ("chain.crt", pem(&cred.chain(ChainShape::Full))),
                ("key", cred.key_pkcs8_pem()),
            ] {
                let path = dir.join(format!("{name}.{suffix}"));
                if path.symlink_metadata().is_ok() {
                    std::fs::remove_file(&path)?;
                }
                let mode = if suffix == "key" { 0o600 } else { 0o644 };
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&path)?;
                std::io::Write::write_all(&mut f, &bytes)?;
                written.push(path);
            }
        }
        Ok(written)
    }

    /// The description of a certificate.
    pub fn spec(&self, name: &str) -> Option<&CertSpec> {
        self.specs.get(name)
    }

    fn generate(specs: BTreeMap<String, CertSpec>) -> Result<Pki, PkiError> {
        let mut keys = generate_keys(&specs)?;
        let mut creds: BTreeMap<String, Credential> = BTreeMap::new();
        // Issuers first: repeatedly sign what has its issuer ready; a pass that makes no progress means a cycle.
        let mut pending: Vec<&String> = specs.keys().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut still = Vec::new();
            for name in pending {
                let spec = &specs[name];
                match &spec.issuer {
                    Some(i) if !specs.contains_key(i) => {
                        return Err(PkiError::Spec {
                            name: name.clone(),
                            field: Some("issuer"),
                            message: format!("unknown issuer `{i}`: expected the name of another entry"),
                        });
                    }
                    Some(i) if !specs[i].ca => {
                        return Err(PkiError::Spec {
                            name: name.clone(),
                            field: Some("issuer"),
                            message: format!("issuer `{i}` is not a CA: expected an entry with `ca: true`"),
                        });
                    }
                    Some(i) if !creds.contains_key(i) => still.push(name),
                    _ => {
                        let issuer = spec.issuer.as_ref().map(|i| &creds[i]);
                        let key = keys.remove(name.as_str()).expect("a key per spec");
                        let cred = make(name, spec, issuer, key)?;
                        creds.insert(name.clone(), cred);
                    }
                }
            }
            if still.len() == before {
                let names: Vec<&str> = still.iter().map(|s| s.as_str()).collect();
                return Err(PkiError::Spec {
                    name: names.join(", "),
                    field: Some("issuer"),
                    message: format!(
                        "issuers form a cycle ({}): expected a chain that ends in a self-signed root",
                        names.join(", ")
                    ),
                });
            }
            pending = still;
        }
        static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Pki { creds, specs, id })
    }
}

/// The PKI description's text, read as scenarios are (a regular file, bounded, UTF-8).
fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = crate::catalog::read_bounded(path)?;
    String::from_utf8(bytes).map_err(|e| {
        LoadError::file(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {}); expected the YAML PKI description",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Turns a semantic PKI error (an unknown issuer, a cycle, a bad offset, a SAN OpenSSL refuses) into a load error at
/// the entry's line, and at its field's line and column when the error names one, as every scenario error is.
fn locate(path: &Path, text: &str, err: PkiError) -> crate::Error {
    let (name, field, message) = match &err {
        PkiError::Spec { name, field, message } => (name.as_str(), *field, message.clone()),
        PkiError::Openssl { name, source, .. } => (name.as_str(), None, format!("OpenSSL refused it: {source}")),
        PkiError::KeyFile { .. } => return err.into(),
    };
    // A cycle names every entry in it; the first is where to look.
    let first = name.split(", ").next().unwrap_or(name);
    let (line, column) = entry_position(text, first, field);
    LoadError::at(path, line, column, format!("certificate `{first}`: {message}")).into()
}

/// The 1-based line (and column) of an entry under `certificates:`, and of one of its fields when given and found
/// before the next entry. Text search is enough here: the file has already parsed, and entry names are plain names.
fn entry_position(text: &str, name: &str, field: Option<&str>) -> (Option<usize>, Option<usize>) {
    let lines: Vec<&str> = text.lines().collect();
    let key = |l: &str| {
        let t = l.trim_start().trim_start_matches(['"', '\'']);
        t.strip_prefix(name).is_some_and(|rest| rest.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
    };
    let Some(at) = lines.iter().position(|l| key(l)) else { return (None, None) };
    let indent = lines[at].len() - lines[at].trim_start().len();
    let Some(field) = field else { return (Some(at + 1), Some(indent + 1)) };
    for (n, l) in lines.iter().enumerate().skip(at) {
        let this_indent = l.len() - l.trim_start().len();
        if n > at && !l.trim().is_empty() && !l.trim_start().starts_with('#') && this_indent <= indent {
            break;
        }
        let from = if n == at { indent + name.len() } else { 0 };
        let hit = l.get(from..).and_then(|rest| {
            rest.match_indices(field).find(|(i, _)| {
                let before = rest[..*i].chars().next_back();
                let after = rest[i + field.len()..].trim_start();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with(':')
            })
        });
        if let Some((i, _)) = hit {
            return (Some(n + 1), Some(l[..from + i].chars().count() + 1));
        }
    }
    (Some(at + 1), Some(indent + 1))
}

/// Keys already generated by this process, by fixture name and type: a process that loads the PKI more than once
/// (the unit tests, `bench`'s warm start) pays for RSA generation once. Memory only; nothing outlives the process.
type KeyCache = Mutex<HashMap<(String, KeyType), PKey<Private>>>;

fn key_cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// Every spec's key, generated in memory on all cores: RSA generation dominates (tens to hundreds of milliseconds
/// a key), so the slow keys are spread over the threads first.
fn generate_keys(specs: &BTreeMap<String, CertSpec>) -> Result<BTreeMap<&str, PKey<Private>>, PkiError> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<(&str, KeyType)> = Vec::new();
    {
        let cache = key_cache().lock().unwrap_or_else(|e| e.into_inner());
        for (name, spec) in specs {
            match cache.get(&(name.clone(), spec.key)) {
                Some(k) => {
                    out.insert(name.as_str(), k.clone());
                }
                None => todo.push((name.as_str(), spec.key)),
            }
        }
    }
    todo.sort_by_key(|(_, k)| !matches!(k, KeyType::Rsa2048 | KeyType::Rsa1024));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let results: Vec<Result<(&str, PKey<Private>), PkiError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<(&str, KeyType)> = todo.iter().skip(t).step_by(threads).copied().collect();
                scope
                    .spawn(move || mine.into_iter().map(|(n, k)| new_key(n, k).map(|key| (n, key))).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("key generation does not panic")).collect()
    });
    let mut cache = key_cache().lock().unwrap_or_else(|e| e.into_inner());
    for r in results {
        let (name, key) = r?;
        cache.insert((name.to_string(), specs[name].key), key.clone());
        out.insert(name, key);
    }
    Ok(out)
}

fn new_key(name: &str, kind: KeyType) -> Result<PKey<Private>, PkiError> {
    let ossl = |source| PkiError::Openssl { name: name.to_string(), source };
    match kind {
        KeyType::EcP256 => ec_key(Nid::X9_62_PRIME256V1),
        KeyType::EcP384 => ec_key(Nid::SECP384R1),
        KeyType::Rsa2048 => Rsa::generate(2048).and_then(PKey::from_rsa),
        KeyType::Rsa1024 => Rsa::generate(1024).and_then(PKey::from_rsa),
        KeyType::Ed25519 => PKey::generate_ed25519(),
    }
    .map_err(ossl)
}

fn ec_key(curve: Nid) -> Result<PKey<Private>, openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(curve)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn make(name: &str, spec: &CertSpec, issuer: Option<&Credential>, key: PKey<Private>) -> Result<Credential, PkiError> {
    let ossl = |source| PkiError::Openssl { name: name.to_string(), source };
    let bad =
        |field: &'static str, message: String| PkiError::Spec { name: name.to_string(), field: Some(field), message };

    let mut subject = X509NameBuilder::new().map_err(ossl)?;
    subject.append_entry_by_nid(Nid::ORGANIZATIONNAME, &spec.o).map_err(ossl)?;
    subject.append_entry_by_nid(Nid::COMMONNAME, &spec.cn).map_err(ossl)?;
    let subject = subject.build();

    let mut b = X509Builder::new().map_err(ossl)?;
    b.set_version(2).map_err(ossl)?;
    let mut serial = BigNum::new().map_err(ossl)?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false).map_err(ossl)?;
    let serial = serial.to_asn1_integer().map_err(ossl)?;
    b.set_serial_number(&serial).map_err(ossl)?;
    b.set_subject_name(&subject).map_err(ossl)?;
    b.set_issuer_name(issuer.map_or(&*subject, |i| i.cert.subject_name())).map_err(ossl)?;
    b.set_pubkey(&key).map_err(ossl)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let nb = parse_time(&spec.not_before, now).map_err(|m| bad("not_before", format!("not_before: {m}")))?;
    let na = parse_time(&spec.not_after, now).map_err(|m| bad("not_after", format!("not_after: {m}")))?;
    let (nb, na) = (Asn1Time::from_unix(nb).map_err(ossl)?, Asn1Time::from_unix(na).map_err(ossl)?);
    b.set_not_before(&nb).map_err(ossl)?;
    b.set_not_after(&na).map_err(ossl)?;

    if spec.mark_ca.unwrap_or(spec.ca) {
        b.append_extension(BasicConstraints::new().critical().ca().build().map_err(ossl)?).map_err(ossl)?;
        b.append_extension(
            KeyUsage::new().critical().key_cert_sign().crl_sign().digital_signature().build().map_err(ossl)?,
        )
        .map_err(ossl)?;
    } else {
        b.append_extension(BasicConstraints::new().critical().build().map_err(ossl)?).map_err(ossl)?;
        let mut ku = KeyUsage::new();
        ku.critical().digital_signature();
        if matches!(spec.key, KeyType::Rsa2048 | KeyType::Rsa1024) {
            ku.key_encipherment();
        }
        b.append_extension(ku.build().map_err(ossl)?).map_err(ossl)?;
        let ekus = spec.eku.clone().unwrap_or_else(|| vec![Eku::ServerAuth, Eku::ClientAuth]);
        let mut eku = ExtendedKeyUsage::new();
        for e in ekus {
            match e {
                Eku::ServerAuth => eku.server_auth(),
                Eku::ClientAuth => eku.client_auth(),
            };
        }
        b.append_extension(eku.build().map_err(ossl)?).map_err(ossl)?;
    }
    if !spec.san.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for entry in &spec.san {
            let shown: String = entry.chars().take(80).collect();
            match entry.split_once(':') {
                Some(("DNS", d)) if !d.is_empty() && d.is_ascii() => san.dns(d),
                Some(("IP", ip)) if ip.parse::<std::net::IpAddr>().is_ok() => san.ip(ip),
                Some(("IP", _)) => {
                    return Err(bad("san", format!("san `{shown}`: expected an IPv4 or IPv6 address after IP:")));
                }
                _ => return Err(bad("san", format!("san `{shown}`: expected DNS:<name> or IP:<address>"))),
            };
        }
        let ext = san
            .build(&b.x509v3_context(issuer.map(|i| &*i.cert), None))
            .map_err(|e| bad("san", format!("san: OpenSSL refused it: {e}")))?;
        b.append_extension(ext).map_err(ossl)?;
    }
    if spec.key_identifiers {
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None)).map_err(ossl)?;
        b.append_extension(ski).map_err(ossl)?;
        // keyid without `always`: an issuer that has no subjectKeyIdentifier of its own gives none to copy.
        if let Some(i) = issuer.filter(|i| i.cert.subject_key_id().is_some()) {
            let aki = AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&b.x509v3_context(Some(&i.cert), None))
                .map_err(ossl)?;
            b.append_extension(aki).map_err(ossl)?;
        }
    }
    if let Some(nc) = &spec.name_constraints {
        let mut value = String::from("critical");
        for (kind, names) in [("permitted", &nc.permitted_dns), ("excluded", &nc.excluded_dns)] {
            for n in names {
                value.push_str(&format!(",{kind};DNS:{n}"));
            }
        }
        // The openssl crate has no builder for nameConstraints; OpenSSL's own config syntax is the supported way.
        #[allow(deprecated)]
        let ext = openssl::x509::X509Extension::new_nid(None, None, Nid::NAME_CONSTRAINTS, &value)
            .map_err(|e| bad("name_constraints", format!("name_constraints: OpenSSL refused them: {e}")))?;
        b.append_extension(ext).map_err(ossl)?;
    }
    for ext in &spec.extensions {
        b.append_extension(extensions::extension(ext).map_err(|m| bad("extensions", format!("extensions: {m}")))?)
            .map_err(ossl)?;
    }
    let signer = issuer.map_or(&key, |i| &i.key);
    let digest = match (signer.id(), spec.digest) {
        (openssl::pkey::Id::ED25519, _) => MessageDigest::null(),
        (_, Digest::Sha1) => MessageDigest::sha1(),
        (_, Digest::Sha256) => MessageDigest::sha256(),
        (_, Digest::Sha384) => MessageDigest::sha384(),
    };
    b.sign(signer, digest).map_err(ossl)?;

    let mut intermediates = Vec::new();
    if let Some(i) = issuer {
        // The issuer itself is an intermediate unless it is a self-signed root.
        if i.cert.issued(&i.cert) != openssl::x509::X509VerifyResult::OK {
            intermediates.push(i.cert.clone());
        }
        intermediates.extend(i.intermediates.iter().cloned());
    }
    Ok(Credential { cert: b.build(), key, intermediates, ca: spec.ca })
}

#[cfg(test)]
mod tests;
