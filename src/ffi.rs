//! The one place in the crate that uses `unsafe`: OpenSSL's message callback, which the openssl crate does not wrap.
//!
//! `SSL_set_msg_callback` reports every protocol message OpenSSL sends or receives, after decryption, so it sees the
//! alerts of TLS 1.3 too (they travel encrypted). Each connection's log lives in the `Ssl`'s ex_data, so the callback
//! needs no global state beyond the ex_data index.

#![allow(unsafe_code)]

use std::os::raw::{c_int, c_long, c_void};
use std::sync::{Arc, Mutex, OnceLock};

use ::openssl::ex_data::Index;
use ::openssl::ssl::{Ssl, SslRef, SslSessionRef};
use foreign_types::{ForeignType, ForeignTypeRef};

use crate::vocab::{Alert, Group};

/// TLS record content type of alerts (RFC 8446 section 5.1).
const CONTENT_TYPE_ALERT: c_int = 21;
/// `SSL_CTRL_GET_NEGOTIATED_GROUP` from OpenSSL 3's ssl.h (`SSL_get_negotiated_group` is a macro over `SSL_ctrl`).
const SSL_CTRL_GET_NEGOTIATED_GROUP: c_int = 134;

/// Alerts seen on one connection, in order.
#[derive(Debug, Default)]
pub struct AlertLog {
    /// (sent?, level, description) for every alert.
    pub alerts: Vec<(bool, u8, Alert)>,
}

impl AlertLog {
    /// The first alert sent (`true`) or received (`false`) that is not a close_notify.
    pub fn first(&self, sent: bool) -> Option<Alert> {
        self.alerts.iter().find(|(s, _, a)| *s == sent && *a != Alert::CLOSE_NOTIFY).map(|(_, _, a)| *a)
    }
}

/// A shared handle on a connection's alert log.
pub type SharedLog = Arc<Mutex<AlertLog>>;

type MsgCallback = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, usize, *mut openssl_sys::SSL, *mut c_void);

unsafe extern "C" {
    fn SSL_set_msg_callback(ssl: *mut openssl_sys::SSL, cb: Option<MsgCallback>);
}

fn index() -> Index<Ssl, SharedLog> {
    static INDEX: OnceLock<Index<Ssl, SharedLog>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().expect("OpenSSL allocates an ex_data index"))
}

/// Starts recording alerts on `ssl`; returns the log the callback fills.
pub fn record_alerts(ssl: &mut Ssl) -> SharedLog {
    let log = SharedLog::default();
    ssl.set_ex_data(index(), log.clone());
    // SAFETY: `ssl` is a valid, owned SSL*; the callback is a plain function with the exact C signature OpenSSL
    // declares for SSL_set_msg_callback, and the state it reads is owned by the SSL's ex_data, which lives as long as
    // the SSL itself.
    unsafe { SSL_set_msg_callback(ssl.as_ptr(), Some(on_message)) };
    log
}

unsafe extern "C" fn on_message(
    write_p: c_int,
    _version: c_int,
    content_type: c_int,
    buf: *const c_void,
    len: usize,
    ssl: *mut openssl_sys::SSL,
    _arg: *mut c_void,
) {
    if content_type != CONTENT_TYPE_ALERT || len < 2 || buf.is_null() || ssl.is_null() {
        return;
    }
    // SAFETY: OpenSSL passes `len` readable bytes at `buf` for the duration of the call, and checked non-null above.
    let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), 2) };
    // SAFETY: `ssl` is the live connection the callback was installed on; we only borrow it for this call.
    let ssl = unsafe { SslRef::from_ptr(ssl) };
    if let Some(log) = ssl.ex_data(index()) {
        if let Ok(mut log) = log.lock() {
            log.alerts.push((write_p != 0, bytes[0], Alert(bytes[1])));
        }
    }
}

