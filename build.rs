//! Records the exact versions of the TLS crates from Cargo.lock, so reports name the library release that produced
//! them (a baseline diff after `cargo update -p rustls` should say which rustls changed its mind), and builds the
//! small preload library that keeps gnutls-serv on loopback (src/backend/cli/loopback.c).

use std::path::{Path, PathBuf};

fn main() {
    loopback_shim();
    source_hash();
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in
        [("rustls", "TLSMATRIX_RUSTLS"), ("native-tls", "TLSMATRIX_NATIVE_TLS"), ("openssl", "TLSMATRIX_OPENSSL_CRATE")]
    {
        let version = lock
            .split("[[package]]")
            .find(|p| p.lines().any(|l| l.trim() == format!("name = \"{krate}\"")))
            .and_then(|p| {
                p.lines().find_map(|l| l.trim().strip_prefix("version = \"")?.strip_suffix('"').map(String::from))
            })
            .unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env={var}={version}");
    }
}

/// Builds `loopback.c` into `$OUT_DIR/loopback.so`, which src/backend/cli/gnutls.rs embeds. Without it (no C
/// compiler, not Linux) the file is left empty and the gnutls backend's server role is unavailable, with this reason.
fn loopback_shim() {
    let src = "src/backend/cli/loopback.c";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("loopback.so");
    let error = match build_shim(Path::new(src), &out) {
        Ok(()) => String::new(),
        Err(e) => {
            let e = e.replace(['\n', '\r'], " ");
            println!(
                "cargo:warning=the gnutls-serv loopback shim was not built, the gnutls server will be unavailable: {e}"
            );
            let _ = std::fs::write(&out, b"");
            e
        }
    };
    println!("cargo:rustc-env=TLSMATRIX_LOOPBACK_SHIM_ERROR={error}");
}

fn build_shim(src: &Path, out: &Path) -> Result<(), String> {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return Err("LD_PRELOAD of the loopback shim is only implemented for Linux".into());
    }
    let compiler = cc::Build::new().opt_level(2).pic(true).cargo_metadata(false).try_get_compiler();
    let compiler = compiler.map_err(|e| format!("no C compiler: {e}"))?;
    let mut cmd = compiler.to_command();
    cmd.args(["-shared", "-Wall", "-o"]).arg(out).arg(src).arg("-ldl");
    let run = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !run.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&run.stderr).trim()));
    }
    Ok(())
}

/// A fingerprint of the sources a build of this library is made from (every file under src/, the manifest, and the
/// OpenSSL 3.5 peer's own source and lock), as `TLSMATRIX_SOURCE_HASH`. The peer (peers/openssl) links this library
/// too, so it reports the hash of the sources it was built from, and tlsmatrix refuses a peer built from others
/// (src/backend/peer/openssl35.rs) instead of running stale code. FNV-1a: stable across builds and Rust versions.
fn source_hash() {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new("src"), &mut files);
    files.sort();
    files.extend(["Cargo.toml", "peers/openssl/src/main.rs", "peers/openssl/Cargo.lock"].map(PathBuf::from));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        for b in f.to_string_lossy().as_bytes().iter().chain(&bytes) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rerun-if-changed=src");
    for f in ["Cargo.toml", "peers/openssl/src/main.rs", "peers/openssl/Cargo.lock"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rustc-env=TLSMATRIX_SOURCE_HASH={h:016x}");
}
