//! Records the exact versions of the TLS crates from Cargo.lock, so reports name the library release that produced
//! them (a baseline diff after `cargo update -p rustls` should say which rustls changed its mind).

fn main() {
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
