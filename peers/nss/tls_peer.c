/*
 * The tlsmatrix peer adapter for NSS (Network Security Services: Firefox's, Thunderbird's and many Red Hat tools' TLS
 * stack), through libssl3 as Debian ships it (libnss3-dev, 3.87).
 *
 *     tls_peer --probe     print what this NSS can do, as one JSON line, and exit
 *     tls_peer             serve requests (the contract: docs/peers.md; plumbing in peer.h)
 *
 * Built by tlsmatrix on first use (src/backend/peer/nss.rs) with the machine's C compiler and pkg-config's flags for
 * nss.
 *
 * One process per request. NSS keeps its trust, its temporary certificates (every certificate a handshake shows it
 * becomes one, findable by later path building) and its session cache process-wide, so cells sharing one NSS would
 * see each other's intermediates and trust. The parent never initialises NSS: for each request line it forks a child
 * that does (NSS_NoDB_Init: a memory-only certificate store, no database on disk), plays the one connection and
 * exits; the parent relays the child's reply lines whole onto its own stdout and answers for a child that dies
 * without an outcome.
 *
 * Every socket is configured as an NSS application does it: SSL_ImportFD, the scenario's settings through
 * SSL_OptionSet / SSL_VersionRangeSet / SSL_CipherPrefSet / SSL_NamedGroupConfig / SSL_SignatureSchemePrefSet, the
 * scenario's CAs imported and marked trusted ("CT,C,C", what `certutil -A -t CT,C,C` does), the host name given with
 * SSL_SetURL, and NSS's own certificate check (SSL_AuthCertificate, the default hook tstclnt and most applications
 * keep; Firefox replaces it with mozilla::pkix). Alerts are exact: NSS's SSL_AlertSentCallback and
 * SSL_AlertReceivedCallback report each one. Debian's NSS has no key log (no SSLKEYLOGFILE), so an encrypted record
 * between two NSS peers stays opaque on the wire; against a peer that exports its secrets the relay still decrypts.
 */

#include "peer.h"

#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <cert.h>
#include <certdb.h>
#include <keyhi.h>
#include <nss.h>
#include <nssb64.h>
#include <pk11pub.h>
#include <prerror.h>
#include <prio.h>
#include <private/pprio.h>
#include <secerr.h>
#include <ssl.h>
#include <sslerr.h>
#include <sslproto.h>

/* A child that is still running after this long is ended: no connection of the contract takes so long. */
#define CHILD_DEADLINE_S 60

static PRIntervalTime timeout(void) { return PR_SecondsToInterval(SOCKET_TIMEOUT_S); }

/* Groups by IANA name; NSS's SSLNamedGroup values are the code points. */
static const struct { const char *name; uint16_t id; } GROUPS[] = {
    {"x25519", 0x001d},    {"secp256r1", 0x0017}, {"secp384r1", 0x0018}, {"secp521r1", 0x0019},
    {"ffdhe2048", 0x0100}, {"ffdhe3072", 0x0101}, {"ffdhe4096", 0x0102}, {"ffdhe6144", 0x0103},
    {"ffdhe8192", 0x0104},
};
#define N_GROUPS (sizeof GROUPS / sizeof GROUPS[0])

static const char *group_name(uint16_t id) {
  for (size_t i = 0; i < N_GROUPS; i++)
    if (GROUPS[i].id == id) return GROUPS[i].name;
  return NULL;
}

/* The error NSS left, as its applications print it: "SEC_ERROR_UNKNOWN_ISSUER: Peer's Certificate issuer is not
 * recognized." */
static void put_error(struct buf *b, PRErrorCode err) {
  const char *name = PR_ErrorToName(err);
  const char *text = PR_ErrorToString(err, PR_LANGUAGE_I_DEFAULT);
  if (name) putf(b, "%s: ", name);
  else putf(b, "NSS error %d: ", err);
  puts_(b, text && *text ? text : "no text");
}

/* ---- material: PEM to NSS objects --------------------------------------------------------------------------- */

