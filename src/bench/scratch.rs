//! A private directory for the files the external peers' bare loops read (PEM files, the adapter source), removed
//! when the measurement is over.
//!
//! The backends keep directories of their own for their cells; the bench writes its own copy once per run, so a bare
//! loop never depends on how a backend lays out its files.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A directory under the system temp dir, mode 0700 (it holds private keys), removed on drop.
pub(super) struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates a fresh directory named after `tag` and this process.
    pub fn new(tag: &str) -> Result<Scratch, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("tlsmatrix-bench-{tag}-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Scratch { path })
    }

    /// Writes a file into the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let p = self.path.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
