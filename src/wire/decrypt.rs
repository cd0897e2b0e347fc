//! Record decryption from an NSS key log: TLS 1.3 traffic secrets and TLS 1.2 master secrets.
//!
//! The key log is what lets the wire tell us what the libraries do not: which alert the peer really sent inside an
//! encrypted record, whether a Certificate went out. Only AEAD suites are decrypted (every TLS 1.3 suite but the CCM
//! ones, and the TLS 1.2 GCM and ChaCha20-Poly1305 suites); anything else stays opaque and is counted as such.
//! The crypto is OpenSSL's (HMAC and AEAD); the key schedule glue (HKDF-Expand-Label, the TLS 1.2 PRF) is the few
//! lines of RFC 8446 7.1 and RFC 5246 5 written out here.

use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;

use super::record::Record;
use crate::vocab::CipherSuite;

/// The lines of a key log, split but not decoded: a connection needs at most four of them, so only those are.
#[derive(Clone, Debug, Default)]
pub struct Secrets<'a>(Vec<[&'a str; 3]>);

impl<'a> Secrets<'a> {
    /// Splits NSS key log text into `LABEL <client_random hex> <secret hex>` lines; other lines are skipped.
    pub fn parse(text: &'a str) -> Secrets<'a> {
        let lines = text.lines().filter_map(|line| {
            let mut w = line.split_ascii_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some(label), Some(random), Some(secret), None) if random.len() == 64 => Some([label, random, secret]),
                _ => None,
            }
        });
        Secrets(lines.collect())
    }

    /// The secret logged under `label` for the connection whose ClientHello had `client_random` (the last such line,
    /// should a log hold two), if it is well-formed hex.
    pub fn get(&self, label: &str, client_random: &[u8; 32]) -> Option<Vec<u8>> {
        let [_, _, secret] = self.0.iter().rev().find(|[l, r, _]| *l == label && hex_is(r, client_random))?;
        unhex(secret).filter(|s| !s.is_empty())
    }
}

/// Whether `hex` spells `bytes` (either case), without building a string: an analysis looks up a handful of lines.
fn hex_is(hex: &str, bytes: &[u8]) -> bool {
    let nibble = |c: u8| (c as char).to_digit(16);
    hex.len() == 2 * bytes.len()
        && hex.as_bytes().chunks_exact(2).zip(bytes).all(|(p, &b)| match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => h << 4 | l == u32::from(b),
            _ => false,
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 256 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes().chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// The hash of a suite's key schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The record protection algorithms we can undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aead {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
}

impl Aead {
    fn cipher(self) -> &'static CipherRef {
        match self {
            Aead::Aes128Gcm => Cipher::aes_128_gcm(),
            Aead::Aes256Gcm => Cipher::aes_256_gcm(),
            Aead::ChaCha20Poly1305 => Cipher::chacha20_poly1305(),
        }
    }
    fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }
    /// TLS 1.2 implicit IV length: GCM has a 4-byte salt plus an explicit nonce, ChaCha a 12-byte IV (RFC 7905).
    fn tls12_iv_len(self) -> usize {
        match self {
            Aead::Aes128Gcm | Aead::Aes256Gcm => 4,
            Aead::ChaCha20Poly1305 => 12,
        }
    }
}

const TAG: usize = 16;

/// The AEAD and hash of a TLS 1.3 suite, or `None` for the CCM suites (left opaque).
pub fn tls13_suite(suite: u16) -> Option<(Aead, Hash)> {
    match suite {
        0x1301 => Some((Aead::Aes128Gcm, Hash::Sha256)),
        0x1302 => Some((Aead::Aes256Gcm, Hash::Sha384)),
        0x1303 => Some((Aead::ChaCha20Poly1305, Hash::Sha256)),
        _ => None,
    }
}

/// The AEAD and PRF hash of a TLS 1.2 suite, read from its IANA name; `None` for CBC, CCM, NULL and the rest.
pub fn tls12_suite(suite: u16) -> Option<(Aead, Hash)> {
    let name = CipherSuite(suite).name()?;
    let aead = if name.contains("_WITH_AES_128_GCM_") {
        Aead::Aes128Gcm
    } else if name.contains("_WITH_AES_256_GCM_") {
        Aead::Aes256Gcm
    } else if name.contains("_WITH_CHACHA20_POLY1305_") {
        Aead::ChaCha20Poly1305
    } else {
        return None;
    };
    Some((aead, if name.ends_with("_SHA384") { Hash::Sha384 } else { Hash::Sha256 }))
}

