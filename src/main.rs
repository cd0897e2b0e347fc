//! The `tlsmatrix` command: parse the command line, call the library, exit with its code.

fn main() -> std::process::ExitCode {
    tlsmatrix::cli::main()
}
