'use strict';
// The tlsmatrix peer adapter for Node.js's `tls` module: one long-lived process that plays TLS client and server
// connections on request. No dependencies; written for Node 8 to 24 (no syntax newer than Node 8 has).
//
//   node tls_peer.js --suites FILE     serve requests (FILE: {"<code point>": ["<IANA name>", "<OpenSSL name>"]})
//   node tls_peer.js --probe           print what this Node's tls module can do, as one JSON line, and exit
//
// The contract is documented in docs/peers.md. In short: JSON lines on stdin, one request each, handled
// concurrently on the event loop; JSON lines on stdout, each carrying the request's id, written whole; stderr is
// free-form diagnostics. End of stdin ends the process.
//
// Every connection is configured the way a Node application configures one (tls.connect, tls.createServer), so the
// outcome and the error text are what a Node user sees. Alerts are not inferred: the TLS socket runs over a tap (a
// Duplex between it and the TCP socket) that keeps every byte, and at the end of the connection the adapter reads
// the alert records in both directions: plaintext ones as they are, TLS 1.3 encrypted ones decrypted with the
// connection's own secrets from the `keylog` event (Node 12.3+). A TLS 1.2 alert sent after ChangeCipherSpec stays
// opaque (its keys need the PRF of every TLS 1.2 suite); OpenSSL's error then names a received one.

const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const readline = require('readline');
const stream = require('stream');
const tls = require('tls');

// Sockets give up after this long, so a connection the harness abandoned (its deadline passed) ends by itself.
const SOCKET_TIMEOUT = 20000;
const PING = Buffer.from('tlsmatrix ping\n');
const PONG = PING;
// How long a finished connection's socket keeps reading before it closes (see linger).
const LINGER = 5000;
// Endpoints whose contexts (and a client's last session) are kept for a second connection (`mode: resume`).
const KEEP_ENDPOINTS = 256;

const MAJOR = parseInt(process.versions.node.split('.')[0], 10);
const HAS_MIN_VERSION = typeof tls.DEFAULT_MIN_VERSION === 'string';
const HAS_KEYLOG = MAJOR > 12 || (MAJOR === 12 && parseInt(process.versions.node.split('.')[1], 10) >= 3);

const ALERT_NAMES = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed',
  22: 'record_overflow', 30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired',
  46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error',
  51: 'decrypt_error', 60: 'export_restriction', 70: 'protocol_version', 71: 'insufficient_security',
  80: 'internal_error', 86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation',
  109: 'missing_extension', 110: 'unsupported_extension', 111: 'certificate_unobtainable',
  112: 'unrecognized_name', 113: 'bad_certificate_status_response', 114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity', 116: 'certificate_required', 120: 'no_application_protocol', 121: 'ech_required',
};
const VERSION_NAMES = { TLSv1: 'tls1.0', 'TLSv1.1': 'tls1.1', 'TLSv1.2': 'tls1.2', 'TLSv1.3': 'tls1.3' };
const VERSION_FLAGS = { 'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' };
// Node 8 has no minVersion/maxVersion: a range is SSLv23_method with the versions outside it switched off.
const NO_VERSION = {
  'tls1.0': 'SSL_OP_NO_TLSv1', 'tls1.1': 'SSL_OP_NO_TLSv1_1', 'tls1.2': 'SSL_OP_NO_TLSv1_2',
  'tls1.3': 'SSL_OP_NO_TLSv1_3',
};
const ORDER = ['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'];

class Unsupported extends Error {}

