//! Parameter grids: one scenario file that stands for many, with expectations derived from rules.
//!
//! ```yaml
//! matrix:
//!   server.versions: [[tls1.2], [tls1.3], [tls1.2, tls1.3]]
//!   client.versions: [[tls1.2], [tls1.3], [tls1.2, tls1.3]]
//! rules:
//!   - when: { versions_overlap: false, client_newer: true }
//!     expect: { result: failure, client: { received_alert: protocol_version }, server: { sent_alert: protocol_version } }
//!   - when: { versions_overlap: true }
//!     derive: [version]
//!     expect: { result: success }
//! ```
//!
//! Each combination is the base scenario with the axis values written into its side configs (through serde, so a
//! grid value is checked exactly like the same value written by hand), validated again, and given the id
//! `base[client.versions=tls1.2,server.versions=tls1.3]`. The first rule whose conditions all hold gives its
//! expectation (and fills the derived fields); with no matching rule the base `expect` applies. Overrides apply to
//! every combination, as they would to the scenario written out by hand.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::LoadError;
pub use crate::scenario::{Derived, Rule, RuleWhen as When};
use crate::scenario::{Expectation, ExpectedResult, Scenario};
use crate::vocab::ProtocolVersion;

/// Combinations a single file may expand to; more is almost certainly a mistake in the file.
pub const MAX_COMBINATIONS: usize = 100_000;

/// Where an error points: a top-level section and key of the file.
pub type Loc = (&'static str, &'static str);

/// Parses a scenario file into its scenarios: one, or one per combination of its `matrix` (what the catalog
/// loads).
pub fn parse_file(
    id: String,
    path: &Path,
    text: &str,
    fixtures: &BTreeSet<String>,
) -> Result<Vec<Scenario>, LoadError> {
    let s = Scenario::parse(id, path, text, fixtures)?;
    if s.matrix.is_empty() {
        return Ok(vec![s]);
    }
    // Grid values naming fixtures are checked against the PKI like hand-written ones.
    crate::scenario::with_fixtures(fixtures, || expand(&s)).map_err(|(loc, msg)| {
        let (line, column) = crate::scenario::locate_key(text, loc.0, loc.1);
        LoadError::at(path, line, column, msg)
    })
}

/// The combinations of `base`'s grid, each a complete, validated scenario.
pub fn expand(base: &Scenario) -> Result<Vec<Scenario>, (Loc, String)> {
    let axes: Vec<(&String, &Vec<serde_json::Value>)> = base.matrix.iter().collect();
    let mut total: usize = 1;
    for (key, values) in &axes {
        let (side, knob) = key.split_once('.').unwrap_or(("", key));
        if !matches!(side, "server" | "client") || knob.is_empty() || knob.contains('.') {
            return Err((("matrix", ""), format!("matrix: `{key}`: expected `server.<knob>` or `client.<knob>`")));
        }
        if values.is_empty() {
            return Err((("matrix", ""), format!("matrix: `{key}` has no values")));
        }
        total = total.saturating_mul(values.len());
    }
    if total > MAX_COMBINATIONS {
        return Err((
            ("matrix", ""),
            format!("matrix: {total} combinations, more than the {MAX_COMBINATIONS} allowed"),
        ));
    }
    // Each combination starts from the base without its grid and rules: cloning the axes into every one of them
    // made expansion quadratic in the axis length (99,999 values took over two minutes).
    let mut template = base.clone();
    template.matrix.clear();
    template.rules.clear();
    let mut out = Vec::with_capacity(total);
    for n in 0..total {
        // Mixed-radix counting over the axes, first axis slowest: a stable order for shards and reports.
        let mut rest = n;
        let mut picks = vec![0usize; axes.len()];
        for (i, (_, values)) in axes.iter().enumerate().rev() {
            picks[i] = rest % values.len();
            rest /= values.len();
        }
        out.push(combination(base, &template, &axes, &picks)?);
    }
    Ok(out)
}