/* The DER of each PEM block labelled `label` in `pem`, in order (at most `max`). */
static int pem_blocks(const char *pem, const char *label, SECItem **out, int max) {
  char begin[64], end[64];
  snprintf(begin, sizeof begin, "-----BEGIN %s-----", label);
  snprintf(end, sizeof end, "-----END %s-----", label);
  int n = 0;
  const char *p = pem;
  while (p && n < max && (p = strstr(p, begin)) != NULL) {
    p += strlen(begin);
    const char *e = strstr(p, end);
    if (!e) break;
    out[n] = NSSBase64_DecodeBuffer(NULL, NULL, p, (unsigned)(e - p));
    if (!out[n]) break;
    n++;
    p = e + strlen(end);
  }
  return n;
}

/* Each certificate of `pem` as a temporary certificate (memory only). */
static int import_certs(const char *pem, CERTCertificate **out, int max) {
  SECItem *der[16];
  int n = pem_blocks(pem ? pem : "", "CERTIFICATE", der, max < 16 ? max : 16), k = 0;
  for (int i = 0; i < n; i++) {
    CERTCertificate *c = CERT_NewTempCertificate(CERT_GetDefaultCertDB(), der[i], NULL, PR_FALSE, PR_TRUE);
    SECITEM_FreeItem(der[i], PR_TRUE);
    if (c) out[k++] = c;
  }
  return k;
}

/* The scenario's CAs, trusted as `certutil -A -t CT,C,C` trusts one: issuer of servers and clients. Nothing else is
 * trusted: a memory-only store has no built-in roots. */
static int trust(const char *pem, CERTCertList *names, struct problem *p) {
  CERTCertificate *cas[16];
  int n = import_certs(pem, cas, 16);
  CERTCertTrust t;
  CERT_DecodeTrustString(&t, "CT,C,C");
  for (int i = 0; i < n; i++) {
    if (CERT_ChangeCertTrust(CERT_GetDefaultCertDB(), cas[i], &t) != SECSuccess) {
      struct buf e = {0};
      put_error(&e, PR_GetError());
      fail(p, "error", "cannot trust a CA: %s", e.s);
      free(e.s);
      return 0;
    }
    /* Kept referenced for the life of the process: a temporary certificate whose last reference goes is forgotten,
     * trust and all. */
    if (names) CERT_AddCertToListTail(names, CERT_DupCertificate(cas[i]));
  }
  if (pem && *pem && !n) return fail(p, "error", "material.trust_pem holds no certificate");
  return 1;
}

struct credential {
  CERTCertificate *cert;
  SECKEYPrivateKey *key;
  CERTCertificateList *chain; /* leaf first, then what the scenario sends */
};

static int load_credential(const struct json *cred, struct credential *out, struct problem *p) {
  const char *chain = get_str(cred, "chain_pem"), *key = get_str(cred, "key_pem");
  if (!chain || !key) return fail(p, "error", "a credential needs chain_pem and key_pem");
  CERTCertificate *certs[16];
  int n = import_certs(chain, certs, 16);
  if (!n) return fail(p, "error", "cannot read the certificate chain");
  out->cert = certs[0];
  /* The chain exactly as the scenario shapes it (reversed, leaf only), not as NSS would build it. */
  PLArenaPool *arena = PORT_NewArena(4096);
  out->chain = PORT_ArenaZNew(arena, CERTCertificateList);
  out->chain->arena = arena;
  out->chain->certs = PORT_ArenaZNewArray(arena, SECItem, n);
  out->chain->len = n;
  for (int i = 0; i < n; i++) {
    /* Each stays referenced (and findable as an intermediate) for the life of the process. */
    SECITEM_CopyItem(arena, &out->chain->certs[i], &certs[i]->derCert);
  }
  SECItem *der[1];
  if (pem_blocks(key, "PRIVATE KEY", der, 1) != 1) return fail(p, "error", "key_pem holds no PKCS#8 key");
  PK11SlotInfo *slot = PK11_GetInternalKeySlot();
  SECStatus ok = PK11_ImportDERPrivateKeyInfoAndReturnKey(slot, der[0], NULL, NULL, PR_FALSE, PR_TRUE, KU_ALL,
                                                          &out->key, NULL);
  PK11_FreeSlot(slot);
  SECITEM_FreeItem(der[0], PR_TRUE);
  if (ok != SECSuccess) {
    struct buf e = {0};
    put_error(&e, PR_GetError());
    fail(p, "unsupported", "NSS cannot import this private key: %s", e.s);
    free(e.s);
    return 0;
  }
  return 1;
}

