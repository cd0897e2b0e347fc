//! The gateway's TLS compatibility: every scenario in tests/tls/ against every client tlsmatrix knows, with the
//! server played by the two stacks the gateway runs on. Each cell is one test, named
//! `<scenario>::<client>-><server>` (`rotation::old_trust_store::jsse@11->openssl`); a client whose runtime this
//! machine lacks is ignored with the reason.

use tlsmatrix::BackendId;

fn main() -> std::process::ExitCode {
    tlsmatrix::harness::Harness::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls"))
        .servers([BackendId::Openssl, BackendId::Rustls])
        .main()
}
