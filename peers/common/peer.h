/*
 * What every C peer adapter of tlsmatrix shares (peers/boringssl, peers/nss): the peer contract's plumbing, written
 * once. A small JSON reader for the requests (they come from tlsmatrix itself: objects, arrays, strings with escapes,
 * numbers, booleans, null; anything else is refused), the replies written whole under a lock, the contract's names
 * for alerts, versions and signature schemes, and the socket habits of the exchange (timeouts, closing without a
 * reset). Functions are static: each adapter is one translation unit that includes this file.
 *
 * The contract: docs/peers.md. tlsmatrix writes this file beside the adapter's source when it builds it.
 */

#ifndef TLSMATRIX_PEER_H
#define TLSMATRIX_PEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Every function here is static, and not every adapter uses each. */
#define PEER_FN static __attribute__((unused))

/* Sockets give up after this long, so a connection the harness abandoned ends by itself. */
#define SOCKET_TIMEOUT_S 20
/* How long a finished connection keeps reading before it closes (see linger). */
#define LINGER_S 5

static const char PING[] = "tlsmatrix ping\n";
#define PING_LEN 15

/* ---- a small JSON reader ------------------------------------------------------------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
  enum jtype type;
  int boolean;
  double num;
  char *str;            /* J_STR: the decoded string (NUL-terminated; strings with NUL are refused) */
  struct json **items;  /* J_ARR, J_OBJ: the values */
  char **keys;          /* J_OBJ: the keys */
  size_t len;
};