/* ---- configuration ------------------------------------------------------------------------------------------- */

/* What both roles share: versions, suites, groups, signature schemes, ALPN. */
static int configure_common(PRFileDesc *ssl, const struct json *cfg, struct problem *p) {
  const struct json *v;
  if (get(cfg, "security_level")) return fail(p, "unsupported", "NSS has no security levels");
  if (!str_list(cfg, "versions", &v, p)) return 0;
  if (v && v->len) {
    SSLVersionRange vr = {0, 0};
    for (size_t i = 0; i < 4; i++) {
      if (!strcmp(VERSIONS[i].name, v->items[0]->str)) vr.min = VERSIONS[i].version;
      if (!strcmp(VERSIONS[i].name, v->items[v->len - 1]->str)) vr.max = VERSIONS[i].version;
    }
    if (!vr.min || !vr.max) return fail(p, "unsupported", "unknown protocol version in config.versions");
    if (SSL_VersionRangeSet(ssl, &vr) != SECSuccess) {
      struct buf e = {0};
      put_error(&e, PR_GetError());
      fail(p, "unsupported", "NSS refused the version range: %s", e.s);
      free(e.s);
      return 0;
    }
  }
  /* Suites: TLS 1.2-and-earlier ones from cipher_suites, TLS 1.3 ones (0x13xx) from tls13_cipher_suites; each list
   * enables exactly its suites and leaves the other kind as it is. NSS orders suites itself (SSL_ImplementedCiphers'
   * order): a list's order is not applied. */
  const char *keys[2] = {"cipher_suites", "tls13_cipher_suites"};
  for (int tls13 = 0; tls13 < 2; tls13++) {
    if (!str_list(cfg, keys[tls13], &v, p)) return 0;
    if (!v) continue;
    for (size_t k = 0; k < v->len; k++) {
      int known = 0;
      for (unsigned i = 0; i < SSL_NumImplementedCiphers; i++) {
        SSLCipherSuiteInfo info;
        if (SSL_GetCipherSuiteInfo(SSL_ImplementedCiphers[i], &info, sizeof info) == SECSuccess &&
            !strcmp(info.cipherSuiteName, v->items[k]->str))
          known = 1;
      }
      if (!known) return fail(p, "unsupported", "cipher suite %s is not implemented by NSS", v->items[k]->str);
    }
    for (unsigned i = 0; i < SSL_NumImplementedCiphers; i++) {
      PRUint16 id = SSL_ImplementedCiphers[i];
      SSLCipherSuiteInfo info;
      if ((id >> 8 == 0x13) != tls13 || SSL_GetCipherSuiteInfo(id, &info, sizeof info) != SECSuccess) continue;
      int on = 0;
      for (size_t k = 0; k < v->len; k++) on |= !strcmp(info.cipherSuiteName, v->items[k]->str);
      SSL_CipherPrefSet(ssl, id, on);
    }
  }
  if (!str_list(cfg, "groups", &v, p)) return 0;
  if (v) {
    SSLNamedGroup groups[16];
    unsigned n = 0;
    for (size_t k = 0; k < v->len && n < 16; k++) {
      uint16_t id = 0;
      for (size_t i = 0; i < N_GROUPS; i++)
        if (!strcmp(GROUPS[i].name, v->items[k]->str)) id = GROUPS[i].id;
      if (!id) return fail(p, "unsupported", "group %s is not implemented by NSS", v->items[k]->str);
      groups[n++] = (SSLNamedGroup)id;
    }
    if (SSL_NamedGroupConfig(ssl, groups, n) != SECSuccess) return fail(p, "unsupported", "NSS refused the groups");
  }
  if (!str_list(cfg, "signature_algorithms", &v, p)) return 0;
  if (v) {
    SSLSignatureScheme schemes[32];
    unsigned n = 0;
    for (size_t k = 0; k < v->len && n < 32; k++) {
      uint16_t id = sigalg_id(v->items[k]->str);
      if (!id) return fail(p, "unsupported", "signature scheme %s is not known here", v->items[k]->str);
      schemes[n++] = (SSLSignatureScheme)id;
    }
    if (SSL_SignatureSchemePrefSet(ssl, schemes, n) != SECSuccess)
      return fail(p, "unsupported", "NSS refused the signature schemes (it implements neither ed25519 nor ed448)");
  }
  if (!str_list(cfg, "alpn", &v, p)) return 0;
  if (v) {
    unsigned char wire[512];
    unsigned len;
    if (!alpn_wire(v, wire, &len, p)) return 0;
    /* The client offers the list; the server picks the first of its own protocols the client offers. */
    if (SSL_SetNextProtoNego(ssl, wire, len) != SECSuccess) return fail(p, "error", "cannot set the ALPN list");
  }
  struct json *tickets = get(cfg, "session_tickets");
  if (tickets && tickets->type == J_BOOL) SSL_OptionSet(ssl, SSL_ENABLE_SESSION_TICKETS, tickets->boolean);
  return 1;
}

