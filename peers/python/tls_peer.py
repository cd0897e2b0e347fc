"""The tlsmatrix peer adapter for Python's ssl module: one long-lived process that plays TLS client and server
connections on request. Standard library only; written for CPython 3.11, runs on 3.8+.

    python3 tls_peer.py --suites FILE     serve requests (FILE: {"<code point>": "<IANA name>"}, from tlsmatrix)
    python3 tls_peer.py --probe           print what this Python's ssl module can do, as one JSON line, and exit

The contract is documented in docs/peers.md. In short: JSON lines on stdin, one request each, handled on a thread of
its own; JSON lines on stdout, each carrying the request's id, written whole under a lock; stderr is free-form
diagnostics. End of stdin ends the process.

Every context is configured the way a Python application configures one, starting from Python's own defaults
(ssl.create_default_context), so the outcome and the exception text are what a Python user sees. Alerts are not
inferred: SSLContext._msg_callback (private, present since 3.8) reports every alert OpenSSL sends and receives,
TLS 1.3's encrypted ones included, so the observation is exact.
"""

import collections
import ipaddress
import json
import os
import platform
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import traceback
import warnings

# Sockets give up after this long, so a connection the harness abandoned (its deadline passed) ends by itself.
SOCKET_TIMEOUT = 20.0
PING = b"tlsmatrix ping\n"
# The server echoes the ping (docs/peers.md, "Playing").
PONG = PING
# Endpoints whose contexts (and a client's last session) are kept for a second connection (`mode: resume`).
KEEP_ENDPOINTS = 256
# How long a finished connection's socket keeps reading before it closes (see linger).
LINGER = 5.0

# Setting TLSVersion.TLSv1 / TLSv1_1 warns (deprecated since 3.10); a scenario that asks for them means it.
warnings.simplefilter("ignore", DeprecationWarning)

OUT_LOCK = threading.Lock()

VERSIONS = {
    "tls1.0": ssl.TLSVersion.TLSv1,
    "tls1.1": ssl.TLSVersion.TLSv1_1,
    "tls1.2": ssl.TLSVersion.TLSv1_2,
    "tls1.3": ssl.TLSVersion.TLSv1_3,
}
# What SSLSocket.version() says, in the contract's words.
VERSION_NAMES = {"TLSv1": "tls1.0", "TLSv1.1": "tls1.1", "TLSv1.2": "tls1.2", "TLSv1.3": "tls1.3"}

# Alert description codes (RFC 8446 section 6 and the IANA registry), in the contract's names.
ALERT_NAMES = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
    109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
    112: "unrecognized_name", 113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol", 121: "ech_required",
}
ALERT_CONTENT_TYPE = 21

# Defaults that depend on how and when the interpreter was built, not on the Python code an application runs, are set
# to what CPython 3.11.7 (built with its own default suites) does, so that one scenario catalog holds for every python3
# (restore_defaults); on such a build this changes nothing:
# - the cipher string and the TLS 1.2 minimum: CPython's own (PY_SSL_DEFAULT_CIPHER_STRING in Modules/_ssl.c, and
#   minimum_version TLSv1_2), unless it was configured --with-ssl-default-suites=openssl, as Debian's python3 is,
#   which keeps OpenSSL's DEFAULT list (SHA-1 and static-RSA suites included) and its minimum (any version);
# - OP_IGNORE_UNEXPECTED_EOF: set on every new context by earlier 3.10/3.11 releases (Debian's 3.11.2), not by 3.11.7;
#   with it OpenSSL takes an end of stream without close_notify for a clean close (and sends no decode_error).
PY_DEFAULT_CIPHERS = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
IGNORE_EOF = getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)


class Unsupported(Exception):
    """A config this adapter cannot express: the reply is `unsupported` with this reason."""


class ExchangeError(Exception):
    """The peer broke the exchange (other bytes, data after it): a socket-level failure, as for the harness's own
    exchange(), whose InvalidData errors are `io`."""


class EndOfStream(Exception):
    """The stream ended (with close_notify) before the exchange was complete."""


