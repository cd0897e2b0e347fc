//! GnuTLS priority strings: what the scenario's versions, groups and suite lists become, and which suite lists a
//! priority string cannot express.

use crate::backend::ConfigError;
use crate::scenario::{ServerConfig, SideConfig};
use crate::vocab::{CipherSuite, ProtocolVersion};

/// GnuTLS's group names in priority strings, by IANA group.
pub(super) const GROUPS: &[(u16, &str)] = &[
    (0x0017, "GROUP-SECP256R1"),
    (0x0018, "GROUP-SECP384R1"),
    (0x0019, "GROUP-SECP521R1"),
    (0x001d, "GROUP-X25519"),
    (0x001e, "GROUP-X448"),
    (0x0100, "GROUP-FFDHE2048"),
    (0x0101, "GROUP-FFDHE3072"),
    (0x0102, "GROUP-FFDHE4096"),
    (0x0103, "GROUP-FFDHE6144"),
    (0x0104, "GROUP-FFDHE8192"),
];

/// The TLS 1.2-and-earlier suites gnutls-serv can enable, as the priority-string items that make them up: key
/// exchange, cipher, MAC (from `gnutls-cli --list`; DSS, PSK, SRP, anonymous and Camellia suites left out). GnuTLS
/// enables every known combination of the items listed, so a suite list is expressible only when it is such a product.
pub(super) const SUITES_12: &[(u16, &str, &str, &str)] = &[
    (0xc02b, "ECDHE-ECDSA", "AES-128-GCM", "AEAD"),
    (0xc02c, "ECDHE-ECDSA", "AES-256-GCM", "AEAD"),
    (0xcca9, "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc0ac, "ECDHE-ECDSA", "AES-128-CCM", "AEAD"),
    (0xc0ad, "ECDHE-ECDSA", "AES-256-CCM", "AEAD"),
    (0xc0ae, "ECDHE-ECDSA", "AES-128-CCM-8", "AEAD"),
    (0xc0af, "ECDHE-ECDSA", "AES-256-CCM-8", "AEAD"),
    (0xc009, "ECDHE-ECDSA", "AES-128-CBC", "SHA1"),
    (0xc00a, "ECDHE-ECDSA", "AES-256-CBC", "SHA1"),
    (0xc023, "ECDHE-ECDSA", "AES-128-CBC", "SHA256"),
    (0xc024, "ECDHE-ECDSA", "AES-256-CBC", "SHA384"),
    (0xc008, "ECDHE-ECDSA", "3DES-CBC", "SHA1"),
    (0xc02f, "ECDHE-RSA", "AES-128-GCM", "AEAD"),
    (0xc030, "ECDHE-RSA", "AES-256-GCM", "AEAD"),
    (0xcca8, "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc013, "ECDHE-RSA", "AES-128-CBC", "SHA1"),
    (0xc014, "ECDHE-RSA", "AES-256-CBC", "SHA1"),
    (0xc027, "ECDHE-RSA", "AES-128-CBC", "SHA256"),
    (0xc028, "ECDHE-RSA", "AES-256-CBC", "SHA384"),
    (0xc012, "ECDHE-RSA", "3DES-CBC", "SHA1"),
    (0x009e, "DHE-RSA", "AES-128-GCM", "AEAD"),
    (0x009f, "DHE-RSA", "AES-256-GCM", "AEAD"),
    (0xccaa, "DHE-RSA", "CHACHA20-POLY1305", "AEAD"),
    (0xc09e, "DHE-RSA", "AES-128-CCM", "AEAD"),
    (0xc09f, "DHE-RSA", "AES-256-CCM", "AEAD"),
    (0xc0a2, "DHE-RSA", "AES-128-CCM-8", "AEAD"),
    (0xc0a3, "DHE-RSA", "AES-256-CCM-8", "AEAD"),
    (0x0033, "DHE-RSA", "AES-128-CBC", "SHA1"),
    (0x0039, "DHE-RSA", "AES-256-CBC", "SHA1"),
    (0x0067, "DHE-RSA", "AES-128-CBC", "SHA256"),
    (0x006b, "DHE-RSA", "AES-256-CBC", "SHA256"),
    (0x0016, "DHE-RSA", "3DES-CBC", "SHA1"),
    (0x009c, "RSA", "AES-128-GCM", "AEAD"),
    (0x009d, "RSA", "AES-256-GCM", "AEAD"),
    (0xc09c, "RSA", "AES-128-CCM", "AEAD"),
    (0xc09d, "RSA", "AES-256-CCM", "AEAD"),
    (0xc0a0, "RSA", "AES-128-CCM-8", "AEAD"),
    (0xc0a1, "RSA", "AES-256-CCM-8", "AEAD"),
    (0x002f, "RSA", "AES-128-CBC", "SHA1"),
    (0x0035, "RSA", "AES-256-CBC", "SHA1"),
    (0x003c, "RSA", "AES-128-CBC", "SHA256"),
    (0x003d, "RSA", "AES-256-CBC", "SHA256"),
    (0x000a, "RSA", "3DES-CBC", "SHA1"),
];

/// The TLS 1.3 suites and the cipher item each needs. The cipher items are shared with TLS 1.2.
pub(super) const SUITES_13: &[(u16, &str)] = &[
    (0x1301, "AES-128-GCM"),
    (0x1302, "AES-256-GCM"),
    (0x1303, "CHACHA20-POLY1305"),
    (0x1304, "AES-128-CCM"),
    (0x1305, "AES-128-CCM-8"),
];

/// What `NORMAL` enables on GnuTLS 3.7 (`gnutls-cli --list --priority NORMAL`): the default the scenario's unset
/// lists stand for.
pub(super) const NORMAL_KX: &[&str] = &["ECDHE-ECDSA", "ECDHE-RSA", "RSA", "DHE-RSA"];
pub(super) const NORMAL_CIPHERS: &[&str] =
    &["AES-256-GCM", "CHACHA20-POLY1305", "AES-256-CCM", "AES-256-CBC", "AES-128-GCM", "AES-128-CCM", "AES-128-CBC"];
pub(super) const NORMAL_MACS: &[&str] = &["SHA1", "AEAD"];

/// The priority string for a side: NORMAL, narrowed by the scenario's versions and groups.
pub(super) fn priority<C: SideConfig>(cfg: &C) -> Option<String> {
    let mut p = String::from("NORMAL");
    if let Some(v) = cfg.versions() {
        p.push_str(":-VERS-ALL");
        for v in v {
            p.push_str(match v {
                ProtocolVersion::Tls10 => ":+VERS-TLS1.0",
                ProtocolVersion::Tls11 => ":+VERS-TLS1.1",
                ProtocolVersion::Tls12 => ":+VERS-TLS1.2",
                ProtocolVersion::Tls13 => ":+VERS-TLS1.3",
            });
        }
    }
    if let Some(g) = cfg.groups() {
        p.push_str(":-GROUP-ALL");
        for g in g {
            if let Some((_, name)) = GROUPS.iter().find(|(c, _)| *c == g.0) {
                p.push_str(&format!(":+{name}"));
            }
        }
    }
    (p != "NORMAL").then_some(p)
}

/// Pushes `item` unless already there (priority items keep the scenario's order).
fn add<'a>(list: &mut Vec<&'a str>, item: &'a str) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The priority items for the server's suite lists, `Ok(None)` when it sets none. GnuTLS has one set of key
/// exchange, cipher and MAC items for every version and enables each known combination of them, so the lists are
/// expressed only when what GnuTLS would enable is exactly what they say (for the versions enabled); otherwise the
/// error says which suites would come along.
pub(super) fn suite_items(cfg: &ServerConfig) -> Result<Option<String>, ConfigError> {
    let versions = cfg.versions().unwrap_or(&ProtocolVersion::ALL);
    let tls12 = versions.iter().any(|v| *v != ProtocolVersion::Tls13);
    let tls13 = versions.contains(&ProtocolVersion::Tls13);
    let list12 = cfg.cipher_suites().filter(|_| tls12);
    let list13 = cfg.tls13_cipher_suites().filter(|_| tls13);
    if list12.is_none() && list13.is_none() {
        return Ok(None);
    }
    let (mut kx, mut ciphers, mut macs) = (Vec::new(), Vec::new(), Vec::new());
    match list12 {
        Some(list) => {
            for s in list {
                let Some(&(_, k, c, m)) = SUITES_12.iter().find(|t| t.0 == s.0) else {
                    return Err(ConfigError::unsupported(format!("{s} has no GnuTLS priority items")));
                };
                add(&mut kx, k);
                add(&mut ciphers, c);
                add(&mut macs, m);
            }
        }
        None if tls12 => {
            kx.extend(NORMAL_KX);
            NORMAL_CIPHERS.iter().for_each(|c| add(&mut ciphers, c));
            macs.extend(NORMAL_MACS);
        }
        None => {}
    }
    match list13 {
        Some(list) => {
            for s in list {
                let Some(&(_, c)) = SUITES_13.iter().find(|t| t.0 == s.0) else {
                    return Err(ConfigError::unsupported(format!("{s} has no GnuTLS priority item")));
                };
                add(&mut ciphers, c);
            }
        }
        None if tls13 => {
            SUITES_13.iter().filter(|t| NORMAL_CIPHERS.contains(&t.1)).for_each(|t| add(&mut ciphers, t.1))
        }
        None => {}
    }
    // Without a TLS 1.2 list the key exchange and MAC items stay NORMAL's (TLS 1.3 needs its AEAD one).
    let keep_kx_and_macs = list12.is_none();
    if keep_kx_and_macs {
        kx = NORMAL_KX.to_vec();
        macs = NORMAL_MACS.to_vec();
    } else if tls13 {
        add(&mut macs, "AEAD");
    }
    // What GnuTLS enables with these items, against what the scenario asks for.
    let mut extra: Vec<CipherSuite> = Vec::new();
    let mut missing: Vec<CipherSuite> = Vec::new();
    if tls12 {
        let enabled = SUITES_12
            .iter()
            .filter(|t| kx.contains(&t.1) && ciphers.contains(&t.2) && macs.contains(&t.3))
            .map(|t| CipherSuite(t.0));
        let wanted: Vec<CipherSuite> = match list12 {
            Some(l) => l.to_vec(),
            None => SUITES_12
                .iter()
                .filter(|t| NORMAL_KX.contains(&t.1) && NORMAL_CIPHERS.contains(&t.2) && NORMAL_MACS.contains(&t.3))
                .map(|t| CipherSuite(t.0))
                .collect(),
        };
        let enabled: Vec<CipherSuite> = enabled.collect();
        extra.extend(enabled.iter().filter(|s| !wanted.contains(s)));
        missing.extend(wanted.iter().filter(|s| !enabled.contains(s)));
    }
    if tls13 {
        let enabled: Vec<CipherSuite> =
            SUITES_13.iter().filter(|t| ciphers.contains(&t.1)).map(|t| CipherSuite(t.0)).collect();
        let wanted: Vec<CipherSuite> = match list13 {
            Some(l) => l.to_vec(),
            None => SUITES_13.iter().filter(|t| NORMAL_CIPHERS.contains(&t.1)).map(|t| CipherSuite(t.0)).collect(),
        };
        extra.extend(enabled.iter().filter(|s| !wanted.contains(s)));
        missing.extend(wanted.iter().filter(|s| !enabled.contains(s)));
    }
    if !extra.is_empty() || !missing.is_empty() {
        let names = |v: &[CipherSuite]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        return Err(ConfigError::unsupported(format!(
            "the suite lists cannot be expressed as a GnuTLS priority string: its key exchange, cipher and MAC items \
             apply to every version enabled and combine freely, so it would also enable [{}] and miss [{}]",
            names(&extra),
            names(&missing)
        )));
    }
    let mut p = String::new();
    let mut items = |all: &str, list: &[&str]| {
        p.push_str(&format!(":-{all}-ALL"));
        list.iter().for_each(|item| p.push_str(&format!(":+{item}")));
    };
    if !keep_kx_and_macs {
        items("KX", &kx);
    }
    items("CIPHER", &ciphers);
    if !keep_kx_and_macs {
        items("MAC", &macs);
    }
    Ok(Some(p))
}
