//! `tlsmatrix import`: TLS settings as people write them (an nginx, Apache or haproxy directive, a Java security
//! property, a Mozilla profile name) turned into a scenario whose `server:` and `client:` blocks say the same, ready
//! for `tlsmatrix compat` or `run`.
//!
//! Cipher strings are expanded by OpenSSL itself (`expand_cipher_strings` in the openssl backend): `ECDHE+AESGCM:!aNULL`
//! means exactly the suites the system's OpenSSL selects for it, as nginx and Apache linked against it would use,
//! with no grammar of ours that could drift from OpenSSL's.

use std::collections::BTreeMap;

use crate::scenario::{ClientConfig, FixtureName, ServerConfig};
use crate::vocab::{CipherSuite, Group, ProtocolVersion};

/// What went wrong with one input, named with the input.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A directive no rule knows.
    #[error(
        "`{0}`: not a directive tlsmatrix imports (expected nginx ssl_protocols / ssl_ciphers / ssl_ecdh_curve / \
         ssl_conf_command Ciphersuites, Apache SSLProtocol / SSLCipherSuite / SSLOpenSSLConfCmd Curves, haproxy \
         ssl-default-bind-ciphers / -ciphersuites / -options / ssl-min-ver / ssl-max-ver, a Java property \
         jdk.tls.disabledAlgorithms / jdk.tls.client.protocols / jdk.tls.server.protocols, or mozilla:modern, \
         mozilla:intermediate, mozilla:old)"
    )]
    Unknown(String),
    /// A protocol or group name that means nothing.
    #[error("`{input}`: unknown {what} `{word}` (expected {expected})")]
    BadWord {
        /// The input as given.
        input: String,
        /// "protocol", "group", "Mozilla profile".
        what: &'static str,
        /// The word not understood.
        word: String,
        /// What would have been.
        expected: &'static str,
    },
    /// OpenSSL selects nothing for a cipher string.
    #[error("`{input}`: {why}")]
    Ciphers {
        /// The cipher strings.
        input: String,
        /// OpenSSL's error.
        why: String,
    },
    /// The versions do not form one range.
    #[error(
        "`{input}`: the versions left ({left}) are not one contiguous range; a scenario holds a range (OpenSSL, \
         given a hole, enables only the versions below it)"
    )]
    Range {
        /// The input as given.
        input: String,
        /// The versions it leaves.
        left: String,
    },
}

/// One side's settings as the inputs give them; what stays `None` keeps the library's default.
#[derive(Debug, Default)]
struct Settings {
    versions: Option<Vec<ProtocolVersion>>,
    tls12: Option<String>,
    tls13: Option<String>,
    groups: Option<Vec<Group>>,
    security_level: Option<u8>,
    tickets: Option<bool>,
    java: BTreeMap<String, String>,
    /// Directives that change the server's behaviour but have no scenario setting: a block imported from them is
    /// played faithfully only by the product itself.
    lossy: Vec<String>,
}

/// What the inputs said, before any product's defaults fill what they left out.
struct Read {
    server: Settings,
    client: Settings,
    notes: Vec<String>,
    /// The inputs that are nginx directives (`ssl_*`), as given.
    nginx: Vec<String>,
    /// The inputs that are not.
    other: Vec<String>,
}

/// The imported scenario: both blocks, and notes on what could not be carried over.
#[derive(Debug)]
pub struct Imported {
    /// The server block.
    pub server: ServerConfig,
    /// The client block.
    pub client: ClientConfig,
    /// What the inputs said that a scenario cannot hold, or what the reader should know (a YAML comment each).
    pub notes: Vec<String>,
}

/// A Mozilla "Server Side TLS" 5.7 profile: its versions, TLS 1.2 cipher string, groups, and oldest clients.
struct Profile {
    versions: &'static [ProtocolVersion],
    ciphers: Option<&'static str>,
    oldest: &'static str,
}

