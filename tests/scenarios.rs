//! Every cell of the bundled scenario catalog as a named test (`cargo test -- --list` shows them).

fn main() -> std::process::ExitCode {
    tlsmatrix::harness::main(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}