def send(obj):
    """One line out, whole, never interleaved with another thread's line."""
    line = json.dumps(obj, separators=(",", ":")) + "\n"
    with OUT_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()


# ---- cipher suite names --------------------------------------------------------------------------------------------

def all_ciphers():
    """Every suite this Python's OpenSSL can enable: {code point: OpenSSL name}."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}


class Suites:
    """IANA names (from tlsmatrix's vocabulary, by code point) and OpenSSL names (from OpenSSL itself), joined by the
    code point, so no name is ever guessed."""

    def __init__(self, iana_by_code):
        self.iana = iana_by_code
        self.openssl = all_ciphers()
        self.code_by_iana = {name: code for code, name in iana_by_code.items()}
        self.code_by_openssl = {name: code for code, name in self.openssl.items()}

    def openssl_name(self, iana):
        code = self.code_by_iana.get(iana)
        if code is None or code not in self.openssl:
            raise Unsupported("cipher suite %s is not implemented by %s" % (iana, ssl.OPENSSL_VERSION))
        return self.openssl[code]

    def iana_name(self, openssl_name):
        code = self.code_by_openssl.get(openssl_name)
        name = self.iana.get(code) if code is not None else None
        if name is None:
            raise ValueError("no IANA name for the negotiated suite %s" % openssl_name)
        return name


SUITES = None


# ---- configuration -------------------------------------------------------------------------------------------------

def restore_defaults(ctx):
    """CPython 3.11.7's defaults where this build differs (see PY_DEFAULT_CIPHERS); a no-op on such a build."""
    ctx.set_ciphers(PY_DEFAULT_CIPHERS)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options &= ~IGNORE_EOF


def build_deviations():
    """What restore_defaults changes on this interpreter, for the version line."""
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    restored = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    restore_defaults(restored)
    out = []
    if [c["name"] for c in plain.get_ciphers()] != [c["name"] for c in restored.get_ciphers()]:
        out.append("default cipher string")
    if plain.minimum_version != restored.minimum_version:
        out.append("TLS 1.2 minimum")
    if plain.options & IGNORE_EOF:
        out.append("OP_IGNORE_UNEXPECTED_EOF off")
    return out


def client_context(cfg, material):
    """ssl.create_default_context(ssl.Purpose.SERVER_AUTH), built the same way but WITHOUT its load_default_certs()
    step: create_default_context loads the system trust store whenever no cadata is given, and a cell trusts exactly
    material.trust_pem (empty: nothing at all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    restore_defaults(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    trust(ctx, material)
    keylog(ctx)
    common(ctx, cfg)
    if material.get("certificate"):
        load_credential(ctx, material["certificate"])
    return ctx


def server_context(cfg, material, credential):
    """ssl.create_default_context(ssl.Purpose.CLIENT_AUTH) (which loads no trust store: its verify mode is
    CERT_NONE), then the scenario's settings."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    restore_defaults(ctx)
    trust(ctx, material)
    keylog(ctx)
    common(ctx, cfg)
    auth = cfg.get("client_auth", "none")
    if auth == "required":
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif auth == "optional":
        ctx.verify_mode = ssl.CERT_OPTIONAL
    elif auth != "none":
        raise Unsupported("unknown client_auth %r" % auth)
    if cfg.get("session_tickets") is False:
        ctx.options |= ssl.OP_NO_TICKET
    elif cfg.get("session_tickets") is True:
        ctx.options &= ~ssl.OP_NO_TICKET
    load_credential(ctx, credential)
    return ctx


def trust(ctx, material):
    pem = material.get("trust_pem") or ""
    if pem.strip():
        ctx.load_verify_locations(cadata=pem)


def keylog(ctx):
    """What create_default_context does with SSLKEYLOGFILE."""
    path = os.environ.get("SSLKEYLOGFILE")
    if path and not sys.flags.ignore_environment and hasattr(ctx, "keylog_filename"):
        ctx.keylog_filename = path


def common(ctx, cfg):
    """The settings both roles share. TLS 1.3 suites, groups and signature algorithms have no API in the ssl module:
    the backend declares them lacking, so such a config never arrives here (checked again below)."""
    for knob in ("tls13_cipher_suites", "groups", "signature_algorithms"):
        if cfg.get(knob) is not None:
            raise Unsupported("Python's ssl module has no API for %s" % knob)
    versions = cfg.get("versions")
    if versions:
        try:
            lo, hi = VERSIONS[versions[0]], VERSIONS[versions[-1]]
        except KeyError as e:
            raise Unsupported("unknown protocol version %s" % e)
        ctx.minimum_version = lo
        ctx.maximum_version = hi
    suites = cfg.get("cipher_suites")
    level = cfg.get("security_level")
    if suites is not None or level is not None:
        # The security level can only be set through the cipher string (no SSL_CTX_set_security_level in Python);
        # without a suite list, "DEFAULT:@SECLEVEL=N" is what Python users write, and it replaces Python's own list.
        names = [SUITES.openssl_name(s) for s in suites] if suites is not None else ["DEFAULT"]
        if level is not None:
            names.append("@SECLEVEL=%d" % level)
        ctx.set_ciphers(":".join(names))
    alpn = cfg.get("alpn")
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)


