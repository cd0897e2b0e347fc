//! Key and signature strength: a chain whose keys or signature digests the verifier's library refuses as too weak.

use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509Ref;

use super::certificates::{CertCheck, issuer_path};
use super::render::describe;
use super::{Candidate, Finding, Pair};
use crate::backend::Strength;
use crate::vocab::Alert;

impl Pair<'_> {
    /// The first certificate on the presented path whose key or signature digest is weaker than the verifier
    /// accepts ([`crate::backend::Behaviour::strength`]). OpenSSL holds every certificate of the chain to its
    /// security level (level 2, the system default, needs 112-bit security, so RSA 2048 at least; OpenSSL 3 rates
    /// SHA-1 signatures at 63 bits, refused from level 1 up); only a root's own self-signature goes unchecked. rustls
    /// has no level to lower: its webpki algorithms refuse SHA-1 signatures and RSA keys under 2048 bits at any
    /// setting; GnuTLS's default profile stops at 80 bits. OpenSSL reports bad_certificate ("EE key too small", "CA
    /// md too weak"), rustls decrypt_error. A verifier whose rule is not modelled (Java's) gets no finding.
    pub(super) fn weak_certificate(&self, check: &CertCheck) -> Option<Candidate> {
        let verifier = self.verifier(check);
        let floor = verifier.strength_floor()?;
        let level = match verifier.lib.strength {
            Strength::SecurityLevel => verifier.effective_security_level(),
            Strength::Floor { .. } | Strength::Unknown => None,
        };
        let who = check.presenter();
        let path = issuer_path(self.pki, &check.cert);
        let (k, weak) = path.iter().enumerate().find_map(|(k, name)| {
            let cert = &self.pki.get(name)?.cert;
            let issuer = path.get(k + 1).map(String::as_str);
            let weak = weaknesses(cert, issuer, floor);
            (!weak.is_empty()).then_some((k, weak))
        })?;
        let name = &path[k];
        let whose = if k == 0 {
            format!("the {who}'s certificate")
        } else {
            format!("the CA certificate in the {who}'s chain")
        };
        let what = weak.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(", and ");
        let rule = match (level, verifier.lib.strength) {
            (Some(l), _) => {
                let origin = if verifier.security_level.is_some() { "" } else { " (OpenSSL's default)" };
                format!(
                    "the {} ({}) runs at OpenSSL security level {l}{origin}, which needs {}-bit security from every \
                     key and signature in the chain",
                    verifier.role,
                    verifier.backend,
                    level_bits(l)
                )
            }
            (None, Strength::Floor { rule, .. }) => format!("the {} ({}) {rule}", verifier.role, verifier.backend),
            (None, _) => format!("the {} ({}) refuses them", verifier.role, verifier.backend),
        };
        let detail = format!("{whose} {} has {what}; {rule}.", describe(self.pki, name));
        let subject = if k == 0 { name.clone() } else { format!("the CA certificate {name}") };
        // rustls's floor is RSA 2048 and SHA-256, level 2's too; higher levels need stronger keys and digests.
        let need = floor;
        let mut remedies: Vec<&str> = Vec::new();
        if weak.iter().any(|w| w.key) {
            remedies.push(match need {
                ..=112 => "a 2048-bit RSA or an EC key (key: rsa2048 or ec-p256)",
                113..=128 => "an EC key (key: ec-p256)",
                _ => "a P-384 key (key: ec-p384)",
            });
        }
        if weak.iter().any(|w| !w.key) {
            remedies.push(if need <= 128 {
                "a SHA-256 signature (digest: sha256, the default)"
            } else {
                "a SHA-384 signature (digest: sha384)"
            });
        }
        let mut fix = format!("reissue {subject} with {}", remedies.join(" and "));
        if let Some(l) = level {
            let ok = weak.iter().map(|w| w.bits).min().map_or(0, accepting_level);
            if l > ok && verifier.can_set_security_level() {
                fix.push_str(&format!(
                    "; or, OpenSSL only, lower the {} to security_level: {ok} (which weakens it)",
                    verifier.role
                ));
            }
        }
        Some(Candidate {
            finding: Finding {
                cause: format!(
                    "the {who}'s certificate chain has a key or signature too weak for the {}",
                    verifier.role
                ),
                detail,
                fix,
            },
            alerts: &[Alert::BAD_CERTIFICATE, Alert::DECRYPT_ERROR],
        })
    }
}

/// One thing about a certificate a verifier refuses as too weak, with the security bits OpenSSL rates it at.
pub(super) struct Weakness {
    /// The key (else the signature).
    key: bool,
    /// "a 1024-bit RSA key (80-bit security)".
    text: String,
    bits: u32,
}

/// What in `cert` a verifier that needs `floor` bits of security refuses: a key or signature rated below them (at an
/// OpenSSL security level, the level's bits; with rustls, 112, which refuses RSA keys under 2048 bits and SHA-1 or MD5
/// signatures). `issuer` is the signer, `None` for a root, whose self-signature nobody checks.
pub(super) fn weaknesses(cert: &X509Ref, issuer: Option<&str>, floor: u32) -> Vec<Weakness> {
    let mut found = Vec::new();
    if let Ok(key) = cert.public_key() {
        let bits = key.security_bits();
        let kind = match key.id() {
            Id::RSA => "RSA",
            Id::EC => "EC",
            Id::ED25519 => "Ed25519",
            _ => "",
        };
        if bits < floor {
            let text = format!("a {}-bit {kind} key ({bits}-bit security)", key.bits()).replace("  ", " ");
            found.push(Weakness { key: true, text, bits });
        }
    }
    let sig = cert.signature_algorithm().object().nid();
    let digest = sig.signature_algorithms().and_then(|a| digest_strength(a.digest));
    if let (Some(issuer), Some((digest, bits))) = (issuer, digest) {
        if bits < floor {
            let alg = sig.long_name().unwrap_or("?");
            let text = format!("a {digest} signature from {issuer} ({alg}; {bits}-bit security as OpenSSL 3 rates it)");
            found.push(Weakness { key: false, text, bits });
        }
    }
    found
}

/// A signature digest's name and the security bits OpenSSL 3 gives signatures with it (SHA-1 and MD5 are rated
/// down to 63 and 39 bits, so level 1 already refuses them).
fn digest_strength(digest: Nid) -> Option<(&'static str, u32)> {
    Some(match digest {
        Nid::MD5 => ("MD5", 39),
        Nid::SHA1 => ("SHA-1", 63),
        Nid::SHA224 => ("SHA-224", 112),
        Nid::SHA256 => ("SHA-256", 128),
        Nid::SHA384 => ("SHA-384", 192),
        Nid::SHA512 => ("SHA-512", 256),
        _ => return None,
    })
}

/// The security bits an OpenSSL security level requires (SSL_CTX_set_security_level(3)).
pub(super) fn level_bits(level: u8) -> u32 {
    [0, 80, 112, 128, 192, 256][usize::from(level.min(5))]
}

/// The highest security level that accepts `bits`.
fn accepting_level(bits: u32) -> u8 {
    (0..=5).rev().find(|l| level_bits(*l) <= bits).unwrap_or(0)
}
