//! Key and signature strength: a chain whose keys or signature digests the verifier's library refuses as too weak.

use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::X509Ref;

/// One thing about a certificate a verifier refuses as too weak, with the security bits OpenSSL rates it at.
pub(super) struct Weakness {
    /// The key (else the signature).
    pub(super) key: bool,
    /// "a 1024-bit RSA key (80-bit security)".
    pub(super) text: String,
    pub(super) bits: u32,
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
pub(super) fn accepting_level(bits: u32) -> u8 {
    (0..=5).rev().find(|l| level_bits(*l) <= bits).unwrap_or(0)
}