fn profile(name: &str) -> Option<Profile> {
    use ProtocolVersion::*;
    const INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
        ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
        DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
    const OLD: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
        ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:\
        DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:\
        ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:\
        ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:\
        AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA";
    Some(match name {
        "modern" => Profile {
            versions: &[Tls13],
            ciphers: None,
            oldest: "Firefox 63, Android 10.0, Chrome 70, Edge 75, Java 11, OpenSSL 1.1.1, Opera 57, Safari 12.1",
        },
        "intermediate" => Profile {
            versions: &[Tls12, Tls13],
            ciphers: Some(INTERMEDIATE),
            oldest: "Firefox 27, Android 4.4.2, Chrome 31, Edge, IE 11 on Windows 7, Java 8u31, OpenSSL 1.0.1, \
                     Opera 20, Safari 9",
        },
        "old" => Profile {
            versions: &[Tls10, Tls11, Tls12, Tls13],
            ciphers: Some(OLD),
            oldest: "Firefox 1, Android 2.3, Chrome 1, Edge 12, IE 8 on Windows XP, Java 6, OpenSSL 0.9.8, Opera 5, \
                     Safari 1",
        },
        _ => return None,
    })
}

/// A version as nginx, Apache, haproxy and Java spell it.
fn version(word: &str) -> Option<Option<ProtocolVersion>> {
    use ProtocolVersion::*;
    Some(match word.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "tlsv1" | "tlsv1.0" => Some(Tls10),
        "tlsv1.1" => Some(Tls11),
        "tlsv1.2" => Some(Tls12),
        "tlsv1.3" => Some(Tls13),
        // Spelled out in old configs; no backend here speaks them, so they are dropped with a note.
        "sslv2" | "sslv3" | "sslv2hello" => None,
        _ => return None,
    })
}

/// A group by any of OpenSSL's names (`prime256v1` is its name for P-256).
fn group(word: &str) -> Option<Group> {
    Group::from_openssl_name(match word {
        "prime256v1" => "P-256",
        w => w,
    })
}

/// The versions as one sorted list, or an error when they are not contiguous.
fn range(input: &str, set: std::collections::BTreeSet<ProtocolVersion>) -> Result<Vec<ProtocolVersion>, ImportError> {
    let v: Vec<ProtocolVersion> = set.into_iter().collect();
    let all = ProtocolVersion::ALL;
    let contiguous =
        v.windows(2).all(|w| all.iter().position(|x| *x == w[1]) == all.iter().position(|x| *x == w[0]).map(|i| i + 1));
    if v.is_empty() || !contiguous {
        let left = v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
        return Err(ImportError::Range {
            input: input.to_string(),
            left: if left.is_empty() { "none".into() } else { left },
        });
    }
    Ok(v)
}

/// nginx 1.22's `ssl_protocols` default: what an nginx config that does not say serves.
const NGINX_VERSIONS: [ProtocolVersion; 3] = [ProtocolVersion::Tls10, ProtocolVersion::Tls11, ProtocolVersion::Tls12];
/// nginx 1.22's `ssl_ciphers` default.
pub(crate) const NGINX_CIPHERS: &str = "HIGH:!aNULL:!MD5";

/// The directives of a config fragment (`ssl_protocols TLSv1.2; ssl_ciphers 'A:B';`), split at the `;`s that are not
/// inside quotes; an input without `;` is one directive.
pub fn directives(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), String::new(), None);
    for c in text.chars() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            (';', None) => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|d| d.trim().to_string()).filter(|d| !d.is_empty() && !d.starts_with('#')).collect()
}

/// A directive's value without the quotes nginx and haproxy allow around it.
fn unquote(word: &str) -> &str {
    let w = word.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = w.strip_prefix(q).and_then(|w| w.strip_suffix(q)) {
            return inner;
        }
    }
    w
}

/// Imports every input (a directive, a property, `mozilla:NAME`; directives may share an input, separated by `;`)
/// into one scenario. Where nginx directives are among them, what they leave out is nginx 1.22's default
/// (`ssl_protocols TLSv1 TLSv1.1 TLSv1.2`, `ssl_ciphers HIGH:!aNULL:!MD5`), as the real server would serve.
pub fn import(inputs: &[String]) -> Result<Imported, ImportError> {
    let Read { mut server, client, mut notes, nginx, .. } = read(inputs)?;
    if !nginx.is_empty() {
        nginx_defaults(&mut server, &mut notes);
    }
    Ok(Imported { server: server_block(server, &mut notes)?, client: client_block(client), notes })
}

/// Fills what nginx directives left out with nginx 1.22's defaults, saying so.
fn nginx_defaults(server: &mut Settings, notes: &mut Vec<String>) {
    if server.versions.is_none() {
        server.versions = Some(NGINX_VERSIONS.to_vec());
        notes.push("no ssl_protocols: nginx 1.22's default, TLSv1 TLSv1.1 TLSv1.2 (TLS 1.3 from 1.23.4 on)".into());
    }
    if server.tls12.is_none() {
        server.tls12 = Some(NGINX_CIPHERS.into());
        notes.push(format!("no ssl_ciphers: nginx's default, {NGINX_CIPHERS}"));
    }
}

