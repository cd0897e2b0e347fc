//! The rules of a parameter grid (`rules:` in a file with a `matrix:`): what the file says; the expansion into
//! scenarios is `crate::grid`'s.

use serde::{Deserialize, Serialize};

use super::{Expectation, Override};

/// One rule: conditions on a combination, and its expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Every condition given must hold.
    #[serde(default)]
    pub when: RuleWhen,
    /// The expectation of the combinations this rule matches.
    pub expect: Expectation,
    /// Fields of `expect` computed from the combination: `version` (the highest version both sides enable),
    /// `cipher` (the server's first TLS 1.2 or TLS 1.3 suite, for the derived version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derive: Vec<Derived>,
    /// Backend differences in the combinations this rule matches (added to the file's own): a library that answers
    /// disjoint versions with another alert differs only there, not in the cells that succeed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

/// Conditions a rule can test. Version conditions need both sides' `versions` set (by the base or an axis).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleWhen {
    /// Whether the two sides enable a version in common.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions_overlap: Option<bool>,
    /// Whether the client's oldest version is newer than the server's newest (the server cannot answer it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_newer: Option<bool>,
    /// Whether the client's newest version is older than the server's oldest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_older: Option<bool>,
    /// Whether the client enables TLS 1.3, and so negotiates through the supported_versions extension rather than
    /// the ClientHello's legacy version (which decides who refuses a version mismatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_offers_tls13: Option<bool>,
    /// Whether both sides enable TLS 1.3 and an older version in common, so the server chooses between them: most
    /// servers take the newest, crypto/tls takes the client's first in its supported_versions order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_chooses: Option<bool>,
}

/// A derivable expectation field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Derived {
    /// The highest version both sides enable.
    Version,
    /// The server's first suite for the derived version.
    Cipher,
}
