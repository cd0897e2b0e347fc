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
    /// Whether `b` is one of them, or a release of one of them (`jsse` covers `jsse@11`).
    pub fn contains(&self, b: BackendId) -> bool {
        self.0.iter().any(|x| *x == b || (x.release().is_none() && *x == b.family()))
    }

    /// Whether every one of them is a pinned release (`jsse@11`), which makes an override more specific than one
    /// naming the family.
    fn pinned(&self) -> bool {
        self.0.iter().all(|b| b.release().is_some())
    }
}

/// A range of major releases (`<21`, `>=17`, `11`, `>=11,<21`): comparisons joined by commas, all of which must
/// hold. It narrows an override to the releases of the side it names whose version is in range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    bounds: Vec<(Cmp, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl VersionRange {
    /// Whether a major release is in the range.
    pub fn contains(&self, v: u32) -> bool {
        self.bounds.iter().all(|&(c, b)| match c {
            Cmp::Lt => v < b,
            Cmp::Le => v <= b,
            Cmp::Eq => v == b,
            Cmp::Ge => v >= b,
            Cmp::Gt => v > b,
        })
    }
}

impl std::str::FromStr for VersionRange {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("version `{text}`: expected a major release range such as <21, >=17, 11 or >=11,<21");
        let mut bounds = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (cmp, num) = [("<=", Cmp::Le), (">=", Cmp::Ge), ("<", Cmp::Lt), (">", Cmp::Gt), ("=", Cmp::Eq)]
                .into_iter()
                .find_map(|(p, c)| part.strip_prefix(p).map(|rest| (c, rest)))
                .unwrap_or((Cmp::Eq, part));
            bounds.push((cmp, num.trim().parse::<u32>().map_err(|_| bad())?));
        }
        Ok(VersionRange { text: text.to_string(), bounds })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for VersionRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A bare number (`version: 11`) is a YAML integer; accept it as the text it is.
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "version: expected a range such as \"<21\", got {other}"
                )));
            }
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for VersionRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VersionRange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Major releases of the side the override names: `<21`, `>=17`, `11`, `>=11,<21`",
            "type": ["string", "integer"]
        })
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
    /// The major releases of the one side named (`client: jsse, version: "<21"`): a quirk that came or went with a
    /// release. A bare id (`jsse`, the system's runtime) has no pinned release and never matches a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionRange>,
}

impl When {
    /// Whether the override applies to this pair.
    pub fn matches(&self, client: BackendId, server: BackendId) -> bool {
        let in_range = |b: BackendId| self.version.as_ref().is_none_or(|r| b.release().is_some_and(|v| r.contains(v)));
        self.client.as_ref().is_none_or(|c| c.contains(client) && in_range(client))
            && self.server.as_ref().is_none_or(|s| s.contains(server) && in_range(server))
    }

    /// More named sides = more specific (a list names its side once: it is as specific as a single name); among
    /// overrides naming as many sides, one with pinned releases or a version range beats one naming the family.
    pub fn specificity(&self) -> usize {
        let sides = usize::from(self.client.is_some()) + usize::from(self.server.is_some());
        let pinned = [&self.client, &self.server].iter().filter(|b| b.as_ref().is_some_and(Backends::pinned)).count();
        sides * 10 + pinned + usize::from(self.version.is_some())
    }

    /// Why this condition is malformed, if it is: a version range needs exactly one named side to apply to.
    pub fn check(&self) -> Result<(), String> {
        if self.version.is_some() && self.client.is_some() == self.server.is_some() {
            return Err(
                "when.version applies to one side: name either `client` or `server`, not both or neither".into()
            );
        }
        Ok(())
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.client.as_ref().map_or("*".to_string(), |b| b.to_string());
        let s = self.server.as_ref().map_or("*".to_string(), |b| b.to_string());
        match &self.version {
            Some(v) if self.client.is_some() => write!(f, "{c}{v}->{s}"),
            Some(v) => write!(f, "{c}->{s}{v}"),
            None => write!(f, "{c}->{s}"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn when(text: &str) -> When {
        crate::yaml::from_str(text).unwrap()
    }

    /// A family name covers its releases, a range narrows it to releases in range (never the bare, unpinned id),
    /// and the narrower entry is the more specific.
    #[test]
    fn families_releases_and_ranges() {
        use BackendId::{Jsse, Jsse11, Jsse21, Openssl};
        let family = when("{ server: jsse }");
        let old = when("{ server: jsse, version: \"<13\" }");
        let pinned = when("{ client: openssl, server: jsse@11 }");
        assert!(family.matches(Openssl, Jsse) && family.matches(Openssl, Jsse11) && family.matches(Openssl, Jsse21));
        assert!(old.matches(Openssl, Jsse11) && !old.matches(Openssl, Jsse21) && !old.matches(Openssl, Jsse));
        assert!(pinned.matches(Openssl, Jsse11) && !pinned.matches(Openssl, Jsse21));
        assert!(old.specificity() > family.specificity() && pinned.specificity() > old.specificity());
        assert_eq!(old.to_string(), "*->jsse<13");
        assert_eq!(Jsse21.family(), Jsse);
        assert_eq!((Jsse11.release(), Jsse.release()), (Some(11), None));
    }

    #[test]
    fn version_ranges() {
        let r: VersionRange = ">=11,<21".parse().unwrap();
        assert!(r.contains(11) && r.contains(17) && !r.contains(21) && !r.contains(8));
        assert!("11".parse::<VersionRange>().unwrap().contains(11));
        for bad in ["", "<", "eleven", "<=x", ">=11,"] {
            assert!(bad.parse::<VersionRange>().is_err(), "{bad}");
        }
        assert!(when("{ client: jsse, server: openssl, version: 11 }").check().is_err());
        assert!(when("{ version: 11 }").check().is_err());
        assert!(when("{ client: jsse, version: 11 }").check().is_ok());
    }
}
