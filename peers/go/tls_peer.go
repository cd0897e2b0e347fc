// tlsmatrix adapter for Go's crypto/tls (standard library only: built with `go build` and nothing downloaded).
//
//	tls_peer --probe    print what this Go's crypto/tls can do, as one JSON line, and exit
//	tls_peer            serve the peer contract (docs/peers.md) on stdin/stdout
//
// The contract: JSON lines on stdin, one request each, handled on a goroutine of its own; JSON lines on stdout, each
// carrying the request's id, written whole under a lock; stderr is free-form. End of stdin ends the process.
//
// Every tls.Config starts from Go's zero value, which is what a Go program gets, and only the scenario's settings are
// applied. Alerts are not inferred from error texts: crypto/tls records the alert it sends in the connection's
// outgoing half (`out.err`, a net.OpError "local error" around the alert number) and the one it receives in the
// incoming half (`in.err`, "remote error"). Neither is exported, so they are read by reflection, read-only, after
// the connection is over: the observation is exact. The key log (Config.KeyLogWriter) goes to the harness as
// `keylog` messages, so the bytes on the wire can be decrypted and checked against what is reported.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"
)

// A connection the harness abandoned (its deadline passed) ends by itself after this long.
const socketTimeout = 20 * time.Second

// How long a finished connection keeps reading before it closes (see linger).
const lingerTime = 5 * time.Second

var ping = []byte("tlsmatrix ping\n")

var versions = map[string]uint16{
	"tls1.0": tls.VersionTLS10, "tls1.1": tls.VersionTLS11, "tls1.2": tls.VersionTLS12, "tls1.3": tls.VersionTLS13,
}

var versionNames = map[uint16]string{
	tls.VersionTLS10: "tls1.0", tls.VersionTLS11: "tls1.1", tls.VersionTLS12: "tls1.2", tls.VersionTLS13: "tls1.3",
}

var groupIDs = map[string]tls.CurveID{
	"x25519": tls.X25519, "secp256r1": tls.CurveP256, "secp384r1": tls.CurveP384, "secp521r1": tls.CurveP521,
}

// RFC 8446 names by alert number (the contract's vocabulary).
var alertNames = map[uint64]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed", 22: "record_overflow",
	40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
	71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol",
}

// Every suite this crypto/tls implements, by its IANA name (Go names suites as IANA does).
func allSuites() map[string]uint16 {
	out := map[string]uint16{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		out[s.Name] = s.ID
	}
	return out
}

type credential struct {
	ChainPEM string `json:"chain_pem"`
	KeyPEM   string `json:"key_pem"`
}

type material struct {
	Certificate     *credential           `json:"certificate"`
	TrustPEM        string                `json:"trust_pem"`
	SniCertificates map[string]credential `json:"sni_certificates"`
}

type request struct {
	ID       uint64                     `json:"id"`
	Role     string                     `json:"role"`
	Connect  int                        `json:"connect"`
	Endpoint uint64                     `json:"endpoint"`
	Config   map[string]json.RawMessage `json:"config"`
	Material material                   `json:"material"`
}

// The settings this adapter applies; anything else a config carries (with a value) is refused as unsupported, so a
// knob the Rust side forgot to declare lacking cannot be silently ignored.
var applied = map[string]bool{
	"versions": true, "cipher_suites": true, "groups": true, "alpn": true, "alpn_mismatch": true,
	"certificate": true, "chain": true, "sni_certificates": true, "session_tickets": true, "client_auth": true,
	"trust": true, "server_name": true, "sni": true, "java_security": true,
}

var out = struct {
	sync.Mutex
	w *bufio.Writer
}{w: bufio.NewWriter(os.Stdout)}

func send(msg map[string]any) {
	line, err := json.Marshal(msg)
	if err != nil {
		line, _ = json.Marshal(map[string]any{"id": msg["id"], "error": "cannot encode a reply: " + err.Error()})
	}
	out.Lock()
	defer out.Unlock()
	out.w.Write(line)
	out.w.WriteByte('\n')
	out.w.Flush()
}

type unsupported struct{ why string }

func (u unsupported) Error() string { return u.why }

func field[T any](cfg map[string]json.RawMessage, key string) (T, bool, error) {
	var v T
	raw, ok := cfg[key]
	if !ok || string(raw) == "null" {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("config.%s: %v", key, err)
	}
	return v, true, nil
}

func pool(pem string) *x509.CertPool {
	// Never nil: a nil pool would be the system store, and a cell trusts exactly its scenario's CAs.
	p := x509.NewCertPool()
	p.AppendCertsFromPEM([]byte(pem))
	return p
}

func keyPair(c credential) (tls.Certificate, error) {
	return tls.X509KeyPair([]byte(c.ChainPEM), []byte(c.KeyPEM))
}