def load_credential(ctx, cred):
    """load_cert_chain reads files only: the chain (leaf first, then what the scenario sends) and the key go to a
    private directory that is removed once they are loaded."""
    tmp = tempfile.mkdtemp(prefix="tlsmatrix-python-")
    try:
        chain = os.path.join(tmp, "chain.pem")
        key = os.path.join(tmp, "key.pem")
        for path, text in ((chain, cred["chain_pem"]), (key, cred["key_pem"])):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        ctx.load_cert_chain(certfile=chain, keyfile=key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- observation ---------------------------------------------------------------------------------------------------

class Seen:
    """Every alert of one connection, in order: (sent?, level, description)."""

    def __init__(self):
        self.alerts = []

    def first(self, sent):
        for s, _level, desc in self.alerts:
            if s == sent and desc != 0:
                return ALERT_NAMES.get(desc, "alert(0x%02x)" % desc)
        return None


def watch(ctx):
    """Records alerts through SSLContext._msg_callback: OpenSSL calls it for every alert it writes (once written)
    and reads (decrypted), on the connection's SSLSocket, where `seen` is attached."""

    def on_message(conn, direction, _version, content_type, _msg_type, data):
        try:
            if content_type == ALERT_CONTENT_TYPE and len(data) >= 2:
                seen = getattr(conn, "tlsmatrix_seen", None)
                if seen is not None:
                    seen.alerts.append((direction == "write", data[0], data[1]))
        except Exception:  # never let the observer break the connection
            traceback.print_exc()

    ctx._msg_callback = on_message


def established(s):
    name = s.cipher()[0] if s.cipher() else None
    return {
        "result": "established",
        "version": VERSION_NAMES.get(s.version()),
        "cipher": SUITES.iana_name(name) if name else None,
        "alpn": s.selected_alpn_protocol() or None,
        "resumed": bool(s.session_reused),
    }


def error_class(e):
    """The contract's error class for the exception, by its type; what is not known here is `unmapped`."""
    if isinstance(e, (ssl.SSLEOFError, ssl.SSLZeroReturnError, EndOfStream)):
        return "eof"
    # Older releases (Debian's 3.11.2) raise OpenSSL's "unexpected eof while reading" as a plain SSLError; 3.11.7 as
    # SSLEOFError.
    if isinstance(e, ssl.SSLError) and getattr(e, "reason", None) == "UNEXPECTED_EOF_WHILE_READING":
        return "eof"
    if isinstance(e, ssl.SSLSyscallError):
        return "io"
    if isinstance(e, (ssl.SSLWantReadError, ssl.SSLWantWriteError)):
        return "unmapped"
    if isinstance(e, ssl.SSLError):  # OpenSSL gave up on its own (its error stack); a received alert is seen below
        return "local"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, (ConnectionError, ExchangeError)):  # reset, broken pipe, aborted; the exchange broken
        return "io"
    return "unmapped"