/// HMAC (RFC 2104) over the concatenation of `parts`, on OpenSSL's one-shot SHA-2: a keyed EVP_PKEY costs ~50 µs
/// to set up under OpenSSL 3, more than all the rest of an analysis, and the key schedule needs a dozen of them.
fn hmac(hash: Hash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let block = match hash {
        Hash::Sha256 => 64,
        Hash::Sha384 => 128,
    };
    let digest = |chunks: &[&[u8]]| -> Vec<u8> {
        match hash {
            Hash::Sha256 => {
                let mut h = openssl::sha::Sha256::new();
                chunks.iter().for_each(|c| h.update(c));
                h.finish().to_vec()
            }
            Hash::Sha384 => {
                let mut h = openssl::sha::Sha384::new();
                chunks.iter().for_each(|c| h.update(c));
                h.finish().to_vec()
            }
        }
    };
    let mut k = if key.len() > block { digest(&[key]) } else { key.to_vec() };
    k.resize(block, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = digest(&[&[&ipad[..]], parts].concat());
    digest(&[&opad, &inner])
}

/// HKDF-Expand-Label (RFC 8446 7.1) with an empty context, the only form record keys need.
pub fn hkdf_expand_label(hash: Hash, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(full.len()).ok()?);
    info.extend_from_slice(full.as_bytes());
    info.push(0); // empty context
    // HKDF-Expand (RFC 5869 2.3): T(i) = HMAC(PRK, T(i-1) | info | i).
    let mut out = Vec::with_capacity(len);
    let mut t = Vec::new();
    let mut i = 1u8;
    while out.len() < len {
        t = hmac(hash, secret, &[&t, &info, &[i]]);
        out.extend_from_slice(&t);
        i = i.checked_add(1)?;
    }
    out.truncate(len);
    Some(out)
}

/// The TLS 1.2 PRF (RFC 5246 5): P_hash(secret, label | seed).
pub fn prf12(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut a = hmac(hash, secret, &[label, seed]); // A(1)
    while out.len() < len {
        out.extend_from_slice(&hmac(hash, secret, &[&a, label, seed]));
        a = hmac(hash, secret, &[&a]);
    }
    out.truncate(len);
    Some(out)
}

/// How the per-record nonce and additional data are formed.
#[derive(Clone, Debug)]
enum Layout {
    /// TLS 1.3: nonce = iv XOR seq, AAD = record header; keeps the secret and hash for KeyUpdate.
    Tls13 { secret: Vec<u8>, hash: Hash },
    /// TLS 1.2 GCM: nonce = salt | explicit 8 bytes carried in the record.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305: nonce = iv XOR seq.
    Tls12Xor,
}

/// The keys protecting one direction for one epoch, with its sequence number.
#[derive(Debug)]
pub struct RecordKeys {
    aead: Aead,
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
    layout: Layout,
    /// The cipher context, keyed once on first use; each record then only sets its nonce. Keying a context
    /// per record made OpenSSL 3 look the cipher up by name every time: a third of an analysis.
    ctx: Opener,
}

/// A lazily keyed AEAD context (not shared: each direction and epoch has its own).
#[derive(Default)]
struct Opener(Option<CipherCtx>);

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Opener(keyed)" } else { "Opener" })
    }
}

impl Opener {
    /// Opens `ct` (tag `tag`) under `key` and `nonce` with `aad`; `None` when the tag does not verify.
    fn open(&mut self, aead: Aead, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
        let ctx = match &mut self.0 {
            Some(ctx) => ctx,
            None => {
                let mut ctx = CipherCtx::new().ok()?;
                ctx.decrypt_init(Some(aead.cipher()), Some(key), None).ok()?;
                self.0.insert(ctx)
            }
        };
        ctx.decrypt_init(None, None, Some(nonce)).ok()?;
        ctx.cipher_update(aad, None).ok()?;
        let mut out = Vec::with_capacity(ct.len());
        ctx.cipher_update_vec(ct, &mut out).ok()?;
        ctx.set_tag(tag).ok()?;
        ctx.cipher_final_vec(&mut out).ok()?;
        Some(out)
    }
}

/// A decrypted record: its real content type and plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plain {
    /// The content type (TLS 1.3: the inner type).
    pub content_type: u8,
    /// The plaintext, padding removed.
    pub data: Vec<u8>,
}