/* ---- playing a connection ------------------------------------------------------------------------------------ */

struct seen {
  int sent, received; /* the first alert sent / received other than close_notify (-1: none) */
  int received_close_notify;
};

static void on_sent(const PRFileDesc *fd, void *arg, const SSLAlert *alert) {
  (void)fd;
  struct seen *s = arg;
  if (alert->description != 0 && s->sent < 0) s->sent = alert->description;
}

static void on_received(const PRFileDesc *fd, void *arg, const SSLAlert *alert) {
  (void)fd;
  struct seen *s = arg;
  if (alert->description == 0) s->received_close_notify = 1;
  else if (s->received < 0) s->received = alert->description;
}

/* The client's certificate, whatever CA names the server asks for (as OpenSSL's client sends its one certificate). */
static SECStatus on_client_auth(void *arg, PRFileDesc *fd, CERTDistNames *names, CERTCertificate **cert,
                                SECKEYPrivateKey **key) {
  (void)fd;
  (void)names;
  struct credential *c = arg;
  *cert = CERT_DupCertificate(c->cert);
  *key = SECKEY_CopyPrivateKey(c->key);
  return SECSuccess;
}

struct play {
  PRFileDesc *ssl;
  struct seen seen;
  int client;
  struct buf outcome;
};

/* The failure NSS reported (its error code: PR_GetError), or one of our own (`own`). */
static void failure(struct play *pl, const char *phase, PRErrorCode err, const char *own) {
  struct buf msg = {0};
  enum cls cls;
  if (own) {
    puts_(&msg, own);
    cls = err == PR_END_OF_FILE_ERROR ? C_EOF : C_IO;
  } else {
    put_error(&msg, err);
    if (err == PR_END_OF_FILE_ERROR) cls = C_EOF;
    else if (err == PR_IO_TIMEOUT_ERROR) cls = C_TIMEOUT;
    else if (err == PR_CONNECT_RESET_ERROR || err == PR_IO_ERROR || err == PR_CONNECT_ABORTED_ERROR ||
             err == PR_SOCKET_SHUTDOWN_ERROR)
      cls = C_IO;
    else if (IS_SSL_ERROR(err) || IS_SEC_ERROR(err))
      cls = C_LOCAL;
    else
      cls = C_UNMAPPED;
    /* NSS reports a received alert as its own error (SSL_ERROR_*_ALERT): the alert itself says it was the peer's. */
    if (pl->seen.received >= 0) cls = C_PEER_ALERT;
  }
  char rule[80];
  snprintf(rule, sizeof rule, "peers/nss/tls_peer.c failure() for NSS error %d", err);
  put_failure(&pl->outcome, phase, pl->seen.sent, pl->seen.received, cls, msg.s, rule);
  free(msg.s);
}

static void established(struct play *pl, struct buf *b) {
  SSLChannelInfo info;
  SSLCipherSuiteInfo suite;
  memset(&info, 0, sizeof info);
  SSL_GetChannelInfo(pl->ssl, &info, sizeof info);
  int named = SSL_GetCipherSuiteInfo(info.cipherSuite, &suite, sizeof suite) == SECSuccess;
  SSLNextProtoState state;
  unsigned char proto[256];
  unsigned len = 0;
  int agreed = SSL_GetNextProto(pl->ssl, &state, proto, &len, sizeof proto - 1) == SECSuccess &&
               (state == SSL_NEXT_PROTO_NEGOTIATED || state == SSL_NEXT_PROTO_SELECTED) && len;
  proto[agreed ? len : 0] = '\0';
  put_established(b, version_name(info.protocolVersion), named ? suite.cipherSuiteName : NULL,
                  group_name((uint16_t)info.keaGroup), agreed ? (const char *)proto : NULL, info.resumed);
}

