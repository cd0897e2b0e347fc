//! What the GnuTLS tools print, read into outcomes: the alerts from the level-5 debug log (exact), the errors from
//! their `***` and `Error` lines, the negotiated parameters from the bridged server flight.

use super::super::hello;
use super::super::process::{Session, contains};
use crate::backend::PING;
use crate::observation::{ErrorClass, Established, Failure, Phase, SideOutcome};
use crate::vocab::{Alert, Role};

/// The lines gnutls prints about a failure (`*** ...`), verbatim.
pub(super) fn error_lines(s: &Session) -> Vec<String> {
    s.stdout.lines().chain(s.stderr.lines()).map(str::trim).filter(|l| l.starts_with("***")).map(String::from).collect()
}

/// The error text after `*** Fatal error: ` or `*** handshake has failed: `.
fn fatal_text(lines: &[String]) -> Option<&str> {
    lines.iter().find_map(|l| {
        l.strip_prefix("*** Fatal error: ").or_else(|| l.strip_prefix("*** handshake has failed: ")).map(str::trim)
    })
}

/// The first fatal alert sent and received, from the debug log (close_notify aside).
fn fatal_alerts(log: &str) -> (Option<Alert>, Option<Alert>) {
    let alerts = debug_alerts(log);
    let first = |sent: bool| {
        alerts.iter().find(|(s, level, a)| *s == sent && *level == 2 && *a != Alert::CLOSE_NOTIFY).map(|a| a.2)
    };
    (first(true), first(false))
}

/// The error class of a failure: the alerts first, then what the error text says.
fn error_class(sent: Option<Alert>, received: Option<Alert>, text: Option<&str>) -> ErrorClass {
    // The stream's end or a reset is the peer's or the network's doing even when GnuTLS answers it with an alert
    // (gnutls_alert_send_appropriate maps GNUTLS_E_PREMATURE_TERMINATION to unexpected_message): it is classed by the
    // error text before "an alert was sent, so it failed locally".
    match (received, sent, text) {
        (Some(_), _, _) => ErrorClass::PeerAlert,
        (None, _, Some(t)) if t.contains("non-properly terminated") => ErrorClass::Eof,
        (None, _, Some(t)) if t.contains("push function") || t.contains("pull function") => ErrorClass::Io,
        (None, Some(_), _) => ErrorClass::Local,
        (None, None, None) => ErrorClass::Eof,
        (None, None, Some(_)) => ErrorClass::Local,
    }
}

/// A completed connection as either tool saw it: version, suite and group from the bridged ServerHello (and
/// ServerKeyExchange), ALPN from the tool's `- Application protocol:` line.
fn established(role: Role, s: &Session) -> SideOutcome {
    let h = hello::parse(s.server_bytes(role));
    let alpn = s.stdout.lines().find_map(|l| l.trim().strip_prefix("- Application protocol: "));
    SideOutcome::Established(Established {
        version: h.version,
        cipher: h.cipher,
        group: h.group,
        alpn: alpn.map(|a| a.trim().to_string()),
        resumed: None,
    })
}

pub(super) fn outcome(role: Role, s: &Session) -> SideOutcome {
    let lines = error_lines(s);
    let (sent, received) = fatal_alerts(&s.stderr);
    let handshake_done = s.stdout.contains("- Handshake was completed");
    let exchanged = contains(s.stdout.as_bytes(), PING);
    let fatal = fatal_text(&lines);
    let clean_exit = s.status.is_some_and(|st| st.success());
    let quiet = received.is_none() && sent.is_none() && fatal.is_none();
    if s.connected && handshake_done && exchanged && quiet && clean_exit {
        return established(role, s);
    }
    let error = error_class(sent, received, fatal);
    let message = if lines.is_empty() {
        let own: Vec<&str> = s.stderr.lines().filter(|l| !l.starts_with("|<")).collect();
        format!("gnutls-cli: {} {}", s.stdout.trim(), own.join("; "))
    } else {
        lines.join("; ")
    };
    let phase = if handshake_done { Phase::Data } else { Phase::Handshake };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error, message })
}

