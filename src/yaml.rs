//! The only module that touches the YAML parser.
//!
//! serde_yaml 0.9 is marked unmaintained upstream; keeping every call here means a maintained fork is a one-file swap.
//! Errors come back with the 1-based line and column the parser reports, so a bad scenario names its exact spot.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A parse or schema error with the location the parser reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    /// 1-based column, when the parser knows it.
    pub column: Option<usize>,
    /// What was wrong and what was expected, without the location suffix.
    pub message: String,
}

/// The largest document we parse: scenarios and the PKI description are a few KiB; anything near this is a mistake.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The deepest `[`/`{` nesting we parse. libyaml needs time quadratic in flow nesting (100,000 levels took 80 s),
/// and no scenario nests more than three levels.
pub const MAX_FLOW_DEPTH: usize = 64;
/// The parser's cost grows with flow depth times document size, and flow depth is at most the number of `[`/`{` in
/// the text whatever quotes and comments hide, so bounding that product bounds the parse time without trusting the
/// line-by-line count above (which quotes it misreads and nesting spread over lines escape). A few-KiB scenario may
/// still hold thousands of brackets.
pub const MAX_OPENERS_TIMES_BYTES: usize = 16 * MAX_BYTES;

/// Rejects what the parser handles badly, before it sees it: oversized documents and deep flow nesting.
fn pre_check(text: &str) -> Result<(), YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError {
            line: None,
            column: None,
            message: format!("{} bytes: expected a YAML file of at most {MAX_BYTES} bytes", text.len()),
        });
    }
    for (n, line) in text.lines().enumerate() {
        let (mut depth, mut quote) = (0usize, None::<char>);
        for (col, ch) in line.chars().enumerate() {
            match (quote, ch) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(ch),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(YamlError {
                            line: Some(n + 1),
                            column: Some(col + 1),
                            message: format!("flow collections nested more than {MAX_FLOW_DEPTH} deep"),
                        });
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    let allowed = MAX_OPENERS_TIMES_BYTES / text.len().max(1);
    if let Some((at, _)) = text.match_indices(['[', '{']).nth(allowed) {
        let line = text[..at].matches('\n').count() + 1;
        let column = text[..at].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return Err(YamlError {
            line: Some(line),
            column: Some(column),
            message: format!(
                "more than {allowed} `[`/`{{` in a document of {} bytes: expected a file of a few KiB with a few flow \
                 collections",
                text.len()
            ),
        });
    }
    Ok(())
}

/// Parses `text` into `T`, after [`pre_check`].
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    pre_check(text)?;
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; we print the location in front instead.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        let (line, column) = refine(text, loc.as_ref().map(|l| (l.line(), l.column())), &message);
        YamlError { line, column, message }
    })
}

/// serde_yaml places an error raised while reading a value (an unknown protocol version, an unknown alert) at the
/// start of the mapping that holds it, which is the line above when the key is not the mapping's first. The message
/// names the offending word in backticks, so the location moves to that word's first whole occurrence at or after
/// the reported spot, within the next 50 lines; a word not found there leaves the location as it was. A missing
/// field has no word on the page: its location (the mapping) is already the right one.
fn refine(text: &str, at: Option<(usize, usize)>, message: &str) -> (Option<usize>, Option<usize>) {
    let Some((line, column)) = at else { return (None, None) };
    let word = (!message.starts_with("missing field"))
        .then(|| message.split('`').nth(1))
        .flatten()
        .filter(|w| !w.is_empty() && !w.contains('\n'));
    let Some(word) = word else { return (Some(line), Some(column)) };
    let part = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    for (n, l) in text.lines().enumerate().skip(line.saturating_sub(1)).take(50) {
        let start = if n + 1 == line { column.saturating_sub(1).min(l.len()) } else { 0 };
        let mut from = start;
        while let Some(i) = l.get(from..).and_then(|rest| rest.find(word)).map(|i| i + from) {
            let before = l[..i].chars().next_back();
            let after = l[i + word.len()..].chars().next();
            if !before.is_some_and(part) && !after.is_some_and(part) {
                return (Some(n + 1), Some(l[..i].chars().count() + 1));
            }
            from = i + word.len();
        }
    }
    (Some(line), Some(column))
}

/// `deserialize_with` for a map whose keys must be unique: serde's `BTreeMap` keeps the last of two equal keys, so
/// a repeated certificate name in fixtures/pki.yaml would silently replace the first one.
pub(crate) fn unique_keys<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(PhantomData<(K, V)>);
    impl<'de, K: Deserialize<'de> + Ord + fmt::Display, V: Deserialize<'de>> Visitor<'de> for Unique<K, V> {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map with unique keys")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<K, V>()? {
                if out.contains_key(&k) {
                    return Err(M::Error::custom(format!("duplicate key `{k}`: expected each name once")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        a: u8,
    }

    #[test]
    fn hostile_documents_are_refused_quickly() {
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        // Without the guard this parse takes over a minute; with it, the error names the first level too deep.
        let err = from_str::<Doc>(&deep).unwrap_err();
        assert_eq!((err.line, err.column), (Some(1), Some(4 + MAX_FLOW_DEPTH)));
        let huge = format!("a: {}\n", "x".repeat(MAX_BYTES));
        assert!(from_str::<Doc>(&huge).unwrap_err().message.contains("at most"));
        // Brackets inside quotes and comments do not count.
        assert!(pre_check(&format!("a: '{}' # {}\n", "[".repeat(100), "{".repeat(100))).is_ok());
        // Nesting spread over lines, or behind an apostrophe the line count takes for a quote, meets the size budget.
        let lines = format!("a: {}x{}\n", "[\n".repeat(100_000), "]\n".repeat(100_000));
        assert!(from_str::<Doc>(&lines).unwrap_err().message.contains("`[`/`{` in a document of"));
        let quoted = format!("a: [b 'c, {}{}]\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(from_str::<Doc>(&quoted).unwrap_err().line, Some(1));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = from_str::<Doc>("a: 1\nb: 2\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.column, Some(1));
        assert!(err.message.contains("unknown field `b`"), "{}", err.message);
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }
}
