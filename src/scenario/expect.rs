//! The expected outcome of a cell, and the changes an override makes to it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::vocab::{Alert, BackendId, CipherSuite, Group, ProtocolVersion};

/// `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedResult {
    /// Both sides complete the handshake, exchange application data and close cleanly.
    Success,
    /// At least one side fails; `client` and `server` say how.
    Failure,
}

/// The alert a side is expected to have sent or received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum AlertExpect {
    /// No alert (the key left out).
    #[default]
    None,
    /// Exactly this alert.
    Exactly(Alert),
    /// Any one of these (for stacks that legitimately vary, e.g. by timing); never a wildcard.
    OneOf {
        /// The acceptable alerts.
        one_of: Vec<Alert>,
    },
}

/// `unknown_ca` or `{ one_of: [a, b] }`, with the vocabulary's own error for a bad name (an untagged enum would
/// only say "did not match any variant").
impl<'de> Deserialize<'de> for AlertExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct OneOf {
            one_of: Vec<Alert>,
        }
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AlertExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an alert name (e.g. unknown_ca) or { one_of: [alert, ...] }")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AlertExpect, E> {
                s.parse().map(AlertExpect::Exactly).map_err(E::custom)
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, m: M) -> Result<AlertExpect, M::Error> {
                let o = OneOf::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                if o.one_of.len() < 2 {
                    return Err(serde::de::Error::custom("one_of needs at least two alerts (write one alert plainly)"));
                }
                Ok(AlertExpect::OneOf { one_of: o.one_of })
            }
        }
        d.deserialize_any(V)
    }
}

impl AlertExpect {
    /// Whether `observed` satisfies the expectation.
    pub fn matches(&self, observed: Option<Alert>) -> bool {
        match (self, observed) {
            (AlertExpect::None, None) => true,
            (AlertExpect::Exactly(a), Some(o)) => *a == o,
            (AlertExpect::OneOf { one_of }, Some(o)) => one_of.contains(&o),
            _ => false,
        }
    }

    fn is_none(&self) -> bool {
        *self == AlertExpect::None
    }
}

impl fmt::Display for AlertExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertExpect::None => f.write_str("none"),
            AlertExpect::Exactly(a) => write!(f, "{a}"),
            AlertExpect::OneOf { one_of } => {
                let names: Vec<String> = one_of.iter().map(Alert::to_string).collect();
                write!(f, "one of [{}]", names.join(", "))
            }
        }
    }
}

/// How one side is expected to fail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SideExpect {
    /// The fatal alert this side sends (left out: none).
    #[serde(default, skip_serializing_if = "AlertExpect::is_none")]
    pub sent_alert: AlertExpect,
    /// The fatal alert this side receives (left out: none).
    #[serde(default, skip_serializing_if = "AlertExpect::is_none")]
    pub received_alert: AlertExpect,
    /// The error class, checked when given (`eof`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::observation::ErrorClass>,
    /// The exact error text a user of that stack sees, by backend (`jsse: "javax.net.ssl.SSLHandshakeException:
    /// ..."`), checked on the cells of the backends named: the message a bug report will quote.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message: BTreeMap<BackendId, String>,
    /// A fragment the error text must contain, by backend, where the whole text varies with the build or the run
    /// (CPython's `(_ssl.c:N)` suffix, a date in Java's PKIX text): `python: "certificate verify failed:
    /// certificate has expired"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_contains: BTreeMap<BackendId, String>,
}

/// The expected outcome of a cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// `success` or `failure`.
    pub result: ExpectedResult,
    /// With success: the negotiated version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProtocolVersion>,
    /// With success: the negotiated cipher suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<CipherSuite>,
    /// With success: the negotiated key-exchange group (checked on backends that report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// With success: the negotiated ALPN protocol; `null` expects none.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub alpn: Option<Option<String>>,
    /// With success in `mode: resume`: whether the second connection resumed the first one's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// With failure: how the client fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SideExpect>,
    /// With failure: how the server fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<SideExpect>,
    /// With success: a side whose close goes wrong after the exchange (`close: { client: { received_alert:
    /// user_canceled, error: peer_alert } }`): both handshakes and the exchange completed, then that side failed
    /// in the data phase as its block says, while the other side closed cleanly and is judged as a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<CloseExpect>,
}

/// How the close goes wrong on one side of a connection that otherwise succeeded (see [`Expectation::close`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseExpect {
    /// The client fails at close, as this block says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SideExpect>,
    /// The server fails at close, as this block says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<SideExpect>,
}

impl CloseExpect {
    /// The block for one side, if that side is expected to fail at close.
    pub fn side(&self, role: crate::vocab::Role) -> Option<&SideExpect> {
        match role {
            crate::vocab::Role::Client => self.client.as_ref(),
            crate::vocab::Role::Server => self.server.as_ref(),
        }
    }
}

/// Changes an override makes to the base expectation: each field given replaces the base's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectPatch {
    /// Replaces `result`; fields that do not fit the new result are dropped from the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExpectedResult>,
    /// Replaces `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProtocolVersion>,
    /// Replaces `cipher`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<CipherSuite>,
    /// Replaces `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Replaces `alpn`.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub alpn: Option<Option<String>>,
    /// Replaces `resumed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// Replaces `client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<SideExpect>,
    /// Replaces `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<SideExpect>,
    /// Replaces `close`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<CloseExpect>,
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

impl Expectation {
    /// The base expectation with an override's changes applied.
    pub fn patched(&self, p: &ExpectPatch) -> Expectation {
        let mut e = self.clone();
        if let Some(r) = p.result {
            if r != e.result {
                e = Expectation {
                    result: r,
                    version: None,
                    cipher: None,
                    group: None,
                    alpn: None,
                    resumed: None,
                    client: None,
                    server: None,
                    close: None,
                };
            }
        }
        e.version = p.version.or(e.version);
        e.cipher = p.cipher.or(e.cipher);
        e.group = p.group.or(e.group);
        e.resumed = p.resumed.or(e.resumed);
        if p.alpn.is_some() {
            e.alpn.clone_from(&p.alpn);
        }
        if p.client.is_some() {
            e.client.clone_from(&p.client);
        }
        if p.server.is_some() {
            e.server.clone_from(&p.server);
        }
        if p.close.is_some() {
            e.close.clone_from(&p.close);
        }
        e
    }

    /// Checks that the fields fit the result; returns what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self.result {
            ExpectedResult::Success if self.client.is_some() || self.server.is_some() => {
                Err("`result: success` takes no `client`/`server` failure blocks".into())
            }
            ExpectedResult::Failure if self.close.is_some() => {
                Err("`close` describes a connection that succeeded and then failed at close: it takes `result: \
                     success`"
                    .into())
            }
            ExpectedResult::Success
                if self.close.as_ref().is_some_and(|c| c.client.is_some() == c.server.is_some()) =>
            {
                Err("`close` names exactly one side, `client:` or `server:`, the one whose close fails".into())
            }
            ExpectedResult::Failure
                if self.version.is_some()
                    || self.cipher.is_some()
                    || self.group.is_some()
                    || self.alpn.is_some()
                    || self.resumed.is_some() =>
            {
                Err("`result: failure` takes no negotiated parameters (version, cipher, group, alpn)".into())
            }
            ExpectedResult::Failure if self.client.is_none() || self.server.is_none() => {
                Err("`result: failure` needs both a `client:` and a `server:` block saying which alert each side \
                 sent and received (write `{}` for a side that sends and receives none)"
                    .into())
            }
            _ => Ok(()),
        }
    }
}
