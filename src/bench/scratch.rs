//! A private directory for the files the external peers' bare loops read (PEM files, the adapter source), removed
//! when the measurement is over: the backends' own [`TempDir`] (0700, removed on drop), with errors as the bench's
//! text.

use std::path::{Path, PathBuf};

use crate::backend::TempDir;

/// A directory under the system temp dir, mode 0700 (it holds private keys), removed on drop.
pub(super) struct Scratch(TempDir);

impl Scratch {
    /// Creates a fresh directory named after `tag` and this process.
    pub fn new(tag: &str) -> Result<Scratch, String> {
        TempDir::new(&format!("bench-{tag}")).map(Scratch).map_err(|e| format!("cannot create a temp dir: {e}"))
    }

    /// Writes a file into the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        self.0.write(name, bytes).map_err(|e| format!("cannot write {name} in {}: {e}", self.0.path().display()))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}
