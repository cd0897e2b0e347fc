//! Host names: whether the server's certificate names the host the client verifies, and the name matching helpers.

use std::net::IpAddr;

use openssl::nid::Nid;
use openssl::x509::X509Ref;

use super::{Candidate, Finding, Pair};
use crate::vocab::Alert;

impl Pair<'_> {
    /// The certificate does not name the host the client verifies: its `server_name`, or 127.0.0.1 (checked against
    /// the IP address SANs). A client whose library falls back to the subject CN when there is no DNS SAN
    /// ([`crate::backend::Behaviour::cn_fallback`]: OpenSSL, GnuTLS, Java) matches the CN then; rustls never reads it.
    pub(super) fn hostname_mismatch(&self) -> Option<Candidate> {
        let name = self.served_certificate();
        let cert = &self.pki.get(&name)?.cert;
        let host = self.scenario.client.server_name.as_deref().unwrap_or("127.0.0.1");
        let (dns, ips) = san_names(cert);
        let cn = common_name(cert);
        let matched = match host.parse::<IpAddr>() {
            Ok(ip) => ips.contains(&ip),
            Err(_) if dns.is_empty() && self.client.lib.cn_fallback => {
                cn.as_deref().is_some_and(|cn| dns_matches(cn, host))
            }
            Err(_) => dns.iter().any(|d| dns_matches(d, host)),
        };
        if matched {
            return None;
        }
        let expected = match &self.scenario.client.server_name {
            Some(n) => format!("the client verifies the name {n} (client.server_name)"),
            None => "the client connects to 127.0.0.1 without server_name and verifies the IP address".into(),
        };
        let mut sans: Vec<String> = dns.iter().map(|d| format!("DNS:{d}")).collect();
        sans.extend(ips.iter().map(|ip| format!("IP:{ip}")));
        let sans =
            if sans.is_empty() { "no subjectAltName".into() } else { format!("subjectAltName {}", sans.join(", ")) };
        let cn_text = match &cn {
            Some(cn) if !self.client.lib.cn_fallback => format!("CN {cn}, which {} never checks", self.client.backend),
            Some(cn) if !dns.is_empty() => format!("CN {cn}, ignored because DNS SANs are present"),
            Some(cn) => format!("CN {cn}"),
            None => "no CN".into(),
        };
        let detail = format!("{expected}; the server's certificate {name} has {sans} ({cn_text}).");
        let entry = if host.parse::<IpAddr>().is_ok() { format!("IP:{host}") } else { format!("DNS:{host}") };
        let mut fix = format!("give the server a certificate whose subjectAltName includes {entry}");
        if let Some(other) = self.name_it_covers(&dns, &ips, cn.as_deref()) {
            fix.push_str(&format!(", or {other}"));
        }
        Some(Candidate {
            finding: Finding { cause: "the certificate does not match the host name".into(), detail, fix },
            alerts: &[Alert::BAD_CERTIFICATE, Alert::CERTIFICATE_UNKNOWN],
        })
    }

    /// How this client could reach the server under a name the certificate does cover, if there is one: a plain DNS
    /// SAN, the loopback address when the certificate has that IP SAN, or the CN for a client that falls back to it
    /// when there is no DNS SAN.
    fn name_it_covers(&self, dns: &[String], ips: &[IpAddr], cn: Option<&str>) -> Option<String> {
        let set = |n: &str| format!("connect with a name it covers (client.server_name: {n})");
        let hostlike = |n: &&str| !n.is_empty() && !n.contains([' ', '*']);
        if let Some(d) = dns.iter().find(|d| !d.contains('*')) {
            return Some(set(d));
        }
        if self.scenario.client.server_name.is_some() && ips.contains(&IpAddr::from([127, 0, 0, 1])) {
            return Some("leave client.server_name out, so the client verifies its IP SAN 127.0.0.1".into());
        }
        let cn_fallback = dns.is_empty() && self.client.lib.cn_fallback;
        cn.filter(|_| cn_fallback).filter(hostlike).map(set)
    }
}

/// The subject common name.
pub(super) fn common_name(cert: &X509Ref) -> Option<String> {
    let entry = cert.subject_name().entries_by_nid(Nid::COMMONNAME).next()?;
    entry.data().to_string().ok()
}

/// The DNS names and IP addresses of the subjectAltName extension.
pub(super) fn san_names(cert: &X509Ref) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in cert.subject_alt_names().into_iter().flatten() {
        if let Some(d) = name.dnsname() {
            dns.push(d.to_string());
        }
        match name.ipaddress() {
            Some(&[a, b, c, d]) => ips.push(IpAddr::from([a, b, c, d])),
            Some(bytes) => {
                if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                    ips.push(IpAddr::from(v6));
                }
            }
            None => {}
        }
    }
    (dns, ips)
}

/// RFC 6125 matching: case-insensitive, a `*` only as the whole leftmost label, standing for exactly one label.
pub(super) fn dns_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.trim_end_matches('.').to_ascii_lowercase(), host.trim_end_matches('.').to_ascii_lowercase());
    match p.strip_prefix("*.") {
        Some(rest) => h.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => p == h,
    }
}