fn combination(
    base: &Scenario,
    template: &Scenario,
    axes: &[(&String, &Vec<serde_json::Value>)],
    picks: &[usize],
) -> Result<Scenario, (Loc, String)> {
    let to_value = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| (("matrix", ""), e.to_string()));
    let mut server = to_value(serde_json::to_value(&base.server))?;
    let mut client = to_value(serde_json::to_value(&base.client))?;
    let mut label = Vec::new();
    for ((key, values), &i) in axes.iter().zip(picks) {
        let (side, knob) = key.split_once('.').expect("checked by expand");
        let target = if side == "server" { &mut server } else { &mut client };
        if let Some(map) = target.as_object_mut() {
            map.insert(knob.to_string(), values[i].clone());
        }
        label.push(format!("{key}={}", show(&values[i])));
    }
    let mut s = template.clone();
    let bad = |key: &str, e: serde_json::Error| (("matrix", ""), format!("matrix: {key}: {e}"));
    s.server = serde_json::from_value(server).map_err(|e| bad("server", e))?;
    s.client = serde_json::from_value(client).map_err(|e| bad("client", e))?;
    s.id = format!("{}[{}]", base.id, label.join(","));
    if let Some(rule) = base.rules.iter().find(|r| r.when.holds(&s)) {
        let mut e = rule.expect.clone();
        for d in &rule.derive {
            derive(&mut e, *d, &s).map_err(|m| (("rules", ""), format!("rules: {}: {m}", s.id)))?;
        }
        s.expect = e;
        s.overrides.extend(rule.overrides.iter().cloned());
    }
    s.revalidate().map_err(|m| (("matrix", ""), format!("matrix: {}: {m}", s.id)))?;
    Ok(s)
}

/// A grid value in an id: `tls1.2..tls1.3` for a version range, plain words for strings, compact JSON otherwise.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.len() > 1 && items.iter().all(|i| i.as_str().is_some()) => {
            let first = items[0].as_str().unwrap_or_default();
            let last = items[items.len() - 1].as_str().unwrap_or_default();
            if first.starts_with("tls1.") { format!("{first}..{last}") } else { format!("{first}+{}", items.len() - 1) }
        }
        serde_json::Value::Array(items) if items.len() == 1 => show(&items[0]),
        other => other.to_string(),
    }
}

fn ranges(s: &Scenario) -> Option<(&[ProtocolVersion], &[ProtocolVersion])> {
    Some((s.client.versions.as_deref()?, s.server.versions.as_deref()?))
}

impl When {
    fn holds(&self, s: &Scenario) -> bool {
        let Some((c, srv)) = ranges(s) else {
            return *self == When::default();
        };
        let (c_lo, c_hi, s_lo, s_hi) = (c.first(), c.last(), srv.first(), srv.last());
        let overlap = c.iter().any(|v| srv.contains(v));
        let newer = c_lo > s_hi;
        let older = c_hi < s_lo;
        self.versions_overlap.is_none_or(|w| w == overlap)
            && self.client_newer.is_none_or(|w| w == newer)
            && self.client_older.is_none_or(|w| w == older)
            && self.client_offers_tls13.is_none_or(|w| w == c.contains(&ProtocolVersion::Tls13))
            && self.server_chooses.is_none_or(|w| w == chooses(c, srv))
    }
}

/// Both sides enable TLS 1.3 and an older version in common ([`When::server_chooses`]).
fn chooses(client: &[ProtocolVersion], server: &[ProtocolVersion]) -> bool {
    let both = |v: &ProtocolVersion| client.contains(v) && server.contains(v);
    both(&ProtocolVersion::Tls13) && client.iter().any(|v| *v < ProtocolVersion::Tls13 && both(v))
}

fn derive(e: &mut Expectation, what: Derived, s: &Scenario) -> Result<(), String> {
    if e.result != ExpectedResult::Success {
        return Err("only a success expectation has a version or cipher to derive".into());
    }
    let (c, srv) = ranges(s).ok_or("deriving needs both sides' versions")?;
    let version = c.iter().filter(|v| srv.contains(v)).max().copied().ok_or("the sides have no version in common")?;
    match what {
        Derived::Version => e.version = Some(version),
        Derived::Cipher => {
            let list =
                if version == ProtocolVersion::Tls13 { &s.server.tls13_cipher_suites } else { &s.server.cipher_suites };
            e.cipher = Some(*list.as_ref().and_then(|l| l.first()).ok_or("the server lists no suite for the version")?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{Tls11, Tls12, Tls13};

    #[test]
    fn the_server_chooses_only_when_tls13_and_an_older_version_are_shared() {
        assert!(chooses(&[Tls12, Tls13], &[Tls12, Tls13]));
        assert!(chooses(&[Tls11, Tls12, Tls13], &[Tls12, Tls13]));
        assert!(!chooses(&[Tls12, Tls13], &[Tls13]));
        assert!(!chooses(&[Tls13], &[Tls12, Tls13]));
        assert!(!chooses(&[Tls12], &[Tls11, Tls12]));
    }
}