impl RecordKeys {
    /// TLS 1.3 keys from a traffic secret (RFC 8446 7.3).
    pub fn tls13(suite: u16, secret: &[u8]) -> Option<RecordKeys> {
        let (aead, hash) = tls13_suite(suite)?;
        RecordKeys::tls13_with(aead, hash, secret.to_vec())
    }

    fn tls13_with(aead: Aead, hash: Hash, secret: Vec<u8>) -> Option<RecordKeys> {
        Some(RecordKeys {
            aead,
            key: hkdf_expand_label(hash, &secret, "key", aead.key_len())?,
            iv: hkdf_expand_label(hash, &secret, "iv", 12)?,
            seq: 0,
            layout: Layout::Tls13 { secret, hash },
            ctx: Opener::default(),
        })
    }

    /// The keys after a KeyUpdate: the next traffic secret (RFC 8446 7.2), sequence number back to 0.
    pub fn updated(&self) -> Option<RecordKeys> {
        let Layout::Tls13 { secret, hash } = &self.layout else { return None };
        let next = hkdf_expand_label(*hash, secret, "traffic upd", hash.len())?;
        RecordKeys::tls13_with(self.aead, *hash, next)
    }

    /// TLS 1.2 keys for one direction from the master secret (RFC 5246 6.3; AEAD suites have no MAC key).
    pub fn tls12(
        suite: u16,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client: bool,
    ) -> Option<RecordKeys> {
        let (aead, hash) = tls12_suite(suite)?;
        let (k, v) = (aead.key_len(), aead.tls12_iv_len());
        let seed = [&server_random[..], &client_random[..]].concat();
        let block = prf12(hash, master, b"key expansion", &seed, 2 * k + 2 * v)?;
        let (key, iv) =
            if client { (&block[..k], &block[2 * k..2 * k + v]) } else { (&block[k..2 * k], &block[2 * k + v..]) };
        let layout = if v == 4 { Layout::Tls12Gcm } else { Layout::Tls12Xor };
        Some(RecordKeys { aead, key: key.to_vec(), iv: iv.to_vec(), seq: 0, layout, ctx: Opener::default() })
    }