function send(obj) {
  // One write per line: Node writes a pipe's chunks in order, never interleaved.
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// ---- suites --------------------------------------------------------------------------------------------------------

let SUITES = null; // { byIana: {iana: openssl}, byOpenssl: {openssl: iana} }

function loadSuites(file) {
  const table = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byIana = {};
  const byOpenssl = {};
  Object.keys(table).forEach((code) => {
    const iana = table[code][0];
    const ossl = table[code][1];
    byIana[iana] = ossl;
    byOpenssl[ossl] = iana;
  });
  return { byIana: byIana, byOpenssl: byOpenssl };
}

function opensslName(iana) {
  const n = SUITES.byIana[iana];
  if (!n) throw new Unsupported('cipher suite ' + iana + ' has no OpenSSL name');
  return n;
}

// Node's default list, split as Node splits a `ciphers` string: names starting with TLS_ are TLS 1.3 suites.
function defaultLists() {
  const all = tls.DEFAULT_CIPHERS.split(':').filter((c) => c.length > 0);
  return {
    tls12: all.filter((c) => !/^TLS_/.test(c)),
    tls13: all.filter((c) => /^TLS_/.test(c)),
  };
}

// ---- configuration -------------------------------------------------------------------------------------------------

// The options both roles share: versions, suites, groups, signature algorithms, ALPN, credential, trust.
function common(cfg, material, opts) {
  const versions = cfg.versions;
  if (versions && versions.length) {
    const lo = versions[0];
    const hi = versions[versions.length - 1];
    if (HAS_MIN_VERSION) {
      opts.minVersion = VERSION_FLAGS[lo];
      opts.maxVersion = VERSION_FLAGS[hi];
    } else {
      // Node < 11.4: no minVersion. SSLv23_method negotiates every version OpenSSL has; the others are turned off.
      opts.secureProtocol = 'SSLv23_method';
      let off = 0;
      ORDER.forEach((v) => {
        if (ORDER.indexOf(v) < ORDER.indexOf(lo) || ORDER.indexOf(v) > ORDER.indexOf(hi)) {
          const flag = crypto.constants[NO_VERSION[v]];
          if (flag) off |= flag;
        }
      });
      opts.secureOptions = (opts.secureOptions || 0) | off;
    }
  }
  // One `ciphers` string carries both lists in Node 12+; giving only one keeps Node's default of the other (giving a
  // TLS 1.2 list alone would otherwise switch TLS 1.3 off, which a scenario setting only cipher_suites does not mean).
  const suites = cfg.cipher_suites;
  const suites13 = cfg.tls13_cipher_suites;
  const level = cfg.security_level;
  if (suites != null || suites13 != null || level != null) {
    const defaults = defaultLists();
    const tls12 = suites != null ? suites.map(opensslName) : defaults.tls12;
    const tls13 = MAJOR >= 12 ? (suites13 != null ? suites13 : defaults.tls13) : [];
    let list = tls13.concat(tls12);
    if (suites != null && suites.length === 0 && tls13.length === 0) throw new Unsupported('no suite at all');
    if (level != null) list = list.concat(['@SECLEVEL=' + level]);
    opts.ciphers = list.join(':');
  }
  if (cfg.groups != null) {
    if (!cfg.groups.length) throw new Unsupported('an empty group list');
    opts.ecdhCurve = cfg.groups.map((g) => GROUPS[g] || g).join(':');
  }
  if (cfg.signature_algorithms != null) opts.sigalgs = cfg.signature_algorithms.join(':');
  if (cfg.alpn != null) opts.ALPNProtocols = cfg.alpn;
  const trust = material.trust_pem || '';
  // An empty array trusts nothing; leaving `ca` out would trust Node's bundled root store.
  opts.ca = trust.trim() ? splitPem(trust) : [];
  if (cfg.session_tickets === false) opts.secureOptions = (opts.secureOptions || 0) | crypto.constants.SSL_OP_NO_TICKET;
  return opts;
}

// Our group names -> OpenSSL's (what Node's ecdhCurve takes).
const GROUPS = {
  x25519: 'X25519', x448: 'X448', secp256r1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521',
  ffdhe2048: 'ffdhe2048', ffdhe3072: 'ffdhe3072', ffdhe4096: 'ffdhe4096', ffdhe6144: 'ffdhe6144',
  ffdhe8192: 'ffdhe8192', X25519MLKEM768: 'X25519MLKEM768',
};

function splitPem(pem) {
  const out = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  return out || [];
}

function credential(opts, cred) {
  if (!cred) return opts;
  opts.cert = cred.chain_pem;
  opts.key = cred.key_pem;
  return opts;
}

// ---- the tap and what it saw ---------------------------------------------------------------------------------------

// A Duplex between the TLS socket and the TCP socket that keeps every byte each way, so the connection's alerts can
// be read from the records afterwards. It also notes how the TCP stream ended (FIN or reset).
function tap(raw) {
  const seen = { out: [], in: [], rawEnd: false, rawError: null, keylog: [] };
  const d = new stream.Duplex({
    write(chunk, _enc, cb) {
      seen.out.push(Buffer.from(chunk));
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    read() {
      raw.resume();
    },
  });
  // Errors reach the TLS socket through the raw socket's own handler; this one only keeps an unheard one harmless.
  d.on('error', () => {});
  // Node 8's Duplex has no `final` option: ending the writable side emits 'finish' instead.
  if (MAJOR < 10) d.on('finish', () => raw.end());
  raw.on('data', (chunk) => {
    seen.in.push(Buffer.from(chunk));
    if (!d.push(chunk)) raw.pause();
  });
  raw.on('end', () => {
    seen.rawEnd = true;
    d.push(null);
  });
  raw.on('error', (e) => {
    seen.rawError = e;
    d.destroy(e);
  });
  return { duplex: d, seen: seen };
}

function records(chunks) {
  const buf = Buffer.concat(chunks);
  const out = [];
  let i = 0;
  while (i + 5 <= buf.length) {
    const len = buf.readUInt16BE(i + 3);
    if (i + 5 + len > buf.length) break;
    out.push({ type: buf[i], header: buf.slice(i, i + 5), body: buf.slice(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

// TLS 1.3 suites: AEAD, key length, tag length, hash.
const TLS13 = {
  0x1301: ['aes-128-gcm', 16, 16, 'sha256'],
  0x1302: ['aes-256-gcm', 32, 16, 'sha384'],
  0x1303: ['chacha20-poly1305', 32, 16, 'sha256'],
  0x1304: ['aes-128-ccm', 16, 16, 'sha256'],
  0x1305: ['aes-128-ccm', 16, 8, 'sha256'],
};

function hkdfExpandLabel(hash, secret, label, length) {
  const full = Buffer.from('tls13 ' + label);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 255, full.length]), full, Buffer.from([0])]);
  let t = Buffer.alloc(0);
  let out = Buffer.alloc(0);
  for (let i = 1; out.length < length; i++) {
    t = crypto.createHmac(hash, secret).update(Buffer.concat([t, info, Buffer.from([i])])).digest();
    out = Buffer.concat([out, t]);
  }
  return out.slice(0, length);
}

// One direction's record protection for one epoch.
function protection(suite, secretHex) {
  const s = TLS13[suite];
  if (!s || !secretHex) return null;
  const secret = Buffer.from(secretHex, 'hex');
  return { aead: s[0], tag: s[2], key: hkdfExpandLabel(s[3], secret, 'key', s[1]), iv: hkdfExpandLabel(s[3], secret, 'iv', 12), seq: 0 };
}

function open(p, rec) {
  if (rec.body.length < p.tag) return null;
  const nonce = Buffer.from(p.iv);
  const seq = p.seq++;
  for (let i = 0; i < 8; i++) nonce[11 - i] ^= Math.floor(seq / Math.pow(2, 8 * i)) & 255;
  try {
    const opts = p.aead.indexOf('gcm') < 0 ? { authTagLength: p.tag } : undefined;
    const d = crypto.createDecipheriv(p.aead, p.key, nonce, opts);
    const ct = rec.body.slice(0, rec.body.length - p.tag);
    if (p.aead.indexOf('ccm') >= 0) d.setAuthTag(rec.body.slice(rec.body.length - p.tag));
    d.setAAD(rec.header, p.aead.indexOf('ccm') >= 0 ? { plaintextLength: ct.length } : undefined);
    if (p.aead.indexOf('ccm') < 0) d.setAuthTag(rec.body.slice(rec.body.length - p.tag));
    const plain = Buffer.concat([d.update(ct), d.final()]);
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    if (end === 0) return null;
    return { type: plain[end - 1], content: plain.slice(0, end - 1) };
  } catch (e) {
    return null;
  }
}

// The ServerHello of the connection (not a HelloRetryRequest): its suite and whether it chose TLS 1.3.
const HRR = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
function serverHello(recs) {
  const hs = Buffer.concat(recs.filter((r) => r.type === 22).map((r) => r.body));
  let i = 0;
  while (i + 4 <= hs.length) {
    const type = hs[i];
    const len = hs.readUIntBE(i + 1, 3);
    const body = hs.slice(i + 4, i + 4 + len);
    i += 4 + len;
    if (type !== 2 || body.length < 38) continue;
    if (body.slice(2, 34).equals(HRR)) continue;
    let j = 34;
    j += 1 + body[j];
    const suite = body.readUInt16BE(j);
    j += 3;
    let tls13 = false;
    if (j + 2 <= body.length) {
      const end = j + 2 + body.readUInt16BE(j);
      j += 2;
      while (j + 4 <= end) {
        const et = body.readUInt16BE(j);
        const el = body.readUInt16BE(j + 2);
        if (et === 43 && el === 2 && body.readUInt16BE(j + 4) === 0x0304) tls13 = true;
        j += 4 + el;
      }
    }
    return { suite: suite, tls13: tls13 };
  }
  return null;
}

// Whether a handshake message stream holds a Finished (type 20).
function hasFinished(buf) {
  let i = 0;
  while (i + 4 <= buf.length) {
    if (buf[i] === 20) return true;
    i += 4 + buf.readUIntBE(i + 1, 3);
  }
  return false;
}

// Every alert one direction carried, in order: {desc, opaque}. `secrets` are the direction's handshake and
// application traffic secrets (TLS 1.3) or null.
function alertsOf(recs, hello, secrets) {
  const out = [];
  let epoch = null; // TLS 1.3 protection now in use
  let next = null; // the application epoch's, after Finished
  let ccs = false; // TLS 1.2: ChangeCipherSpec sent, later records encrypted
  let started = false;
  let hsBuf = Buffer.alloc(0);
  recs.forEach((r) => {
    if (r.type === 20) {
      ccs = true;
      return;
    }
    if (r.type === 21) {
      if (r.body.length === 2 && !(ccs && !(hello && hello.tls13))) out.push({ desc: r.body[1], opaque: false });
      else out.push({ desc: null, opaque: true });
      return;
    }
    if (r.type === 23 && hello && hello.tls13) {
      if (!started) {
        started = true;
        epoch = secrets ? protection(hello.suite, secrets.handshake) : null;
        next = secrets ? protection(hello.suite, secrets.application) : null;
      }
      const inner = epoch ? open(epoch, r) : null;
      if (!inner) {
        if (r.body.length === 19 || r.body.length === 2 + 1 + 16) out.push({ desc: null, opaque: true, maybe: true });
        return;
      }
      if (inner.type === 21 && inner.content.length >= 2) out.push({ desc: inner.content[1], opaque: false });
      if (inner.type === 22 && epoch !== next) {
        hsBuf = Buffer.concat([hsBuf, inner.content]);
        if (hasFinished(hsBuf)) epoch = next;
      }
    }
  });
  return out;
}

function secretsFrom(lines, side) {
  const find = (label) => {
    for (let i = 0; i < lines.length; i++) {
      const parts = lines[i].toString().trim().split(' ');
      if (parts[0] === label) return parts[2];
    }
    return null;
  };
  const hs = find(side + '_HANDSHAKE_TRAFFIC_SECRET');
  return hs ? { handshake: hs, application: find(side + '_TRAFFIC_SECRET_0') } : null;
}

// The first alert other than close_notify that each direction carried, by name (null: none; "opaque": one was
// sent that cannot be read).
function alerts(seen, client) {
  const outRecs = records(seen.out);
  const inRecs = records(seen.in);
  const hello = serverHello(client ? inRecs : outRecs);
  const mine = secretsFrom(seen.keylog, client ? 'CLIENT' : 'SERVER');
  const theirs = secretsFrom(seen.keylog, client ? 'SERVER' : 'CLIENT');
  const first = (list) => {
    for (let i = 0; i < list.length; i++) {
      if (list[i].opaque) return list[i].maybe ? null : 'opaque';
      if (list[i].desc !== 0) return ALERT_NAMES[list[i].desc] || 'alert(0x' + list[i].desc.toString(16) + ')';
    }
    return null;
  };
  const closed = (list) => list.some((a) => a.desc === 0);
  const sent = alertsOf(outRecs, hello, mine);
  const received = alertsOf(inRecs, hello, theirs);
  return { sent: first(sent), received: first(received), closeNotifyIn: closed(received), opaqueIn: received.some((a) => a.opaque) };
}

// ---- outcomes ------------------------------------------------------------------------------------------------------

function established(s) {
  const c = s.getCipher() || {};
  const iana = SUITES.byOpenssl[c.name] || c.standardName || (/^TLS_/.test(c.name || '') ? c.name : null);
  return {
    result: 'established',
    version: VERSION_NAMES[s.getProtocol ? s.getProtocol() : c.version] || null,
    cipher: iana,
    alpn: s.alpnProtocol || null,
    resumed: !!s.isSessionReused(),
  };
}

// The alert names OpenSSL gives a received alert in its error reason ("tlsv1 alert unknown ca").
function receivedFromError(e) {
  const text = (e && (e.reason || e.message)) || '';
  // OpenSSL 1.0.2 names no alert it has no string for: "reason(1120)" is SSL_AD_REASON_OFFSET (1000) + 120.
  const n = /:reason\((1\d\d\d)\):/.exec(text);
  if (n) return ALERT_NAMES[parseInt(n[1], 10) - 1000] || null;
  // OpenSSL 3.2 and later say "ssl/tls alert" where earlier releases say "sslv3", "tlsv1" or "tlsv13".
  const m = /(?:sslv3|tlsv1|tlsv13|ssl\/tls) alert ([a-z0-9 ]+)/i.exec(text);
  if (!m) return null;
  const words = m[1].trim().replace(/ /g, '_');
  const aliases = { bad_certificate: 'bad_certificate', certificate_unknown: 'certificate_unknown' };
  return aliases[words] || words;
}

// The contract's error class, from how the stream ended and what Node raised; `unmapped` when no rule knows it.
function errorClass(e, seen, state) {
  if (state.timedOut) return 'timeout';
  if (seen.rawError) return 'io';
  const code = (e && e.code) || '';
  if (code === 'ECONNRESET' || code === 'EPIPE') return seen.rawEnd ? 'eof' : 'io';
  if (state.exchangeError) return 'io';
  if (state.endOfStream) return 'eof';
  // Node's own checks of the peer's certificate after the handshake (its verify error, or checkServerIdentity's):
  // the socket's authorizationError is set before Node destroys it.
  if (state.rejected) return 'local';
  if (/^ERR_SSL_|^ERR_TLS_|^ERR_OSSL_/.test(code)) return 'local';
  // Node 8 raises OpenSSL's errors as plain Errors: "...:error:14077410:SSL routines:SSL23_GET_SERVER_HELLO:...".
  if (/:SSL routines:|:x509 certificate routines:/.test((e && e.message) || '')) return 'local';
  // Node's certificate checks after the handshake: OpenSSL's X509 verify error names, and the host name check.
  if (/^[A-Z0-9_]+$/.test(code) && /CERT|VERIFY|ISSUER|SIGNATURE|SELF_SIGNED|KEY|CRL|PATH|PURPOSE|CHAIN/.test(code)) {
    return 'local';
  }
  if (e && e.library === 'SSL routines') return 'local';
  return 'unmapped';
}

function message(e) {
  if (!e) return 'the connection ended';
  return (e.code ? e.code + ': ' : '') + (e.message || String(e));
}

function failure(phase, e, seen, state, client) {
  const a = alerts(seen, client);
  let cls = errorClass(e, seen, state);
  let msg = message(e);
  // An error OpenSSL raised itself names the alert it read, if it read one ("sslv3 alert handshake failure",
  // "tlsv13 alert certificate required", "reason(1120)"): OpenSSL fails on a fatal alert as soon as it reads one, and
  // with any other reason it failed on its own before reading the alerts the records may still show after the point
  // where it stopped (a record it refused, "wrong version number"; a Certificate it could not parse while the peer's
  // own alert was already on its way). The records are the evidence only when OpenSSL said nothing (an end of
  // stream, Node's own checks after the handshake).
  const text = (e && (e.reason || e.message)) || '';
  const fromOpenssl = !!e && (e.library === 'SSL routines' || /^ERR_SSL_/.test(e.code || '') || /:SSL routines:/.test(text));
  const inRecords = fromOpenssl ? null : a.received;
  // A received alert the records cannot show (TLS 1.2, encrypted) is in OpenSSL's error reason.
  const received = inRecords === 'opaque' || inRecords == null ? receivedFromError(e) : inRecords;
  let sent = a.sent;
  if (sent === 'opaque') {
    // An encrypted TLS 1.2 alert of ours: after our own end() it is our close_notify; otherwise it cannot be read.
    if (state.ended) sent = null;
    else {
      sent = null;
      cls = 'unmapped';
      msg = 'unmapped: an encrypted TLS 1.2 alert was sent, which peers/node/tls_peer.js cannot read: ' + msg;
    }
  }
  if (cls === 'unmapped' && !/^unmapped: /.test(msg)) {
    msg = 'unmapped: no rule in peers/node/tls_peer.js errorClass for ' + msg;
  } else if (cls !== 'unmapped' && received) {
    cls = 'peer_alert';
  }
  return { result: 'failed', phase: phase, sent_alert: sent, received_alert: received, error: cls, message: msg };
}

// ---- playing a connection ------------------------------------------------------------------------------------------

// Reads exactly n bytes of application data, then calls done(err, buf).
function reader(s) {
  let buf = Buffer.alloc(0);
  let ended = false;
  let waiting = null;
  const check = () => {
    if (!waiting) return;
    if (buf.length >= waiting.n) {
      const w = waiting;
      waiting = null;
      const got = buf.slice(0, w.n);
      buf = buf.slice(w.n);
      w.cb(null, got);
    } else if (ended) {
      const w = waiting;
      waiting = null;
      w.cb(null, null);
    }
  };
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    check();
  });
  s.on('end', () => {
    ended = true;
    check();
  });
  return {
    read(n, cb) {
      waiting = { n: n, cb: cb };
      check();
    },
    // After the exchange: data left over, or more arriving before the end, breaks it.
    extra() {
      return buf.length;
    },
    ended() {
      return ended;
    },
    onEnd(cb) {
      if (ended) cb();
      else s.once('end', cb);
    },
  };
}

// Runs the exchange on an established socket and calls done(outcome).
function exchange(s, t, client, outcome, done) {
  const state = t.state;
  const r = reader(s);
  const fail = (e) => done(failure('data', e, t.seen, state, client));
  s.on('error', fail);
  const bad = (got) => {
    state.exchangeError = true;
    fail(new Error('unexpected application data ' + JSON.stringify(got ? got.toString('latin1') : '')));
  };
  // The end of the stream after the exchange: clean only with the peer's close_notify. In TLS 1.3 the records show
  // it (decrypted); in TLS 1.2 it is encrypted, and an alert record that Node took for the end of the data (no
  // error raised, as a fatal alert would) is the close_notify.
  const closed = () => {
    const a = alerts(t.seen, client);
    if (!a.closeNotifyIn && !a.opaqueIn) {
      state.endOfStream = true;
      return fail(new Error('the stream ended without close_notify'));
    }
    done(outcome);
  };
  if (client) {
    s.write(PING);
    r.read(PONG.length, (err, got) => {
      if (!got) {
        state.endOfStream = true;
        return fail(new Error('end of stream before the echo'));
      }
      if (!got.equals(PONG)) return bad(got);
      if (t.keep) t.keep(s);
      state.ended = true;
      s.end(); // close_notify, then FIN
      r.onEnd(() => (r.extra() ? bad(Buffer.from('(data after the exchange)')) : closed()));
    });
  } else {
    r.read(PING.length, (err, got) => {
      if (!got) {
        state.endOfStream = true;
        return fail(new Error('end of stream before the ping'));
      }
      if (!got.equals(PING)) return bad(got);
      s.write(PONG);
      r.onEnd(() => {
        if (r.extra()) return bad(Buffer.from('(data after the exchange)'));
        state.ended = true;
        s.end(); // our close_notify, in answer to the client's
        closed();
      });
    });
  }
}

// Closes without a reset: FIN after our last record, then read and drop until the harness lets go of its end (at
// most LINGER ms). Linux answers close() with RST when unread bytes wait, and a RST drops what the other kernel has
// not delivered, our last alert included.
function linger(raw, then) {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    raw.destroy();
    then();
  };
  const timer = setTimeout(finish, LINGER);
  raw.on('close', finish);
  raw.on('end', finish);
  raw.on('error', finish);
  raw.resume();
  try {
    raw.end();
  } catch (e) {
    finish();
  }
  if (raw.destroyed) finish();
}