/// The key-exchange group of an established connection (`SSL_get_negotiated_group`), if OpenSSL reports one.
pub fn negotiated_group(ssl: &SslRef) -> Option<Group> {
    // SAFETY: SSL_ctrl with SSL_CTRL_GET_NEGOTIATED_GROUP only reads the connection's state and takes no pointer.
    let nid = unsafe { openssl_sys::SSL_ctrl(ssl.as_ptr(), SSL_CTRL_GET_NEGOTIATED_GROUP, 0, std::ptr::null_mut()) };
    if nid <= 0 || nid > c_long::from(c_int::MAX) {
        return None;
    }
    // A group without a NID (OpenSSL 3.5's ML-KEM hybrids) comes as TLSEXT_nid_unknown | its code point
    // (SSL_get_negotiated_group(3)).
    const TLSEXT_NID_UNKNOWN: c_long = 0x0100_0000;
    if nid & TLSEXT_NID_UNKNOWN != 0 {
        return Some(Group((nid & 0xffff) as u16));
    }
    let name = ::openssl::nid::Nid::from_raw(nid as c_int).short_name().ok()?;
    Group::from_openssl_name(if name == "prime256v1" { "P-256" } else { name })
}

/// Offers `session` (from an earlier connection of the same client context) for resumption.
pub fn offer_session(ssl: &mut SslRef, session: &SslSessionRef) -> Result<(), ::openssl::error::ErrorStack> {
    // SAFETY: the openssl crate marks `set_session` unsafe because the session must come from a connection made with
    // the same SSL_CTX; the only caller passes the session its own client context produced on the previous
    // connection of the cell.
    unsafe { ssl.set_session(session) }
}

/// Points OpenSSL's certificate-location variables at nothing, so that nothing in this process loads the system
/// trust store: native-tls probes `SSL_CERT_FILE` (openssl-probe) and parses the whole system bundle every time a
/// connector is built (about 60 ms a native-tls client cell, measured), only for tlsmatrix to replace that store with
/// the scenario's. The scenario's `trust` list is the only trust a cell ever has.
pub fn keep_system_trust_out() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `set_var` is unsafe because another thread could read the environment at the same time. This runs
        // once, from the entry points (`cli::main`, `harness::main`) before they start any thread or runtime, and
        // from tests/catalog.rs, whose single test is the only thread of that binary doing anything.
        unsafe {
            std::env::set_var("SSL_CERT_FILE", "/dev/null");
            std::env::set_var("SSL_CERT_DIR", "/dev/null");
        }
    });
}

unsafe extern "C" {
    /// `SSL_CTX_get_ciphers(3)`, which openssl-sys does not declare: the context's cipher list, owned by it.
    fn SSL_CTX_get_ciphers(ctx: *const openssl_sys::SSL_CTX) -> *mut openssl_sys::OPENSSL_STACK;
}

/// The cipher suites `ctx` enables, in its order, as (code point, whether it is a TLS 1.3 suite): what OpenSSL made
/// of the cipher strings given to it (`set_cipher_list`, `set_ciphersuites`). `tlsmatrix import` expands the
/// strings users copy from nginx or Apache configs this way, so the expansion is OpenSSL's own, not a parser of ours.
pub fn context_ciphers(ctx: &::openssl::ssl::SslContextRef) -> Vec<(u16, bool)> {
    // SAFETY: the stack belongs to the live context and is only read while `ctx` is borrowed; each element is a
    // valid SSL_CIPHER for as long as the context lives, and is only borrowed for the two reads below.
    unsafe {
        let stack = SSL_CTX_get_ciphers(ctx.as_ptr());
        if stack.is_null() {
            return Vec::new();
        }
        (0..openssl_sys::OPENSSL_sk_num(stack))
            .filter_map(|i| {
                let cipher = openssl_sys::OPENSSL_sk_value(stack, i) as *mut openssl_sys::SSL_CIPHER;
                if cipher.is_null() {
                    return None;
                }
                let cipher = ::openssl::ssl::SslCipherRef::from_ptr(cipher);
                Some((u16::from_be_bytes(cipher.protocol_id()), cipher.version() == "TLSv1.3"))
            })
            .collect()
    }
}

/// OpenSSL's text for an X509 verify error code (`X509_verify_cert_error_string`), as a product logs the code
/// (haproxy's `ssl_c_err`): the words [`crate::backend`]'s verify table knows.
pub fn verify_error_string(code: i32) -> String {
    // SAFETY: X509_verify_cert_error_string accepts any code (an unknown one gives a generic text); the openssl
    // crate marks from_raw unsafe only because a verify result is meant to come from OpenSSL itself.
    unsafe { ::openssl::x509::X509VerifyResult::from_raw(code) }.error_string().to_string()
}