PEER_FN void json_free(struct json *j) {
  if (!j) return;
  for (size_t i = 0; i < j->len; i++) {
    json_free(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
  free(j);
}

struct reader {
  const char *p;
  int depth;
};

PEER_FN void ws(struct reader *r) {
  while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

PEER_FN int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Appends the UTF-8 encoding of `cp`. */
PEER_FN size_t put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) { out[0] = (char)(0xc0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

PEER_FN char *read_string(struct reader *r) {
  if (*r->p != '"') return NULL;
  r->p++;
  /* The rest of the input bounds the decoded string: escapes only shrink. */
  char *out = malloc(strlen(r->p) + 1), *o = out;
  if (!out) return NULL;
  for (;;) {
    char c = *r->p++;
    if (c == '"') break;
    if (c == '\0' || (unsigned char)c < 0x20) { free(out); return NULL; }
    if (c != '\\') { *o++ = c; continue; }
    char e = *r->p++;
    switch (e) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        unsigned cp = 0;
        for (int i = 0; i < 4; i++) {
          int h = hexval(*r->p++);
          if (h < 0) { free(out); return NULL; }
          cp = cp << 4 | (unsigned)h;
        }
        if (cp >= 0xd800 && cp < 0xdc00 && r->p[0] == '\\' && r->p[1] == 'u') {
          unsigned lo = 0;
          for (int i = 0; i < 4; i++) {
            int h = hexval(r->p[2 + i]);
            if (h < 0) { free(out); return NULL; }
            lo = lo << 4 | (unsigned)h;
          }
          if (lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); r->p += 6; }
        }
        if (cp == 0) { free(out); return NULL; }
        o += put_utf8(o, cp);
        break;
      }
      default: free(out); return NULL;
    }
  }
  *o = '\0';
  return out;
}

PEER_FN struct json *read_value(struct reader *r);

PEER_FN int push(struct json *j, char *key, struct json *v) {
  struct json **items = realloc(j->items, (j->len + 1) * sizeof *items);
  if (!items) return 0;
  j->items = items;
  if (j->type == J_OBJ) {
    char **keys = realloc(j->keys, (j->len + 1) * sizeof *keys);
    if (!keys) return 0;
    j->keys = keys;
    j->keys[j->len] = key;
  }
  j->items[j->len++] = v;
  return 1;
}

PEER_FN struct json *read_value(struct reader *r) {
  ws(r);
  if (++r->depth > 32) return NULL;
  struct json *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  char c = *r->p;
  if (c == '{' || c == '[') {
    j->type = c == '{' ? J_OBJ : J_ARR;
    char close = c == '{' ? '}' : ']';
    r->p++;
    ws(r);
    if (*r->p == close) { r->p++; r->depth--; return j; }
    for (;;) {
      char *key = NULL;
      ws(r);
      if (j->type == J_OBJ) {
        key = read_string(r);
        ws(r);
        if (!key || *r->p != ':') { free(key); json_free(j); return NULL; }
        r->p++;
      }
      struct json *v = read_value(r);
      if (!v || !push(j, key, v)) { free(key); json_free(v); json_free(j); return NULL; }
      ws(r);
      if (*r->p == ',') { r->p++; continue; }
      if (*r->p == close) { r->p++; break; }
      json_free(j);
      return NULL;
    }
  } else if (c == '"') {
    j->type = J_STR;
    if (!(j->str = read_string(r))) { json_free(j); return NULL; }
  } else if (!strncmp(r->p, "true", 4) || !strncmp(r->p, "false", 5)) {
    j->type = J_BOOL;
    j->boolean = c == 't';
    r->p += j->boolean ? 4 : 5;
  } else if (!strncmp(r->p, "null", 4)) {
    j->type = J_NULL;
    r->p += 4;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    char *end;
    j->type = J_NUM;
    j->num = strtod(r->p, &end);
    r->p = end;
  } else {
    json_free(j);
    return NULL;
  }
  r->depth--;
  return j;
}

PEER_FN struct json *json_parse(const char *text) {
  struct reader r = {text, 0};
  struct json *j = read_value(&r);
  ws(&r);
  if (j && *r.p) { json_free(j); return NULL; }
  return j;
}

/* The member `key` of an object, or NULL (also for JSON null). */
PEER_FN struct json *get(const struct json *j, const char *key) {
  if (!j || j->type != J_OBJ) return NULL;
  for (size_t i = 0; i < j->len; i++)
    if (!strcmp(j->keys[i], key)) return j->items[i]->type == J_NULL ? NULL : j->items[i];
  return NULL;
}

static const char *get_str(const struct json *j, const char *key) {
  struct json *v = get(j, key);
  return v && v->type == J_STR ? v->str : NULL;
}

/* ---- writing replies ---------------------------------------------------------------------------------------- */

/* A growing string. Allocation failure aborts: the adapter cannot answer without memory anyway. */
struct buf {
  char *s;
  size_t len, cap;
};

PEER_FN void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    if (!b->s) abort();
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

PEER_FN void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

PEER_FN void putf(struct buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string, or null. */
PEER_FN void put_json_str(struct buf *b, const char *s) {
  if (!s) { puts_(b, "null"); return; }
  puts_(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; put(b, e, 2); }
    else if (c == '\n') puts_(b, "\\n");
    else if (c < 0x20 || c == 0x7f) putf(b, "\\u%04x", c);
    else put(b, (const char *)&c, 1);
  }
  puts_(b, "\"");
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
/* Where replies go: stdout, unless an adapter points it elsewhere (the NSS adapter's children write into a pipe of
 * their own, never through a stdout FILE that another thread may have held at fork). */
static FILE *peer_out;

/* One line out, whole, never interleaved with another thread's. */
PEER_FN void send_line(struct buf *b) {
  pthread_mutex_lock(&out_lock);
  FILE *out = peer_out ? peer_out : stdout;
  fwrite(b->s, 1, b->len, out);
  fputc('\n', out);
  fflush(out);
  pthread_mutex_unlock(&out_lock);
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

PEER_FN void reply_str(long id, const char *key, const char *text) {
  struct buf b = {0};
  putf(&b, "{\"id\":%ld,\"%s\":", id, key);
  put_json_str(&b, text);
  puts_(&b, "}");
  send_line(&b);
}

/* ---- vocabulary: the contract's names for wire values ------------------------------------------------------ */

static const struct { int code; const char *name; } ALERTS[] = {
    {0, "close_notify"}, {10, "unexpected_message"}, {20, "bad_record_mac"}, {21, "decryption_failed"},
    {22, "record_overflow"}, {30, "decompression_failure"}, {40, "handshake_failure"}, {41, "no_certificate"},
    {42, "bad_certificate"}, {43, "unsupported_certificate"}, {44, "certificate_revoked"},
    {45, "certificate_expired"}, {46, "certificate_unknown"}, {47, "illegal_parameter"}, {48, "unknown_ca"},
    {49, "access_denied"}, {50, "decode_error"}, {51, "decrypt_error"}, {60, "export_restriction"},
    {70, "protocol_version"}, {71, "insufficient_security"}, {80, "internal_error"},
    {86, "inappropriate_fallback"}, {90, "user_canceled"}, {100, "no_renegotiation"}, {109, "missing_extension"},
    {110, "unsupported_extension"}, {111, "certificate_unobtainable"}, {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"}, {114, "bad_certificate_hash_value"}, {115, "unknown_psk_identity"},
    {116, "certificate_required"}, {120, "no_application_protocol"}, {121, "ech_required"},
};

/* An alert's name; codes without one are spelled as the harness prints them (`alert(0xc8)`), which it parses. */
PEER_FN void put_alert(struct buf *b, int code) {
  if (code < 0) { puts_(b, "null"); return; }
  for (size_t i = 0; i < sizeof ALERTS / sizeof ALERTS[0]; i++)
    if (ALERTS[i].code == code) { putf(b, "\"%s\"", ALERTS[i].name); return; }
  putf(b, "\"alert(0x%02x)\"", code);
}

static const struct { const char *name; uint16_t version; } VERSIONS[] = {
    {"tls1.0", 0x0301}, {"tls1.1", 0x0302}, {"tls1.2", 0x0303}, {"tls1.3", 0x0304},
};

static const char *version_name(uint16_t v) {
  for (size_t i = 0; i < 4; i++)
    if (VERSIONS[i].version == v) return VERSIONS[i].name;
  return NULL;
}

static const struct { const char *name; uint16_t id; } SIGALGS[] = {
    {"rsa_pkcs1_sha1", 0x0201}, {"ecdsa_sha1", 0x0203}, {"rsa_pkcs1_sha256", 0x0401}, {"rsa_pkcs1_sha384", 0x0501},
    {"rsa_pkcs1_sha512", 0x0601}, {"ecdsa_secp256r1_sha256", 0x0403}, {"ecdsa_secp384r1_sha384", 0x0503},
    {"ecdsa_secp521r1_sha512", 0x0603}, {"rsa_pss_rsae_sha256", 0x0804}, {"rsa_pss_rsae_sha384", 0x0805},
    {"rsa_pss_rsae_sha512", 0x0806}, {"ed25519", 0x0807}, {"ed448", 0x0808}, {"rsa_pss_pss_sha256", 0x0809},
    {"rsa_pss_pss_sha384", 0x080a}, {"rsa_pss_pss_sha512", 0x080b},
};

/* A signature scheme's code point by its IANA name (0: not known here). */
PEER_FN uint16_t sigalg_id(const char *name) {
  for (size_t i = 0; i < sizeof SIGALGS / sizeof SIGALGS[0]; i++)
    if (!strcmp(SIGALGS[i].name, name)) return SIGALGS[i].id;
  return 0;
}

/* Why a config cannot be expressed (an `unsupported` reply), or a harness-side problem (an `error` reply). */
struct problem {
  const char *kind; /* "unsupported" or "error" */
  char text[512];
};

PEER_FN int fail(struct problem *p, const char *kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->text, sizeof p->text, fmt, ap);
  va_end(ap);
  p->kind = kind;
  return 0;
}

/* A JSON array of strings, checked. */
PEER_FN int str_list(const struct json *cfg, const char *key, const struct json **out, struct problem *p) {
  const struct json *v = get(cfg, key);
  *out = v;
  if (!v) return 1;
  if (v->type != J_ARR) return fail(p, "error", "config.%s is not a list", key);
  for (size_t i = 0; i < v->len; i++)
    if (v->items[i]->type != J_STR) return fail(p, "error", "config.%s holds a non-string", key);
  return 1;
}

PEER_FN int alpn_wire(const struct json *list, unsigned char *out, unsigned *len, struct problem *p) {
  *len = 0;
  for (size_t i = 0; i < list->len; i++) {
    size_t n = strlen(list->items[i]->str);
    if (n == 0 || n > 255 || *len + n + 1 > 512) return fail(p, "unsupported", "ALPN protocol name too long");
    out[(*len)++] = (unsigned char)n;
    memcpy(out + *len, list->items[i]->str, n);
    *len += (unsigned)n;
  }
  return 1;
}

enum cls { C_PEER_ALERT, C_LOCAL, C_EOF, C_IO, C_TIMEOUT, C_UNMAPPED };
static const char *CLASS_NAMES[] = {"peer_alert", "local", "eof", "io", "timeout", "unmapped"};

/* A failed outcome (the contract's SideOutcome) into `b`: the first alert sent and received (-1: none), the class,
 * and the stack's own words. An error no rule knows says so, and where the rule belongs (`unmapped`, `rule`). */
PEER_FN void put_failure(struct buf *b, const char *phase, int sent, int received, enum cls cls, const char *message,
                         const char *rule) {
  putf(b, "{\"result\":\"failed\",\"phase\":\"%s\",\"sent_alert\":", phase);
  put_alert(b, sent);
  puts_(b, ",\"received_alert\":");
  put_alert(b, received);
  putf(b, ",\"error\":\"%s\",\"message\":", CLASS_NAMES[cls]);
  if (cls == C_UNMAPPED) {
    struct buf m = {0};
    putf(&m, "unmapped: no rule in %s: ", rule);
    puts_(&m, message ? message : "");
    put_json_str(b, m.s);
    free(m.s);
  } else {
    put_json_str(b, message && *message ? message : "no error text");
  }
  puts_(b, "}");
}

/* An established outcome into `b` (`group`, `alpn`: NULL when none). */
PEER_FN void put_established(struct buf *b, const char *version, const char *cipher, const char *group,
                             const char *alpn, int resumed) {
  puts_(b, "{\"result\":\"established\",\"version\":");
  put_json_str(b, version);
  puts_(b, ",\"cipher\":");
  put_json_str(b, cipher);
  if (group) {
    puts_(b, ",\"group\":");
    put_json_str(b, group);
  }
  puts_(b, ",\"alpn\":");
  put_json_str(b, alpn);
  putf(b, ",\"resumed\":%s}", resumed ? "true" : "false");
}

/* The final reply for request `id`: its outcome (null if none was made). */
PEER_FN void send_outcome(long id, const struct buf *outcome) {
  struct buf b = {0};
  putf(&b, "{\"id\":%ld,\"outcome\":%s}", id, outcome->s ? outcome->s : "null");
  send_line(&b);
}

PEER_FN void set_timeouts(int fd, int seconds) {
  struct timeval tv = {seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Listens on 127.0.0.1, port 0, says `listening` for request `id`, and accepts one connection within the socket
 * timeout, with TCP_NODELAY and the socket timeouts: its descriptor, or -1 once the error is replied. */
PEER_FN int accept_one(long id) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  socklen_t alen = sizeof addr;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1) ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
    reply_str(id, "error", strerror(errno));
    if (lfd >= 0) close(lfd);
    return -1;
  }
  struct buf b = {0};
  putf(&b, "{\"id\":%ld,\"listening\":%d}", id, ntohs(addr.sin_port));
  send_line(&b);
  struct pollfd pfd = {lfd, POLLIN, 0};
  int fd = poll(&pfd, 1, SOCKET_TIMEOUT_S * 1000) == 1 ? accept(lfd, NULL, NULL) : -1;
  close(lfd);
  if (fd < 0) {
    reply_str(id, "error", "no connection came within the socket timeout");
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  set_timeouts(fd, SOCKET_TIMEOUT_S);
  return fd;
}

/* Connects to 127.0.0.1:`port`, with TCP_NODELAY and the socket timeouts: its descriptor, or -1 once the error is
 * replied to request `id`. */
PEER_FN int connect_loopback(long id, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
  if (fd >= 0) set_timeouts(fd, SOCKET_TIMEOUT_S);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
    reply_str(id, "error", strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Closes without a reset: Linux answers close() with RST when unread bytes are waiting (a client's ping after the
 * server failed), and a RST makes the receiving kernel drop what it has not delivered yet, our last alert included.
 * So: FIN after our last record, then read and discard until the harness lets go of its end, at most LINGER_S. */
PEER_FN void linger(int fd) {
  char sink[4096];
  shutdown(fd, SHUT_WR);
  set_timeouts(fd, LINGER_S);
  while (read(fd, sink, sizeof sink) > 0) {
  }
}

PEER_FN int is_ip(const char *host) {
  struct in_addr a4;
  struct in6_addr a6;
  return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}


#endif
