//! OpenSSL's reading of a cipher string: the suites `ECDHE+AESGCM:!aNULL` selects on this system, as nginx, Apache
//! or haproxy linked against the same OpenSSL would use them. A leaf module (OpenSSL and the FFI module only), so the
//! scenario loader can import a product's lines without depending on the backends.

use ::openssl::ssl::{SslContextBuilder, SslMethod};

use crate::vocab::CipherSuite;

/// What OpenSSL makes of a config's cipher strings: the TLS 1.2 and TLS 1.3 suites in its order, and the security
/// level when the string sets one (`...:@SECLEVEL=0`).
pub(crate) struct Expanded {
    pub tls12: Vec<CipherSuite>,
    pub tls13: Vec<CipherSuite>,
    pub security_level: Option<u8>,
}

/// The TLS 1.2 and TLS 1.3 suites OpenSSL selects for a cipher string (`ECDHE+AESGCM:!aNULL`, as in `ssl_ciphers`)
/// and a TLS 1.3 suite string (`TLS_AES_128_GCM_SHA256:...`, as in `Ciphersuites`), in OpenSSL's order. Either may
/// be left out (OpenSSL's default for that part). The error is OpenSSL's, for a string that selects nothing.
pub(crate) fn expand_cipher_strings(tls12: Option<&str>, tls13: Option<&str>) -> Result<Expanded, String> {
    let mut ctx = SslContextBuilder::new(SslMethod::tls()).map_err(|e| e.to_string())?;
    let default_level = SslContextBuilder::new(SslMethod::tls()).map_err(|e| e.to_string())?.build().security_level();
    if let Some(s) = tls12 {
        ctx.set_cipher_list(s).map_err(|e| format!("OpenSSL selects no cipher suite for `{s}`: {e}"))?;
    }
    if let Some(s) = tls13 {
        ctx.set_ciphersuites(s).map_err(|e| format!("OpenSSL selects no TLS 1.3 suite for `{s}`: {e}"))?;
    }
    let ctx = ctx.build();
    let level = ctx.security_level();
    let (v13, v12): (Vec<_>, Vec<_>) = crate::ffi::context_ciphers(&ctx).into_iter().partition(|c| c.1);
    let suites = |v: Vec<(u16, bool)>| v.into_iter().map(|c| CipherSuite(c.0)).collect();
    Ok(Expanded {
        tls12: suites(v12),
        tls13: suites(v13),
        security_level: (level != default_level).then(|| u8::try_from(level).unwrap_or(5)),
    })
}
