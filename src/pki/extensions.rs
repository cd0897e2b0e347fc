//! The extra extensions a certificate entry can ask for (`extensions:`), built for OpenSSL.

use openssl::nid::Nid;

use super::ExtensionSpec;

/// One extra extension, built: raw from its OID and DER, or a typed one through OpenSSL's own configuration syntax
/// (the openssl crate has no builders for these).
pub(super) fn extension(e: &ExtensionSpec) -> Result<openssl::x509::X509Extension, String> {
    use openssl::asn1::{Asn1Object, Asn1OctetString};
    let kinds = [
        e.oid.is_some() || e.der.is_some(),
        e.policies.is_some(),
        e.aia.is_some(),
        e.crl_distribution_points.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err("expected exactly one of `oid` with `der`, `policies`, `aia`, `crl_distribution_points`".into());
    }
    let critical = if e.critical { "critical," } else { "" };
    let by_config = |nid: Nid, value: String| {
        #[allow(deprecated)]
        openssl::x509::X509Extension::new_nid(None, None, nid, &format!("{critical}{value}"))
            .map_err(|err| format!("OpenSSL refused `{value}`: {err}"))
    };
    let urls = |what: &str, list: &[String]| -> Result<(), String> {
        match list.iter().find(|u| u.is_empty() || !u.is_ascii() || u.contains([',', ' '])) {
            Some(u) => Err(format!("{what} `{u}`: expected a URL without spaces or commas")),
            None => Ok(()),
        }
    };
    if let Some(policies) = &e.policies {
        if policies.is_empty() || policies.iter().any(|p| !is_dotted_oid(p)) {
            return Err("policies: expected one or more dotted OIDs (2.23.140.1.2.1)".into());
        }
        // OpenSSL's config syntax for policies needs a config database (its r2i method), so the DER is written here:
        // certificatePolicies ::= SEQUENCE OF SEQUENCE { policyIdentifier OBJECT IDENTIFIER }.
        let infos: Vec<u8> = policies.iter().flat_map(|p| der_tlv(0x30, &der_tlv(0x06, &der_oid(p)))).collect();
        let value = Asn1OctetString::new_from_bytes(&der_tlv(0x30, &infos)).map_err(|err| err.to_string())?;
        let obj = Asn1Object::from_str("2.5.29.32").map_err(|err| err.to_string())?;
        return openssl::x509::X509Extension::new_from_der(&obj, e.critical, &value).map_err(|err| err.to_string());
    }
    if let Some(aia) = &e.aia {
        urls("aia", &aia.ocsp)?;
        urls("aia", &aia.ca_issuers)?;
        let entries: Vec<String> = (aia.ocsp.iter().map(|u| format!("OCSP;URI:{u}")))
            .chain(aia.ca_issuers.iter().map(|u| format!("caIssuers;URI:{u}")))
            .collect();
        if entries.is_empty() {
            return Err("aia: expected `ocsp` or `ca_issuers` URLs".into());
        }
        return by_config(Nid::INFO_ACCESS, entries.join(","));
    }
    if let Some(crl) = &e.crl_distribution_points {
        urls("crl_distribution_points", crl)?;
        if crl.is_empty() {
            return Err("crl_distribution_points: expected one or more URLs".into());
        }
        return by_config(
            Nid::CRL_DISTRIBUTION_POINTS,
            crl.iter().map(|u| format!("URI:{u}")).collect::<Vec<_>>().join(","),
        );
    }
    let (Some(oid), Some(der)) = (&e.oid, &e.der) else {
        return Err("expected both `oid` and `der` for a raw extension".into());
    };
    if !is_dotted_oid(oid) {
        return Err(format!(
            "oid `{}`: expected a dotted OID (1.3.6.1.4.1.55555.1)",
            oid.chars().take(64).collect::<String>()
        ));
    }
    let bytes = hex(der).ok_or_else(|| "der: expected hex bytes (`0500`), an even number of digits".to_string())?;
    let obj = Asn1Object::from_str(oid).map_err(|err| format!("oid `{oid}`: OpenSSL refused it: {err}"))?;
    let value = Asn1OctetString::new_from_bytes(&bytes).map_err(|err| format!("der: {err}"))?;
    openssl::x509::X509Extension::new_from_der(&obj, e.critical, &value).map_err(|err| format!("oid `{oid}`: {err}"))
}

/// A DER tag-length-value.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The content octets of an OBJECT IDENTIFIER (X.690 8.19) for a dotted OID already checked by [`is_dotted_oid`]
/// (arcs that do not fit 64 bits were refused there).
fn der_oid(oid: &str) -> Vec<u8> {
    let arcs: Vec<u64> = oid.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut out = Vec::new();
    let first = arcs[0].saturating_mul(40).saturating_add(arcs[1]);
    for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        out.extend(groups.into_iter().rev());
    }
    out
}

/// `1.2.840.113549`: at least two arcs, digits only, each within 64 bits, the first 0-2 (X.660).
fn is_dotted_oid(s: &str) -> bool {
    let arcs: Vec<Option<u64>> =
        s.split('.').map(|a| a.bytes().all(|b| b.is_ascii_digit()).then(|| a.parse().ok()).flatten()).collect();
    s.len() <= 128
        && arcs.len() >= 2
        && arcs.iter().all(Option::is_some)
        && arcs[0].is_some_and(|a| a <= 2)
        && (arcs[0] == Some(2) || arcs[1].is_some_and(|b| b < 40))
}

/// Hex digits (spaces and colons allowed between bytes) into bytes.
fn hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !matches!(b, b' ' | b':')).collect();
    if digits.is_empty() || digits.len() % 2 != 0 || digits.len() > 8192 {
        return None;
    }
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok()).collect()
}