// When the TCP stream ends or breaks and Node has not reported within a moment (a TLS socket over a JS stream does
// not always raise an error for an end of stream in the middle of a handshake), the connection is over all the same.
const QUIET_AFTER_END = 200;
function watchdog(raw, t, client, isReported, report) {
  let armed = false;
  const fire = () => {
    if (armed) return;
    armed = true;
    setTimeout(() => {
      if (isReported()) return;
      const e = t.seen.rawError || new Error('the connection ended');
      if (!t.seen.rawError) t.state.endOfStream = true;
      report(failure(t.state.secure ? 'data' : 'handshake', e, t.seen, t.state, client));
    }, QUIET_AFTER_END);
  };
  raw.on('end', fire);
  raw.on('close', fire);
}

// ---- endpoints -----------------------------------------------------------------------------------------------------

const ENDPOINTS = new Map();
function endpointState(key, build) {
  if (key == null) return build();
  if (ENDPOINTS.has(key)) {
    const v = ENDPOINTS.get(key);
    ENDPOINTS.delete(key);
    ENDPOINTS.set(key, v);
    return v;
  }
  const v = build();
  ENDPOINTS.set(key, v);
  while (ENDPOINTS.size > KEEP_ENDPOINTS) ENDPOINTS.delete(ENDPOINTS.keys().next().value);
  return v;
}