/// A scenario's `server: { nginx: "..." }`: the directives imported into the block's own settings, so every other
/// backend plays the same server; nginx itself runs the lines as written.
///
/// A setting both the lines and the block give is refused (which one would nginx run?); one neither gives is
/// nginx 1.22's default. `Err` is the message, naming the directive.
pub fn absorb_nginx(block: &mut ServerConfig) -> Result<(), String> {
    let Some(lines) = block.nginx.clone() else { return Ok(()) };
    let Read { server: mut s, other, mut notes, .. } = read(&directives(&lines)).map_err(|e| e.to_string())?;
    if let Some(o) = other.first() {
        return Err(format!("`{o}` is not an nginx directive (expected ssl_protocols, ssl_ciphers, ...; one per `;`)"));
    }
    let twice = [
        ("ssl_protocols", "versions", s.versions.is_some() && block.versions.is_some()),
        ("ssl_ciphers", "cipher_suites", s.tls12.is_some() && block.cipher_suites.is_some()),
        (
            "ssl_ciphers",
            "security_level (write @SECLEVEL=N in ssl_ciphers)",
            s.tls12.is_some() && block.security_level.is_some(),
        ),
        (
            "ssl_conf_command Ciphersuites",
            "tls13_cipher_suites",
            s.tls13.is_some() && block.tls13_cipher_suites.is_some(),
        ),
        ("ssl_ecdh_curve", "groups", s.groups.is_some() && block.groups.is_some()),
        ("ssl_session_tickets", "session_tickets", s.tickets.is_some() && block.session_tickets.is_some()),
    ];
    if let Some((directive, key, _)) = twice.iter().find(|t| t.2) {
        return Err(format!("{directive} in `nginx` and {key} in the block say the same thing twice; keep one"));
    }
    if block.versions.is_none() {
        s.versions = s.versions.or(Some(NGINX_VERSIONS.to_vec()));
    }
    if block.cipher_suites.is_none() {
        s.tls12 = s.tls12.or(Some(NGINX_CIPHERS.into()));
    }
    let tickets = s.tickets;
    block.untranslated = s.lossy.first().map(|d| {
        format!(
            "server.nginx: `{d}` has no scenario setting (the server's own suite order), so only nginx runs these \
             lines as written"
        )
    });
    let imported = server_block(s, &mut notes).map_err(|e| e.to_string())?;
    block.versions = block.versions.take().or(imported.versions);
    block.cipher_suites = block.cipher_suites.take().or(imported.cipher_suites);
    block.tls13_cipher_suites = block.tls13_cipher_suites.take().or(imported.tls13_cipher_suites);
    block.groups = block.groups.take().or(imported.groups);
    block.security_level = block.security_level.or(imported.security_level);
    block.session_tickets = block.session_tickets.or(tickets);
    Ok(())
}

