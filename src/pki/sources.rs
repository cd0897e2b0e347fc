//! Where a run's certificates come from: the built-in description, a project's own, and the files that add to it.

use std::path::{Path, PathBuf};

use super::read_text;
use crate::error::LoadError;

/// The built-in certificates (this repository's `fixtures/pki.yaml`), compiled in so that a project of its own
/// (another crate's `tests/tls/`) has `root-a`, `server-ec`, `client-a` and the rest without copying them.
pub const BUILT_IN: &str = include_str!("../../fixtures/pki.yaml");

/// How the built-in description is named in messages.
pub const BUILT_IN_NAME: &str = "<built-in fixtures/pki.yaml>";

/// Where a run's certificates come from: a base description, then files that add to it.
///
/// The base is a project's `fixtures/pki.yaml` when it has one, the built-in certificates otherwise. Every
/// `pki.yaml` in the scenario directories (and each `--pki FILE`) adds its certificates; a name defined twice is an
/// error naming both files, and a file with `replace: true` leaves the base out (its own certificates, and those of
/// the other added files, are then the whole PKI).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PkiSources {
    /// The base description; `None` is the built-in one.
    pub base: Option<PathBuf>,
    /// The files that add to it, in order.
    pub added: Vec<PathBuf>,
}

impl PkiSources {
    /// One description file on its own, as its base.
    pub fn file(path: &Path) -> PkiSources {
        PkiSources { base: Some(path.to_path_buf()), added: Vec::new() }
    }

    /// With one more file added (a path already there is not added twice).
    pub fn add(&mut self, path: PathBuf) {
        if self.base.as_ref() != Some(&path) && !self.added.contains(&path) {
            self.added.push(path);
        }
    }

    /// Every description file, base first, as (name shown in messages, text).
    pub(super) fn read(&self) -> Result<Vec<(PathBuf, String)>, LoadError> {
        let mut out = vec![match &self.base {
            Some(p) => (p.clone(), read_text(p)?),
            None => (PathBuf::from(BUILT_IN_NAME), BUILT_IN.to_string()),
        }];
        for p in &self.added {
            out.push((p.clone(), read_text(p)?));
        }
        Ok(out)
    }
}

/// The `pki.yaml` files under `dir` (itself and every subdirectory, symlinked directories not followed), sorted.
pub fn find_descriptions(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let p = entry.path();
            let link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if p.is_dir() && !link {
                todo.push(p);
            } else if crate::catalog::is_pki_description(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