// ---- server --------------------------------------------------------------------------------------------------------

function serve(id, cfg, material, endpoint) {
  // One tls.Server per harness endpoint: its secure context holds the session cache and ticket keys that a second
  // connection (`mode: resume`) resumes from. An endpoint plays one connection at a time, so the server's events
  // are this connection's.
  const st = endpointState(endpoint, () => {
    const cert = material.certificate;
    if (!cert) throw new Error('a server needs material.certificate');
    const opts = credential(common(cfg, material, {}), cert);
    const auth = cfg.client_auth || 'none';
    if (auth === 'required') {
      opts.requestCert = true;
      opts.rejectUnauthorized = true;
    } else if (auth === 'optional') {
      opts.requestCert = true;
      opts.rejectUnauthorized = false;
    } else if (auth !== 'none') {
      throw new Unsupported('unknown client_auth ' + auth);
    }
    const sni = material.sni_certificates || {};
    const names = Object.keys(sni);
    if (names.length) {
      const contexts = {};
      names.forEach((h) => {
        contexts[h.toLowerCase()] = tls.createSecureContext(credential(common(cfg, material, {}), sni[h]));
      });
      // The context holding the certificate for the name the client asked for; other names keep the default.
      opts.SNICallback = (name, cb) => cb(null, contexts[(name || '').toLowerCase()] || null);
    }
    try {
      return { server: tls.createServer(opts) };
    } catch (e) {
      // OpenSSL 1.0.2 (Node 8) cannot load an Ed25519 key: the server cannot be configured at all.
      if (/unsupported algorithm|unknown pkey|UNSUPPORTED_PRIVATE_KEY_ALGORITHM/i.test(String(e && e.message))) {
        throw new Unsupported('Node ' + process.versions.node + ' (OpenSSL ' + process.versions.openssl + ') cannot load the key: ' + e.message);
      }
      throw e;
    }
  });
  const server = st.server;
  const listener = net.createServer({ pauseOnConnect: true });
  listener.on('error', (e) => send({ id: id, error: 'listen: ' + e.message }));
  listener.listen(0, '127.0.0.1', () => {
    send({ id: id, listening: listener.address().port });
  });
  const giveUp = setTimeout(() => listener.close(), SOCKET_TIMEOUT);
  listener.once('connection', (raw) => {
    clearTimeout(giveUp);
    listener.close();
    raw.setNoDelay(true);
    const t = tap(raw);
    t.state = {};
    let reported = false;
    const report = (outcome) => {
      if (reported) return;
      reported = true;
      clearTimeout(timer);
      cleanup();
      send({ id: id, outcome: outcome });
      linger(raw, () => {});
    };
    const timer = setTimeout(() => {
      t.state.timedOut = true;
      report(failure(t.state.secure ? 'data' : 'handshake', new Error('timed out'), t.seen, t.state, false));
    }, SOCKET_TIMEOUT);
    const onKeylog = (line) => t.seen.keylog.push(line);
    const onSecure = (s) => {
      t.state.secure = true;
      exchange(s, t, false, established(s), report);
    };
    const onClientError = (e, s) => {
      // A client certificate that fails Node's check after the handshake (rejectUnauthorized) is dropped by
      // destroying the socket, which tls.Server reports as "socket hang up" with the socket's authorizationError.
      let err = e;
      if (s && s.authorizationError) {
        err = new Error(e.message + ' (authorizationError: ' + s.authorizationError + ')');
        err.code = s.authorizationError;
        t.state.rejected = true;
      }
      report(failure('handshake', err, t.seen, t.state, false));
    };
    const cleanup = () => {
      server.removeListener('keylog', onKeylog);
      server.removeListener('secureConnection', onSecure);
      server.removeListener('tlsClientError', onClientError);
    };
    if (HAS_KEYLOG) server.on('keylog', onKeylog);
    server.on('secureConnection', onSecure);
    server.on('tlsClientError', onClientError);
    watchdog(raw, t, false, () => reported, report);
    // What tls.Server does with each TCP connection it accepts, given the tap instead.
    server.emit('connection', t.duplex);
    raw.resume();
  });
}