/* Reads exactly n bytes: 1 when done, 0 at the end of the stream, -1 on an error (PR_GetError). */
static int read_exactly(PRFileDesc *ssl, char *out, int n) {
  int got = 0;
  while (got < n) {
    int r = PR_Recv(ssl, out + got, n - got, 0, timeout());
    if (r <= 0) return r;
    got += r;
  }
  return 1;
}

/* The handshake, one message each way, close_notify both ways: what the harness's exchange() does. */
static void play(struct play *pl) {
  if (SSL_ForceHandshakeWithTimeout(pl->ssl, timeout()) != SECSuccess) {
    failure(pl, "handshake", PR_GetError(), NULL);
    return;
  }
  struct buf done = {0};
  established(pl, &done);
  char got[PING_LEN + 1];
  int r;
  if (pl->client) {
    if (PR_Send(pl->ssl, PING, PING_LEN, 0, timeout()) != PING_LEN) goto error;
    if ((r = read_exactly(pl->ssl, got, PING_LEN)) < 0) goto error;
    if (r == 0) goto ended;
    if (memcmp(got, PING, PING_LEN)) goto wrong;
    /* close_notify (ssl_SecureShutdown sends it for the send side), then the server's. */
    if (PR_Shutdown(pl->ssl, PR_SHUTDOWN_SEND) != PR_SUCCESS) goto error;
    if ((r = PR_Recv(pl->ssl, got, 1, 0, timeout())) < 0) goto error;
    if (r > 0) goto after;
    if (!pl->seen.received_close_notify) goto truncated;
  } else {
    if ((r = read_exactly(pl->ssl, got, PING_LEN)) < 0) goto error;
    if (r == 0) goto ended;
    if (memcmp(got, PING, PING_LEN)) goto wrong;
    if (PR_Send(pl->ssl, got, PING_LEN, 0, timeout()) != PING_LEN) goto error;
    if ((r = PR_Recv(pl->ssl, got, 1, 0, timeout())) < 0) goto error;
    if (r > 0) goto after;
    if (!pl->seen.received_close_notify) goto truncated;
    if (PR_Shutdown(pl->ssl, PR_SHUTDOWN_SEND) != PR_SUCCESS) goto error; /* our close_notify, in answer */
  }
  pl->outcome = done;
  return;
error:
  free(done.s);
  failure(pl, "data", PR_GetError(), NULL);
  return;
ended:
  free(done.s);
  failure(pl, "data", PR_END_OF_FILE_ERROR,
          pl->seen.received_close_notify ? "the peer sent close_notify before the exchange was complete"
                                         : "the stream ended before the exchange was complete");
  return;
truncated:
  free(done.s);
  failure(pl, "data", PR_END_OF_FILE_ERROR, "the stream ended without close_notify");
  return;
wrong:
  free(done.s);
  failure(pl, "data", 0, "unexpected application data");
  return;
after:
  free(done.s);
  failure(pl, "data", 0, "application data after the exchange");
}


/* An NSS socket over a connected descriptor, with the alert callbacks. */
static PRFileDesc *nss_socket(int fd, struct play *pl) {
  PRFileDesc *tcp = PR_ImportTCPSocket(fd);
  PRFileDesc *ssl = tcp ? SSL_ImportFD(NULL, tcp) : NULL;
  if (!ssl) return NULL;
  SSL_OptionSet(ssl, SSL_SECURITY, PR_TRUE);
  SSL_AlertSentCallback(ssl, on_sent, &pl->seen);
  SSL_AlertReceivedCallback(ssl, on_received, &pl->seen);
  return ssl;
}

/* A server's other sites (sni_certificates): the host name a client asks for, and the credential it then gets. */
struct sites {
  size_t n;
  const char **names;
  struct credential *creds;
};

