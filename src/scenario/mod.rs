//! The scenario model: what a YAML file under `scenarios/` may say, loaded and validated before anything runs.
//!
//! Every struct rejects unknown fields, every vocabulary word is checked while parsing (so the parser's line and column
//! point at it), and fixture names are checked against `fixtures/pki.yaml` the same way. Rules that span fields (a
//! version range must be contiguous, an override needs a reason) are checked after parsing and reported against the
//! line of the offending key.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::LoadError;
use crate::vocab::{BackendId, ProtocolVersion, Role};
use crate::yaml;

mod expect;
pub mod import;
mod overrides;
mod rules;
mod side;

pub use self::expect::{AlertExpect, CloseExpect, ExpectPatch, Expectation, ExpectedResult, SideExpect};
pub use self::overrides::{Backends, Override, VersionRange, When};
pub use self::rules::{Derived, Rule, RuleWhen};
use self::side::is_default;
pub use self::side::{AlpnMismatch, ChainShape, ClientAuth, ClientConfig, Mode, ServerConfig, SideConfig};
pub use crate::settings::Knob;

thread_local! {
    /// The fixture names a scenario may use, set while the catalog parses a file so that an unknown name fails with
    /// the parser's line and column instead of a vague error after the fact.
    static FIXTURES: RefCell<Option<BTreeSet<String>>> = const { RefCell::new(None) };
}

/// The name of a certificate in `fixtures/pki.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct FixtureName(pub String);

impl<'de> Deserialize<'de> for FixtureName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FIXTURES.with(|f| match &*f.borrow() {
            Some(known) if !known.contains(&name) => Err(serde::de::Error::custom(format!(
                "unknown fixture `{name}`, expected a certificate from fixtures/pki.yaml: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            ))),
            _ => Ok(FixtureName(name)),
        })
    }
}

impl fmt::Display for FixtureName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A scenario: one server config, one client config, the expected outcome and the known differences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `seed::legacy_tls10_server` for `scenarios/seed/legacy_tls10_server.yaml`.
    #[serde(skip)]
    pub id: String,
    /// The file it came from.
    #[serde(skip)]
    pub path: PathBuf,
    /// What real-world situation it models and what a user sees.
    pub description: String,
    /// Free-form labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// One connection, or two with session resumption.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: Mode,
    /// The server.
    pub server: ServerConfig,
    /// The client.
    pub client: ClientConfig,
    /// The expected outcome for every pair, unless an override says otherwise.
    pub expect: Expectation,
    /// Per-backend differences, each with its reason.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// The network between them: a fault the relay plays, and the cell's deadline.
    #[serde(default, skip_serializing_if = "is_default")]
    pub wire: WireConfig,
    /// A parameter grid: `server.<knob>` / `client.<knob>` to the list of values it takes. The file becomes one
    /// scenario per combination (`id[client.versions=tls1.2,server.versions=tls1.3]`); see `src/grid.rs`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub matrix: BTreeMap<String, Vec<serde_json::Value>>,
    /// With `matrix`: the expectation of each combination, first matching rule wins (`expect` where none does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// What the relay between client and server does to the connection (see `src/relay.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireConfig {
    /// A misbehaving network or peer, played by the relay; left out, the relay forwards every byte untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// With `fault: delay`: how long the server's first flight is held, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// This scenario's per-connection deadline in milliseconds (default: the run's `--timeout`), so a scenario about
    /// stalls does not hold the run for the default five seconds. Like `--timeout`, it is stretched three times for
    /// cells with an external peer (a JVM, a tool process), whose start-up and JIT a loaded machine slows down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// A misbehaving network or peer, as the client meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The relay takes the ClientHello and closes both connections (FIN): a middlebox that drops the connection.
    CloseAfterClientHello,
    /// The relay takes the ClientHello and resets the client's connection (RST); the server sees a bare close.
    ResetAfterClientHello,
    /// The server answers, but the client receives 32 bytes that are not TLS instead of the ServerHello.
    GarbageServerHello,
    /// The client receives a plain HTTP `400 Bad Request` and a close: a TLS client pointed at an HTTP port.
    HttpResponse,
    /// The client receives the first half of the server's first record, then a close.
    TruncatedRecord,
    /// The client receives a handshake record whose length (2^14 + 2049) exceeds what any TLS version allows.
    OversizedRecord,
    /// Every byte both ways travels in its own TCP segment: the handshake must still succeed.
    OneByteSegments,
    /// The server's answer is held forever: both sides must give up at the deadline.
    Stall,
    /// The server's first flight is held `delay_ms`, within the deadline: the handshake must still succeed.
    Delay,
}

