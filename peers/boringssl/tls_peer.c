/*
 * The tlsmatrix peer adapter for BoringSSL: one long-lived process that plays TLS client and server connections on
 * request, through BoringSSL's libssl as Debian ships it for Android (android-libboringssl, 13.0.0+r24).
 *
 *     tls_peer --probe     print what this BoringSSL can do, as one JSON line, and exit
 *     tls_peer             serve requests (the contract: docs/peers.md)
 *
 * Built by tlsmatrix on first use (src/backend/peer/boringssl.rs) with the machine's C compiler against
 * /usr/include/android and /usr/lib/x86_64-linux-gnu/android. BoringSSL cannot be linked into tlsmatrix itself: it
 * exports the same symbols as the system OpenSSL that the openssl crate links.
 *
 * Every context is configured as an application that links libssl and uses its built-in X.509 verifier configures
 * one (curl, Envoy or gRPC built with BoringSSL): SSL_CTX_new(TLS_method()), the scenario's settings, the scenario's
 * CAs only, the host name checked with X509_VERIFY_PARAM_set1_host. Alerts are not inferred: the info callback
 * reports every alert libssl writes and reads (TLS 1.3's encrypted ones included), and the key log goes to the
 * harness, which checks each reported alert against the decrypted bytes.
 *
 * The contract in short: JSON requests, one per line, on stdin, each handled on a thread of its own; JSON replies on
 * stdout, each a whole line written under a lock, carrying the request's id; end of stdin ends the process. The
 * plumbing (the JSON reader, the replies, the contract's names) is peer.h, shared with the NSS adapter.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "peer.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Endpoints whose contexts (and a client's last session) are kept for a second connection (`mode: resume`). */
#define KEEP_ENDPOINTS 256

/* Groups by IANA name (the contract's) and code point; BoringSSL's SSL_CTX_set1_curves_list takes its own names. */
static const struct { const char *name; uint16_t id; const char *bssl; } GROUPS[] = {
    {"x25519", 0x001d, "X25519"}, {"secp256r1", 0x0017, "P-256"}, {"secp384r1", 0x0018, "P-384"},
    {"secp521r1", 0x0019, "P-521"},
};
#define N_GROUPS (sizeof GROUPS / sizeof GROUPS[0])

static const char *group_name(uint16_t id) {
  for (size_t i = 0; i < N_GROUPS; i++)
    if (GROUPS[i].id == id) return GROUPS[i].name;
  return NULL;
}

/* ---- configuration ------------------------------------------------------------------------------------------- */

/* libssl's error queue, drained, as one line ("error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_..."). */
static void drain_errors(struct buf *b) {
  unsigned long e;
  int first = 1;
  while ((e = ERR_get_error()) != 0) {
    char line[256];
    ERR_error_string_n(e, line, sizeof line);
    if (!first) puts_(b, "; ");
    puts_(b, line);
    first = 0;
  }
}

static int ex_index = -1;

/* What one connection saw and whom it answers to: the request id (for key log lines) and the alerts. */
struct seen {
  long id;
  int sent, received;             /* the first alert sent / received other than close_notify (-1: none) */
  int received_close_notify;
  struct endpoint *endpoint;      /* a client's endpoint, where its new session goes */
};

struct endpoint {
  long key;
  int role_server;
  SSL_CTX *ctx;                   /* a server's session cache and ticket keys live here */
  SSL_CTX **sni_ctx;              /* a server's contexts for sni_certificates, by sni_names */
  char **sni_names;
  size_t n_sni;
  SSL_SESSION *session;           /* a client's last session */
  pthread_mutex_t lock;
  int refs;
};

static void on_info(const SSL *ssl, int type, int value) {
  struct seen *s = SSL_get_ex_data(ssl, ex_index);
  if (!s || !(type & SSL_CB_ALERT)) return;
  int desc = value & 0xff;
  if (type == SSL_CB_WRITE_ALERT) {
    if (desc != 0 && s->sent < 0) s->sent = desc;
  } else if (type == SSL_CB_READ_ALERT) {
    if (desc == 0) s->received_close_notify = 1;
    else if (s->received < 0) s->received = desc;
  }
}