static int load_sites(const struct json *material, struct sites *out, struct problem *p) {
  const struct json *sni = get(material, "sni_certificates");
  if (!sni || sni->type != J_OBJ || !sni->len) return 1;
  out->names = calloc(sni->len, sizeof *out->names);
  out->creds = calloc(sni->len, sizeof *out->creds);
  for (size_t i = 0; i < sni->len; i++) {
    if (!load_credential(sni->items[i], &out->creds[i], p)) return 0;
    out->names[i] = sni->keys[i];
    out->n++;
  }
  return 1;
}

/* NSS's SNI hook, as a virtual-hosting server uses it: the site whose name the client sent gets its own certificate
 * (SSL_ConfigServerCert replaces the one of the same key type); any other name, or none, keeps the default
 * certificate rather than an unrecognized_name alert, as the other backends' servers do. */
static PRInt32 on_sni(PRFileDesc *fd, const SECItem *names, PRUint32 count, void *arg) {
  const struct sites *s = arg;
  for (PRUint32 i = 0; i < count; i++) {
    for (size_t j = 0; j < s->n; j++) {
      if (names[i].len != strlen(s->names[j]) || strncasecmp((const char *)names[i].data, s->names[j], names[i].len))
        continue;
      SSLExtraServerCertData extra;
      memset(&extra, 0, sizeof extra);
      extra.certChain = s->creds[j].chain;
      if (SSL_ConfigServerCert(fd, s->creds[j].cert, s->creds[j].key, &extra, sizeof extra) != SECSuccess)
        return SSL_SNI_SEND_ALERT;
      return (PRInt32)i;
    }
  }
  return SSL_SNI_CURRENT_CONFIG_IS_USED;
}

static void serve(long id, const struct json *cfg, const struct json *material) {
  struct problem p = {0};
  const struct json *cred = get(material, "certificate");
  struct credential c = {0};
  static struct sites sites; /* one connection per process: it lives as long as the socket */
  if (!cred) { reply_str(id, "error", "a server needs material.certificate"); return; }
  if (!load_credential(cred, &c, &p) || !load_sites(material, &sites, &p)) { reply_str(id, p.kind, p.text); return; }
  if (SSL_ConfigServerSessionIDCache(16, 0, 0, NULL) != SECSuccess) {
    reply_str(id, "error", "SSL_ConfigServerSessionIDCache failed");
    return;
  }
  int fd = accept_one(id);
  if (fd < 0) return;
  struct play pl = {.seen = {-1, -1, 0}, .client = 0};
  pl.ssl = nss_socket(fd, &pl);
  SSLExtraServerCertData extra;
  memset(&extra, 0, sizeof extra);
  extra.certChain = c.chain;
  if (!pl.ssl || SSL_OptionSet(pl.ssl, SSL_HANDSHAKE_AS_SERVER, PR_TRUE) != SECSuccess ||
      SSL_ConfigServerCert(pl.ssl, c.cert, c.key, &extra, sizeof extra) != SECSuccess) {
    struct buf e = {0};
    put_error(&e, PR_GetError());
    reply_str(id, "error", e.s);
    free(e.s);
    return;
  }
  if (!configure_common(pl.ssl, cfg, &p)) { reply_str(id, p.kind, p.text); return; }
  if (sites.n && SSL_SNISocketConfigHook(pl.ssl, on_sni, &sites) != SECSuccess) {
    reply_str(id, "error", "SSL_SNISocketConfigHook failed");
    return;
  }
  const char *auth = get_str(cfg, "client_auth");
  if (auth && strcmp(auth, "none")) {
    SSL_OptionSet(pl.ssl, SSL_REQUEST_CERTIFICATE, PR_TRUE);
    SSL_OptionSet(pl.ssl, SSL_REQUIRE_CERTIFICATE, !strcmp(auth, "required") ? SSL_REQUIRE_ALWAYS : SSL_REQUIRE_NEVER);
    /* The CAs it trusts, also named in the CertificateRequest (certificate_authorities). */
    CERTCertList *names = CERT_NewCertList();
    if (!trust(get_str(material, "trust_pem"), names, &p)) { reply_str(id, p.kind, p.text); return; }
    if (!CERT_LIST_EMPTY(names)) SSL_SetTrustAnchors(pl.ssl, names);
  }
  SSL_ResetHandshake(pl.ssl, PR_TRUE);
  play(&pl);
  send_outcome(id, &pl.outcome);
  linger(fd);
}

