//! Harness faults: things that stop the harness from asking its question at all (a scenario that does not parse,
//! a fixture that does not exist, a socket that cannot bind). These are not TLS outcomes: a refused handshake is an
//! [`Observation`](crate::Observation), never an `Error`.

use std::fmt;
use std::path::PathBuf;

/// Every harness fault, by cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario or fixture file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The PKI could not be generated from its description.
    #[error("PKI: {0}")]
    Pki(#[from] PkiError),
    /// The async runtime could not start (no threads, no epoll): nothing can run.
    ///
    /// Faults inside one cell (a socket that will not bind, a configuration the library refuses, a panic) are not
    /// this: they become that cell's `error` status with the reason, and the other cells still run.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A command-line argument that names nothing (an unknown backend, a bad glob).
    #[error("{0}")]
    Usage(String),
    /// Writing a report failed.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A file that could not be read, parsed or validated, with the spot that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl LoadError {
    /// An error about a whole file.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        LoadError { path: path.into(), line: None, column: None, message: shorten(message.into()) }
    }

    /// An error at a line (and column) of a file.
    pub fn at(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        LoadError { path: path.into(), line, column, message: shorten(message.into()) }
    }
}

/// The longest quoted value an error message repeats: a message names the offending value so the user can find it,
/// and a 1 MB line (or a whole /etc/passwd read as one YAML string) says no more at 1 MB than at 80 characters.
const ECHO_LIMIT: usize = 80;
/// The longest message kept whole, whatever it quotes.
const MESSAGE_LIMIT: usize = 1024;

/// Cuts every quoted part of `message` (between backticks or double quotes) longer than [`ECHO_LIMIT`] characters,
/// saying how much went, and the whole message past [`MESSAGE_LIMIT`] bytes.
pub(crate) fn shorten(message: String) -> String {
    if message.len() <= ECHO_LIMIT {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(MESSAGE_LIMIT + 64));
    let mut rest = message.as_str();
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let close = after.find(quote).unwrap_or(after.len());
        let quoted = &after[..close];
        let chars = quoted.chars().count();
        if chars > ECHO_LIMIT {
            let kept: String = quoted.chars().take(ECHO_LIMIT).collect();
            out.push_str(&kept);
            out.push_str(&format!("... [{} more bytes]", quoted.len() - kept.len()));
        } else {
            out.push_str(quoted);
        }
        rest = &after[close..];
        if let Some(q) = rest.strip_prefix(quote) {
            out.push(quote);
            rest = q;
        }
    }
    out.push_str(rest);
    cut_to(&mut out, MESSAGE_LIMIT);
    out
}

/// Cuts `text` to at most `limit` bytes (at a character boundary), saying how many bytes went.
pub(crate) fn cut_to(text: &mut String, limit: usize) {
    if text.len() > limit {
        let mut at = limit;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let cut = text.len() - at;
        text.truncate(at);
        text.push_str(&format!(" [... {cut} more bytes cut]"));
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Why a certificate or key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// fixtures/pki.yaml names something inconsistent (an unknown issuer, an issuer that is not a CA, a cycle).
    #[error("{name}: {message}")]
    Spec {
        /// The certificate entry.
        name: String,
        /// The entry's field that is wrong, when one is (`issuer`, `not_after`, `san`): where the error points.
        field: Option<&'static str>,
        /// What is wrong.
        message: String,
    },
    /// OpenSSL refused an operation while building a certificate.
    #[error("{name}: OpenSSL: {source}")]
    Openssl {
        /// The certificate entry.
        name: String,
        /// OpenSSL's error stack.
        #[source]
        source: openssl::error::ErrorStack,
    },
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A backend's failure to turn a valid config into a library config: a harness fault (not a TLS outcome), or a
/// value combination the backend finds it cannot express only when it builds the config (an adapter's run-time
/// `unsupported`), which makes the cell `unsupported` with the reason instead of an `error`.
///
/// It lives here, not in `backend`, because the connection types under the seam (`tap::Conn`) report it too.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// What went wrong, or what cannot be expressed.
    pub message: String,
    /// Whether the backend cannot express the config (the cell is unsupported), rather than failed.
    pub unsupported: bool,
}

impl ConfigError {
    /// A harness fault.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError { message: message.into(), unsupported: false }
    }

    /// A config this backend cannot express, found while building it.
    pub fn unsupported(message: impl Into<String>) -> ConfigError {
        ConfigError { message: message.into(), unsupported: true }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for ConfigError {
    fn from(e: E) -> Self {
        ConfigError::new(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile value is echoed by its first 80 characters and its size; the rest of the message stays whole.
    #[test]
    fn long_values_in_messages_are_cut_with_their_size() {
        let value = "a".repeat(1_000_000);
        let e =
            LoadError::at("s.yaml", Some(3), Some(16), format!("unknown certificate `{value}`: expected one of x, y"));
        assert!(e.message.len() < 200, "{}", e.message.len());
        assert!(e.message.starts_with(&format!("unknown certificate `{}... [999920 more bytes]`", "a".repeat(80))));
        assert!(e.message.ends_with(": expected one of x, y"), "{}", e.message);
        let passwd = format!("invalid type: string \"{}\", expected struct Scenario", "root:x:0:0 ".repeat(400));
        assert!(LoadError::file("p", passwd).message.ends_with("more bytes]\", expected struct Scenario"));
        let short = "unknown alert `bad_thing`: expected an alert name";
        assert_eq!(LoadError::file("p", short).message, short);
        let unclosed = format!("unknown `{}", "\u{e9}".repeat(5000));
        assert!(LoadError::file("p", unclosed).message.len() < 300);
        let many = format!("expected one of {}", "`x`, ".repeat(1000));
        assert!(LoadError::file("p", many).message.len() <= MESSAGE_LIMIT + 40);
    }
}
