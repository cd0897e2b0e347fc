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
        LoadError { path: path.into(), line: None, column: None, message: message.into() }
    }

    /// An error at a line (and column) of a file.
    pub fn at(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        LoadError { path: path.into(), line, column, message: message.into() }
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
