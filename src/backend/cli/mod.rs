//! External peers driven through their command-line tools, one process per connection: `openssl s_server/s_client`
//! ([`OpensslCliBackend`]) and GnuTLS's `gnutls-serv/gnutls-cli` ([`GnutlsBackend`]); and nginx, a server product
//! run per cell ([`NginxBackend`]).
//!
//! The harness hands each side a connected socket; a tool wants to make or accept its own connection. So each run
//! starts the tool on loopback, connects to it (server) or lets it connect to us (client), and bridges the bytes
//! between that connection and the harness's socket ([`process::bridge`]). The relay still sees every byte, and the
//! tool's key log is handed to it so it can decrypt them. The exchange the in-process backends do with
//! `backend::exchange` is played through the tool's stdin and stdout.

mod gnutls;
mod haproxy;
mod hello;
mod nginx;
mod openssl_cli;
mod process;
mod product;

pub use gnutls::GnutlsBackend;
pub use haproxy::HaproxyBackend;
pub use nginx::NginxBackend;
pub use openssl_cli::OpensslCliBackend;

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ::openssl::x509::X509;

use super::{ConfigError, credential, pem_chain};
use crate::pki::{Credential, Pki};
use crate::scenario::{ChainShape, FixtureName};
use crate::wire::KeyLog;

/// Finds an executable on PATH (what a shell would run), without running it.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The first line of `program args...`'s output, for `Backend::version`.
pub(crate) fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = crate::backend::probe::run(
        std::process::Command::new(program).args(args),
        crate::backend::probe::PROBE_DEADLINE,
    );
    match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout).lines().next().map(|l| l.trim().to_string()),
        Err(why) => Some(format!("(no version: {why})")),
    }
}

/// A private directory for one endpoint's PEM files (mode 0700), removed when the endpoint drops.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(tag: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("tlsmatrix-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(TempDir { path })
    }

    /// Writes a file into the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let p = self.path.join(name);
        std::fs::write(&p, bytes)?;
        Ok(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A credential written as files: the leaf, the rest of its chain (shaped), the leaf followed by that chain, and
/// the PKCS#8 key.
pub(crate) struct IdentityFiles {
    /// The leaf alone.
    pub leaf: PathBuf,
    /// The certificates sent after the leaf, if any.
    pub chain: Option<PathBuf>,
    /// Leaf then chain, in one file (what gnutls reads).
    pub bundle: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Writes a credential's files into `dir` as `<tag>.*`.
pub(crate) fn write_identity(
    dir: &TempDir,
    tag: &str,
    cred: &Credential,
    shape: ChainShape,
) -> Result<IdentityFiles, ConfigError> {
    let certs = cred.chain(shape);
    let chain = match certs.len() {
        1 => None,
        _ => Some(dir.write(&format!("{tag}.chain.pem"), &pem_chain(&certs[1..]))?),
    };
    Ok(IdentityFiles {
        leaf: dir.write(&format!("{tag}.crt"), &pem_chain(&certs[..1]))?,
        chain,
        bundle: dir.write(&format!("{tag}.bundle.pem"), &pem_chain(&certs))?,
        key: dir.write(&format!("{tag}.key"), &cred.key_pkcs8_pem())?,
    })
}

/// Writes the trust bundle. An empty list must still trust *nothing* (a tool given no CA file falls back to the
/// system store), so it becomes a throwaway self-signed certificate nothing chains to.
pub(crate) fn write_trust(dir: &TempDir, pki: &Pki, names: &[FixtureName]) -> Result<PathBuf, ConfigError> {
    let certs: Vec<X509> =
        names.iter().map(|n| credential(pki, &n.0).map(|c| c.cert.clone())).collect::<Result<_, _>>()?;
    let pem = if certs.is_empty() { pem_chain(&[throwaway_ca()?]) } else { pem_chain(&certs) };
    Ok(dir.write("trust.pem", &pem)?)
}

/// A self-signed certificate made on the spot, trusted by nothing and issuing nothing.
fn throwaway_ca() -> Result<X509, ConfigError> {
    use ::openssl::ec::{EcGroup, EcKey};
    use ::openssl::nid::Nid;
    use ::openssl::pkey::PKey;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = ::openssl::x509::X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "tlsmatrix empty trust store")?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    b.set_not_before(&*::openssl::asn1::Asn1Time::days_from_now(0)?)?;
    b.set_not_after(&*::openssl::asn1::Asn1Time::days_from_now(1)?)?;
    b.sign(&key, ::openssl::hash::MessageDigest::sha256())?;
    Ok(b.build())
}

/// Pushes each line of a key log file into the cell's key log (a tool that failed early may not have written one).
pub(crate) fn collect_keys(path: &Path, keys: &KeyLog) {
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            keys.push(line);
        }
    }
}

/// An `OsString` from anything path-like or textual.
pub(crate) fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}