// The settings both roles share.
func common(cfg map[string]json.RawMessage, c *tls.Config) error {
	for key, raw := range cfg {
		if !applied[key] && string(raw) != "null" {
			return unsupported{"the go adapter has no rule for " + key}
		}
	}
	if vs, ok, err := field[[]string](cfg, "versions"); err != nil {
		return err
	} else if ok && len(vs) > 0 {
		lo, okLo := versions[vs[0]]
		hi, okHi := versions[vs[len(vs)-1]]
		if !okLo || !okHi {
			return unsupported{fmt.Sprintf("unknown protocol version in %v", vs)}
		}
		c.MinVersion, c.MaxVersion = lo, hi
	}
	if names, ok, err := field[[]string](cfg, "cipher_suites"); err != nil {
		return err
	} else if ok {
		known := allSuites()
		c.CipherSuites = []uint16{}
		for _, n := range names {
			id, found := known[n]
			if !found {
				return unsupported{"crypto/tls does not implement " + n}
			}
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	if names, ok, err := field[[]string](cfg, "groups"); err != nil {
		return err
	} else if ok {
		for _, n := range names {
			id, found := groupIDs[n]
			if !found {
				return unsupported{"crypto/tls has no group " + n}
			}
			c.CurvePreferences = append(c.CurvePreferences, id)
		}
	}
	if alpn, ok, err := field[[]string](cfg, "alpn"); err != nil {
		return err
	} else if ok {
		c.NextProtos = alpn
	}
	return nil
}

// What one harness endpoint keeps between its connections (the two of a `mode: resume` cell): a server's config,
// whose session ticket keys must stay the same, and a client's session cache. Bounded: the oldest go first.
type endpoints struct {
	sync.Mutex
	configs map[uint64]*tls.Config
	order   []uint64
}

var kept = endpoints{configs: map[uint64]*tls.Config{}}

const keepEndpoints = 256

func (e *endpoints) get(id uint64, build func() (*tls.Config, error)) (*tls.Config, error) {
	e.Lock()
	c, ok := e.configs[id]
	e.Unlock()
	if ok && id != 0 {
		return c, nil
	}
	c, err := build()
	if err != nil || id == 0 {
		return c, err
	}
	e.Lock()
	defer e.Unlock()
	e.configs[id] = c
	e.order = append(e.order, id)
	for len(e.order) > keepEndpoints {
		delete(e.configs, e.order[0])
		e.order = e.order[1:]
	}
	return c, nil
}

func serverConfig(r *request) (*tls.Config, error) {
	cfg := r.Config
	if r.Material.Certificate == nil {
		return nil, errors.New("a server needs material.certificate")
	}
	cert, err := keyPair(*r.Material.Certificate)
	if err != nil {
		return nil, fmt.Errorf("the server certificate: %v", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}}
	if err := common(cfg, c); err != nil {
		return nil, err
	}
	if len(r.Material.SniCertificates) > 0 {
		byName := map[string]*tls.Certificate{}
		for host, cred := range r.Material.SniCertificates {
			other, err := keyPair(cred)
			if err != nil {
				return nil, fmt.Errorf("the certificate for %s: %v", host, err)
			}
			byName[strings.ToLower(host)] = &other
		}
		// The certificate for the name the client asked for; other names get the default, as most servers do.
		c.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if other, ok := byName[strings.ToLower(hello.ServerName)]; ok {
				return other, nil
			}
			return &cert, nil
		}
	}
	auth, _, err := field[string](cfg, "client_auth")
	if err != nil {
		return nil, err
	}
	switch auth {
	case "", "none":
		c.ClientAuth = tls.NoClientCert
	case "optional":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, unsupported{"unknown client_auth " + auth}
	}
	c.ClientCAs = pool(r.Material.TrustPEM)
	if tickets, ok, err := field[bool](cfg, "session_tickets"); err != nil {
		return nil, err
	} else if ok && !tickets {
		c.SessionTicketsDisabled = true
	}
	if mismatch, ok, err := field[string](cfg, "alpn_mismatch"); err != nil {
		return nil, err
	} else if ok && mismatch != "fatal" {
		return nil, unsupported{"a crypto/tls server refuses an ALPN mismatch (no_application_protocol); no option ignores it"}
	}
	// Fixed ticket keys: each connection runs on a clone of this config (for its own key log writer), and keys
	// created lazily on a clone would differ between the two connections of a resumption cell.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	c.SetSessionTicketKeys([][32]byte{key})
	return c, nil
}

func clientConfig(r *request) (*tls.Config, error) {
	cfg := r.Config
	host, _, err := field[string](cfg, "server_name")
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	sni, ok, err := field[bool](cfg, "sni")
	if err != nil {
		return nil, err
	}
	if ok && !sni && net.ParseIP(host) == nil {
		return nil, unsupported{"crypto/tls sends ServerName as SNI whenever it verifies it: a name cannot be verified without SNI"}
	}
	// ServerName is verified against the certificate (an IP address against IP SANs) and sent as SNI unless it is
	// an IP address.
	c := &tls.Config{ServerName: host, RootCAs: pool(r.Material.TrustPEM), ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	if err := common(cfg, c); err != nil {
		return nil, err
	}
	if r.Material.Certificate != nil {
		cert, err := keyPair(*r.Material.Certificate)
		if err != nil {
			return nil, fmt.Errorf("the client certificate: %v", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// keyLog sends each key log line of a connection to the harness, under the request's id.
type keyLog struct{ id uint64 }

func (k keyLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line != "" {
			send(map[string]any{"id": k.id, "keylog": line})
		}
	}
	return len(p), nil
}

// The alert a half of the connection recorded (`out.err` for the one sent, `in.err` for the one received): a
// net.OpError, possibly inside crypto/tls's permanentError, whose Err is an alert (a uint8).
func recordedAlert(conn *tls.Conn, half string, op string) (uint64, bool) {
	v := reflect.ValueOf(conn).Elem().FieldByName(half)
	if !v.IsValid() {
		return 0, false
	}
	e := v.FieldByName("err")
	for depth := 0; depth < 6 && e.IsValid(); depth++ {
		switch e.Kind() {
		case reflect.Interface, reflect.Pointer:
			if e.IsNil() {
				return 0, false
			}
			e = e.Elem()
		case reflect.Struct:
			if e.Type() == reflect.TypeOf(net.OpError{}) {
				if e.FieldByName("Op").String() != op {
					return 0, false
				}
				a := e.FieldByName("Err")
				if a.Kind() == reflect.Interface && !a.IsNil() {
					a = a.Elem()
				}
				if a.Kind() == reflect.Uint8 {
					return a.Uint(), true
				}
				return 0, false
			}
			// crypto/tls's permanentError{err net.Error}
			e = e.FieldByName("err")
		default:
			return 0, false
		}
	}
	return 0, false
}

func alertName(n uint64) string {
	if name, ok := alertNames[n]; ok {
		return name
	}
	return fmt.Sprintf("alert(0x%02x)", n)
}

func failure(phase string, err error, conn *tls.Conn) map[string]any {
	var sent, received any
	if n, ok := recordedAlert(conn, "out", "local error"); ok {
		sent = alertName(n)
	}
	if n, ok := recordedAlert(conn, "in", "remote error"); ok && n != 0 {
		received = alertName(n)
	}
	class := "local"
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case received != nil:
		class = "peer_alert"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		class = "eof"
	case errors.As(err, &netErr) && netErr.Timeout():
		class = "timeout"
	case errors.As(err, &opErr) && opErr.Op != "local error" && opErr.Op != "remote error":
		class = "io" // read/write on the socket: reset, broken pipe
	case errors.Is(err, errExchange):
		class = "io"
	}
	return map[string]any{"result": "failed", "phase": phase, "sent_alert": sent, "received_alert": received,
		"error": class, "message": err.Error()}
}

var errExchange = errors.New("the exchange broke")

func established(conn *tls.Conn) map[string]any {
	st := conn.ConnectionState()
	var alpn any
	if st.NegotiatedProtocol != "" {
		alpn = st.NegotiatedProtocol
	}
	return map[string]any{"result": "established", "version": versionNames[st.Version],
		"cipher": tls.CipherSuiteName(st.CipherSuite), "alpn": alpn, "resumed": st.DidResume}
}

// play runs the handshake and the exchange of the contract: ping, echo, close_notify both ways.
func play(conn *tls.Conn, client bool) map[string]any {
	conn.SetDeadline(time.Now().Add(socketTimeout))
	if err := conn.Handshake(); err != nil {
		return failure("handshake", err, conn)
	}
	outcome := established(conn)
	buf := make([]byte, len(ping))
	if client {
		if _, err := conn.Write(ping); err != nil {
			return failure("data", err, conn)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return failure("data", err, conn)
		}
		if string(buf) != string(ping) {
			return failure("data", fmt.Errorf("%w: unexpected application data %q", errExchange, buf), conn)
		}
		// State after the exchange: a TLS 1.3 client has read the server's tickets by now.
		outcome = established(conn)
		if err := conn.CloseWrite(); err != nil {
			return failure("data", err, conn)
		}
		if n, err := conn.Read(buf[:1]); n > 0 {
			return failure("data", fmt.Errorf("%w: application data after the exchange", errExchange), conn)
		} else if err != io.EOF {
			return failure("data", err, conn)
		}
	} else {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return failure("data", err, conn)
		}
		if string(buf) != string(ping) {
			return failure("data", fmt.Errorf("%w: unexpected application data %q", errExchange, buf), conn)
		}
		if _, err := conn.Write(buf); err != nil {
			return failure("data", err, conn)
		}
		if n, err := conn.Read(buf[:1]); n > 0 {
			return failure("data", fmt.Errorf("%w: application data after the exchange", errExchange), conn)
		} else if err != io.EOF {
			return failure("data", err, conn)
		}
		if err := conn.CloseWrite(); err != nil { // our close_notify, in answer to the client's
			return failure("data", err, conn)
		}
	}
	return outcome
}

// linger closes without a reset: Linux answers close() with RST when unread bytes are waiting, and a RST makes the
// receiving kernel drop what it has not delivered yet, our last alert included. So: FIN after our last record, then
// read and discard until the harness lets go of its end, at most lingerTime.
func linger(raw *net.TCPConn) {
	raw.CloseWrite()
	raw.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, raw)
	raw.Close()
}

func serve(r *request) error {
	base, err := kept.get(r.Endpoint, func() (*tls.Config, error) { return serverConfig(r) })
	if err != nil {
		return err
	}
	c := base.Clone()
	c.KeyLogWriter = keyLog{r.ID}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	send(map[string]any{"id": r.ID, "listening": ln.Addr().(*net.TCPAddr).Port})
	ln.SetDeadline(time.Now().Add(socketTimeout))
	raw, err := ln.AcceptTCP()
	ln.Close()
	if err != nil {
		return err
	}
	raw.SetNoDelay(true)
	outcome := play(tls.Server(raw, c), false)
	send(map[string]any{"id": r.ID, "outcome": outcome})
	linger(raw)
	return nil
}

func connect(r *request) error {
	base, err := kept.get(r.Endpoint, func() (*tls.Config, error) { return clientConfig(r) })
	if err != nil {
		return err
	}
	c := base.Clone()
	c.KeyLogWriter = keyLog{r.ID}
	raw, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.Connect})
	if err != nil {
		return err
	}
	raw.SetNoDelay(true)
	outcome := play(tls.Client(raw, c), true)
	send(map[string]any{"id": r.ID, "outcome": outcome})
	linger(raw)
	return nil
}