static void connect_(long id, int port, const struct json *cfg, const struct json *material) {
  struct problem p = {0};
  const char *host = get_str(cfg, "server_name");
  if (!host) host = "127.0.0.1";
  struct json *sni = get(cfg, "sni");
  if (sni && sni->type == J_BOOL && !sni->boolean) {
    reply_str(id, "unsupported", "NSS sends the name given to SSL_SetURL as SNI whenever it verifies it");
    return;
  }
  if (!trust(get_str(material, "trust_pem"), NULL, &p)) { reply_str(id, p.kind, p.text); return; }
  struct credential c = {0};
  const struct json *cred = get(material, "certificate");
  if (cred && !load_credential(cred, &c, &p)) { reply_str(id, p.kind, p.text); return; }
  int fd = connect_loopback(id, port);
  if (fd < 0) return;
  struct play pl = {.seen = {-1, -1, 0}, .client = 1};
  pl.ssl = nss_socket(fd, &pl);
  /* What the application connects to is what it verifies (SSL_AuthCertificate checks the name given here, a DNS
   * name or an IP address) and, unless it is an address, what it sends as SNI. */
  if (!pl.ssl || SSL_OptionSet(pl.ssl, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE) != SECSuccess ||
      SSL_SetURL(pl.ssl, host) != SECSuccess) {
    reply_str(id, "error", "cannot set up the NSS socket");
    return;
  }
  if (!configure_common(pl.ssl, cfg, &p)) { reply_str(id, p.kind, p.text); return; }
  if (c.cert) SSL_GetClientAuthDataHook(pl.ssl, on_client_auth, &c);
  SSL_ResetHandshake(pl.ssl, PR_FALSE);
  play(&pl);
  /* After the linger, not before: the harness takes a client's outcome as the end of the cell. */
  linger(fd);
  send_outcome(id, &pl.outcome);
}

/* One request, in a child process of its own: NSS initialised here, for this connection alone. */
static void child(const char *line) {
  struct json *req = json_parse(line);
  struct json *idv = get(req, "id");
  long id = idv && idv->type == J_NUM ? (long)idv->num : -1;
  const char *role = get_str(req, "role");
  struct json *cfg = get(req, "config"), *material = get(req, "material"), *port = get(req, "connect");
  if (!req) reply_str(id, "error", "the request is not JSON this adapter reads");
  else if (!cfg || cfg->type != J_OBJ || !material) reply_str(id, "error", "a request needs config and material");
  else if (NSS_NoDB_Init(NULL) != SECSuccess || NSS_SetDomesticPolicy() != SECSuccess) {
    struct buf e = {0};
    put_error(&e, PR_GetError());
    reply_str(id, "error", e.s);
  } else if (role && !strcmp(role, "server")) serve(id, cfg, material);
  else if (role && !strcmp(role, "client") && port && port->type == J_NUM) connect_(id, (int)port->num, cfg, material);
  else reply_str(id, "error", "role must be \"server\" or \"client\" (a client with connect)");
  fflush(peer_out);
}

/* ---- the parent: one child per request, its reply lines relayed whole ---------------------------------------- */

struct relay {
  int fd;
  pid_t pid;
  long id;
};

/* Whether a reply line ends its request (an outcome, an error, or unsupported). */
static int is_final(const char *line) {
  struct json *j = json_parse(line);
  int final = get(j, "outcome") || get(j, "error") || get(j, "unsupported");
  json_free(j);
  return final;
}