/// Reads every input into the two sides' settings.
fn read(inputs: &[String]) -> Result<Read, ImportError> {
    let (mut server, mut client) = (Settings::default(), Settings::default());
    let (mut notes, mut nginx, mut other) = (Vec::new(), Vec::new(), Vec::new());
    let split: Vec<String> = inputs
        .iter()
        .flat_map(|raw| {
            let t = raw.trim();
            if t.starts_with("mozilla:") || t.starts_with("jdk.tls.") { vec![t.to_string()] } else { directives(t) }
        })
        .collect();
    for raw in &split {
        let input = raw.trim().trim_end_matches(';').trim();
        let is_nginx = input.split_whitespace().next().is_some_and(|d| NGINX_DIRECTIVES.contains(&d));
        if is_nginx { &mut nginx } else { &mut other }.push(input.to_string());
        let bad = |what, word: &str, expected| ImportError::BadWord {
            input: input.to_string(),
            what,
            word: word.to_string(),
            expected,
        };
        if let Some(name) = input.strip_prefix("mozilla:") {
            let p = profile(name).ok_or_else(|| bad("Mozilla profile", name, "modern, intermediate or old"))?;
            server.versions = Some(p.versions.to_vec());
            server.tls12 = p.ciphers.map(String::from);
            server.groups = Some(["X25519", "prime256v1", "secp384r1"].iter().filter_map(|g| group(g)).collect());
            notes.push(format!("Mozilla Server Side TLS 5.7, {name}: oldest clients {}", p.oldest));
            if name == "old" {
                notes.push(
                    "the old profile sets the server's own suite order (ssl_prefer_server_ciphers on), which has no \
                     scenario setting: a backend here picks by its own rule, so a suite may differ from the real \
                     server's pick"
                        .into(),
                );
            }
            if p.versions.contains(&ProtocolVersion::Tls10) {
                server.security_level = Some(0);
                notes.push(
                    "security_level 0: OpenSSL 3 allows TLS 1.0 and 1.1 (and SHA-1 signatures) only at level 0, as \
                     the profile's own note on modern OpenSSL says"
                        .into(),
                );
            }
            continue;
        }
        if let Some((key, value)) = input.split_once('=').filter(|(k, _)| k.trim().starts_with("jdk.tls.")) {
            let (key, value) = (key.trim(), value.trim());
            match key {
                "jdk.tls.client.protocols" | "jdk.tls.server.protocols" => {
                    let mut set = std::collections::BTreeSet::new();
                    for w in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                        set.extend(version(w).ok_or_else(|| bad("protocol", w, "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"))?);
                    }
                    let side = if key.contains("client") { &mut client } else { &mut server };
                    side.versions = Some(range(input, set)?);
                }
                _ => {
                    // jdk.tls.disabledAlgorithms and the other security properties go to both sides' JVMs verbatim.
                    client.java.insert(key.to_string(), value.to_string());
                    server.java.insert(key.to_string(), value.to_string());
                }
            }
            continue;
        }
        let mut words = input.split_whitespace();
        let directive = words.next().unwrap_or_default().to_ascii_lowercase();
        let rest: Vec<&str> = words.map(unquote).collect();
        let joined = rest.join(" ");
        match directive.as_str() {
            "ssl_protocols" => {
                let mut set = std::collections::BTreeSet::new();
                for w in &rest {
                    match version(w).ok_or_else(|| bad("protocol", w, "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, SSLv3"))? {
                        Some(v) => {
                            set.insert(v);
                        }
                        None => notes.push(format!("{w} dropped: no backend here speaks it")),
                    }
                }
                server.versions = Some(range(input, set)?);
            }
            "sslprotocol" => {
                // Apache: `all` is every version its OpenSSL has, then +X / -X in order.
                let mut set = std::collections::BTreeSet::new();
                for w in &rest {
                    if w.eq_ignore_ascii_case("all") || w.eq_ignore_ascii_case("+all") {
                        set.extend(ProtocolVersion::ALL);
                        continue;
                    }
                    let v = version(w).ok_or_else(|| bad("protocol", w, "all, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"))?;
                    match (v, w.starts_with('-')) {
                        (Some(v), true) => {
                            set.remove(&v);
                        }
                        (Some(v), false) => {
                            set.insert(v);
                        }
                        (None, _) => {}
                    }
                }
                server.versions = Some(range(input, set)?);
            }
            "ssl_ciphers" | "ssl-default-bind-ciphers" | "ssl-default-server-ciphers" => server.tls12 = Some(joined),
            "sslciphersuite" => match rest.as_slice() {
                // Apache 2.4.36+: `SSLCipherSuite TLSv1.3 TLS_AES_...` sets the TLS 1.3 suites.
                [first, more @ ..] if first.eq_ignore_ascii_case("TLSv1.3") => server.tls13 = Some(more.join(" ")),
                [first, more @ ..] if first.eq_ignore_ascii_case("SSL") => server.tls12 = Some(more.join(" ")),
                _ => server.tls12 = Some(joined),
            },
            "ssl-default-bind-ciphersuites" | "ssl-default-server-ciphersuites" => server.tls13 = Some(joined),
            "ssl_conf_command" | "sslopensslconfcmd" => match rest.as_slice() {
                [cmd, value] if cmd.eq_ignore_ascii_case("Ciphersuites") => server.tls13 = Some(value.to_string()),
                [cmd, value] if cmd.eq_ignore_ascii_case("Curves") || cmd.eq_ignore_ascii_case("Groups") => {
                    server.groups = Some(groups(input, value)?);
                }
                _ => return Err(ImportError::Unknown(input.to_string())),
            },
            "ssl_ecdh_curve" => {
                if joined.eq_ignore_ascii_case("auto") {
                    server.groups = None;
                } else {
                    server.groups = Some(groups(input, &joined)?);
                }
            }
            "ssl-default-bind-options" | "ssl-min-ver" | "ssl-max-ver" => {
                // haproxy: `ssl-min-ver TLSv1.2`, `ssl-max-ver TLSv1.3`, `no-tlsv10`..., on their own or as options.
                let mut set: std::collections::BTreeSet<ProtocolVersion> =
                    server.versions.clone().unwrap_or_else(|| ProtocolVersion::ALL.to_vec()).into_iter().collect();
                let mut words: Vec<&str> = rest.clone();
                if directive != "ssl-default-bind-options" {
                    words.insert(0, directive.as_str());
                }
                let mut it = words.into_iter();
                while let Some(w) = it.next() {
                    let w = w.to_ascii_lowercase();
                    let mut bound =
                        |keep: &dyn Fn(ProtocolVersion, ProtocolVersion) -> bool| -> Result<(), ImportError> {
                            let word = it.next().unwrap_or_default();
                            let v = version(word)
                                .flatten()
                                .ok_or_else(|| bad("protocol", word, "TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3"))?;
                            set.retain(|x| keep(*x, v));
                            Ok(())
                        };
                    match w.as_str() {
                        "ssl-min-ver" => bound(&|x, v| x >= v)?,
                        "ssl-max-ver" => bound(&|x, v| x <= v)?,
                        "no-tlsv10" => drop(set.remove(&ProtocolVersion::Tls10)),
                        "no-tlsv11" => drop(set.remove(&ProtocolVersion::Tls11)),
                        "no-tlsv12" => drop(set.remove(&ProtocolVersion::Tls12)),
                        "no-tlsv13" => drop(set.remove(&ProtocolVersion::Tls13)),
                        other => notes.push(format!("haproxy option {other} has no scenario setting; left out")),
                    }
                }
                server.versions = Some(range(input, set)?);
            }
            "ssl_session_tickets" => match joined.to_ascii_lowercase().as_str() {
                "on" => server.tickets = Some(true),
                "off" => server.tickets = Some(false),
                _ => return Err(bad("ssl_session_tickets value", &joined, "on or off")),
            },
            "ssl_prefer_server_ciphers" | "sslhonorcipherorder" => {
                notes.push(format!(
                    "`{input}`: the server's own suite order is each backend's behaviour here (no scenario setting)"
                ));
                // `off` is nginx's and Apache's default: OpenSSL's client order, as the linked-in OpenSSL plays it.
                if joined.eq_ignore_ascii_case("on") {
                    server.lossy.push(input.to_string());
                }
            }
            _ => return Err(ImportError::Unknown(input.to_string())),
        }
    }
    Ok(Read { server, client, notes, nginx, other })
}