func handle(line []byte) {
	var r request
	if err := json.Unmarshal(line, &r); err != nil {
		send(map[string]any{"id": r.ID, "error": "bad request: " + err.Error()})
		return
	}
	var err error
	switch r.Role {
	case "server":
		err = serve(&r)
	case "client":
		err = connect(&r)
	default:
		err = fmt.Errorf("bad request: role %q", r.Role)
	}
	var u unsupported
	switch {
	case errors.As(err, &u):
		send(map[string]any{"id": r.ID, "unsupported": u.why})
	case err != nil:
		send(map[string]any{"id": r.ID, "error": err.Error()})
	}
}

func version() string {
	return runtime.Version() + " crypto/tls"
}

// defaults reads what a zero tls.Config offers, from a real ClientHello over an in-memory pipe: the suites in their
// order and the groups (Go exports neither list).
func defaults() (suites []string, groups []string) {
	client, server := net.Pipe()
	hello := make(chan *tls.ClientHelloInfo, 1)
	go func() {
		srv := tls.Server(server, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello <- h
			return nil, errors.New("probe done")
		}})
		srv.Handshake()
		server.Close()
	}()
	c := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
	c.Handshake()
	client.Close()
	h := <-hello
	for _, id := range h.CipherSuites {
		suites = append(suites, tls.CipherSuiteName(id))
	}
	names := map[tls.CurveID]string{}
	for n, id := range groupIDs {
		names[id] = n
	}
	for _, g := range h.SupportedCurves {
		if n, ok := names[g]; ok {
			groups = append(groups, n)
		}
	}
	return suites, groups
}

func probe() {
	defaultSuites, defaultGroups := defaults()
	var suites []string
	for name := range allSuites() {
		suites = append(suites, name)
	}
	var gs []string
	for name := range groupIDs {
		gs = append(gs, name)
	}
	line, _ := json.Marshal(map[string]any{"version": version(), "go": runtime.Version(), "suites": suites,
		"groups": gs, "default_suites": defaultSuites, "default_groups": defaultGroups,
		"versions": map[string]bool{"tls1.0": true, "tls1.1": true, "tls1.2": true, "tls1.3": true}})
	fmt.Println(string(line))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--probe" {
		probe()
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: tls_peer [--probe]")
		os.Exit(2)
	}
	send(map[string]any{"ready": true, "version": version()})
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			go handle(line)
		}
		if err != nil {
			// The harness closed our stdin: it has exited or no longer needs us.
			out.Lock()
			out.w.Flush()
			os.Exit(0)
		}
	}
}