static void on_keylog(const SSL *ssl, const char *line) {
  struct seen *s = SSL_get_ex_data(ssl, ex_index);
  if (s) reply_str(s->id, "keylog", line);
}

/* A client's session, kept for the endpoint's next connection. In TLS 1.3 the tickets arrive after the handshake
 * and reach the application only through this callback (SSL_get1_session would return the handshake's own, not
 * resumable session). */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  struct seen *s = SSL_get_ex_data(ssl, ex_index);
  if (!s || !s->endpoint) return 0;
  pthread_mutex_lock(&s->endpoint->lock);
  if (s->endpoint->session) SSL_SESSION_free(s->endpoint->session);
  s->endpoint->session = session;
  pthread_mutex_unlock(&s->endpoint->lock);
  return 1; /* the reference is ours now */
}

/* What both roles share: versions, TLS 1.2 suites, groups, signature algorithms, session tickets. */
static int configure_common(SSL_CTX *ctx, const struct json *cfg, struct problem *p) {
  const struct json *v;
  if (!str_list(cfg, "versions", &v, p)) return 0;
  if (v && v->len) {
    uint16_t lo = 0, hi = 0;
    for (size_t i = 0; i < 4; i++) {
      if (!strcmp(VERSIONS[i].name, v->items[0]->str)) lo = VERSIONS[i].version;
      if (!strcmp(VERSIONS[i].name, v->items[v->len - 1]->str)) hi = VERSIONS[i].version;
    }
    if (!lo || !hi) return fail(p, "unsupported", "unknown protocol version in config.versions");
    if (!SSL_CTX_set_min_proto_version(ctx, lo) || !SSL_CTX_set_max_proto_version(ctx, hi))
      return fail(p, "unsupported", "BoringSSL refused the version range");
  }
  if (get(cfg, "tls13_cipher_suites"))
    return fail(p, "unsupported", "BoringSSL has no TLS 1.3 cipher suite setting");
  if (get(cfg, "security_level")) return fail(p, "unsupported", "BoringSSL has no security levels");
  if (!str_list(cfg, "cipher_suites", &v, p)) return 0;
  if (v) {
    /* IANA names to BoringSSL's own, through the suites it implements (SSL_CIPHER_standard_name). */
    SSL_CTX *all = SSL_CTX_new(TLS_method());
    SSL_CTX_set_strict_cipher_list(all, "ALL");
    STACK_OF(SSL_CIPHER) *known = SSL_CTX_get_ciphers(all);
    struct buf list = {0};
    for (size_t i = 0; i < v->len; i++) {
      const char *name = NULL;
      for (size_t k = 0; k < sk_SSL_CIPHER_num(known); k++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(known, k);
        if (!strcmp(SSL_CIPHER_standard_name(c), v->items[i]->str)) name = SSL_CIPHER_get_name(c);
      }
      if (!name) {
        SSL_CTX_free(all);
        free(list.s);
        return fail(p, "unsupported", "cipher suite %s is not implemented by BoringSSL", v->items[i]->str);
      }
      if (list.len) puts_(&list, ":");
      puts_(&list, name);
    }
    SSL_CTX_free(all);
    /* An empty list leaves TLS 1.2 and earlier without suites, as an empty OpenSSL-style list would. */
    int ok = SSL_CTX_set_strict_cipher_list(ctx, list.len ? list.s : "");
    free(list.s);
    ERR_clear_error();
    if (!ok && v->len) return fail(p, "unsupported", "BoringSSL refused the cipher list");
  }
  if (!str_list(cfg, "groups", &v, p)) return 0;
  if (v) {
    struct buf list = {0};
    for (size_t i = 0; i < v->len; i++) {
      const char *name = NULL;
      for (size_t k = 0; k < N_GROUPS; k++)
        if (!strcmp(GROUPS[k].name, v->items[i]->str)) name = GROUPS[k].bssl;
      if (!name) { free(list.s); return fail(p, "unsupported", "group %s is not implemented", v->items[i]->str); }
      if (list.len) puts_(&list, ":");
      puts_(&list, name);
    }
    int ok = list.len && SSL_CTX_set1_curves_list(ctx, list.s);
    free(list.s);
    if (!ok) return fail(p, "unsupported", "BoringSSL refused the group list");
  }
  if (!str_list(cfg, "signature_algorithms", &v, p)) return 0;
  if (v) {
    uint16_t prefs[32];
    size_t n = 0;
    for (size_t i = 0; i < v->len && n < 32; i++) {
      uint16_t id = sigalg_id(v->items[i]->str);
      if (!id) return fail(p, "unsupported", "signature scheme %s is not known here", v->items[i]->str);
      prefs[n++] = id;
    }
    /* What the side offers and accepts, and what it may sign with: OpenSSL's sigalgs list means both. */
    if (!SSL_CTX_set_verify_algorithm_prefs(ctx, prefs, n) || !SSL_CTX_set_signing_algorithm_prefs(ctx, prefs, n)) {
      ERR_clear_error();
      return fail(p, "unsupported", "BoringSSL refused the signature algorithm list (it implements neither ed448 "
                                    "nor rsa_pss_pss_*)");
    }
  }
  struct json *tickets = get(cfg, "session_tickets");
  if (tickets && tickets->type == J_BOOL && !tickets->boolean) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_info_callback(ctx, on_info);
  SSL_CTX_set_keylog_callback(ctx, on_keylog);
  return 1;
}