impl Fault {
    /// Whether a cell with this fault spends its time waiting on purpose (a held answer), not computing.
    pub fn waits(self) -> bool {
        matches!(self, Fault::Stall | Fault::Delay)
    }
}

/// What a cell should do, once overrides are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Run it and compare with this expectation; `because` is the override's reason, if one applied.
    Expect {
        /// The expectation (boxed: it is most of the enum's size).
        expectation: Box<Expectation>,
        /// The reason of the override that changed it.
        because: Option<String>,
    },
    /// Do not run it: the scenario says this pair cannot be expressed.
    Unsupported(String),
}

impl Scenario {
    /// The expectation for a pair: the most specific matching override wins (validation rejects ties).
    pub fn resolve(&self, client: BackendId, server: BackendId) -> Resolved {
        let best =
            self.overrides.iter().filter(|o| o.when.matches(client, server)).max_by_key(|o| o.when.specificity());
        match best {
            None => Resolved::Expect { expectation: Box::new(self.expect.clone()), because: None },
            Some(Override { unsupported: Some(why), .. }) => Resolved::Unsupported(why.clone()),
            Some(o) => Resolved::Expect {
                expectation: Box::new(
                    self.expect.patched(o.expect.as_ref().expect("validated: expect or unsupported")),
                ),
                because: o.reason.clone(),
            },
        }
    }

    /// Parses and validates one scenario. `text` is the file's content; `fixtures` the certificate names in the PKI.
    pub fn parse(id: String, path: &Path, text: &str, fixtures: &BTreeSet<String>) -> Result<Scenario, LoadError> {
        FIXTURES.with(|f| *f.borrow_mut() = Some(fixtures.clone()));
        let parsed = yaml::from_str::<Scenario>(text);
        FIXTURES.with(|f| *f.borrow_mut() = None);
        let mut s = parsed.map_err(|e| LoadError::at(path, e.line, e.column, e.message))?;
        s.id = id;
        s.path = path.to_path_buf();
        import::absorb_nginx(&mut s.server).map_err(|msg| {
            let (line, column) = locate(text, Loc::In("server", "nginx"));
            LoadError::at(path, line, column, format!("server.nginx: {msg}"))
        })?;
        s.validate().map_err(|(loc, msg)| {
            let (line, column) = locate(text, loc);
            LoadError::at(path, line, column, msg)
        })?;
        Ok(s)
    }

    /// Re-runs the cross-field rules on a scenario built in code (a grid combination); `Err` is the message.
    pub(crate) fn revalidate(&self) -> Result<(), String> {
        self.validate().map_err(|(_, m)| m)
    }

