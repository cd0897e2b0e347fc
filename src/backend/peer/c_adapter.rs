//! Adapters written in C against a TLS library's own headers (`peers/boringssl`, `peers/nss`): built on first use
//! with the machine's C compiler into the user's cache, keyed by their source, the shared `peers/common/peer.h`, the
//! compiler and the library's Debian package version, so any of these changing builds anew.
//!
//! C because these libraries have no Rust binding that can share a binary with the system OpenSSL (BoringSSL's
//! symbols clash with it) or none at all that configures them as their applications do (NSS); a build of about a
//! second against Debian's -dev packages is all they cost.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::vocab::{CipherSuite, Group, ProtocolVersion};

/// The contract's plumbing every C adapter includes.
const PEER_H: &str = include_str!("../../../peers/common/peer.h");
/// How long a build may take (about a second on this machine).
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// The C compiler on PATH (`cc`, else `gcc`), or why there is none, with `hint` saying what else to install.
pub(crate) fn compiler(hint: &str) -> Result<PathBuf, String> {
    crate::backend::cli::which("cc")
        .or_else(|| crate::backend::cli::which("gcc"))
        .ok_or_else(|| format!("cc not found on PATH, to build the adapter: apt-get install gcc; {hint}"))
}

/// The installed version of a Debian package (`13.0.0+r24-2`), if it is installed.
pub(crate) fn package_version(package: &str) -> Option<String> {
    let mut q = Command::new("dpkg-query");
    q.args(["-W", "-f", "${Version}", package]);
    let out = crate::backend::probe::run(&mut q, crate::backend::probe::PROBE_DEADLINE).ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.success && !v.is_empty()).then_some(v)
}

/// `<cache>/<kind>/<fingerprint>/tls_peer`, built from `source` (with `peer.h` beside it) by `cc ... args` when it
/// is not there yet. `library` names what the binary links (its package version), so an upgrade rebuilds it.
pub(crate) fn build(cc: &Path, kind: &str, source: &str, args: &[String], library: &str) -> Result<PathBuf, String> {
    let mut version = Command::new(cc);
    version.arg("--version");
    let out = crate::backend::probe::run(&mut version, crate::backend::probe::PROBE_DEADLINE)?;
    let compiler = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
    let key = format!("{source}\n{PEER_H}\n{compiler}\n{library}\n{}", args.join(" "));
    let name = format!("{:016x}", crate::cache::fingerprint(key.as_bytes()));
    let dir = crate::cache::entry(kind, &name, |dir| {
        std::fs::write(dir.join("tls_peer.c"), source).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("peer.h"), PEER_H).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(cc);
        cmd.args(["-O2", "-Wall", "-o", "tls_peer", "tls_peer.c", "-I", "."]).args(args).current_dir(dir);
        let out = crate::backend::probe::run(&mut cmd, BUILD_TIMEOUT)?;
        if !out.success {
            return Err(format!("cc failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    })?;
    Ok(dir.join("tls_peer"))
}

/// What an adapter's `--probe` printed: the suites it implements and enables by default, its groups and versions.
pub(crate) struct Probe(serde_json::Value);

impl Probe {
    /// Runs `binary --probe`; `Err` says why it cannot serve.
    pub(crate) fn run(binary: &Path) -> Result<Probe, String> {
        let mut cmd = Command::new(binary);
        cmd.arg("--probe");
        super::run_probe(&mut cmd, |last| format!("{} cannot run ({last})", binary.display())).map(Probe)
    }

    /// A probe's output as given (tests).
    #[cfg(test)]
    pub(crate) fn from_json(json: serde_json::Value) -> Probe {
        Probe(json)
    }

    /// The strings of a list.
    fn names(&self, key: &str) -> Vec<String> {
        self.0[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
    }

    /// The version the adapter names (`NSS 3.87.1`).
    pub(crate) fn version(&self) -> Option<String> {
        self.0["version"].as_str().map(String::from)
    }

    /// The suites of a list that the vocabulary names, in the list's order.
    pub(crate) fn suites(&self, key: &str) -> Vec<CipherSuite> {
        self.names(key).iter().filter_map(|n| CipherSuite::known().find(|s| s.name() == Some(n.as_str()))).collect()
    }

    /// The groups it implements.
    pub(crate) fn groups(&self) -> BTreeSet<Group> {
        self.names("groups").iter().filter_map(|g| g.parse().ok()).collect()
    }

    /// The versions it implements.
    pub(crate) fn versions(&self) -> BTreeSet<ProtocolVersion> {
        ProtocolVersion::ALL.into_iter().filter(|v| self.0["versions"][v.name()].as_bool() == Some(true)).collect()
    }

    /// The versions a fresh context enables (`default_versions`: the lowest and the highest).
    pub(crate) fn default_versions(&self) -> Vec<ProtocolVersion> {
        let bounds: Vec<ProtocolVersion> =
            self.names("default_versions").iter().filter_map(|v| v.parse().ok()).collect();
        match bounds[..] {
            [lo, hi] => ProtocolVersion::ALL.into_iter().filter(|v| (lo..=hi).contains(v)).collect(),
            _ => vec![],
        }
    }
}