/* The trust store: exactly the scenario's CAs (empty: nothing; libssl never loads the system store by itself). */
static int load_trust(SSL_CTX *ctx, const char *pem, STACK_OF(X509_NAME) *names, struct problem *p) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  if (!pem || !*pem) return 1;
  BIO *bio = BIO_new_mem_buf(pem, -1);
  X509 *cert;
  int n = 0;
  while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    X509_STORE_add_cert(store, cert);
    if (names) sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(cert)));
    X509_free(cert);
    n++;
  }
  BIO_free(bio);
  ERR_clear_error();
  return n ? 1 : fail(p, "error", "material.trust_pem holds no certificate");
}

/* A certificate (leaf first, then the chain the scenario sends, in that order) and its PKCS#8 key. */
static int load_credential(SSL_CTX *ctx, const struct json *cred, struct problem *p) {
  const char *chain = get_str(cred, "chain_pem"), *key = get_str(cred, "key_pem");
  if (!chain || !key) return fail(p, "error", "a credential needs chain_pem and key_pem");
  BIO *bio = BIO_new_mem_buf(chain, -1);
  X509 *cert;
  int n = 0, ok = 1;
  while (ok && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    ok = n == 0 ? SSL_CTX_use_certificate(ctx, cert) : SSL_CTX_add1_chain_cert(ctx, cert);
    X509_free(cert);
    n++;
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!n || !ok) return fail(p, "error", "cannot load the certificate chain");
  bio = BIO_new_mem_buf(key, -1);
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!pkey || !SSL_CTX_use_PrivateKey(ctx, pkey)) {
    struct buf e = {0};
    drain_errors(&e);
    fail(p, "unsupported", "BoringSSL cannot load this private key: %s", e.s ? e.s : "no error");
    free(e.s);
    EVP_PKEY_free(pkey);
    return 0;
  }
  EVP_PKEY_free(pkey);
  return 1;
}

/* The server's ALPN list (wire format) and what it does without overlap. */
struct alpn {
  unsigned char wire[512];
  unsigned len;
  int ignore_mismatch;
};

static int alpn_ex_index = -1;

/* Server preference: the first of the server's protocols the client offers, as OpenSSL's SSL_select_next_proto
 * and most servers pick. No overlap is fatal (no_application_protocol, RFC 7301 section 3.2) unless the scenario
 * says to ignore it (SSL_TLSEXT_ERR_NOACK: no ALPN in the answer). */
