//! Client authentication: the server verifying the client's certificate, or missing one it requires.

use super::certificates::{CertCheck, suggest_client_certificate};
use super::{Candidate, Finding, Pair};
use crate::scenario::{ChainShape, ClientAuth};
use crate::vocab::{Alert, Role};

impl Pair<'_> {
    /// The server verifying the client's certificate, when it asks for one and the client has one (sent with its
    /// full chain).
    pub(super) fn client_certificate_check(&self) -> Option<CertCheck<'_>> {
        if self.scenario.server.client_auth == ClientAuth::None {
            return None;
        }
        Some(CertCheck {
            verifier: Role::Server,
            backend: self.server.backend,
            lib: &self.server.lib,
            cert: self.scenario.client.certificate.as_ref()?.0.clone(),
            shape: ChainShape::Full,
            trust: &self.scenario.server.trust,
        })
    }

    /// The server requires a client certificate and the client has none: the server aborts with
    /// certificate_required (TLS 1.3) or handshake_failure (OpenSSL in TLS 1.2).
    pub(super) fn client_certificate_missing(&self) -> Option<Candidate> {
        let server = &self.scenario.server;
        if server.client_auth != ClientAuth::Required || self.scenario.client.certificate.is_some() {
            return None;
        }
        let trust: Vec<&str> = server.trust.iter().map(|t| t.0.as_str()).collect();
        let detail = format!(
            "the server requires a client certificate (server.client_auth: required) from {}, but the client has \
             none (client.certificate is not set).",
            trust.join(", ")
        );
        let fix = match suggest_client_certificate(self.pki, &server.trust, self.server.backend, &self.server.lib) {
            Some(name) => format!(
                "give the client a certificate issued under {} (client.certificate: {name})",
                trust.join(" or ")
            ),
            None => format!("give the client a certificate issued under {}", trust.join(" or ")),
        };
        Some(Candidate {
            finding: Finding { cause: "client certificate required but not sent".into(), detail, fix },
            alerts: &[Alert::CERTIFICATE_REQUIRED, Alert::HANDSHAKE_FAILURE],
        })
    }
}