static void *relay(void *arg) {
  struct relay *r = arg;
  FILE *in = fdopen(r->fd, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int final = 0;
  while (in && (n = getline(&line, &cap, in)) > 0) {
    if (line[n - 1] == '\n') line[--n] = '\0';
    final |= is_final(line);
    struct buf b = {0};
    puts_(&b, line);
    send_line(&b);
  }
  free(line);
  if (in) fclose(in);
  int status = 0;
  waitpid(r->pid, &status, 0);
  if (!final) {
    char why[160];
    if (WIFSIGNALED(status)) snprintf(why, sizeof why, "the NSS child process died of signal %d", WTERMSIG(status));
    else snprintf(why, sizeof why, "the NSS child process exited (%d) without an outcome", WEXITSTATUS(status));
    reply_str(r->id, "error", why);
  }
  free(r);
  return NULL;
}

static void spawn(const char *line) {
  struct json *req = json_parse(line);
  struct json *idv = get(req, "id");
  long id = idv && idv->type == J_NUM ? (long)idv->num : -1;
  json_free(req);
  int fds[2];
  if (pipe(fds)) { reply_str(id, "error", strerror(errno)); return; }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    reply_str(id, "error", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    /* The child's replies go into its pipe through a FILE of its own, under a lock of its own: a relay thread may
     * have held stdout's lock or out_lock when the parent forked. stdin is the parent's, never read here. */
    pthread_mutex_init(&out_lock, NULL);
    close(fds[0]);
    peer_out = fdopen(fds[1], "w");
    if (!peer_out) _exit(1);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    alarm(CHILD_DEADLINE_S);
    child(line);
    _exit(0);
  }
  close(fds[1]);
  struct relay *r = malloc(sizeof *r);
  if (!r) abort();
  *r = (struct relay){fds[0], pid, id};
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, relay, r)) {
    close(fds[0]);
    free(r);
    reply_str(id, "error", "cannot start a relay thread");
  }
  pthread_attr_destroy(&attr);
}

/* ---- the probe: what this NSS implements, and what it does by default ----------------------------------------- */

static void probe(void) {
  if (NSS_NoDB_Init(NULL) != SECSuccess || NSS_SetDomesticPolicy() != SECSuccess) {
    fprintf(stderr, "NSS_NoDB_Init failed\n");
    exit(1);
  }
  struct buf b = {0};
  puts_(&b, "{\"version\":");
  char v[64];
  snprintf(v, sizeof v, "NSS %s", NSS_GetVersion());
  put_json_str(&b, v);
  for (int defaults = 0; defaults < 2; defaults++) {
    puts_(&b, defaults ? ",\"default_suites\":[" : ",\"suites\":[");
    int first = 1;
    for (unsigned i = 0; i < SSL_NumImplementedCiphers; i++) {
      SSLCipherSuiteInfo info;
      PRBool on = PR_FALSE;
      if (SSL_GetCipherSuiteInfo(SSL_ImplementedCiphers[i], &info, sizeof info) != SECSuccess) continue;
      /* The policy (NSS_SetDomesticPolicy) decides what can be enabled at all. */
      PRInt32 policy = 0;
      SSL_CipherPolicyGet(SSL_ImplementedCiphers[i], &policy);
      if (policy != SSL_ALLOWED) continue;
      if (defaults && (SSL_CipherPrefGetDefault(SSL_ImplementedCiphers[i], &on) != SECSuccess || !on)) continue;
      if (!first) puts_(&b, ",");
      put_json_str(&b, info.cipherSuiteName);
      first = 0;
    }
    puts_(&b, "]");
  }
  puts_(&b, ",\"groups\":[");
  for (size_t i = 0; i < N_GROUPS; i++) putf(&b, "%s\"%s\"", i ? "," : "", GROUPS[i].name);
  SSLVersionRange supported, defaults;
  SSL_VersionRangeGetSupported(ssl_variant_stream, &supported);
  SSL_VersionRangeGetDefault(ssl_variant_stream, &defaults);
  puts_(&b, "],\"versions\":{");
  for (size_t i = 0; i < 4; i++)
    putf(&b, "%s\"%s\":%s", i ? "," : "", VERSIONS[i].name,
         VERSIONS[i].version >= supported.min && VERSIONS[i].version <= supported.max ? "true" : "false");
  putf(&b, "},\"default_versions\":[\"%s\",\"%s\"]}", version_name(defaults.min), version_name(defaults.max));
  fwrite(b.s, 1, b.len, stdout);
  fputc('\n', stdout);
  free(b.s);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--probe")) {
    probe();
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  printf("{\"ready\":true,\"version\":\"NSS %s\"}\n", NSS_GetVersion());
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    if (n == 1) continue;
    spawn(line);
  }
  free(line);
  return 0;
}