static int on_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in, unsigned in_len, void *arg) {
  (void)ssl;
  struct alpn *a = arg;
  for (unsigned i = 0; i < a->len; i += 1 + a->wire[i]) {
    for (unsigned k = 0; k < in_len; k += 1 + in[k]) {
      if (k + 1 + in[k] > in_len) break;
      if (in[k] == a->wire[i] && !memcmp(in + k + 1, a->wire + i + 1, in[k])) {
        *out = in + k + 1;
        *out_len = in[k];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return a->ignore_mismatch ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void free_alpn(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int index, long argl, void *argp) {
  (void)parent; (void)ad; (void)index; (void)argl; (void)argp;
  free(ptr);
}

/* A server context for one certificate; the SNI contexts share everything else. */
static SSL_CTX *server_context(const struct json *cfg, const struct json *material, const struct json *cred,
                               struct problem *p) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx || !configure_common(ctx, cfg, p) || !load_credential(ctx, cred, p)) goto bad;
  const struct json *alpn;
  if (!str_list(cfg, "alpn", &alpn, p)) goto bad;
  if (alpn) {
    struct alpn *a = calloc(1, sizeof *a);
    if (!a || !alpn_wire(alpn, a->wire, &a->len, p)) { free(a); goto bad; }
    const char *mismatch = get_str(cfg, "alpn_mismatch");
    a->ignore_mismatch = mismatch && !strcmp(mismatch, "ignore");
    SSL_CTX_set_ex_data(ctx, alpn_ex_index, a);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, a);
  }
  const char *auth = get_str(cfg, "client_auth");
  if (auth && strcmp(auth, "none")) {
    int mode = SSL_VERIFY_PEER;
    if (!strcmp(auth, "required")) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    else if (strcmp(auth, "optional")) { fail(p, "unsupported", "unknown client_auth %s", auth); goto bad; }
    SSL_CTX_set_verify(ctx, mode, NULL);
    /* The CAs it trusts are also the names it asks for (certificate_authorities), as the openssl backend does. */
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    if (!load_trust(ctx, get_str(material, "trust_pem"), names, p)) { sk_X509_NAME_pop_free(names, X509_NAME_free); goto bad; }
    SSL_CTX_set_client_CA_list(ctx, names);
  }
  /* Needed to resume sessions that carry a client certificate; harmless otherwise. */
  SSL_CTX_set_session_id_context(ctx, (const uint8_t *)"tlsmatrix", 9);
  return ctx;
bad:
  SSL_CTX_free(ctx);
  return NULL;
}

/* The context for the name the client asked for; other names keep the default certificate, as most servers do. */
static int on_servername(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  struct endpoint *e = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  for (size_t i = 0; name && i < e->n_sni; i++)
    if (!strcasecmp(name, e->sni_names[i])) SSL_set_SSL_CTX(ssl, e->sni_ctx[i]);
  return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *client_context(const struct json *cfg, const struct json *material, struct problem *p) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (!ctx || !configure_common(ctx, cfg, p)) goto bad;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  if (!load_trust(ctx, get_str(material, "trust_pem"), NULL, p)) goto bad;
  const struct json *cred = get(material, "certificate");
  if (cred && !load_credential(ctx, cred, p)) goto bad;
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  return ctx;
bad:
  SSL_CTX_free(ctx);
  return NULL;
}

/* ---- endpoints: what one harness endpoint keeps between its connections --------------------------------------- */

static pthread_mutex_t endpoints_lock = PTHREAD_MUTEX_INITIALIZER;
static struct endpoint *endpoints[KEEP_ENDPOINTS];
static size_t next_slot;

static void endpoint_release(struct endpoint *e) {
  pthread_mutex_lock(&endpoints_lock);
  int last = --e->refs == 0;
  pthread_mutex_unlock(&endpoints_lock);
  if (!last) return;
  SSL_CTX_free(e->ctx);
  for (size_t i = 0; i < e->n_sni; i++) { SSL_CTX_free(e->sni_ctx[i]); free(e->sni_names[i]); }
  free(e->sni_ctx);
  free(e->sni_names);
  if (e->session) SSL_SESSION_free(e->session);
  pthread_mutex_destroy(&e->lock);
  free(e);
}

static struct endpoint *endpoint_find(long key, int server) {
  struct endpoint *found = NULL;
  pthread_mutex_lock(&endpoints_lock);
  for (size_t i = 0; i < KEEP_ENDPOINTS; i++)
    if (endpoints[i] && endpoints[i]->key == key && endpoints[i]->role_server == server) {
      found = endpoints[i];
      found->refs++;
    }
  pthread_mutex_unlock(&endpoints_lock);
  return found;
}

/* Keeps `e` (the oldest kept one goes), with a reference for the caller. */
static void endpoint_keep(struct endpoint *e) {
  struct endpoint *old;
  pthread_mutex_lock(&endpoints_lock);
  old = endpoints[next_slot];
  endpoints[next_slot] = e;
  next_slot = (next_slot + 1) % KEEP_ENDPOINTS;
  e->refs = 2;
  pthread_mutex_unlock(&endpoints_lock);
  if (old) endpoint_release(old);
}

static struct endpoint *endpoint_new(long key, int server, SSL_CTX *ctx) {
  struct endpoint *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->key = key;
  e->role_server = server;
  e->ctx = ctx;
  pthread_mutex_init(&e->lock, NULL);
  return e;
}

/* ---- playing a connection ------------------------------------------------------------------------------------ */

struct play {
  SSL *ssl;
  struct seen seen;
  int client;
  struct buf outcome;
};

/* The failure of the call that returned `ret`: its class from SSL_get_error and errno, its text from libssl's error
 * queue (and the verifier's reason, which the queue only names CERTIFICATE_VERIFY_FAILED). */
static void failure(struct play *pl, const char *phase, int ret, const char *own) {
  int err = own ? SSL_ERROR_NONE : SSL_get_error(pl->ssl, ret);
  int saved_errno = errno;
  struct buf msg = {0};
  enum cls cls;
  if (own) {
    puts_(&msg, own);
    cls = C_IO;
  } else {
    drain_errors(&msg);
    switch (err) {
      case SSL_ERROR_SSL:
        cls = C_LOCAL;
        break;
      case SSL_ERROR_ZERO_RETURN:
        cls = C_EOF;
        if (!msg.len) puts_(&msg, "the peer sent close_notify before the exchange was complete");
        break;
      case SSL_ERROR_SYSCALL:
        if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) cls = C_TIMEOUT;
        else if (ret == 0 || saved_errno == 0) cls = C_EOF;
        else cls = C_IO;
        if (!msg.len) {
          if (cls == C_EOF) puts_(&msg, "the stream ended without close_notify (SSL_ERROR_SYSCALL, end of file)");
          else putf(&msg, "SSL_ERROR_SYSCALL: %s", strerror(saved_errno));
        }
        break;
      default:
        cls = C_UNMAPPED;
        break;
    }
    /* The queue only says CERTIFICATE_VERIFY_FAILED; the verifier's reason is what a user needs. (Before any
     * verification the result is X509_V_ERR_INVALID_CALL, so it is read only after such a failure.) */
    long verify = SSL_get_verify_result(pl->ssl);
    if (verify != X509_V_OK && strstr(msg.s ? msg.s : "", "CERTIFICATE_VERIFY_FAILED"))
      putf(&msg, " (%s)", X509_verify_cert_error_string(verify));
    /* libssl reports a received alert as its own error (SSL_R_TLSV1_ALERT_*): the alert itself says it was the
     * peer's; an end of stream is the peer's doing even where libssl answered it with an alert. */
    if (pl->seen.received >= 0) cls = C_PEER_ALERT;
    if (strstr(msg.s ? msg.s : "", "UNEXPECTED_EOF") && pl->seen.received < 0) cls = C_EOF;
  }
  char rule[96];
  snprintf(rule, sizeof rule, "peers/boringssl/tls_peer.c failure() for SSL_get_error %d", err);
  put_failure(&pl->outcome, phase, pl->seen.sent, pl->seen.received, cls, msg.s, rule);
  free(msg.s);
}

