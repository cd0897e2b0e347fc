//! Reading OpenSSL's errors, shared by the `openssl` and `native-tls` backends (native-tls is OpenSSL underneath on
//! Linux, but hides the `SSL*`, so it cannot install the alert callback and must infer its sent alert from the error).
//!
//! Received alerts are exact in both: OpenSSL records a received fatal alert as error reason `1000 + description`
//! (`SSL_AD_REASON_OFFSET`, ssl/ssl_local.h). The alert OpenSSL *sent* is not in the error stack; [`SENT_ALERTS`] maps
//! the local error reason to the alert OpenSSL's state machine sends with it (each entry was checked against the alert
//! the `openssl` backend's callback saw for the same failure, and every native-tls cell against an `openssl` peer
//! re-checks it). A reason missing from the table is `unmapped`, never guessed.

use std::error::Error as StdError;
use std::io;

use ::openssl::error::ErrorStack;
use ::openssl::ssl::{Error as SslError, ErrorCode};

use crate::observation::ErrorClass;
use crate::vocab::Alert;

/// `SSL_AD_REASON_OFFSET` (ssl/ssl_local.h): an error reason above it is a received alert.
const ALERT_REASON_OFFSET: i32 = 1000;
/// `ERR_LIB_SSL`.
const LIB_SSL: i32 = 20;

/// The alert OpenSSL 3 sends for a local error, by error reason. `None` = OpenSSL fails without sending one (the
/// handshake never started, or the peer already went away).
pub(crate) const SENT_ALERTS: &[(&str, Option<Alert>)] = &[
    // statem_lib.c ssl_choose_server_version / ssl_choose_client_version.
    ("unsupported protocol", Some(Alert::PROTOCOL_VERSION)),
    ("wrong ssl version", Some(Alert::PROTOCOL_VERSION)),
    ("tlsv1 alert protocol version", None),
    // Client side: a config enabling no version at all fails before its ClientHello.
    ("no protocols available", None),
    // statem_srvr.c tls_early_post_process_client_hello: no cipher suite in common.
    ("no shared cipher", Some(Alert::HANDSHAKE_FAILURE)),
    ("no suitable key share", Some(Alert::HANDSHAKE_FAILURE)),
    ("no shared groups", Some(Alert::HANDSHAKE_FAILURE)),
    ("no suitable signature algorithm", Some(Alert::HANDSHAKE_FAILURE)),
    ("no application protocol", Some(Alert::NO_APPLICATION_PROTOCOL)),
    ("unexpected eof while reading", None),
    // ssl3_get_record on the FIRST record: bytes that are not TLS (an HTTP answer, garbage) end the handshake with
    // no alert (SSL_AD_NO_ALERT); checked on the wire by `wire::garbage_server_hello` and `wire::http_response`.
    // (On a later record OpenSSL sends an alert with the same reason; no scenario reaches that path.)
    ("wrong version number", None),
    // statem_clnt.c tls_process_key_exchange: a TLS 1.0/1.1 ServerKeyExchange is signed with MD5+SHA-1, which
    // security level 1 and up refuse; OpenSSL 3.0 sends internal_error with it (seen by the openssl backend's
    // callback and on the wire: seed::legacy_tls10_server_java_fix).
    ("legacy sigalg disallowed or unsupported", Some(Alert::INTERNAL_ERROR)),
    // ssl3_get_record: a record longer than the protocol allows.
    ("packet length too long", Some(Alert::RECORD_OVERFLOW)),
    // ssl3_read_bytes: a record the state does not expect (an alert where the ClientHello should be); seen by the
    // openssl backend's callback and on the wire: versions::tls10_client_default_security_level, python client.
    ("unexpected message", Some(Alert::UNEXPECTED_MESSAGE)),
];