    /// Cross-field rules. Errors carry where to point in the text and the message.
    fn validate(&self) -> Result<(), (Loc, String)> {
        // What a user sees and why the scenario exists: a scenario without it says nothing (YAML's `null` and `~`
        // read as those words, so they are refused too).
        if matches!(self.description.trim(), "" | "null" | "~" | "Null" | "NULL") {
            return Err((
                Loc::In("description", ""),
                "description: expected the real-world situation and what a user sees, in words".into(),
            ));
        }
        // An empty list enables nothing: every library refuses it when the config is built, so it is a mistake in the
        // file, said here with its line (to enable a library's default, leave the key out).
        let empties = [
            ("server", "cipher_suites", self.server.cipher_suites.as_ref().map(Vec::len)),
            ("server", "tls13_cipher_suites", self.server.tls13_cipher_suites.as_ref().map(Vec::len)),
            ("server", "groups", self.server.groups.as_ref().map(Vec::len)),
            ("server", "signature_algorithms", self.server.signature_algorithms.as_ref().map(Vec::len)),
            ("server", "alpn", self.server.alpn.as_ref().map(Vec::len)),
            ("client", "cipher_suites", self.client.cipher_suites.as_ref().map(Vec::len)),
            ("client", "tls13_cipher_suites", self.client.tls13_cipher_suites.as_ref().map(Vec::len)),
            ("client", "groups", self.client.groups.as_ref().map(Vec::len)),
            ("client", "signature_algorithms", self.client.signature_algorithms.as_ref().map(Vec::len)),
            ("client", "alpn", self.client.alpn.as_ref().map(Vec::len)),
        ];
        if let Some((side, key, _)) = empties.iter().find(|(_, _, n)| *n == Some(0)) {
            return Err((
                Loc::In(side, key),
                format!(
                    "{side}.{key}: an empty list enables nothing; expected at least one item (leave the key out for the library's default)"
                ),
            ));
        }
        if let Some(ms) = self.wire.deadline_ms.filter(|ms| *ms > MAX_DEADLINE_MS) {
            return Err((
                Loc::In("wire", "deadline_ms"),
                format!("wire.deadline_ms: {ms} ms; expected at most {MAX_DEADLINE_MS} ms (10 minutes)"),
            ));
        }
        for (side, versions, level) in [
            ("server", &self.server.versions, self.server.security_level),
            ("client", &self.client.versions, self.client.security_level),
        ] {
            if let Some(v) = versions {
                check_versions(v).map_err(|m| (Loc::In(side, "versions"), format!("{side}.versions: {m}")))?;
            }
            if level.is_some_and(|l| l > 5) {
                return Err((Loc::In(side, "security_level"), format!("{side}.security_level: expected 0 to 5")));
            }
        }
        for (side, suites, tls13) in [
            ("server", &self.server.cipher_suites, false),
            ("server", &self.server.tls13_cipher_suites, true),
            ("client", &self.client.cipher_suites, false),
            ("client", &self.client.tls13_cipher_suites, true),
        ] {
            if let Some(bad) = suites.iter().flatten().find(|s| s.is_tls13() != tls13) {
                let (key, want) = if tls13 {
                    (
                        "tls13_cipher_suites",
                        "only TLS 1.3 suites (TLS_AES_*, TLS_CHACHA20_*); TLS 1.2 suites go in cipher_suites",
                    )
                } else {
                    ("cipher_suites", "only TLS 1.2-and-earlier suites; TLS 1.3 suites go in tls13_cipher_suites")
                };
                return Err((Loc::In(side, key), format!("{side}.{key}: `{bad}` is misplaced, expected {want}")));
            }
        }
        if self.server.client_auth != ClientAuth::None && self.server.trust.is_empty() {
            return Err((
                Loc::In("server", "client_auth"),
                "server.client_auth needs server.trust: the CAs client certificates may chain to".into(),
            ));
        }
        for (side, alpn) in [("server", &self.server.alpn), ("client", &self.client.alpn)] {
            if let Some(bad) = alpn.iter().flatten().find(|p| p.is_empty() || p.len() > 255) {
                return Err((
                    Loc::In(side, "alpn"),
                    format!("{side}.alpn: `{bad}` is not a protocol name: expected 1 to 255 bytes (RFC 7301)"),
                ));
            }
            if alpn.as_ref().is_some_and(|a| a.is_empty()) {
                return Err((
                    Loc::In(side, "alpn"),
                    format!("{side}.alpn: expected at least one protocol (or leave it out)"),
                ));
            }
        }
        let names = self.client.server_name.iter().map(|n| ("client", "server_name", n));
        let sni = self.server.sni_certificates.keys().map(|n| ("server", "sni_certificates", n));
        for (side, key, name) in names.chain(sni) {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                return Err((
                    Loc::In(side, key),
                    format!("{side}.{key}: `{name}` is neither a DNS name nor an IP address"),
                ));
            }
        }
        self.expect.check().map_err(|m| (Loc::In("expect", "result"), format!("expect: {m}")))?;
        if self.expect.resumed.is_some() && self.mode != Mode::Resume {
            return Err((Loc::In("expect", "resumed"), "expect.resumed needs `mode: resume` (two connections)".into()));
        }
        let w = &self.wire;
        match (w.fault, w.delay_ms) {
            (Some(Fault::Delay), None) => {
                return Err((Loc::In("wire", "fault"), "wire: `fault: delay` needs `delay_ms`".into()));
            }
            (f, Some(_)) if f != Some(Fault::Delay) => {
                return Err((Loc::In("wire", "delay_ms"), "wire.delay_ms applies only to `fault: delay`".into()));
            }
            _ => {}
        }
        if let (Some(d), Some(limit)) = (w.delay_ms, w.deadline_ms) {
            if d >= limit {
                return Err((
                    Loc::In("wire", "delay_ms"),
                    format!(
                        "wire.delay_ms ({d}) must be below wire.deadline_ms ({limit}) to model a delay, not a stall"
                    ),
                ));
            }
        }
        if w.deadline_ms == Some(0) {
            return Err((Loc::In("wire", "deadline_ms"), "wire.deadline_ms: expected at least 1".into()));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let here = Loc::Override(i);
            let problem = if o.when.client.is_none() && o.when.server.is_none() {
                Some("`when` must name a `client` and/or a `server` backend".to_string())
            } else if let Err(m) = o.when.check() {
                Some(m)
            } else if let Some(j) = self.overrides[..i].iter().position(|p| p.when == o.when) {
                Some(format!("repeats the `when` of overrides[{j}]: merge them"))
            } else {
                match (&o.expect, &o.unsupported, &o.reason) {
                    (Some(_), None, None) => {
                        Some("an override needs a `reason` naming the real cause of the difference".to_string())
                    }
                    (_, _, Some(r)) | (_, Some(r), _) if r.trim().is_empty() => {
                        Some("the reason is empty: say what the library really does, and where".to_string())
                    }
                    (Some(p), None, Some(_)) => self.expect.patched(p).check().err(),
                    (None, Some(_), None) => None,
                    (None, Some(_), Some(_)) => Some("`unsupported` carries its own reason; drop `reason`".to_string()),
                    _ => {
                        Some("expected exactly one of `expect` (with `reason`) or `unsupported: <reason>`".to_string())
                    }
                }
            };
            if let Some(m) = problem {
                return Err((here, format!("overrides[{i}] ({}): {m}", o.when)));
            }
        }
        // Two overrides of equal specificity that both apply to a pair ({client: rustls} and {server: openssl} for
        // rustls->openssl) would leave the winner to file order: make the author say which.
        for c in BackendId::ALL {
            for s in BackendId::ALL {
                let matching: Vec<usize> =
                    (0..self.overrides.len()).filter(|&i| self.overrides[i].when.matches(c, s)).collect();
                let top = matching.iter().map(|&i| self.overrides[i].when.specificity()).max();
                let tied: Vec<usize> =
                    matching.into_iter().filter(|&i| Some(self.overrides[i].when.specificity()) == top).collect();
                if let [first, second, ..] = tied[..] {
                    return Err((
                        Loc::Override(second),
                        format!(
                            "overrides[{first}] and overrides[{second}] both apply to {c}->{s}: add an override with \
                             `when: {{ client: {c}, server: {s} }}` saying what that pair does"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_versions(v: &[ProtocolVersion]) -> Result<(), String> {
    if v.is_empty() {
        return Err("expected at least one version".into());
    }
    let mut sorted = v.to_vec();
    sorted.sort();
    sorted.dedup();
    let all = ProtocolVersion::ALL;
    let lo = all.iter().position(|x| *x == sorted[0]).unwrap_or(0);
    if sorted.len() != v.len() || all[lo..].iter().take(sorted.len()).ne(sorted.iter()) {
        return Err("expected a contiguous range without repeats, oldest first (e.g. [tls1.2, tls1.3])".into());
    }
    if sorted != v {
        return Err("expected versions oldest first (e.g. [tls1.2, tls1.3])".into());
    }
    Ok(())
}

/// The longest per-connection deadline a scenario may ask for: a stall that waits for it must still end.
pub const MAX_DEADLINE_MS: u64 = 600_000;

/// Runs `f` with `fixtures` as the names a [`FixtureName`] may take (grid values are checked like hand-written
/// ones).
pub(crate) fn with_fixtures<R>(fixtures: &BTreeSet<String>, f: impl FnOnce() -> R) -> R {
    FIXTURES.with(|cell| *cell.borrow_mut() = Some(fixtures.clone()));
    let out = f();
    FIXTURES.with(|cell| *cell.borrow_mut() = None);
    out
}

/// The 1-based line and column of `key` in top-level section `section` of `text`, if found.
pub(crate) fn locate_key(text: &str, section: &'static str, key: &'static str) -> (Option<usize>, Option<usize>) {
    locate(text, Loc::In(section, key))
}

/// Where a validation error points.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// A key inside a top-level section (`server`, `client`, `expect`).
    In(&'static str, &'static str),
    /// The n-th entry of `overrides`.
    Override(usize),
}

/// The 1-based line and column a [`Loc`] stands for in the text, if found.
fn locate(text: &str, loc: Loc) -> (Option<usize>, Option<usize>) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let section = |name: &str| lines.iter().position(|l| indent(l) == 0 && l.starts_with(&format!("{name}:")));
    let found = match loc {
        Loc::In(sec, key) => section(sec).map(|start| {
            let body = lines[start + 1..].iter().take_while(|l| l.trim().is_empty() || indent(l) > 0);
            let hit = body.enumerate().find(|(_, l)| l.trim_start().starts_with(&format!("{key}:")));
            hit.map_or((start, 0), |(i, l)| (start + 1 + i, indent(l)))
        }),
        Loc::Override(n) => section("overrides").and_then(|start| {
            let items = lines[start + 1..]
                .iter()
                .enumerate()
                .take_while(|(_, l)| l.trim().is_empty() || indent(l) > 0 || l.starts_with("- "))
                .filter(|(_, l)| l.trim_start().starts_with("- "));
            let mut items = items.map(|(i, l)| (start + 1 + i, indent(l))).collect::<Vec<_>>();
            let first = items.first().map(|(_, ind)| *ind);
            items.retain(|(_, ind)| Some(*ind) == first);
            items.get(n).copied()
        }),
    };
    found.map_or((None, None), |(line, col)| (Some(line + 1), Some(col + 1)))
}

/// The JSON Schema of a scenario file, generated from the types above (`tlsmatrix schema`,
/// docs/scenario.schema.json). Fixture names are plain strings here: they come from fixtures/pki.yaml.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Scenario);
    // Each side setting's description comes from the settings table, the one place it is written.
    for (def, role) in [("ServerConfig", Role::Server), ("ClientConfig", Role::Client)] {
        let props = schema.as_object_mut().and_then(|o| o.get_mut("$defs")).and_then(|d| d.get_mut(def));
        if let Some(props) = props.and_then(|d| d.get_mut("properties")).and_then(|p| p.as_object_mut()) {
            for (field, prop) in props.iter_mut() {
                let rows: Vec<_> = crate::settings::by_key(role, field).collect();
                if let [s] = rows[..] {
                    prop["description"] = format!("{} (left out: {})", s.meaning, s.default).into();
                } else if let Some(first) = rows.first() {
                    // A row per value: `fatal`: ...; `ignore`: ...
                    let values: Vec<String> =
                        rows.iter().map(|s| format!("`{}`: {}", &s.field[s.key().len() + 2..], s.meaning)).collect();
                    prop["description"] = format!("{} (left out: {})", values.join("; "), first.default).into();
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