static void established(struct play *pl, struct buf *b) {
  const SSL_CIPHER *c = SSL_get_current_cipher(pl->ssl);
  const uint8_t *alpn = NULL;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(pl->ssl, &alpn, &alpn_len);
  char name[256] = "";
  memcpy(name, alpn, alpn_len < sizeof name ? alpn_len : 0);
  name[alpn_len < sizeof name ? alpn_len : 0] = '\0';
  put_established(b, version_name((uint16_t)SSL_version(pl->ssl)), c ? SSL_CIPHER_standard_name(c) : NULL,
                  group_name(SSL_get_curve_id(pl->ssl)), alpn_len ? name : NULL, SSL_session_reused(pl->ssl));
}

/* Reads exactly n bytes; 1 when done, else the SSL_read result (<= 0). */
static int read_exactly(SSL *ssl, char *out, int n) {
  int got = 0;
  while (got < n) {
    int r = SSL_read(ssl, out + got, n - got);
    if (r <= 0) return r;
    got += r;
  }
  return 1;
}

/* The handshake, one message each way, close_notify both ways: what the harness's exchange() does. */
static void play(struct play *pl) {
  int r = pl->client ? SSL_connect(pl->ssl) : SSL_accept(pl->ssl);
  if (r != 1) { failure(pl, "handshake", r, NULL); return; }
  /* The parameters as the handshake left them; the outcome only if the exchange completes too. */
  struct buf done = {0};
  established(pl, &done);
  char got[PING_LEN + 1];
  const char *own = NULL;
  if (pl->client) {
    if ((r = SSL_write(pl->ssl, PING, PING_LEN)) <= 0) goto data;
    if ((r = read_exactly(pl->ssl, got, PING_LEN)) <= 0) goto data;
    if (memcmp(got, PING, PING_LEN)) { own = "unexpected application data"; goto data; }
    /* close_notify, then the server's: SSL_read returns 0 with SSL_ERROR_ZERO_RETURN once it has arrived. */
    if ((r = SSL_shutdown(pl->ssl)) < 0) goto data;
    if ((r = SSL_read(pl->ssl, got, 1)) > 0) { own = "application data after the exchange"; goto data; }
    if (SSL_get_error(pl->ssl, r) != SSL_ERROR_ZERO_RETURN) goto data;
  } else {
    if ((r = read_exactly(pl->ssl, got, PING_LEN)) <= 0) goto data;
    if (memcmp(got, PING, PING_LEN)) { own = "unexpected application data"; goto data; }
    if ((r = SSL_write(pl->ssl, got, PING_LEN)) <= 0) goto data;
    if ((r = SSL_read(pl->ssl, got, 1)) > 0) { own = "application data after the exchange"; goto data; }
    if (SSL_get_error(pl->ssl, r) != SSL_ERROR_ZERO_RETURN) goto data;
    if ((r = SSL_shutdown(pl->ssl)) < 0) goto data; /* our close_notify, in answer to the client's */
  }
  pl->outcome = done;
  return;
data:
  free(done.s);
  failure(pl, "data", r, own);
}


