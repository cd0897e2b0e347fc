//! How the rules write their evidence: fixtures by name and CN, a side's lists and where they come from, YAML lists,
//! time spans.

use openssl::asn1::{Asn1Time, Asn1TimeRef};

use super::hostname::common_name;
use crate::pki::Pki;

/// `root-b (CN "tlsmatrix Root CA B")`.
pub(super) fn describe(pki: &Pki, name: &str) -> String {
    let cn = pki.get(name).and_then(|c| common_name(&c.cert)).or_else(|| pki.spec(name).map(|s| s.cn.clone()));
    match cn {
        Some(cn) => format!("{name} (CN \"{cn}\")"),
        None => name.to_string(),
    }
}

/// `[a, b]`, as YAML.
pub(super) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    format!("[{}]", items.iter().map(T::to_string).collect::<Vec<_>>().join(", "))
}

/// `items` with `extra` appended.
pub(super) fn with<T: Clone>(items: &[T], extra: T) -> Vec<T> {
    let mut v = items.to_vec();
    v.push(extra);
    v
}

/// "1 day", "3 hours": the distance between two times, for people.
pub(super) fn span(from: &Asn1Time, to: &Asn1TimeRef) -> String {
    let Ok(d) = from.diff(to) else { return "an unknown time".into() };
    let secs = i64::from(d.days).abs() * 86_400 + i64::from(d.secs).abs();
    let (n, unit) = match secs {
        s if s >= 84_600 => ((s + 43_200) / 86_400, "day"),
        s if s >= 3_600 => ((s + 1_800) / 3_600, "hour"),
        s if s >= 60 => ((s + 30) / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