    fn xor_nonce(&self) -> Vec<u8> {
        let mut n = self.iv.clone();
        let at = n.len().saturating_sub(8);
        for (b, s) in n[at..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Decrypts the next record of this direction; the sequence number advances only on success, so a record we
    /// cannot open (0-RTT data, a record under keys we do not have) does not shift every later nonce.
    pub fn decrypt(&mut self, rec: &Record<'_>) -> Option<Plain> {
        let f = rec.fragment;
        let plain = match &self.layout {
            Layout::Tls13 { .. } => {
                let body = f.len().checked_sub(TAG)?;
                let nonce = self.xor_nonce();
                let mut data = self.ctx.open(self.aead, &self.key, &nonce, &rec.header, &f[..body], &f[body..])?;
                // Strip the zero padding; the last non-zero byte is the real content type (RFC 8446 5.2).
                let end = data.iter().rposition(|&b| b != 0)?;
                let content_type = data[end];
                data.truncate(end);
                Plain { content_type, data }
            }
            Layout::Tls12Gcm | Layout::Tls12Xor => {
                let explicit = if matches!(self.layout, Layout::Tls12Gcm) { 8 } else { 0 };
                let body = f.len().checked_sub(TAG + explicit)?;
                let nonce = if explicit == 8 { [&self.iv[..], &f[..8]].concat() } else { self.xor_nonce() };
                let mut aad = Vec::with_capacity(13);
                aad.extend_from_slice(&self.seq.to_be_bytes());
                aad.push(rec.content_type);
                aad.extend_from_slice(&rec.version.to_be_bytes());
                aad.extend_from_slice(&u16::try_from(body).ok()?.to_be_bytes());
                let ct = &f[explicit..explicit + body];
                let data = self.ctx.open(self.aead, &self.key, &nonce, &aad, ct, &f[explicit + body..])?;
                Plain { content_type: rec.content_type, data }
            }
        };
        self.seq = self.seq.wrapping_add(1);
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        unhex(&s.replace([' ', '\n'], "")).unwrap()
    }

    /// RFC 8448 section 3 (simple 1-RTT handshake): the server handshake traffic secret and its write key/IV.
    #[test]
    fn hkdf_expand_label_matches_rfc8448() {
        let secret =
            hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &secret, "key", 16).unwrap(),
            hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &secret, "iv", 12).unwrap(),
            hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        );
    }

    /// RFC 4231 test case 6: a key longer than the block is hashed first (both hashes).
    #[test]
    fn hmac_matches_rfc4231_long_key() {
        let data: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            hmac(Hash::Sha256, &[0xaa; 131], &[&data[..10], &data[10..]]),
            hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
        assert_eq!(
            hmac(Hash::Sha384, &[0xaa; 131], &[data]),
            hex("4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                 0c2ef6ab4030fe8296248df163f44952")
        );
    }

    /// The TLS 1.2 PRF against the widely published SHA-256 test vector (from the IETF TLS list).
    #[test]
    fn prf12_matches_published_vector() {
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf12(Hash::Sha256, &secret, b"test label", &seed, 100).unwrap();
        assert_eq!(&out[..16], &hex("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53")[..]);
        assert_eq!(out.len(), 100);
    }

    #[test]
    fn key_log_skips_garbage_and_indexes_by_label_and_random() {
        let r = "ab".repeat(32);
        let text = format!("# comment\nCLIENT_RANDOM {r} 0102\nCLIENT_RANDOM zz 0102\nBAD\nX {r} 0g\nX {r} 03 extra\n");
        let s = Secrets::parse(&text);
        assert_eq!(s.get("CLIENT_RANDOM", &[0xab; 32]), Some(vec![1u8, 2]));
        assert_eq!(s.get("CLIENT_RANDOM", &[0xac; 32]), None);
        assert_eq!(s.get("X", &[0xab; 32]), None);
        // Upper-case hex (some stacks write it) names the same connection.
        let upper = format!("CLIENT_RANDOM {} 0304\n", "AB".repeat(32));
        assert_eq!(Secrets::parse(&upper).get("CLIENT_RANDOM", &[0xab; 32]), Some(vec![3u8, 4]));
    }

    /// One context opens every record of its epoch, in sequence, and a forged record fails without disturbing the
    /// next (the sequence number advances only on success).
    #[test]
    fn one_context_opens_consecutive_records() {
        let secret = [7u8; 32];
        let mut seal = RecordKeys::tls13(0x1301, &secret).unwrap();
        let mut open = RecordKeys::tls13(0x1301, &secret).unwrap();
        let record = |keys: &mut RecordKeys, text: &[u8]| -> Vec<u8> {
            let mut plain = text.to_vec();
            plain.push(23); // inner content type: application data
            let len = u16::try_from(plain.len() + TAG).unwrap();
            let header = [23, 3, 3, (len >> 8) as u8, len as u8];
            let mut tag = [0u8; TAG];
            let ct = openssl::symm::encrypt_aead(
                openssl::symm::Cipher::aes_128_gcm(),
                &keys.key,
                Some(&keys.xor_nonce()),
                &header,
                &plain,
                &mut tag,
            )
            .unwrap();
            keys.seq += 1;
            [&header[..], &ct, &tag].concat()
        };
        let mut parse = |bytes: &[u8]| -> Option<Plain> {
            let rec = Record {
                content_type: bytes[0],
                version: 0x0303,
                header: bytes[..5].try_into().unwrap(),
                fragment: &bytes[5..],
                done_at: 0,
            };
            open.decrypt(&rec)
        };
        for text in [&b"PING"[..], b"second", b"third record"] {
            let bytes = record(&mut seal, text);
            let mut forged = bytes.clone();
            *forged.last_mut().unwrap() ^= 1;
            assert_eq!(parse(&forged), None);
            assert_eq!(parse(&bytes), Some(Plain { content_type: 23, data: text.to_vec() }));
        }
    }

    #[test]
    fn suites_map_to_aead_and_hash() {
        assert_eq!(tls12_suite(0xc02b), Some((Aead::Aes128Gcm, Hash::Sha256)));
        assert_eq!(tls12_suite(0xc030), Some((Aead::Aes256Gcm, Hash::Sha384)));
        assert_eq!(tls12_suite(0xcca9), Some((Aead::ChaCha20Poly1305, Hash::Sha256)));
        assert_eq!(tls12_suite(0xc013), None); // ECDHE_RSA_WITH_AES_128_CBC_SHA
        assert_eq!(tls13_suite(0x1304), None); // CCM stays opaque
    }
}