static struct endpoint *server_endpoint(long key, const struct json *cfg, const struct json *material,
                                        struct problem *p) {
  struct endpoint *e = key ? endpoint_find(key, 1) : NULL;
  if (e) return e;
  const struct json *cred = get(material, "certificate");
  if (!cred) { fail(p, "error", "a server needs material.certificate"); return NULL; }
  SSL_CTX *ctx = server_context(cfg, material, cred, p);
  if (!ctx) return NULL;
  e = endpoint_new(key, 1, ctx);
  const struct json *sni = get(material, "sni_certificates");
  if (sni && sni->type == J_OBJ && sni->len) {
    e->sni_ctx = calloc(sni->len, sizeof *e->sni_ctx);
    e->sni_names = calloc(sni->len, sizeof *e->sni_names);
    for (size_t i = 0; i < sni->len; i++) {
      SSL_CTX *other = server_context(cfg, material, sni->items[i], p);
      if (!other) { e->refs = 1; endpoint_release(e); return NULL; }
      e->sni_ctx[i] = other;
      e->sni_names[i] = strdup(sni->keys[i]);
      e->n_sni++;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, e);
  }
  if (!key) { e->refs = 1; return e; }
  endpoint_keep(e);
  return e;
}

static void serve(long id, const struct json *cfg, const struct json *material, long key) {
  struct problem p = {0};
  struct endpoint *e = server_endpoint(key, cfg, material, &p);
  if (!e) { reply_str(id, p.kind, p.text); return; }
  int fd = accept_one(id);
  if (fd < 0) {
    endpoint_release(e);
    return;
  }
  struct play pl = {.ssl = SSL_new(e->ctx), .seen = {id, -1, -1, 0, NULL}, .client = 0};
  SSL_set_ex_data(pl.ssl, ex_index, &pl.seen);
  SSL_set_fd(pl.ssl, fd);
  play(&pl);
  send_outcome(id, &pl.outcome);
  linger(fd);
  SSL_set_ex_data(pl.ssl, ex_index, NULL);
  SSL_free(pl.ssl);
  close(fd);
  free(pl.outcome.s);
  endpoint_release(e);
}