// ---- client --------------------------------------------------------------------------------------------------------

function connect(id, port, cfg, material, endpoint) {
  const host = cfg.server_name || '127.0.0.1';
  const st = endpointState(endpoint, () => ({ session: null }));
  const raw = net.connect(port, '127.0.0.1');
  raw.setNoDelay(true);
  const t = tap(raw);
  t.state = {};
  t.keep = (s) => {
    // TLS 1.3 tickets arrive after the handshake; the 'session' event has the latest.
    if (!st.session && s.getSession) st.session = s.getSession();
  };
  let reported = false;
  const report = (outcome) => {
    if (reported) return;
    reported = true;
    clearTimeout(timer);
    // After the linger, not before: a client that failed at once could otherwise answer before the harness has
    // accepted its connection, whose bytes would then never cross.
    linger(raw, () => send({ id: id, outcome: outcome }));
  };
  const timer = setTimeout(() => {
    t.state.timedOut = true;
    report(failure(t.state.secure ? 'data' : 'handshake', new Error('timed out'), t.seen, t.state, true));
  }, SOCKET_TIMEOUT);
  watchdog(raw, t, true, () => reported, report);
  raw.once('connect', () => {
    const opts = credential(common(cfg, material, {}), material.certificate);
    opts.socket = t.duplex;
    opts.rejectUnauthorized = true;
    const ip = net.isIP(host) !== 0;
    // servername is the SNI: Node sends none for an IP address, and `sni: false` sends none for a name either. The
    // name verified is `server_name`, as an application that connects by address checks it.
    if (!ip && cfg.sni !== false) opts.servername = host;
    opts.checkServerIdentity = (_name, cert) => tls.checkServerIdentity(host, cert);
    if (st.session) opts.session = st.session;
    let s;
    try {
      s = tls.connect(opts);
    } catch (e) {
      if (e instanceof Unsupported) throw e;
      return report(failure('handshake', e, t.seen, t.state, true));
    }
    if (HAS_KEYLOG) s.on('keylog', (line) => t.seen.keylog.push(line));
    s.on('session', (session) => {
      st.session = session;
    });
    const onError = (e) => {
      if (t.state.secure) return; // the exchange reports errors after the handshake
      if (s.authorizationError) t.state.rejected = true;
      report(failure('handshake', e, t.seen, t.state, true));
    };
    // `on`, not `once`: Node 8 may raise a second error (a hang-up after the first), which would otherwise throw.
    s.on('error', onError);
    s.once('close', () => {
      if (!t.state.secure) {
        t.state.endOfStream = true;
        onError(new Error('the connection closed during the handshake'));
      }
    });
    s.once('secureConnect', () => {
      t.state.secure = true;
      exchange(s, t, true, established(s), report);
    });
  });
  raw.once('error', (e) => {
    if (!t.state.secure) report(failure('handshake', e, t.seen, t.state, true));
  });
}

