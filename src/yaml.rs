//! The only module that touches the YAML parser.
//!
//! serde_yaml 0.9 is marked unmaintained upstream; keeping every call here means a maintained fork is a one-file swap.
//! Errors come back with the 1-based line and column the parser reports, so a bad scenario names its exact spot.

use serde::de::DeserializeOwned;

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

/// Parses `text` into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        // serde_yaml appends " at line L column C"; we print the location in front instead.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        YamlError { line: loc.as_ref().map(|l| l.line()), column: loc.as_ref().map(|l| l.column()), message }
    })
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
    fn errors_carry_line_and_column() {
        let err = from_str::<Doc>("a: 1\nb: 2\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.column, Some(1));
        assert!(err.message.contains("unknown field `b`"), "{}", err.message);
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }
}
