//! Overrides: a backend quirk written down as data, with the pairs it applies to and its reason.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::ExpectPatch;
use crate::vocab::BackendId;

/// One backend or several (`client: jsse` or `client: [openssl, native-tls]`): a quirk shared by libraries with one
/// cause (OpenSSL underneath) is written once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backends(pub Vec<BackendId>);

impl Backends {
    /// Whether `b` is one of them.
    pub fn contains(&self, b: BackendId) -> bool {
        self.0.contains(&b)
    }
}

impl fmt::Display for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|b| b.name()).collect();
        f.write_str(&names.join("|"))
    }
}

impl Serialize for Backends {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Backends {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Backends;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a backend name or a list of backend names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Backends, E> {
                v.parse::<BackendId>().map(|b| Backends(vec![b])).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Backends, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<BackendId>()? {
                    if out.contains(&b) {
                        return Err(serde::de::Error::custom(format!("backend `{b}` is listed twice")));
                    }
                    out.push(b);
                }
                if out.is_empty() {
                    return Err(serde::de::Error::custom(
                        "an empty list of backends matches nothing: name at least one",
                    ));
                }
                Ok(Backends(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Backends {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Backends".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = g.subschema_for::<BackendId>();
        schemars::json_schema!({
            "description": "One backend, or a non-empty list of backends sharing the quirk",
            "anyOf": [one, { "type": "array", "items": one, "minItems": 1, "uniqueItems": true }]
        })
    }
}

/// Which cells an override applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The client backend(s), if the override is about the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Backends>,
    /// The server backend(s), if the override is about the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Backends>,
}

impl When {
    /// Whether the override applies to this pair.
    pub fn matches(&self, client: BackendId, server: BackendId) -> bool {
        self.client.as_ref().is_none_or(|c| c.contains(client))
            && self.server.as_ref().is_none_or(|s| s.contains(server))
    }

    /// More named sides = more specific (a list names its side once: it is as specific as a single name).
    pub fn specificity(&self) -> usize {
        usize::from(self.client.is_some()) + usize::from(self.server.is_some())
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.client.as_ref().map_or("*".to_string(), |b| b.to_string());
        let s = self.server.as_ref().map_or("*".to_string(), |b| b.to_string());
        write!(f, "{c}->{s}")
    }
}

/// A backend quirk, written down as data: where a library legitimately behaves differently, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The pairs it applies to.
    pub when: When,
    /// Why the library behaves differently (mandatory with `expect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The changed expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectPatch>,
    /// The cell cannot be expressed by this backend: the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}