/// The alert OpenSSL sends for a failed certificate verification, by X509 verify error text
/// (`ssl_x509err2alert`, ssl/statem/statem_lib.c).
pub(crate) const VERIFY_ALERTS: &[(&str, Alert)] = &[
    ("unable to get local issuer certificate", Alert::UNKNOWN_CA),
    ("unable to get issuer certificate", Alert::UNKNOWN_CA),
    ("unable to verify the first certificate", Alert::UNKNOWN_CA),
    ("self-signed certificate", Alert::UNKNOWN_CA),
    ("self-signed certificate in certificate chain", Alert::UNKNOWN_CA),
    ("invalid CA certificate", Alert::UNKNOWN_CA),
    ("certificate has expired", Alert::CERTIFICATE_EXPIRED),
    ("certificate is not yet valid", Alert::BAD_CERTIFICATE),
    ("hostname mismatch", Alert::BAD_CERTIFICATE),
    ("IP address mismatch", Alert::BAD_CERTIFICATE),
    ("unsuitable certificate purpose", Alert::UNSUPPORTED_CERTIFICATE),
    ("certificate signature failure", Alert::DECRYPT_ERROR),
    ("EE certificate key too weak", Alert::BAD_CERTIFICATE),
    ("CA certificate key too weak", Alert::BAD_CERTIFICATE),
    ("CA signature digest algorithm too weak", Alert::BAD_CERTIFICATE),
    // Not in ssl_x509err2alert's table: OpenSSL's default for unlisted verify errors is certificate_unknown.
    ("permitted subtree violation", Alert::CERTIFICATE_UNKNOWN),
    ("excluded subtree violation", Alert::CERTIFICATE_UNKNOWN),
    // X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION: unlisted too (the openssl backend's exact capture sees
    // certificate_unknown go out; certificates::unknown_critical_extension).
    ("unhandled critical extension", Alert::CERTIFICATE_UNKNOWN),
];

/// The sent alert, known or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mapped {
    /// Known: this alert, or none.
    Known(Option<Alert>),
    /// Not in the tables: the native reason.
    Unmapped(String),
}

/// What OpenSSL's error says about a failure.
#[derive(Debug, Clone)]
pub(crate) struct Diagnosis {
    /// The alert received from the peer (exact).
    pub received_alert: Option<Alert>,
    /// The alert OpenSSL sent, inferred from the local reason.
    pub sent_alert: Mapped,
    /// Eof / Io / Local / PeerAlert, before any mapping decision.
    pub class: ErrorClass,
    /// OpenSSL's text.
    pub message: String,
}

