//! Stands for the service whose TLS configuration is under test: here, an API gateway (`api.acme.test`) served by
//! OpenSSL or rustls, with certificates from the company's own CA, a client-certificate endpoint for partners, and
//! a CA rotation under way.
//!
//! Nothing in the library is needed for the tests: `tests/tls.rs` runs the scenarios in `tests/tls/`, whose
//! `pki.yaml` describes the company's certificates (added to tlsmatrix's built-in ones), as
//! `cargo test -p tlsmatrix-downstream-example` shows.

#![forbid(unsafe_code)]

/// The name clients connect to, as the scenarios in `tests/tls/` send it (`client.server_name`).
pub const SERVER_NAME: &str = "api.acme.test";