def failure(phase, e, seen):
    """A failure: the exception as a Python application prints it (str), the alerts from the message callback.

    The class: `peer_alert` when an alert came in; otherwise the stream's own end (eof, io, timeout) whatever OpenSSL
    answered it with (reading a socket, it answers an end of stream in the handshake with decode_error, as
    s_server/s_client do); otherwise `local`."""
    message = str(e) or type(e).__name__
    sent, received = seen.first(True), seen.first(False)
    cls = error_class(e)
    if cls == "unmapped":
        message = "unmapped: no rule in peers/python/tls_peer.py error_class for %s: %s" % (type(e).__name__, message)
    elif received is not None:
        cls = "peer_alert"
    return {"result": "failed", "phase": phase, "sent_alert": sent, "received_alert": received, "error": cls,
            "message": message}


# ---- playing a connection ------------------------------------------------------------------------------------------

def read_exactly(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EndOfStream("end of stream after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def play(s, client, seen, keep=None):
    """The handshake, one message each way, close_notify both ways: what the harness's exchange() does. `keep` gets
    a client's session after the exchange (a TLS 1.3 client has read the server's tickets by then)."""
    try:
        s.do_handshake()
    except Exception as e:
        return failure("handshake", e, seen)
    outcome = established(s)
    try:
        if client:
            s.sendall(PING)
            got = read_exactly(s, len(PONG))
            if got != PONG:
                raise ExchangeError("unexpected application data %r" % got)
            if keep is not None:
                keep(s.session)
            # close_notify; unwrap() then waits for the server's (a second SSL_shutdown).
            s.unwrap()
        else:
            got = read_exactly(s, len(PING))
            if got != PING:
                raise ExchangeError("unexpected application data %r" % got)
            s.sendall(PONG)
            if s.recv(1):
                raise ExchangeError("application data after the exchange")
            s.unwrap()  # our close_notify, in answer to the client's
    except Exception as e:
        return failure("data", e, seen)
    return outcome


class Endpoints:
    """What one harness endpoint keeps between its connections (the two of a `mode: resume` cell): its contexts (a
    server's session cache and ticket keys live there) and a client's last session. Bounded: the oldest go first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = collections.OrderedDict()

    def get(self, key, build):
        if key is None:
            return build()
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        state = build()
        with self.lock:
            self.items[key] = state
            while len(self.items) > KEEP_ENDPOINTS:
                self.items.popitem(last=False)
        return state


ENDPOINTS = Endpoints()


def serve(rid, cfg, material, endpoint):
    def build():
        cert = material.get("certificate")
        if not cert:
            raise ValueError("a server needs material.certificate")
        ctx = server_context(cfg, material, cert)
        watch(ctx)
        by_host = {}
        for host, cred in (material.get("sni_certificates") or {}).items():
            other = server_context(cfg, material, cred)
            watch(other)  # after the switch, CPython calls the new context's callback
            by_host[host.lower()] = other
        if by_host:
            def pick(sslobj, name, _ctx):
                # The context holding the certificate for the name the client asked for; other names keep the
                # default certificate, as most servers do.
                other = by_host.get(name.lower()) if name else None
                if other is not None:
                    sslobj.context = other
                return None

            ctx.sni_callback = pick
        return {"ctx": ctx}

    ctx = ENDPOINTS.get(endpoint, build)["ctx"]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(SOCKET_TIMEOUT)
        send({"id": rid, "listening": listener.getsockname()[1]})
        raw, _ = listener.accept()
    finally:
        listener.close()
    with raw:
        raw.settimeout(SOCKET_TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False, suppress_ragged_eofs=False)
        with s:
            seen = Seen()
            s.tlsmatrix_seen = seen
            send({"id": rid, "outcome": play(s, False, seen)})
            linger(s)


def connect(rid, port, cfg, material, endpoint):
    host = cfg.get("server_name") or "127.0.0.1"
    if cfg.get("sni") is False and not is_ip(host):
        raise Unsupported("Python's ssl module sends server_hostname as SNI whenever it verifies it "
                          "(_ssl_configure_hostname): a name cannot be verified without SNI")

    def build():
        ctx = client_context(cfg, material)
        watch(ctx)
        return {"ctx": ctx, "session": None}

    state = ENDPOINTS.get(endpoint, build)
    raw = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
    with raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # server_hostname is what the application connects to: Python verifies it (a DNS name against DNS SANs, an
        # IP address against IP SANs) and sends it as SNI unless it is an IP address.
        s = state["ctx"].wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False,
                                     suppress_ragged_eofs=False, session=state["session"])
        with s:
            seen = Seen()
            s.tlsmatrix_seen = seen
            outcome = play(s, True, seen, keep=lambda session: state.__setitem__("session", session))
            # After the linger, not before: the harness takes a client's outcome as the end of the cell, and one
            # that failed at once (an alert before any ClientHello) could otherwise answer before the harness has
            # accepted its connection, whose bytes would then never cross. The harness closes its end only once it
            # bridges, so by the end of the linger it has seen every byte.
            linger(s)
            send({"id": rid, "outcome": outcome})


def linger(s):
    """Closes without a reset: Linux answers close() with RST when unread bytes are waiting (a client's ping after
    the server failed), and a RST makes the receiving kernel drop what it has not delivered yet, our last alert
    included. So: FIN after our last record, then read and discard until the harness lets go of its end (it does
    once it has our FIN and our outcome), at most LINGER seconds."""
    try:
        socket.socket.shutdown(s, socket.SHUT_WR)
        s.settimeout(LINGER)
        while socket.socket.recv(s, 65536):
            pass
    except OSError:
        pass


def is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def handle(line):
    rid = None
    try:
        req = json.loads(line)
        rid = req.get("id")
        role = req.get("role")
        cfg = req.get("config") or {}
        material = req.get("material") or {}
        endpoint = req.get("endpoint")
        # Each sends its outcome itself, before it closes its socket (see linger).
        if role == "server":
            serve(rid, cfg, material, endpoint)
        elif role == "client":
            connect(rid, int(req["connect"]), cfg, material, endpoint)
        else:
            raise ValueError('role must be "server" or "client", got %r' % role)
    except Unsupported as u:
        send({"id": rid, "unsupported": str(u)})
    except Exception as e:  # a fault of the adapter or of the request, not a TLS outcome
        traceback.print_exc()
        send({"id": rid, "error": "%s: %s" % (type(e).__name__, e)})


def version():
    v = "Python %s, %s" % (platform.python_version(), ssl.OPENSSL_VERSION)
    changed = build_deviations()
    if not changed:
        return v
    listed = ", ".join(changed[:-1]) + " and " + changed[-1] if len(changed) > 1 else changed[0]
    return v + " (the adapter restores CPython 3.11.7's %s)" % listed


def probe():
    """What the backend's capabilities are made of, for tlsmatrix to read before any cell runs."""
    print(json.dumps({
        "version": version(),
        "executable": sys.executable,
        "msg_callback": hasattr(ssl.SSLContext, "_msg_callback"),
        "versions": {"tls1.0": ssl.HAS_TLSv1, "tls1.1": ssl.HAS_TLSv1_1, "tls1.2": ssl.HAS_TLSv1_2,
                     "tls1.3": ssl.HAS_TLSv1_3},
        # Every suite OpenSSL can enable here (the TLS 1.3 ones: its defaults, which Python cannot change).
        "suites": sorted(all_ciphers()),
    }))


def main(args):
    global SUITES
    if args[:1] == ["--probe"]:
        probe()
        return
    if len(args) != 2 or args[0] != "--suites":
        sys.exit("usage: tls_peer.py --suites FILE | --probe")
    with open(args[1]) as f:
        SUITES = Suites({int(code): name for code, name in json.load(f).items()})
    send({"ready": True, "version": version()})
    for line in sys.stdin:
        if line.strip():
            threading.Thread(target=handle, args=(line,), name="tlsmatrix-request", daemon=True).start()
    # The harness closed our stdin: it has exited or no longer needs us. Daemon threads go with the process.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