/// The nginx directives the import reads.
const NGINX_DIRECTIVES: &[&str] = &[
    "ssl_protocols",
    "ssl_ciphers",
    "ssl_ecdh_curve",
    "ssl_conf_command",
    "ssl_prefer_server_ciphers",
    "ssl_session_tickets",
];

fn groups(input: &str, list: &str) -> Result<Vec<Group>, ImportError> {
    list.split(':')
        .map(|g| {
            group(g).ok_or_else(|| ImportError::BadWord {
                input: input.to_string(),
                what: "group",
                word: g.to_string(),
                expected: "X25519, X448, prime256v1 / P-256, secp384r1 / P-384, secp521r1 / P-521, ffdhe2048...",
            })
        })
        .collect()
}

/// The server block, with the cipher strings expanded by OpenSSL and a certificate whose key the suites can use.
fn server_block(s: Settings, notes: &mut Vec<String>) -> Result<ServerConfig, ImportError> {
    let (mut tls12, mut tls13, mut level) = (None, None, s.security_level);
    if s.tls12.is_some() || s.tls13.is_some() {
        let (a, b) = (s.tls12.as_deref(), s.tls13.as_deref());
        let input = [a, b].into_iter().flatten().collect::<Vec<_>>().join(" / ");
        let e = crate::cipherstring::expand_cipher_strings(a, b).map_err(|why| ImportError::Ciphers { input, why })?;
        // A name this OpenSSL does not know is skipped by it, as by the real server: say which.
        for token in a.iter().flat_map(|t| t.split([':', ',', ' '])) {
            let plain = !token.is_empty() && !token.starts_with(['!', '-', '+', '@']);
            if plain && crate::cipherstring::expand_cipher_strings(Some(token), None).is_err() {
                notes.push(format!(
                    "`{token}` selects nothing in this OpenSSL ({}), which skips it as the server would",
                    ::openssl::version::version()
                ));
            }
        }
        (tls12, tls13) = (a.map(|_| e.tls12), b.map(|_| e.tls13));
        level = e.security_level.or(level);
    }
    let legacy =
        s.versions.as_ref().is_some_and(|v| v.contains(&ProtocolVersion::Tls10) || v.contains(&ProtocolVersion::Tls11));
    if legacy && level.is_none() {
        notes.push(
            "TLS 1.0/1.1 enabled: with OpenSSL 3 a server serves them only at security level 0 (`@SECLEVEL=0` in \
             its cipher string); add `security_level: 0` if the real config has it"
                .into(),
        );
    }
    let certificate = certificate_for(tls12.as_deref(), notes);
    Ok(ServerConfig {
        versions: s.versions,
        cipher_suites: tls12,
        tls13_cipher_suites: tls13,
        groups: s.groups,
        security_level: level,
        session_tickets: s.tickets,
        certificate: FixtureName(certificate.into()),
        java_security: s.java,
        ..ServerConfig::default()
    })
}

