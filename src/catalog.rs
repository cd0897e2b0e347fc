//! Finding and loading scenario files: every `*.yaml` under the given paths, each parsed on its own so one bad file
//! is one error (with its file, line and column) and never hides the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::scenario::Scenario;

/// All scenarios under some paths, plus the files that failed to load (one bad file never hides the others).
#[derive(Debug, Default)]
pub struct Catalog {
    /// Loaded scenarios, sorted by id.
    pub scenarios: Vec<Scenario>,
    /// Files that failed, each with its location and message.
    pub errors: Vec<LoadError>,
}

impl Catalog {
    /// Loads every `*.yaml` / `*.yml` under each path (files or directories). Ids are relative to `root`
    /// (usually `scenarios/`) when the file lies under it, else to the given path's parent.
    pub fn load(root: &Path, paths: &[PathBuf], fixtures: &BTreeSet<String>) -> Catalog {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => collect_yaml(p, &mut files, &mut errors),
                Ok(m) if m.is_file() && is_pki_description(p) => errors.push(LoadError::file(
                    p,
                    "a PKI description (pki.yaml), not a scenario: expected a scenario file or a directory; the \
                     certificates of a pki.yaml are loaded with the scenarios beside it",
                )),
                Ok(m) if m.is_file() => files.push(p.clone()),
                Ok(m) => errors.push(LoadError::file(
                    p,
                    format!("{}: expected a scenario file or a directory of them", kind_of(&m.file_type())),
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => errors.push(LoadError::file(
                    p,
                    "no such file or directory (expected a scenario file or a directory of them)",
                )),
                Err(e) => errors.push(LoadError::file(p, format!("cannot read: {e}"))),
            }
        }
        files.sort();
        files.dedup();
        let mut scenarios = Vec::new();
        for f in files {
            let id = scenario_id(root, &f);
            match read_bounded(&f) {
                Err(e) => errors.push(e),
                Ok(bytes) => match String::from_utf8(bytes) {
                    Err(e) => errors.push(LoadError::file(
                        &f,
                        format!(
                            "not UTF-8 text (invalid byte at offset {}); expected a YAML scenario",
                            e.utf8_error().valid_up_to()
                        ),
                    )),
                    Ok(text) => match crate::grid::parse_file(id, &f, &text, fixtures) {
                        Ok(s) => scenarios.extend(s),
                        Err(e) => errors.push(e),
                    },
                },
            }
        }
        scenarios.sort_by(|a, b| a.id.cmp(&b.id));
        for w in scenarios.windows(2) {
            if w[0].id == w[1].id {
                errors.push(LoadError::file(
                    &w[1].path,
                    format!("scenario id `{}` is also used by {}", w[1].id, w[0].path.display()),
                ));
            }
        }
        Catalog { scenarios, errors }
    }
}

/// What a path that is neither a file nor a directory is, in words.
fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a named pipe (FIFO), not a regular file"
    } else if t.is_char_device() || t.is_block_device() {
        "a device, not a regular file"
    } else if t.is_socket() {
        "a socket, not a regular file"
    } else {
        "not a regular file"
    }
}

/// Whether a file is a PKI description by its name (`pki.yaml`), not a scenario: the catalog skips it, and
/// [`crate::pki::find_descriptions`] collects it.
pub fn is_pki_description(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "pki.yaml" || n == "pki.yml")
}

/// Reads a scenario file, refusing what is not a regular file (a FIFO would block the open for ever, a device
/// never ends) and reading at most one byte past the parser's limit, so a huge file costs no more than that.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| LoadError::file(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(LoadError::file(path, format!("{}: expected a YAML file", kind_of(&meta.file_type()))));
    }
    let limit = crate::yaml::MAX_BYTES as u64;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| LoadError::file(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(LoadError::file(
            path,
            format!("{} bytes: expected a YAML file of at most {limit} bytes", meta.len().max(bytes.len() as u64)),
        ));
    }
    Ok(bytes)
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(LoadError::file(dir, format!("cannot list directory: {e}"))),
    };
    for entry in entries.flatten() {
        let p = entry.path();
        // Directory symlinks are not followed: a link back up the tree would load the same files forever.
        if entry.file_type().is_ok_and(|t| t.is_symlink()) && p.is_dir() {
            continue;
        }
        if p.is_dir() {
            collect_yaml(&p, files, errors);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) && !is_pki_description(&p) {
            files.push(p);
        }
    }
}

/// `scenarios/seed/tls10.yaml` -> `seed::tls10`.
pub fn scenario_id(root: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(root)
        .ok()
        .or_else(|| file.parent().and_then(|p| p.parent()).and_then(|pp| file.strip_prefix(pp).ok()))
        .unwrap_or(file);
    let rel = rel.with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("::")
}

/// The skeleton `tlsmatrix new` writes: every section, commented, with a failing expectation to fill in from a run.
pub const SKELETON: &str = r#"# yaml-language-server: $schema=../../docs/scenario.schema.json
# A tlsmatrix scenario. Field reference: README.md ("Scenario reference"); certificates: fixtures/pki.yaml.
description: |
  What real-world situation this models, and what a user sees when it happens.
tags: []
server:
  certificate: server-ec          # a certificate from fixtures/pki.yaml; its intermediates are sent with it
  # versions: [tls1.2, tls1.3]    # left out: the library's default
  # cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  # alpn: [h2, http/1.1]
  # client_auth: required         # with trust: [root-a]
client:
  trust: [root-a]                 # CAs the client trusts; nothing else is
  server_name: localhost          # SNI and the name verified; left out: connect to 127.0.0.1 by address
  # versions: [tls1.2]
expect:
  # Run `tlsmatrix run <this file>` and write what openssl->openssl really does; every alert on both sides counts.
  result: success
  # result: failure
  # client: { received_alert: protocol_version }
  # server: { sent_alert: protocol_version }
# overrides:                      # where a library really behaves differently (fields given replace the base's)
#   - when: { server: native-tls }
#     reason: the real cause, citing the library's code or documentation
#     expect: { version: tls1.2 }
"#;

/// Writes [`SKELETON`] to `scenarios/<category>/<name>.yaml`, refusing to overwrite.
pub fn write_skeleton(scenarios: &Path, name: &str) -> Result<PathBuf, crate::Error> {
    let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let parts: Vec<&str> = name.trim_end_matches(".yaml").split('/').collect();
    if parts.len() != 2 || !parts.iter().all(|p| valid(p)) {
        return Err(crate::Error::Usage(format!(
            "`{name}`: expected CATEGORY/NAME with letters, digits, `_` or `-` (e.g. versions/tls13_only_client)"
        )));
    }
    let path = scenarios.join(parts[0]).join(format!("{}.yaml", parts[1]));
    if path.exists() {
        return Err(crate::Error::Usage(format!("{} already exists", path.display())));
    }
    let write = |source| crate::Error::Write { path: path.clone(), source };
    std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(write)?;
    std::fs::write(&path, SKELETON).map_err(write)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_path() {
        assert_eq!(scenario_id(Path::new("scenarios"), Path::new("scenarios/seed/tls10.yaml")), "seed::tls10");
    }
}