/// Diagnoses any error that may wrap an OpenSSL error (`ssl::Error`, `ErrorStack`, `io::Error`, native-tls's error).
/// `text` is the outermost error's display (native-tls appends the verify result there, in parentheses).
pub(crate) fn diagnose(err: &(dyn StdError + 'static), text: &str) -> Diagnosis {
    let message = text.to_string();
    if let Some(stack) = find::<ErrorStack>(err) {
        return from_stack(stack, text);
    }
    if let Some(ssl) = find::<SslError>(err) {
        if let Some(stack) = ssl.ssl_error() {
            return from_stack(stack, text);
        }
        if ssl.code() == ErrorCode::SYSCALL && ssl.io_error().is_none() {
            return Diagnosis {
                received_alert: None,
                sent_alert: Mapped::Known(None),
                class: ErrorClass::Eof,
                message,
            };
        }
    }
    match find::<io::Error>(err).map(io::Error::kind) {
        Some(kind) => {
            let class = if kind == io::ErrorKind::UnexpectedEof { ErrorClass::Eof } else { ErrorClass::Io };
            Diagnosis { received_alert: None, sent_alert: Mapped::Known(None), class, message }
        }
        // The openssl crate's text for SSL_ERROR_SYSCALL without an io error: the peer closed mid-handshake
        // (native-tls hands the error over without its source, so only the text is left).
        None if text == "unexpected EOF" => {
            Diagnosis { received_alert: None, sent_alert: Mapped::Known(None), class: ErrorClass::Eof, message }
        }
        // Neither OpenSSL's error stack nor a socket error: a failure we cannot classify (native-tls reports its own
        // setup errors this way). Never guess: the cell fails as unmapped.
        None => Diagnosis {
            received_alert: None,
            sent_alert: Mapped::Unmapped(format!("an error without OpenSSL or socket detail: {text}")),
            class: ErrorClass::Local,
            message,
        },
    }
}

/// Walks the `source()` chain (and io::Error's inner error) for a `T`.
fn find<'a, T: StdError + 'static>(mut err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    loop {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        let next = match err.downcast_ref::<io::Error>().and_then(|e| e.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
        err = next?;
    }
}

fn from_stack(stack: &ErrorStack, text: &str) -> Diagnosis {
    let message = text.to_string();
    let ssl_errors = stack.errors().iter().filter(|e| e.library_code() == LIB_SSL);
    let mut received = None;
    let mut local = None;
    for e in ssl_errors {
        let code = e.reason_code();
        if (ALERT_REASON_OFFSET..ALERT_REASON_OFFSET + 256).contains(&code) {
            received.get_or_insert(Alert((code - ALERT_REASON_OFFSET) as u8));
        } else {
            local.get_or_insert(e);
        }
    }
    if let Some(a) = received {
        return Diagnosis {
            received_alert: Some(a),
            sent_alert: Mapped::Known(None),
            class: ErrorClass::PeerAlert,
            message,
        };
    }
    let Some(e) = local else {
        return Diagnosis {
            received_alert: None,
            sent_alert: Mapped::Unmapped(format!("no libssl reason in the error stack: {stack}")),
            class: ErrorClass::Local,
            message,
        };
    };
    let reason = e.reason().unwrap_or("");
    if reason == "certificate verify failed" {
        let verify = e.data().map(|d| d.trim_start_matches("Verify error:")).or_else(|| verify_text(text));
        let alert = verify.and_then(|v| VERIFY_ALERTS.iter().find(|(t, _)| *t == v).map(|(_, a)| *a));
        let sent = match alert {
            Some(a) => Mapped::Known(Some(a)),
            None => Mapped::Unmapped(format!("certificate verify failed ({})", verify.unwrap_or("no verify result"))),
        };
        return Diagnosis { received_alert: None, sent_alert: sent, class: ErrorClass::Local, message };
    }
    let sent = match SENT_ALERTS.iter().find(|(r, _)| *r == reason) {
        Some((_, a)) => Mapped::Known(*a),
        None => Mapped::Unmapped(format!("OpenSSL reason `{reason}` (code {})", e.reason_code())),
    };
    let class = if reason == "unexpected eof while reading" { ErrorClass::Eof } else { ErrorClass::Local };
    Diagnosis { received_alert: None, sent_alert: sent, class, message }
}

/// Diagnoses one OpenSSL error as a program printed it (`error:0A000418:SSL routines::tlsv1 alert unknown ca:SSL
/// alert number 48`, as nginx logs it): the packed code's reason (OpenSSL 3: the low 23 bits) says a received alert
/// (`1000 + description`), else the reason text is looked up as in [`diagnose`].
pub(crate) fn from_text(text: &str) -> Diagnosis {
    let message = text.to_string();
    let mut parts = text.splitn(5, ':');
    let (code, lib, reason) = (parts.nth(1), parts.next(), parts.nth(1));
    let code = code.and_then(|c| u32::from_str_radix(c, 16).ok());
    let (Some(code), Some("SSL routines"), Some(reason)) = (code, lib, reason) else {
        let sent = Mapped::Unmapped(format!("not an OpenSSL libssl error: {text}"));
        return Diagnosis { received_alert: None, sent_alert: sent, class: ErrorClass::Local, message };
    };
    let number = (code & 0x7F_FFFF) as i32;
    if (ALERT_REASON_OFFSET..ALERT_REASON_OFFSET + 256).contains(&number) {
        let alert = Some(Alert((number - ALERT_REASON_OFFSET) as u8));
        return Diagnosis {
            received_alert: alert,
            sent_alert: Mapped::Known(None),
            class: ErrorClass::PeerAlert,
            message,
        };
    }
    let sent = match SENT_ALERTS.iter().find(|(r, _)| *r == reason) {
        Some((_, a)) => Mapped::Known(*a),
        None => Mapped::Unmapped(format!("OpenSSL reason `{reason}` (code {number})")),
    };
    let class = if reason == "unexpected eof while reading" { ErrorClass::Eof } else { ErrorClass::Local };
    Diagnosis { received_alert: None, sent_alert: sent, class, message }
}

/// The verify result native-tls appends to its message: `... certificate verify failed:... (hostname mismatch)`.
fn verify_text(text: &str) -> Option<&str> {
    let open = text.rfind(" (")?;
    text[open + 2..].strip_suffix(')')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_errors_give_the_received_or_the_sent_alert() {
        let received = from_text("error:0A000418:SSL routines::tlsv1 alert unknown ca:SSL alert number 48");
        assert_eq!((received.received_alert, received.class), (Some(Alert::UNKNOWN_CA), ErrorClass::PeerAlert));
        let sent = from_text("error:0A000102:SSL routines::unsupported protocol");
        assert_eq!(sent.sent_alert, Mapped::Known(Some(Alert::PROTOCOL_VERSION)));
        assert!(matches!(from_text("error:0A0000FF:SSL routines::no such reason").sent_alert, Mapped::Unmapped(_)));
        assert!(matches!(from_text("garbage").sent_alert, Mapped::Unmapped(_)));
    }

    #[test]
    fn verify_text_is_the_last_parenthesis() {
        assert_eq!(
            verify_text("error:0A000086:SSL routines::certificate verify failed (hostname mismatch)"),
            Some("hostname mismatch")
        );
        assert_eq!(verify_text("no parenthesis"), None);
    }

    #[test]
    fn plain_eof_is_eof() {
        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        let d = diagnose(&e, "eof");
        assert_eq!(d.class, ErrorClass::Eof);
        assert_eq!(d.sent_alert, Mapped::Known(None));
    }
}