// ---- requests ------------------------------------------------------------------------------------------------------

function handle(line) {
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    const cfg = req.config || {};
    const material = req.material || {};
    if (req.role === 'server') serve(id, cfg, material, req.endpoint);
    else if (req.role === 'client') connect(id, parseInt(req.connect, 10), cfg, material, req.endpoint);
    else throw new Error('role must be "server" or "client", got ' + JSON.stringify(req.role));
  } catch (e) {
    if (e instanceof Unsupported) send({ id: id, unsupported: e.message });
    else {
      process.stderr.write((e && e.stack) + '\n');
      send({ id: id, error: (e && e.name) + ': ' + (e && e.message) });
    }
  }
}

function version() {
  return 'Node ' + process.versions.node + ', OpenSSL ' + process.versions.openssl;
}

// What the backend's capabilities are made of, for tlsmatrix to read before any cell runs.
function probe() {
  const versions = {};
  ORDER.forEach((v) => {
    let ok;
    try {
      if (HAS_MIN_VERSION) tls.createSecureContext({ minVersion: VERSION_FLAGS[v], maxVersion: VERSION_FLAGS[v] });
      else if (v === 'tls1.3') throw new Error('no TLS 1.3 before Node 12');
      ok = true;
    } catch (e) {
      ok = false;
    }
    versions[v] = ok;
  });
  const groups = Object.keys(GROUPS).filter((g) => {
    try {
      tls.createSecureContext({ ecdhCurve: GROUPS[g] });
      return true;
    } catch (e) {
      return false;
    }
  });
  let groupLists = true;
  try {
    tls.createSecureContext({ ecdhCurve: 'P-256:P-384' });
  } catch (e) {
    groupLists = false;
  }
  process.stdout.write(JSON.stringify({
    version: version(),
    node: process.versions.node,
    openssl: process.versions.openssl,
    versions: versions,
    // OpenSSL names (Node lower-cases them); the backend maps them to code points.
    suites: tls.getCiphers(),
    groups: groups,
    group_lists: groupLists,
    sigalgs: MAJOR > 12 || (MAJOR === 12 && parseInt(process.versions.node.split('.')[1], 10) >= 11),
    keylog: HAS_KEYLOG,
    min_version: HAS_MIN_VERSION,
  }) + '\n');
}

// A bug of the adapter must cost a cell, not the process and every cell in flight: say it on stderr (the harness
// keeps the tail) and go on; the cell's own watchdog or deadline ends it.
process.on('uncaughtException', (e) => process.stderr.write('tls_peer.js: uncaught: ' + ((e && e.stack) || e) + '\n'));

function main(args) {
  if (args[0] === '--probe') return probe();
  if (args.length !== 2 || args[0] !== '--suites') {
    process.stderr.write('usage: tls_peer.js --suites FILE | --probe\n');
    process.exit(2);
  }
  SUITES = loadSuites(args[1]);
  send({ ready: true, version: version() });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim()) handle(line);
  });
  // The harness closed our stdin: it has exited or no longer needs us.
  rl.on('close', () => process.exit(0));
}

main(process.argv.slice(2));