/// The alerts in a GnuTLS tool's debug log (level 5, on stderr), in order: `(sent, level, description)`. A sent alert counts once
/// its record was written (`REC: Sending Alert[2|40] - Handshake failed` followed by `REC[..]: Sent Packet[1]
/// Alert(21) ...`: GnuTLS logs that line only after the write succeeded); a received one when the record layer
/// decoded it (`REC[..]: Alert[2|48] - CA is unknown - was received`).
pub(super) fn debug_alerts(log: &str) -> Vec<(bool, u8, Alert)> {
    // `[2|48]` -> (2, 48).
    fn pair(s: &str) -> Option<(u8, u8)> {
        let inner = s.strip_prefix('[')?.split(']').next()?;
        let (level, desc) = inner.split_once('|')?;
        Some((level.trim().parse().ok()?, desc.trim().parse().ok()?))
    }
    let mut out = Vec::new();
    let mut sending: Option<(u8, u8)> = None;
    for line in log.lines() {
        let Some(rest) = line.split_once("| ").map(|(_, r)| r) else { continue };
        if let Some(p) = rest.strip_prefix("REC: Sending Alert") {
            sending = pair(p);
        } else if rest.contains("]: Sent Packet[") && rest.contains(" Alert(21) ") {
            if let Some((level, desc)) = sending.take() {
                out.push((true, level, Alert(desc)));
            }
        } else if let Some(p) = rest.split_once("]: Alert").map(|(_, p)| p) {
            if p.ends_with(" was received") {
                if let Some((level, desc)) = pair(p) {
                    out.push((false, level, Alert(desc)));
                }
            }
        }
    }
    out
}

/// gnutls-serv's error: the text after `Error in handshake: `, or after `Error: ` (printed on stdout after `Error
/// while receiving data` / `Error while sending data`), with the phase it belongs to.
fn server_error(s: &Session) -> Option<(Phase, String)> {
    let lines = || s.stdout.lines().chain(s.stderr.lines()).map(str::trim);
    if let Some(t) = lines().find_map(|l| l.strip_prefix("Error in handshake: ")) {
        return Some((Phase::Handshake, t.to_string()));
    }
    let data = lines().any(|l| l == "Error while receiving data" || l == "Error while sending data");
    let text = lines().find_map(|l| l.strip_prefix("Error: ")).map(String::from);
    match (data, text) {
        (true, Some(t)) => Some((Phase::Data, t)),
        (true, None) => Some((Phase::Data, "error without text".to_string())),
        (false, _) => None,
    }
}

pub(super) fn server_outcome(s: &Session) -> SideOutcome {
    let (sent, received) = fatal_alerts(&s.stderr);
    let handshake_done = s.stdout.contains("- Description: ");
    let echoed = s.stderr.contains("received cmd: tlsmatrix ping");
    let error = server_error(s);
    if s.connected && handshake_done && echoed && sent.is_none() && received.is_none() && error.is_none() {
        return established(Role::Server, s);
    }
    let phase = match &error {
        Some((phase, _)) => *phase,
        None if handshake_done => Phase::Data,
        None => Phase::Handshake,
    };
    let class = match s.connected {
        true => error_class(sent, received, error.as_ref().map(|(_, t)| t.as_str())),
        false => ErrorClass::Eof,
    };
    // Its own words: the error lines and what it printed about alerts, without the debug log.
    let said: Vec<&str> = s
        .stdout
        .lines()
        .chain(s.stderr.lines())
        .map(str::trim)
        .filter(|l| l.starts_with("Error") || l.starts_with("* Received alert"))
        .collect();
    let message = match (said.is_empty(), s.connected) {
        (_, false) => {
            let own: Vec<&str> = s.stderr.lines().filter(|l| !l.starts_with("|<")).collect();
            format!("gnutls-serv never got a connection: {} {}", s.stdout.trim(), own.join("; "))
        }
        (true, true) => format!(
            "the connection ended without an error line (handshake {}, echo {})",
            if handshake_done { "done" } else { "not done" },
            if echoed { "done" } else { "not done" }
        ),
        (false, true) => said.join("; "),
    };
    SideOutcome::Failed(Failure { phase, sent_alert: sent, received_alert: received, error: class, message })
}