/// server-ec for suites that authenticate with ECDSA (or any), server-rsa when they all need an RSA key.
fn certificate_for(suites: Option<&[CipherSuite]>, notes: &mut Vec<String>) -> &'static str {
    let Some(suites) = suites.filter(|s| !s.is_empty()) else { return "server-ec" };
    let name = |s: &CipherSuite| s.to_string();
    let ecdsa = suites.iter().any(|s| name(s).contains("_ECDSA_"));
    let rsa = suites.iter().any(|s| !name(s).contains("_ECDSA_"));
    match (ecdsa, rsa) {
        (true, false) => "server-ec",
        (false, _) => "server-rsa",
        (true, true) => {
            notes.push(
                "the suites take ECDSA and RSA keys: the certificate (server-ec) decides which half a TLS 1.2 \
                 client can use; set `certificate: server-rsa` to try the other"
                    .into(),
            );
            "server-ec"
        }
    }
}

fn client_block(c: Settings) -> ClientConfig {
    ClientConfig {
        versions: c.versions,
        trust: vec![FixtureName("root-a".into())],
        server_name: Some("localhost".into()),
        java_security: c.java,
        ..ClientConfig::default()
    }
}

/// The scenario file: a description naming the inputs, the notes as comments, both blocks, and an expectation to
/// edit (`compat` and `impact` do not read it).
pub fn scenario_yaml(inputs: &[String], imported: &Imported) -> String {
    #[derive(serde::Serialize)]
    struct File<'a> {
        description: String,
        server: &'a ServerConfig,
        client: &'a ClientConfig,
        expect: serde_yaml::Value,
    }
    let file = File {
        description: format!("Imported by `tlsmatrix import` from: {}", inputs.join(" | ")),
        server: &imported.server,
        client: &imported.client,
        expect: serde_yaml::from_str("{ result: success }").unwrap_or_default(),
    };
    let mut out = String::from("# yaml-language-server: $schema=../../docs/scenario.schema.json\n");
    for n in &imported.notes {
        out.push_str(&format!("# {n}\n"));
    }
    out.push_str("# `expect` is for `tlsmatrix run`: state what you expect; `compat` and `impact` do not read it.\n");
    out.push_str(&serde_yaml::to_string(&file).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &Option<Vec<CipherSuite>>) -> Vec<String> {
        v.iter().flatten().map(|s| s.to_string()).collect()
    }

    fn import_all(inputs: &[&str]) -> Result<Imported, ImportError> {
        import(&inputs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_mozilla_profiles_expand_through_openssl_to_their_published_suites() {
        let i = import_all(&["mozilla:intermediate"]).unwrap();
        assert_eq!(i.server.versions, Some(vec![ProtocolVersion::Tls12, ProtocolVersion::Tls13]));
        assert_eq!(
            names(&i.server.cipher_suites),
            [
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ]
        );
        assert_eq!(i.server.groups.as_ref().map(Vec::len), Some(3));
        assert!(i.notes.iter().any(|n| n.contains("Java 8u31")), "{:?}", i.notes);
        let modern = import_all(&["mozilla:modern"]).unwrap();
        assert_eq!(modern.server.versions, Some(vec![ProtocolVersion::Tls13]));
        assert_eq!(modern.server.cipher_suites, None, "TLS 1.3 only: the library's TLS 1.3 suites");
        let old = import_all(&["mozilla:old"]).unwrap();
        assert_eq!(old.server.versions.as_ref().map(Vec::len), Some(4));
        assert_eq!(old.server.security_level, Some(0));
        // The old list names 26 suites; OpenSSL 3.0 as built here has no 3DES (DES-CBC3-SHA), skips it as the
        // server would, and the import says so.
        let old_suites = names(&old.server.cipher_suites);
        assert_eq!(old_suites.len(), 25, "{old_suites:?}");
        assert_eq!(old_suites.last().map(String::as_str), Some("TLS_RSA_WITH_AES_256_CBC_SHA"));
        assert!(old.notes.iter().any(|n| n.starts_with("`DES-CBC3-SHA` selects nothing")), "{:?}", old.notes);
    }

    #[test]
    fn nginx_apache_haproxy_and_java_lines_become_one_scenario() {
        let i = import_all(&[
            "ssl_protocols TLSv1.2;",
            "ssl_ciphers ECDHE-ECDSA-AES128-SHA;",
            "ssl_ecdh_curve X25519:prime256v1;",
            "jdk.tls.client.protocols=TLSv1.2",
            "jdk.tls.disabledAlgorithms=SSLv3, RC4",
        ])
        .unwrap();
        assert_eq!(i.server.versions, Some(vec![ProtocolVersion::Tls12]));
        assert_eq!(names(&i.server.cipher_suites), ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"]);
        assert_eq!(i.server.certificate.0, "server-ec", "an ECDSA suite needs the EC certificate");
        assert_eq!(
            i.server.groups.iter().flatten().map(|g| g.to_string()).collect::<Vec<_>>(),
            ["x25519", "secp256r1"]
        );
        assert_eq!(i.client.versions, Some(vec![ProtocolVersion::Tls12]));
        assert_eq!(i.client.java_security.get("jdk.tls.disabledAlgorithms").map(String::as_str), Some("SSLv3, RC4"));

        let apache =
            import_all(&["SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1", "SSLCipherSuite ECDHE-RSA-AES256-GCM-SHA384"]);
        let apache = apache.unwrap();
        assert_eq!(apache.server.versions, Some(vec![ProtocolVersion::Tls12, ProtocolVersion::Tls13]));
        assert_eq!(apache.server.certificate.0, "server-rsa", "an RSA suite needs the RSA certificate");

        let haproxy = import_all(&["ssl-default-bind-options ssl-min-ver TLSv1.1 ssl-max-ver TLSv1.2 no-tls-tickets"]);
        let haproxy = haproxy.unwrap();
        assert_eq!(haproxy.server.versions, Some(vec![ProtocolVersion::Tls11, ProtocolVersion::Tls12]));
        assert!(haproxy.notes.iter().any(|n| n.contains("no-tls-tickets")));
        assert!(haproxy.notes.iter().any(|n| n.contains("security level 0")), "TLS 1.1 needs level 0 with OpenSSL 3");

        let level = import_all(&["ssl_ciphers DEFAULT:@SECLEVEL=0"]).unwrap();
        assert_eq!(level.server.security_level, Some(0), "OpenSSL applies @SECLEVEL from the cipher string");
    }

    #[test]
    fn bad_lines_name_the_input_and_what_was_expected() {
        let err = |inputs: &[&str]| import_all(inputs).unwrap_err().to_string();
        assert!(err(&["listen 443 ssl"]).starts_with("`listen 443 ssl`: not a directive"));
        assert!(err(&["ssl_ciphers NOSUCHCIPHER"]).contains("OpenSSL selects no cipher suite for `NOSUCHCIPHER`"));
        assert!(err(&["ssl_protocols TLSv1 TLSv1.3"]).contains("not one contiguous range"));
        assert!(err(&["ssl_protocols TLSv9"]).contains("unknown protocol `TLSv9`"));
        assert!(err(&["ssl_ecdh_curve brainpoolP256r1"]).contains("unknown group `brainpoolP256r1`"));
        assert!(err(&["mozilla:ancient"]).contains("unknown Mozilla profile `ancient`"));
    }
}
