//! One side of a cell: the scenario's settings, with the library's own behaviour where the scenario leaves a knob out.

use crate::backend::{Backend, Behaviour, Capabilities, Preset, Strength};
use crate::scenario::{Knob, SideConfig};
use crate::vocab::{BackendId, CipherSuite, Group, ProtocolVersion, Role};

/// One side's settings with the library defaults filled in where the scenario leaves a knob out.
pub(super) struct Side<'a> {
    pub(super) role: Role,
    pub(super) backend: BackendId,
    /// What the backend can be told to do, so a fix only asks for what it can express.
    caps: &'a Capabilities,
    /// What the library does by itself (defaults, verifier policies), as the backend declares it.
    pub(super) lib: Behaviour,
    versions: Option<&'a [ProtocolVersion]>,
    tls12_suites: Option<&'a [CipherSuite]>,
    tls13_suites: Option<&'a [CipherSuite]>,
    groups: Option<&'a [Group]>,
    /// The scenario's `security_level`.
    pub(super) security_level: Option<u8>,
    pub(super) alpn: Option<&'a [String]>,
}

/// A list a side uses, and where it comes from (`None`: the scenario sets it).
pub(super) struct Effective<T> {
    pub(super) items: Vec<T>,
    pub(super) default: Option<&'static str>,
}

impl<T: Clone> Effective<T> {
    /// The scenario's list if it sets one, else the library's preset, else nothing known.
    fn of(set: Option<&[T]>, preset: Option<&Preset<T>>) -> Option<Self> {
        match (set, preset) {
            (Some(s), _) => Some(Effective { items: s.to_vec(), default: None }),
            (None, Some(p)) => Some(Effective { items: p.items.clone(), default: Some(p.origin) }),
            (None, None) => None,
        }
    }
}

impl<'a> Side<'a> {
    pub(super) fn new<C: SideConfig>(cfg: &'a C, backend: &'a dyn Backend) -> Self {
        let mut lib = backend.behaviour(C::ROLE);
        // A scenario that says what the server does with an ALPN mismatch overrides the library's own choice.
        if let Some(policy) = cfg.alpn_mismatch() {
            lib.ignores_alpn_mismatch = policy == crate::scenario::AlpnMismatch::Ignore;
        }
        Side {
            role: C::ROLE,
            backend: backend.id(),
            caps: backend.capabilities(C::ROLE),
            lib,
            versions: cfg.versions(),
            tls12_suites: cfg.cipher_suites(),
            tls13_suites: cfg.tls13_cipher_suites(),
            groups: cfg.groups(),
            security_level: cfg.security_level(),
            alpn: cfg.alpn(),
        }
    }

    /// "offers" for the client, "accepts" for the server.
    pub(super) fn verb(&self) -> &'static str {
        match self.role {
            Role::Client => "offers",
            Role::Server => "accepts",
        }
    }

    /// The enabled versions: the scenario's range, or the library default (docs/backends.md, "Defaults").
    pub(super) fn versions(&self) -> Effective<ProtocolVersion> {
        match self.versions {
            Some(v) => Effective { items: v.to_vec(), default: None },
            None => Effective { items: self.lib.versions.items.clone(), default: Some(self.lib.versions.origin) },
        }
    }

    /// The OpenSSL security level in force, for a library that has security levels.
    pub(super) fn effective_security_level(&self) -> Option<u8> {
        self.lib.security_level.map(|default| self.security_level.unwrap_or(default))
    }

    /// The security bits this side's verifier needs from every key and signature of a chain, or `None` when its
    /// library's rule is not modelled.
    pub(super) fn strength_floor(&self) -> Option<u32> {
        match self.lib.strength {
            Strength::SecurityLevel => self.effective_security_level().map(super::strength::level_bits),
            Strength::Floor { bits, .. } => Some(bits),
            Strength::Unknown => None,
        }
    }

    /// The suites for `version`, or `None` when the library default is a list we cannot enumerate here (OpenSSL's
    /// `DEFAULT` cipher string for TLS 1.2).
    pub(super) fn suites(&self, version: ProtocolVersion) -> Option<Effective<CipherSuite>> {
        match version {
            ProtocolVersion::Tls13 => Effective::of(self.tls13_suites, self.lib.tls13_suites.as_ref()),
            _ => Effective::of(self.tls12_suites, self.lib.tls12_suites.as_ref()),
        }
    }

    /// The key-exchange groups: the scenario's, or the library default (`None` when that is unknown).
    pub(super) fn groups(&self) -> Option<Effective<Group>> {
        Effective::of(self.groups, self.lib.groups.as_ref())
    }

    /// Whether this side's backend can enable every version of `range`, or why not.
    pub(super) fn can_enable(&self, range: &[ProtocolVersion]) -> Result<(), String> {
        match range.iter().find(|v| !self.caps.versions.contains(v)) {
            Some(v) => {
                Err(format!("{} as {} cannot enable {v} ({})", self.backend, self.role, self.caps.versions_reason))
            }
            None => Ok(()),
        }
    }

    /// Whether this side's backend can set the OpenSSL security level.
    pub(super) fn can_set_security_level(&self) -> bool {
        self.caps.can_set(Knob::SecurityLevel)
    }

    /// Whether the backend implements `suite` (so a fix may ask this side to enable it).
    pub(super) fn implements_suite(&self, suite: CipherSuite) -> bool {
        self.caps.cipher_suites.contains(&suite)
    }

    /// Whether the backend implements `group`.
    pub(super) fn implements_group(&self, group: Group) -> bool {
        self.caps.groups.contains(&group)
    }
}

/// "client offers tls1.2 only", "server accepts tls1.0-tls1.3 (openssl's default)".
pub(super) fn range_text(side: &Side, v: &Effective<ProtocolVersion>) -> String {
    let range = match (v.items.first(), v.items.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo} only"),
        (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
        _ => "no version".into(),
    };
    let origin = v.default.map(|d| format!(" ({d})")).unwrap_or_default();
    format!("{} {} {range}{origin}", side.role, side.verb())
}

/// "client offers x25519 (client.groups)", "server accepts a, b (rustls's default)".
pub(super) fn list_text<T: std::fmt::Display>(side: &Side, e: &Effective<T>, field: &str) -> String {
    let items = e.items.iter().map(T::to_string).collect::<Vec<_>>().join(", ");
    let origin = e.default.map_or_else(|| format!("{}.{field}", side.role), str::to_string);
    format!("{} {} {items} ({origin})", side.role, side.verb())
}
