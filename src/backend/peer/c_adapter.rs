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
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::Pool;
use crate::backend::{Capabilities, ConfigError};
use crate::vocab::{CipherSuite, Group, ProtocolVersion, Role};

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

/// What a build needs: the compiler, its arguments (include and library flags), and the library it links with its
/// package version (part of the cache key, and of the backend's version line).
pub(crate) struct Build {
    /// The C compiler.
    pub cc: PathBuf,
    /// Flags after the source: `-I`, `-L`, rpath, `-l`.
    pub args: Vec<String>,
    /// What the binary links, as the backend's version names it (`android-libboringssl 13.0.0+r24-2`).
    pub library: String,
}

/// What one backend's probe established (or, with `caps.unavailable`, why it cannot run).
pub(crate) struct Probed {
    /// The version line (`NSS 3.87.1`).
    pub version: Option<String>,
    /// What it can express (the same for both roles).
    pub caps: Capabilities,
    /// The adapter binary.
    pub binary: Option<PathBuf>,
    /// The TLS 1.2-and-earlier suites a fresh context enables, in its order.
    pub default_suites: Vec<CipherSuite>,
    /// The versions a fresh context enables.
    pub default_versions: Vec<ProtocolVersion>,
}

impl Probed {
    /// The default versions as a behaviour preset (every version when the probe said none).
    pub(crate) fn versions_preset(&self, origin: &'static str) -> crate::backend::Preset<ProtocolVersion> {
        match self.default_versions.is_empty() {
            true => crate::backend::Preset::new(ProtocolVersion::ALL, origin),
            false => crate::backend::Preset::new(self.default_versions.clone(), origin),
        }
    }

    /// The default TLS 1.2-and-earlier suites as a behaviour preset, if the probe listed any.
    pub(crate) fn suites_preset(&self, origin: &'static str) -> Option<crate::backend::Preset<CipherSuite>> {
        (!self.default_suites.is_empty()).then(|| crate::backend::Preset::new(self.default_suites.clone(), origin))
    }
}

/// How a backend reads its probe: its capabilities, the version line, which listed suites count.
pub(crate) struct Reading {
    /// The capabilities from the probe (`None` with the reason it is unavailable).
    pub caps: fn(Option<&Probe>, Option<String>) -> Capabilities,
    /// The version line, from the probe and the library's package version.
    pub version: fn(&Probe, &str) -> String,
    /// Whether a suite the probe lists is one a scenario can use (BoringSSL's PSK suites are not).
    pub usable: fn(&CipherSuite) -> bool,
}

/// One C adapter backend's machinery: the build on first use, the probe, the pooled process.
pub(crate) struct CAdapter {
    kind: &'static str,
    name: &'static str,
    source: &'static str,
    build: Result<Build, String>,
    reading: Reading,
    probed: OnceLock<Probed>,
    pool: Pool,
}

/// How long an adapter may take to start and say ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl CAdapter {
    /// `kind` names the cache folder (`nss`), `name` the process in errors (`nss adapter`); `build` is what the
    /// machine has for it, or why it has not.
    pub(crate) fn new(
        (kind, name): (&'static str, &'static str),
        source: &'static str,
        build: Result<Build, String>,
        reading: Reading,
    ) -> Self {
        CAdapter { kind, name, source, build, reading, probed: OnceLock::new(), pool: Pool::new(name) }
    }

    /// Builds and probes the adapter once (at the first question about it).
    pub(crate) fn probed(&self) -> &Probed {
        self.probed.get_or_init(|| {
            let unavailable = |why: String| Probed {
                version: None,
                caps: (self.reading.caps)(None, Some(why)),
                binary: None,
                default_suites: vec![],
                default_versions: vec![],
            };
            let b = match &self.build {
                Ok(b) => b,
                Err(why) => return unavailable(why.clone()),
            };
            let binary = match build(&b.cc, self.kind, self.source, &b.args, &b.library) {
                Ok(bin) if super::is_executable(&bin) => bin,
                Ok(bin) => return unavailable(format!("the {} {} is not executable", self.name, bin.display())),
                Err(why) => return unavailable(format!("cannot build the {}: {why}", self.name)),
            };
            let probe = match Probe::run(&binary) {
                Ok(p) => p,
                Err(why) => return unavailable(why),
            };
            let usable = self.reading.usable;
            Probed {
                version: Some((self.reading.version)(&probe, &b.library)),
                caps: (self.reading.caps)(Some(&probe), None),
                binary: Some(binary),
                default_suites: probe
                    .suites("default_suites")
                    .into_iter()
                    .filter(|s| usable(s) && !s.is_tls13())
                    .collect(),
                default_versions: probe.default_versions(),
            }
        })
    }

    /// One side of a cell on the adapter process.
    pub(crate) fn endpoint(
        &self,
        role: Role,
        request: Map<String, Value>,
    ) -> Result<Box<dyn crate::backend::Endpoint>, ConfigError> {
        let launch = || {
            let p = self.probed();
            if let Some(why) = &p.caps.unavailable {
                return Err(why.clone());
            }
            let binary = p.binary.as_ref().ok_or_else(|| format!("the {} was not built", self.name))?;
            let mut cmd = Command::new(binary);
            // Variables these libraries read at start-up; none may change a default behind the scenario's back.
            for var in ["SSLKEYLOGFILE", "NSS_DISABLE_HW_AES", "NSS_HASH_ALG_SUPPORT", "OPENSSL_CONF"] {
                cmd.env_remove(var);
            }
            Ok(cmd)
        };
        super::pooled_endpoint(&self.pool, launch, START_TIMEOUT, (role, request), self.name)
    }

    /// The version the probe found; no process is started just to print it.
    pub(crate) fn version(&self) -> String {
        let p = self.probed.get();
        let probed = (p.and_then(|p| p.version.as_deref()), p.and_then(|p| p.caps.unavailable.as_deref()));
        let missing = self.build.as_ref().err().cloned();
        super::adapter_version(&self.pool, probed, missing, &format!("{} (version read at first use)", self.kind))
    }
}