static void connect_(long id, int port, const struct json *cfg, const struct json *material, long key) {
  struct problem p = {0};
  const char *host = get_str(cfg, "server_name");
  if (!host) host = "127.0.0.1";
  struct json *sni = get(cfg, "sni");
  int send_sni = !is_ip(host) && !(sni && sni->type == J_BOOL && !sni->boolean);
  struct endpoint *e = key ? endpoint_find(key, 0) : NULL;
  if (!e) {
    SSL_CTX *ctx = client_context(cfg, material, &p);
    if (!ctx) { reply_str(id, p.kind, p.text); return; }
    e = endpoint_new(key, 0, ctx);
    if (key) endpoint_keep(e);
    else e->refs = 1;
  }
  SSL *ssl = SSL_new(e->ctx);
  /* What the application connects to is what it verifies: a DNS name against the DNS SANs, an IP address against
   * the IP SANs. libssl checks no name unless told to. */
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  int named = is_ip(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                          : X509_VERIFY_PARAM_set1_host(param, host, strlen(host));
  if (!named || (send_sni && !SSL_set_tlsext_host_name(ssl, host))) {
    reply_str(id, "error", "cannot set the host name to verify");
    SSL_free(ssl);
    endpoint_release(e);
    return;
  }
  const struct json *alpn;
  if (!str_list(cfg, "alpn", &alpn, &p)) { reply_str(id, p.kind, p.text); SSL_free(ssl); endpoint_release(e); return; }
  if (alpn) {
    unsigned char wire[512];
    unsigned len;
    if (!alpn_wire(alpn, wire, &len, &p) || SSL_set_alpn_protos(ssl, wire, len) != 0) {
      reply_str(id, p.kind ? p.kind : "error", p.kind ? p.text : "cannot set the ALPN list");
      SSL_free(ssl);
      endpoint_release(e);
      return;
    }
  }
  pthread_mutex_lock(&e->lock);
  if (e->session) SSL_set_session(ssl, e->session);
  pthread_mutex_unlock(&e->lock);
  int fd = connect_loopback(id, port);
  if (fd < 0) {
    SSL_free(ssl);
    endpoint_release(e);
    return;
  }
  struct play pl = {.ssl = ssl, .seen = {id, -1, -1, 0, key ? e : NULL}, .client = 1};
  SSL_set_ex_data(ssl, ex_index, &pl.seen);
  SSL_set_fd(ssl, fd);
  play(&pl);
  /* After the linger, not before: the harness takes a client's outcome as the end of the cell, and one that failed
   * at once could otherwise answer before the harness has accepted its connection, whose bytes would never cross. */
  linger(fd);
  send_outcome(id, &pl.outcome);
  SSL_set_ex_data(ssl, ex_index, NULL);
  SSL_free(ssl);
  close(fd);
  free(pl.outcome.s);
  endpoint_release(e);
}

static void *handle(void *arg) {
  char *line = arg;
  struct json *req = json_parse(line);
  free(line);
  struct json *idv = get(req, "id");
  long id = idv && idv->type == J_NUM ? (long)idv->num : -1;
  const char *role = get_str(req, "role");
  struct json *cfg = get(req, "config"), *material = get(req, "material"), *ep = get(req, "endpoint");
  struct json *port = get(req, "connect");
  long key = ep && ep->type == J_NUM ? (long)ep->num : 0;
  if (!req) reply_str(id, "error", "the request is not JSON this adapter reads");
  else if (!cfg || cfg->type != J_OBJ || !material) reply_str(id, "error", "a request needs config and material");
  else if (role && !strcmp(role, "server")) serve(id, cfg, material, key);
  else if (role && !strcmp(role, "client") && port && port->type == J_NUM) connect_(id, (int)port->num, cfg, material, key);
  else reply_str(id, "error", "role must be \"server\" or \"client\" (a client with connect)");
  json_free(req);
  ERR_clear_error();
  return NULL;
}

/* ---- the probe: what this BoringSSL implements, and what a fresh context offers ------------------------------- */

static void probe(void) {
  struct buf b = {0};
  SSL_CTX *all = SSL_CTX_new(TLS_method());
  SSL_CTX_set_strict_cipher_list(all, "ALL");
  puts_(&b, "{\"version\":");
  put_json_str(&b, OPENSSL_VERSION_TEXT);
  puts_(&b, ",\"suites\":[");
  STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(all);
  for (size_t i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    if (i) puts_(&b, ",");
    put_json_str(&b, SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(ciphers, i)));
  }
  /* The TLS 1.3 suites are fixed (no setting): AES-GCM and ChaCha20-Poly1305. */
  puts_(&b, "],\"tls13_suites\":[\"TLS_AES_128_GCM_SHA256\",\"TLS_AES_256_GCM_SHA384\",\"TLS_CHACHA20_POLY1305_SHA256\"]");
  SSL_CTX *fresh = SSL_CTX_new(TLS_method());
  puts_(&b, ",\"default_suites\":[");
  ciphers = SSL_CTX_get_ciphers(fresh);
  for (size_t i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    if (i) puts_(&b, ",");
    put_json_str(&b, SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(ciphers, i)));
  }
  puts_(&b, "],\"groups\":[");
  for (size_t i = 0; i < N_GROUPS; i++) {
    char name[16];
    snprintf(name, sizeof name, "%s", GROUPS[i].bssl);
    if (i) puts_(&b, ",");
    put_json_str(&b, SSL_CTX_set1_curves_list(all, name) ? GROUPS[i].name : "");
  }
  puts_(&b, "],\"versions\":{");
  for (size_t i = 0; i < 4; i++) {
    int ok = SSL_CTX_set_min_proto_version(all, VERSIONS[i].version);
    putf(&b, "%s\"%s\":%s", i ? "," : "", VERSIONS[i].name, ok ? "true" : "false");
  }
  putf(&b, "},\"default_versions\":[\"%s\",\"%s\"]}", version_name(SSL_CTX_get_min_proto_version(fresh)),
       version_name(SSL_CTX_get_max_proto_version(fresh)));
  SSL_CTX_free(all);
  SSL_CTX_free(fresh);
  fwrite(b.s, 1, b.len, stdout);
  fputc('\n', stdout);
  free(b.s);
}

int main(int argc, char **argv) {
  ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  alpn_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_alpn);
  if (argc > 1 && !strcmp(argv[1], "--probe")) {
    probe();
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  printf("{\"ready\":true,\"version\":\"%s\"}\n", OPENSSL_VERSION_TEXT);
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  while ((n = getline(&line, &cap, stdin)) > 0) {
    if (n == 1) continue;
    char *copy = strdup(line);
    pthread_t t;
    if (!copy || pthread_create(&t, &attr, handle, copy)) {
      free(copy);
      fprintf(stderr, "cannot start a thread for a request\n");
    }
  }
  free(line);
  return 0;
}
