//! The per-user cache: things tlsmatrix builds or downloads once and reuses across runs and clones (the compiled
//! jsse adapter today; runtimes fetched by `scripts/setup-peers.sh` later).
//!
//! It lives outside the project so that a fresh clone (CI's, a second worktree) reuses it: `$TLSMATRIX_CACHE`, else
//! `$XDG_CACHE_HOME/tlsmatrix`, else `$HOME/.cache/tlsmatrix`. Every entry is written to a private temporary name and
//! renamed into place, so two runs that fill the same entry at once never see a half-written one.

use std::path::{Path, PathBuf};

/// The cache root (not created).
pub fn root() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("TLSMATRIX_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("tlsmatrix")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("tlsmatrix")))
}

/// A stable 64-bit name for some content (FNV-1a: the same across runs and Rust versions, unlike std's hasher).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The directory `<root>/<kind>/<name>` of the user's cache, filled by `fill` if it does not exist yet (see
/// [`entry_in`]).
pub fn entry(kind: &str, name: &str, fill: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let root = root().ok_or("no cache directory: set TLSMATRIX_CACHE, XDG_CACHE_HOME or HOME")?;
    entry_in(&root, kind, name, fill)
}

/// The directory `<root>/<kind>/<name>`, filled by `fill` if it does not exist yet. `fill` writes into the empty
/// directory it is given (private to this call); on success that directory becomes the entry, on failure it is
/// removed and the error returned. Directories are created 0700: an entry may hold code that tlsmatrix runs.
pub fn entry_in(
    root: &Path,
    kind: &str,
    name: &str,
    fill: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = root.join(kind);
    let done = dir.join(name);
    if done.is_dir() {
        return Ok(done);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let work = dir.join(format!(".{name}.{}.{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let filled = fill(&work);
    let renamed = filled.and_then(|()| match std::fs::rename(&work, &done) {
        Ok(()) => Ok(()),
        // Another run filled it first: theirs is as good as ours.
        Err(_) if done.is_dir() => Ok(()),
        Err(e) => Err(format!("cannot move {} to {}: {e}", work.display(), done.display())),
    });
    if work.exists() {
        let _ = std::fs::remove_dir_all(&work);
    }
    renamed.map(|()| done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_filled_once_and_a_failed_fill_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let a = entry_in(root, "t", "x", |d| std::fs::write(d.join("f"), "1").map_err(|e| e.to_string())).unwrap();
        let mut calls = 0;
        let b = entry_in(root, "t", "x", |_| {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(calls, 0, "a present entry is not filled again");
        assert_eq!(std::fs::read_to_string(a.join("f")).unwrap(), "1");
        assert_eq!(entry_in(root, "t", "y", |_| Err("no".into())).unwrap_err(), "no");
        assert!(!root.join("t").join("y").exists());
        let left: Vec<_> = std::fs::read_dir(root.join("t")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["x"], "only the finished entry remains");
    }
}
