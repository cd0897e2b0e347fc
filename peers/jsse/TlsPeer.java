// The tlsmatrix peer adapter for Java's JSSE (SunJSSE): one long-lived process that plays TLS client and server
// connections on request. Run as `java TlsPeer.java` (source-file mode, Java 17, no dependencies).
//
// The contract is documented in docs/peers.md. In short: JSON lines on stdin, one request each, handled on a thread of
// its own; JSON lines on stdout, each carrying the request's id; stderr is free-form diagnostics. End of stdin ends
// the process, so the harness never leaves a JVM behind when it exits.
//
// Everything an application would configure is configured the way an application does it (SSLContext, KeyStore,
// TrustManagerFactory, SSLParameters), so the outcome and the exception text are what a Java user sees.

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;

public class TlsPeer {
    /** Sockets give up after this long, so a cell the harness abandoned (its deadline passed) ends by itself. */
    static final int SOCKET_TIMEOUT_MS = 20_000;
    static final byte[] PING = "tlsmatrix ping\n".getBytes(StandardCharsets.US_ASCII);
    static final byte[] PONG = PING; // the server echoes the ping (docs/peers.md, "Playing")
    static final PrintStream OUT = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    /** Warm-up handshakes per version (see warmUp). */
    static final int WARM_ROUNDS = 4;

    /**
     * A throwaway self-signed P-256 credential (made for this file, trusted by nothing else), used only to warm up.
     */
    static final String WARM_CERT =
            "-----BEGIN CERTIFICATE-----\n" +
            "MIIBmDCCAT+gAwIBAgIUWRtjlxcN8d5D7mGVUHm9Z0mzdxQwCgYIKoZIzj0EAwIw\n" +
            "ITEfMB0GA1UEAwwWdGxzbWF0cml4IGpzc2Ugd2FybS11cDAgFw0yNjExMjcwNjI3\n" +
            "MThaGA8yMTI2MTEwMzA2MjcxOFowITEfMB0GA1UEAwwWdGxzbWF0cml4IGpzc2Ug\n" +
            "d2FybS11cDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDTEw+kLmXyzx584bP1z\n" +
            "oKaOHb9KlLs/1jI0sUzM4xfWrkgRoNMzSuQRg+ED4i4QoPkyDF/3A7IcH7pocLop\n" +
            "RmujUzBRMB0GA1UdDgQWBBQV/My+dZGRwimQNbI3CSZWzZg96jAfBgNVHSMEGDAW\n" +
            "gBQV/My+dZGRwimQNbI3CSZWzZg96jAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49\n" +
            "BAMCA0cAMEQCIEIVZnP4Goe8TGX+LVSUasLC4plLQSJFvz/6QR9drn0dAiAQpKVb\n" +
            "hS/3awgSVXLQKQuv5A/91u1Q0zvvuAj+X4ktDw==\n" +
            "-----END CERTIFICATE-----\n";
    static final String WARM_KEY =
            "-----BEGIN PRIVATE KEY-----\n" +
            "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvRmBseqULMqlQRC1\n" +
            "ArqlLF/GnwHssAn0Oe4NNeyHzt+hRANCAAQ0xMPpC5l8s8efOGz9c6Cmjh2/SpS7\n" +
            "P9YyNLFMzOMX1q5IEaDTM0rkEYPhA+IuEKD5Mgxf9wOyHB+6aHC6KUZr\n" +
            "-----END PRIVATE KEY-----\n";

    /**
     * Handshakes with ourselves (TLS 1.3 and TLS 1.2, WARM_ROUNDS each) before saying ready: a cold JVM takes seconds
     * to load and compile the JSSE classes on its first handshakes, which would otherwise eat the first cells'
     * deadlines. One round each was not enough on a loaded machine (load 10 on 2 cores: the first three jsse-server
     * cells of a run still timed out after the JVM said ready); the JIT compiles a method after it ran often enough.
     */
    static void warmUp() {
        try {
            Map<String, Object> cred = new LinkedHashMap<>();
            cred.put("chain_pem", WARM_CERT);
            cred.put("key_pem", WARM_KEY);
            SSLContext server = SSLContext.getInstance("TLS");
            server.init(new KeyManager[] {keyManager(cred)}, null, null);
            SSLContext client = SSLContext.getInstance("TLS");
            client.init(null, trust(WARM_CERT).getTrustManagers(), null);
            for (int round = 0; round < 2 * WARM_ROUNDS; round++) {
                String version = round % 2 == 0 ? "TLSv1.3" : "TLSv1.2";
                try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory()
                        .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                    ss.setSoTimeout(SOCKET_TIMEOUT_MS);
                    Thread t = new Thread(() -> {
                        try (SSLSocket c = (SSLSocket) client.getSocketFactory()
                                .createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                            c.setSoTimeout(SOCKET_TIMEOUT_MS);
                            c.setEnabledProtocols(new String[] {version});
                            c.getOutputStream().write(PING);
                            c.getInputStream().read();
                        } catch (IOException e) {
                            System.err.println("warm-up client: " + e);
                        }
                    });
                    t.start();
                    try (SSLSocket a = (SSLSocket) ss.accept()) {
                        a.setSoTimeout(SOCKET_TIMEOUT_MS);
                        a.getInputStream().read(new byte[PING.length]);
                        a.getOutputStream().write(PONG);
                    }
                    t.join();
                }
            }
        } catch (Exception e) {
            System.err.println("warm-up failed (harmless): " + e);
        }
    }

    public static void main(String[] args) throws IOException {
        warmUp();
        send("{\"ready\":true,\"java_version\":" + Json.quote(System.getProperty("java.version")) + "}");
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            final String text = line;
            Thread t = new Thread(() -> handle(text), "tlsmatrix-request");
            t.setDaemon(true);
            t.start();
        }
        // The harness closed our stdin: it has exited or no longer needs us.
        System.exit(0);
    }

    /** One line out, whole, never interleaved with another thread's line. */
    static void send(String line) {
        synchronized (OUT) {
            OUT.print(line);
            OUT.print('\n');
            OUT.flush();
        }
    }

    /** A config the adapter cannot express: the cell becomes unsupported with this reason. */
    static final class Unsupported extends Exception {
        Unsupported(String why) {
            super(why);
        }
    }

    static void handle(String text) {
        long id = -1;
        try {
            Map<String, Object> req = Json.obj(Json.parse(text));
            id = ((Number) req.get("id")).longValue();
            if (req.containsKey("bench")) {
                // `tlsmatrix bench` only (see Bench); a request without the key is a cell, as before.
                send("{\"id\":" + id + ",\"bench\":" + Bench.run(id, Json.obj(req.get("bench"))) + "}");
                return;
            }
            String role = (String) req.get("role");
            Map<String, Object> cfg = Json.obj(req.get("config"));
            Map<String, Object> material = Json.obj(req.get("material"));
            String outcome;
            if ("server".equals(role)) {
                outcome = new Server(id, cfg, material).play();
            } else if ("client".equals(role)) {
                int port = ((Number) req.get("connect")).intValue();
                outcome = new Client(cfg, material).play(port);
            } else {
                throw new IllegalArgumentException("role must be \"server\" or \"client\", got " + role);
            }
            send("{\"id\":" + id + ",\"outcome\":" + outcome + "}");
        } catch (Unsupported u) {
            send("{\"id\":" + id + ",\"unsupported\":" + Json.quote(u.getMessage()) + "}");
        } catch (Exception | Error e) {
            // A fault of the adapter or of the request, not a TLS outcome.
            e.printStackTrace();
            send("{\"id\":" + id + ",\"error\":" + Json.quote(e.toString()) + "}");
        }
    }

    // ---- configuration -------------------------------------------------------------------------------------------

    static final char[] NO_PASSWORD = new char[0];

    static List<X509Certificate> certificates(String pem) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        if (pem == null || pem.isBlank()) {
            return out;
        }
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    /** A PKCS#8 PEM key: the PEM does not say the algorithm, so each key factory is tried in turn. */
    static PrivateKey privateKey(String pem) throws Exception {
        String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64));
        for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (Exception ignored) {
                // not this algorithm
            }
        }
        throw new Unsupported("the private key is none of RSA, EC, Ed25519, Ed448, RSASSA-PSS");
    }

    /**
     * Key managers already built, by credential (chain and key PEM). An application builds its key manager once, at
     * start-up; building it per connection, as a fresh PKCS#12 key store does, costs two PBKDF2 runs of 10,000
     * iterations (the key is encrypted into the store and decrypted out of it), some 6 ms a cell. The JDK's key
     * manager holds only the credential and is safe to share between threads; a connection's state (its SSLContext,
     * its session) stays per request. Bounded: a run with more credentials starts over.
     */
    static final java.util.concurrent.ConcurrentHashMap<String, X509KeyManager> KEY_MANAGERS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The JDK's default key manager over one credential, as an application builds it from a key store. */
    static X509KeyManager keyManager(Map<String, Object> cred) throws Exception {
        String key = cred.get("chain_pem") + "|" + cred.get("key_pem");
        X509KeyManager known = KEY_MANAGERS.get(key);
        if (known != null) {
            return known;
        }
        X509KeyManager built = buildKeyManager(cred);
        if (KEY_MANAGERS.size() >= 256) {
            KEY_MANAGERS.clear();
        }
        KEY_MANAGERS.put(key, built);
        return built;
    }

    static X509KeyManager buildKeyManager(Map<String, Object> cred) throws Exception {
        List<X509Certificate> chain = certificates((String) cred.get("chain_pem"));
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("certificate.chain_pem holds no certificate");
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        PrivateKey key = privateKey((String) cred.get("key_pem"));
        X509Certificate[] certs = chain.toArray(new X509Certificate[0]);
        try {
            ks.setKeyEntry("tlsmatrix", key, NO_PASSWORD, certs);
        } catch (java.security.KeyStoreException notInOrder) {
            // A KeyStore refuses a chain whose certificates are out of order ("Certificate chain is not valid");
            // a misassembled chain is still what the scenario sends, so it is served as given.
            return new FixedKeyManager(key, certs);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, NO_PASSWORD);
        for (KeyManager km : kmf.getKeyManagers()) {
            if (km instanceof X509KeyManager) {
                return (X509KeyManager) km;
            }
        }
        throw new IllegalStateException("the default KeyManagerFactory made no X509KeyManager");
    }

    /** An in-memory trust store of exactly these CAs (empty trusts nothing, as an empty trust store file would). */
    static TrustManagerFactory trust(String pem) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        int n = 0;
        for (X509Certificate c : certificates(pem)) {
            ks.setCertificateEntry("ca" + n++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        return tmf;
    }

    static String javaProtocol(String v) throws Unsupported {
        switch (v) {
            case "tls1.0": return "TLSv1";
            case "tls1.1": return "TLSv1.1";
            case "tls1.2": return "TLSv1.2";
            case "tls1.3": return "TLSv1.3";
            default: throw new Unsupported("unknown protocol version " + v);
        }
    }

    static String scenarioProtocol(String p) {
        switch (p) {
            case "TLSv1": return "tls1.0";
            case "TLSv1.1": return "tls1.1";
            case "TLSv1.2": return "tls1.2";
            case "TLSv1.3": return "tls1.3";
            default: return null;
        }
    }

    static List<String> strings(Object o) {
        List<String> out = new ArrayList<>();
        if (o instanceof List) {
            for (Object x : (List<?>) o) {
                out.add((String) x);
            }
        }
        return out;
    }

    /**
     * The settings both roles share, applied to the socket's parameters. Java has one cipher-suite list for every
     * version, so a scenario that sets only the TLS 1.2 list keeps Java's default TLS 1.3 suites, and vice versa.
     */
    static void common(SSLParameters p, Map<String, Object> cfg) throws Unsupported {
        if (cfg.get("versions") != null) {
            List<String> v = new ArrayList<>();
            for (String s : strings(cfg.get("versions"))) {
                v.add(javaProtocol(s));
            }
            p.setProtocols(v.toArray(new String[0]));
        }
        Object tls12 = cfg.get("cipher_suites");
        Object tls13 = cfg.get("tls13_cipher_suites");
        if (tls12 != null || tls13 != null) {
            List<String> suites = new ArrayList<>();
            List<String> defaults = Arrays.asList(p.getCipherSuites());
            if (tls13 != null) {
                suites.addAll(strings(tls13));
            } else {
                defaults.stream().filter(TlsPeer::isTls13Suite).forEach(suites::add);
            }
            if (tls12 != null) {
                suites.addAll(strings(tls12));
            } else {
                defaults.stream().filter(s -> !isTls13Suite(s)).forEach(suites::add);
            }
            p.setCipherSuites(suites.toArray(new String[0]));
        }
        if (cfg.get("alpn") != null) {
            p.setApplicationProtocols(strings(cfg.get("alpn")).toArray(new String[0]));
        }
    }

    static boolean isTls13Suite(String s) {
        return !s.contains("_WITH_") && !s.endsWith("_SCSV");
    }

    /** Applies parameters; an unknown suite or protocol name is something this JDK cannot express. */
    static void apply(SSLSocket s, SSLParameters p) throws Unsupported {
        try {
            s.setSSLParameters(p);
        } catch (IllegalArgumentException e) {
            throw new Unsupported("this JDK rejects the configuration: " + e.getMessage());
        }
    }

    // ---- playing a connection ------------------------------------------------------------------------------------

    static final class Server {
        final long id;
        final Map<String, Object> cfg;
        final SSLContext ctx;
        final Seen seen = new Seen();

        Server(long id, Map<String, Object> cfg, Map<String, Object> material) throws Exception {
            this.id = id;
            this.cfg = cfg;
            Object cert = material.get("certificate");
            if (!(cert instanceof Map)) {
                throw new IllegalArgumentException("a server needs material.certificate");
            }
            X509KeyManager main = keyManager(Json.obj(cert));
            Map<String, X509KeyManager> byHost = new LinkedHashMap<>();
            Object sni = material.get("sni_certificates");
            if (sni instanceof Map) {
                for (Map.Entry<String, Object> e : Json.obj(sni).entrySet()) {
                    byHost.put(e.getKey().toLowerCase(java.util.Locale.ROOT), keyManager(Json.obj(e.getValue())));
                }
            }
            KeyManager km = byHost.isEmpty() ? main : new SniKeyManager(main, byHost);
            ctx = SSLContext.getInstance("TLS");
            ctx.init(new KeyManager[] {km}, watched(trust((String) material.get("trust_pem")), seen), null);
        }

        String play() throws Exception {
            SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory()
                    .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
            SSLSocket s;
            try (ss) {
                ss.setSoTimeout(SOCKET_TIMEOUT_MS);
                send("{\"id\":" + id + ",\"listening\":" + ss.getLocalPort() + "}");
                s = (SSLSocket) ss.accept();
            }
            try (s) {
                s.setSoTimeout(SOCKET_TIMEOUT_MS);
                s.setTcpNoDelay(true);
                SSLParameters p = s.getSSLParameters();
                common(p, cfg);
                String auth = (String) cfg.getOrDefault("client_auth", "none");
                if ("required".equals(auth)) {
                    p.setNeedClientAuth(true);
                } else if ("optional".equals(auth)) {
                    p.setWantClientAuth(true);
                }
                apply(s, p);
                if ("ignore".equals(cfg.get("alpn_mismatch")) && cfg.get("alpn") != null) {
                    // JSSE refuses a mismatch with no_application_protocol; a selector that answers "" instead
                    // negotiates no ALPN (SSLSocket.setHandshakeApplicationProtocolSelector, Java 9+). Server
                    // preference, as JSSE's own choice.
                    List<String> ours = strings(cfg.get("alpn"));
                    s.setHandshakeApplicationProtocolSelector((sock, offered) -> ours.stream()
                            .filter(offered::contains).findFirst().orElse(""));
                }
                return Exchange.run(s, false, seen);
            }
        }
    }

    static final class Client {
        final Map<String, Object> cfg;
        final SSLContext ctx;
        final Seen seen = new Seen();

        Client(Map<String, Object> cfg, Map<String, Object> material) throws Exception {
            this.cfg = cfg;
            Object cert = material.get("certificate");
            KeyManager[] kms = cert instanceof Map ? new KeyManager[] {keyManager(Json.obj(cert))} : null;
            ctx = SSLContext.getInstance("TLS");
            ctx.init(kms, watched(trust((String) material.get("trust_pem")), seen), null);
        }

        String play(int port) throws Exception {
            Object name = cfg.get("server_name");
            String host = name instanceof String ? (String) name : "127.0.0.1";
            Socket raw = new Socket();
            raw.setTcpNoDelay(true);
            raw.setSoTimeout(SOCKET_TIMEOUT_MS);
            raw.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), SOCKET_TIMEOUT_MS);
            // Layered over the connected socket so that `host` (not the loopback address) is the peer host that
            // HTTPS endpoint identification checks, as when an application opens https://host/.
            SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true);
            try (s) {
                SSLParameters p = s.getSSLParameters();
                common(p, cfg);
                p.setEndpointIdentificationAlgorithm("HTTPS");
                boolean ip = host.matches("[0-9.]+") || host.contains(":");
                List<SNIServerName> names = new ArrayList<>();
                if (!Boolean.FALSE.equals(cfg.get("sni")) && !ip) {
                    names.add(new SNIHostName(host));
                }
                p.setServerNames(names);
                apply(s, p);
                return Exchange.run(s, true, seen);
            }
        }
    }

    /** What the handshake revealed before it failed: JSSE picks some alerts by protocol version. */
    static final class Seen {
        volatile String version;
    }

    /** The JDK's trust managers, wrapped only to note the protocol version when a certificate is checked. */
    static javax.net.ssl.TrustManager[] watched(TrustManagerFactory tmf, Seen seen) {
        javax.net.ssl.TrustManager[] tms = tmf.getTrustManagers();
        for (int k = 0; k < tms.length; k++) {
            if (tms[k] instanceof javax.net.ssl.X509ExtendedTrustManager) {
                tms[k] = new WatchingTrustManager((javax.net.ssl.X509ExtendedTrustManager) tms[k], seen);
            }
        }
        return tms;
    }

    static final class WatchingTrustManager extends javax.net.ssl.X509ExtendedTrustManager {
        final javax.net.ssl.X509ExtendedTrustManager inner;
        final Seen seen;

        WatchingTrustManager(javax.net.ssl.X509ExtendedTrustManager inner, Seen seen) {
            this.inner = inner;
            this.seen = seen;
        }

        void note(Socket socket) {
            if (socket instanceof SSLSocket) {
                SSLSession hs = ((SSLSocket) socket).getHandshakeSession();
                if (hs != null) {
                    seen.version = hs.getProtocol();
                }
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            note(socket);
            inner.checkClientTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            note(socket);
            inner.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            inner.checkClientTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            inner.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            inner.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType)
                throws java.security.cert.CertificateException {
            inner.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return inner.getAcceptedIssuers();
        }
    }

    /** One credential served as given, for chains a KeyStore will not hold. */
    static final class FixedKeyManager extends X509ExtendedKeyManager {
        final PrivateKey key;
        final X509Certificate[] chain;

        FixedKeyManager(PrivateKey key, X509Certificate[] chain) {
            this.key = key;
            this.chain = chain;
        }

        String alias(String keyType) {
            return key.getAlgorithm().equals(keyType) ? "fixed" : null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return alias(keyType);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return alias(keyType);
        }

        @Override
        public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
            for (String t : keyTypes) {
                if (alias(t) != null) {
                    return "fixed";
                }
            }
            return null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return alias(keyType) == null ? null : new String[] {"fixed"};
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return getServerAliases(keyType, issuers);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return chain.clone();
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return key;
        }
    }

    /** Chooses the server credential by the SNI the client sent; the JDK's own key managers do the rest. */
    static final class SniKeyManager extends X509ExtendedKeyManager {
        final X509KeyManager main;
        final Map<String, X509KeyManager> byHost;

        SniKeyManager(X509KeyManager main, Map<String, X509KeyManager> byHost) {
            this.main = main;
            this.byHost = byHost;
        }

        /** Aliases are "host|alias" for SNI credentials and "|alias" for the default one. */
        X509KeyManager of(String alias) {
            int bar = alias == null ? -1 : alias.indexOf('|');
            if (bar <= 0) {
                return main;
            }
            return byHost.getOrDefault(alias.substring(0, bar), main);
        }

        static String inner(String alias) {
            return alias.substring(alias.indexOf('|') + 1);
        }

        String choose(String keyType, Principal[] issuers, SSLSession hs) {
            String host = "";
            if (hs instanceof ExtendedSSLSession) {
                for (SNIServerName n : ((ExtendedSSLSession) hs).getRequestedServerNames()) {
                    if (n instanceof SNIHostName) {
                        host = ((SNIHostName) n).getAsciiName().toLowerCase(java.util.Locale.ROOT);
                    }
                }
            }
            X509KeyManager km = byHost.getOrDefault(host, main);
            String a = km.chooseServerAlias(keyType, issuers, null);
            if (a == null) {
                return null;
            }
            return (km == main ? "" : host) + "|" + a;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return choose(keyType, issuers, engine == null ? null : engine.getHandshakeSession());
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            SSLSession hs = socket instanceof SSLSocket ? ((SSLSocket) socket).getHandshakeSession() : null;
            return choose(keyType, issuers, hs);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return alias == null ? null : of(alias).getCertificateChain(inner(alias));
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return alias == null ? null : of(alias).getPrivateKey(inner(alias));
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return main.getServerAliases(keyType, issuers);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }

    /** The handshake, one message each way, close_notify both ways: what the harness's exchange() does. */
    static final class Exchange {
        static String run(SSLSocket s, boolean client, Seen seen) {
            try {
                s.startHandshake();
            } catch (Exception e) {
                return Observed.failure("handshake", e, client, seen.version);
            }
            SSLSession session = s.getSession();
            String established = Observed.established(session, s.getApplicationProtocol());
            try {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] expect = client ? PONG : PING;
                byte[] got = new byte[expect.length];
                if (client) {
                    out.write(PING);
                    out.flush();
                    readFully(in, got);
                } else {
                    readFully(in, got);
                    out.write(PONG);
                    out.flush();
                }
                if (!Arrays.equals(got, expect)) {
                    throw new IOException("unexpected application data " + new String(got, StandardCharsets.UTF_8));
                }
                if (client) {
                    s.shutdownOutput(); // close_notify; the server answers with its own
                }
                if (in.read() != -1) {
                    throw new IOException("application data after the exchange");
                }
                if (!client) {
                    s.close(); // our close_notify in answer to the client's
                }
                return established;
            } catch (Exception e) {
                return Observed.failure("data", e, client, seen.version);
            }
        }

        static void readFully(InputStream in, byte[] buf) throws IOException {
            int off = 0;
            while (off < buf.length) {
                int n = in.read(buf, off, buf.length - off);
                if (n < 0) {
                    throw new EOFException("end of stream after " + off + " of " + buf.length + " bytes");
                }
                off += n;
            }
        }
    }

    // ---- bench: the bare JSSE loop that `tlsmatrix bench` compares the jsse cells with -------------------------

    /**
     * {@code {"id":N,"bench":{"role":"client","connect":PORT,"count":K,"threads":T,"trust_pem":"...",
     * "server_name":"localhost"}}}, or {@code {"id":N,"bench":{"role":"server","count":K,"threads":T,
     * "chain_pem":"...","key_pem":"..."}}} (which first replies {@code listening} with its port, like a cell's
     * server): K connections, T at a time, each the work of a cell's connection (the handshake, the ping and its
     * echo, close_notify both ways), with the SSLContext built once as an application builds it. Timed here with
     * System.nanoTime, so the figure is what a Java program sees, without the harness, the bridge or the JSON pipes.
     * The final reply is {@code {"id":N,"bench":{"elapsed_ns":E,"connections":K,"threads":T}}}; a failed
     * connection fails the request ({@code error}). Not part of the peer contract (docs/peers.md): only
     * `tlsmatrix bench` sends it, and only to a JVM with the default settings.
     */
    static final class Bench {
        /** One connection of the loop. */
        interface Connection {
            void play() throws Exception;
        }

        /** What one thread of the loop plays, made before the clock starts. */
        interface Player {
            Connection make() throws Exception;
        }

        static String run(long id, Map<String, Object> b) throws Exception {
            int count = ((Number) b.get("count")).intValue();
            Object t = b.get("threads");
            int threads = t == null ? 1 : ((Number) t).intValue();
            if (count < 1 || threads < 1) {
                throw new IllegalArgumentException("bench.count and bench.threads must be at least 1");
            }
            String role = (String) b.getOrDefault("role", "client");
            if ("client".equals(role)) {
                String trust = (String) b.get("trust_pem");
                int port = ((Number) b.get("connect")).intValue();
                Object name = b.get("server_name");
                String host = name instanceof String ? (String) name : "127.0.0.1";
                // A context per thread: each forgets its own sessions after each connection (see client), and no
                // thread can resume a session another thread's connection just got.
                return loop(count, threads, () -> {
                    SSLContext ctx = SSLContext.getInstance("TLS");
                    ctx.init(null, trust(trust).getTrustManagers(), null);
                    return () -> client(ctx, host, port);
                }, null);
            }
            if (!"server".equals(role)) {
                throw new IllegalArgumentException("bench.role must be \"server\" or \"client\", got " + role);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(new KeyManager[] {keyManager(b)}, null, null);
            SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory()
                    .createServerSocket(0, 128, InetAddress.getLoopbackAddress());
            try (ss) {
                ss.setSoTimeout(SOCKET_TIMEOUT_MS);
                send("{\"id\":" + id + ",\"listening\":" + ss.getLocalPort() + "}");
                return loop(count, threads, () -> () -> server(ss), ss);
            }
        }

        /**
         * Plays {@code count} connections on {@code threads} threads and reports the wall time. The first failure
         * stops the loop (closing {@code stop}, so server threads waiting in accept give up at once) and fails the
         * request.
         */
        static String loop(int count, int threads, Player player, java.io.Closeable stop) throws Exception {
            java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger(count);
            java.util.concurrent.atomic.AtomicReference<Exception> failed =
                    new java.util.concurrent.atomic.AtomicReference<>();
            Thread[] ts = new Thread[Math.min(threads, count)];
            for (int k = 0; k < ts.length; k++) {
                Connection one = player.make();
                ts[k] = new Thread(() -> {
                    while (failed.get() == null && left.getAndDecrement() > 0) {
                        try {
                            one.play();
                        } catch (Exception e) {
                            if (failed.compareAndSet(null, e) && stop != null) {
                                try {
                                    stop.close();
                                } catch (IOException ignored) {
                                    // closing is all that was asked
                                }
                            }
                        }
                    }
                }, "tlsmatrix-bench");
            }
            long start = System.nanoTime();
            for (Thread th : ts) {
                th.start();
            }
            for (Thread th : ts) {
                th.join();
            }
            long elapsed = System.nanoTime() - start;
            if (failed.get() != null) {
                throw new IOException("a bench connection failed: " + failed.get(), failed.get());
            }
            return "{\"elapsed_ns\":" + elapsed + ",\"connections\":" + count + ",\"threads\":" + ts.length + "}";
        }

        /**
         * A client connection as the adapter's Client makes it (host name verified, SNI sent), without the
         * observation. Afterwards the context's sessions are invalidated (the TLS 1.3 tickets too, which are sessions
         * of their own): a context built once would otherwise resume one on the next connection, while every cell's
         * connection is a full handshake (the bare server fails a resumed connection).
         */
        static void client(SSLContext ctx, String host, int port) throws Exception {
            Socket raw = new Socket();
            raw.setTcpNoDelay(true);
            raw.setSoTimeout(SOCKET_TIMEOUT_MS);
            raw.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), SOCKET_TIMEOUT_MS);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true)) {
                SSLParameters p = s.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                if (!host.matches("[0-9.]+") && !host.contains(":")) {
                    p.setServerNames(List.of(new SNIHostName(host)));
                }
                s.setSSLParameters(p);
                s.startHandshake();
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                out.write(PING);
                out.flush();
                byte[] got = new byte[PONG.length];
                Exchange.readFully(in, got);
                if (!Arrays.equals(got, PONG)) {
                    throw new IOException("unexpected application data " + new String(got, StandardCharsets.UTF_8));
                }
                s.shutdownOutput();
                if (in.read() != -1) {
                    throw new IOException("application data after the exchange");
                }
            }
            javax.net.ssl.SSLSessionContext cache = ctx.getClientSessionContext();
            for (java.util.Enumeration<byte[]> ids = cache.getIds(); ids.hasMoreElements(); ) {
                SSLSession cached = cache.getSession(ids.nextElement());
                if (cached != null) {
                    cached.invalidate();
                }
            }
        }

        /** A server connection: accept, the handshake, the echo, then close_notify in answer to the client's. */
        static void server(SSLServerSocket ss) throws Exception {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.setSoTimeout(SOCKET_TIMEOUT_MS);
                s.setTcpNoDelay(true);
                s.startHandshake();
                InputStream in = s.getInputStream();
                byte[] got = new byte[PING.length];
                Exchange.readFully(in, got);
                if (!Arrays.equals(got, PING)) {
                    throw new IOException("unexpected application data " + new String(got, StandardCharsets.UTF_8));
                }
                OutputStream out = s.getOutputStream();
                out.write(PONG);
                out.flush();
                if (in.read() != -1) {
                    throw new IOException("application data after the exchange");
                }
            }
        }
    }

    // ---- observation ---------------------------------------------------------------------------------------------

    static final class Observed {
        static String established(SSLSession session, String alpn) {
            String version = scenarioProtocol(session.getProtocol());
            String suite = session.getCipherSuite();
            // A few old suites keep their SSL_ standard names in JSSE; the registry (and the report) says TLS_.
            if (suite.startsWith("SSL_")) {
                suite = "TLS_" + suite.substring(4);
            }
            return "{\"result\":\"established\",\"version\":" + Json.quote(version) + ",\"cipher\":"
                    + Json.quote(suite) + ",\"alpn\":" + Json.quote(alpn == null || alpn.isEmpty() ? null : alpn)
                    + ",\"resumed\":false}";
        }

        static final String RECEIVED = "Received fatal alert: ";

        /**
         * A failure: the exception as Java prints it, the alert received (from its message) and the alert sent. JSSE
         * has no API for the alert it sent, so it is inferred from the exception by the table in {@link #sent}; what
         * the table does not know is reported as `unmapped` rather than guessed.
         */
        static String failure(String phase, Exception e, boolean client, String version) {
            String message = e.toString();
            String received = null;
            String sent = null;
            String error;
            String own = withoutAlertTag(e.getMessage());
            String plaintext = plaintextAlert(e);
            if (own.startsWith(RECEIVED)) {
                received = own.substring(RECEIVED.length()).trim();
                error = "peer_alert";
            } else if (plaintext != null) {
                // Java 25 reads a plaintext alert where it expects an encrypted record (an OpenSSL 3.0 TLS 1.3 client
                // that rejects the certificate before switching keys) and answers it: javax.net.debug shows "Fatal
                // (UNEXPECTED_MESSAGE): Unexpected exception", caused by "Unexpected plaintext alert received: Level:
                // fatal; Alert: certificate_expired", then "WRITE: TLSv1.3 alert(unexpected_message)".
                received = plaintext;
                sent = "unexpected_message";
                error = "peer_alert";
            } else if (isEof(e)) {
                // The peer (or the network) ended the stream; JSSE may still answer it with an alert (table below).
                error = "eof";
                String[] row = sent(e, own, client, version);
                sent = row == null ? null : row[0];
            } else if (e instanceof SocketTimeoutException) {
                error = "timeout";
            } else if (e instanceof SocketException || hasCause(e, SocketException.class)) {
                error = "io";
            } else {
                String[] row = sent(e, own, client, version);
                String tag = alertTag(e.getMessage());
                if (tag != null && (row == null || row[0] != null)) {
                    // Java 25 names the alert it raises in front of the message, and its word beats our table, which
                    // was read off Java 17 (the wire shows the tag's alert: handshake_failure, not bad_certificate,
                    // for a TLS 1.2 client without a certificate). Where the table says nothing goes out (no
                    // protocol enabled), nothing does: the tag names an alert never written.
                    row = new String[] {tag};
                }
                if (row == null) {
                    error = "unmapped";
                    message = "unmapped: no row in the sent-alert table of peers/jsse/TlsPeer.java for " + message;
                } else {
                    sent = row[0];
                    error = "local";
                }
            }
            return "{\"result\":\"failed\",\"phase\":" + Json.quote(phase) + ",\"sent_alert\":" + Json.quote(sent)
                    + ",\"received_alert\":" + Json.quote(received) + ",\"error\":" + Json.quote(error)
                    + ",\"message\":" + Json.quote(message) + "}";
        }

        /**
         * The message without the alert tag Java 25 puts in front of it ("(handshake_failure) Received fatal alert:
         * handshake_failure"; Java 11-21 print "Received fatal alert: handshake_failure"), so one table reads every
         * release. The tag names the alert of the exception, sent or received, which the rest already determines.
         */
        static String alertTag(String m) {
            String rest = withoutAlertTag(m);
            return m == null || rest.equals(m) ? null : m.substring(1, m.indexOf(") "));
        }

        /** The alert of "Unexpected plaintext alert received: Level: fatal; Alert: X" among the causes, or null. */
        static String plaintextAlert(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                String m = t.getMessage();
                int at = m == null ? -1 : m.indexOf("Unexpected plaintext alert received:");
                int name = m == null ? -1 : m.lastIndexOf("Alert: ");
                if (at >= 0 && name > at) {
                    return m.substring(name + "Alert: ".length()).trim();
                }
            }
            return null;
        }

        static String withoutAlertTag(String m) {
            if (m == null) {
                return "";
            }
            if (m.startsWith("(")) {
                int close = m.indexOf(") ");
                if (close > 1 && m.substring(1, close).matches("[a-z_]+")) {
                    return m.substring(close + 2);
                }
            }
            return m;
        }

        static boolean isEof(Exception e) {
            String m = withoutAlertTag(e.getMessage());
            return e instanceof EOFException || hasCause(e, EOFException.class)
                    || m.contains("Remote host terminated the handshake")
                    || m.contains("Remote host terminated the connection");
        }

        static boolean hasCause(Throwable e, Class<?> c) {
            for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
                if (c.isInstance(t)) {
                    return true;
                }
            }
            return false;
        }

        /**
         * The alert JSSE sent with this locally raised exception: {alert} (alert null = none sent), or null when the
         * exception is not in the table. Each row was checked against the bytes (openssl s_server/s_client -msg).
         */
        static String[] sent(Exception e, String m, boolean client, String version) {
            // Certificate rejected by the trust manager or the host name check. A TLS 1.2 (and older) client picks
            // the alert from the reason of the CertPathValidatorException that is the immediate cause; every other
            // case sends certificate_unknown (checked against openssl: TLS 1.3 expired -> certificate_unknown, TLS
            // 1.2 algorithm constraint -> unsupported_certificate).
            if (e instanceof SSLHandshakeException && hasCause(e, java.security.cert.CertificateException.class)) {
                // Java 25 tags the exception with the alert it sends, which for TLS 1.3 now follows the reason too
                // (certificate_expired on the wire in certificates::expired_leaf, where Java 17 sends
                // certificate_unknown): its word first, the rules below for the releases without a tag.
                if (alertTag(e.getMessage()) != null) {
                    return new String[] {alertTag(e.getMessage())};
                }
                Throwable ce = e.getCause();
                boolean reasoned = client && version != null && !"TLSv1.3".equals(version);
                if (reasoned && ce != null && ce.getCause() instanceof CertPathValidatorException) {
                    CertPathValidatorException.Reason r = ((CertPathValidatorException) ce.getCause()).getReason();
                    if (r == CertPathValidatorException.BasicReason.EXPIRED) {
                        return new String[] {"certificate_expired"};
                    }
                    if (r == CertPathValidatorException.BasicReason.NOT_YET_VALID
                            || r == CertPathValidatorException.BasicReason.INVALID_SIGNATURE) {
                        return new String[] {"bad_certificate"};
                    }
                    if (r == CertPathValidatorException.BasicReason.ALGORITHM_CONSTRAINED) {
                        return new String[] {"unsupported_certificate"};
                    }
                    if (r == CertPathValidatorException.BasicReason.REVOKED) {
                        return new String[] {"certificate_revoked"};
                    }
                }
                return new String[] {"certificate_unknown"};
            }
            // A RuntimeException inside the handshake (an empty trust store: "the trustAnchors parameter must be
            // non-empty") is wrapped as "Unexpected error" with internal_error.
            if (m.startsWith("Unexpected error:")) {
                return new String[] {"internal_error"};
            }
            // Nothing enabled to offer or accept: JSSE fails before writing its first handshake message.
            if (m.startsWith("No appropriate protocol")) {
                return new String[] {null};
            }
            if (m.startsWith("The client supported protocol versions")
                    || m.startsWith("The server selected protocol version")
                    || m.startsWith("Client requested protocol") || m.startsWith("Server requested protocol")) {
                return new String[] {"protocol_version"};
            }
            if (m.equals("no cipher suites in common") || m.startsWith("No negotiable cipher suite")
                    || m.startsWith("No available authentication scheme")) {
                return new String[] {"handshake_failure"};
            }
            // JSSE raises SSLProtocolException only with unexpected_message (witnessed by an openssl client).
            if (e instanceof javax.net.ssl.SSLProtocolException && m.equals("No common named group")) {
                return new String[] {"unexpected_message"};
            }
            // An extension that does not decode (a signature_algorithms extension with an empty list, which a Java 25
            // TLS 1.3 client limited to PKCS#1 schemes sends): decode_error from Java 17 on, unexpected_message from
            // Java 11 (the wire in signatures::rsa_pkcs1_only_tls13, jsse@25 -> jsse, jsse@11, jsse@21).
            if (e instanceof javax.net.ssl.SSLProtocolException && m.startsWith("Invalid signature_algorithms")) {
                return new String[] {Runtime.version().feature() >= 17 ? "decode_error" : "unexpected_message"};
            }
            // A TLS 1.2 server whose key none of the client's signature schemes can sign with (an Ed25519 key and a
            // client without ed25519, ECDHServerKeyExchange: "No supported signature algorithm for EdDSA  key"):
            // S->C Alert(fatal, internal_error) on the wire in signatures::ed25519_server (node@8 -> jsse, jsse@21).
            if (m.startsWith("No supported signature algorithm for")) {
                return new String[] {"internal_error"};
            }
            if (m.startsWith("Empty client certificate chain") || m.startsWith("Empty server certificate chain")) {
                return new String[] {"bad_certificate"};
            }
            // A plaintext record where JSSE expects an encrypted one (an OpenSSL 3.0 TLS 1.3 client that rejects the
            // server certificate sends its alert before switching keys; a client answering garbage with a plaintext
            // alert): JSSE fails decrypting it, and SSLTransport.decode answers the BadPaddingException with
            // fatal(HANDSHAKE_FAILURE) while handshaking (an SSLHandshakeException), bad_record_mac otherwise. The
            // alert goes out encrypted: a 35-byte record after the server's flight in wire::garbage_server_hello
            // (rustls -> jsse), and javax.net.debug shows "WRITE: TLSv1.3 alert(handshake_failure)" for it.
            if (e instanceof SSLHandshakeException
                    && m.startsWith("Insufficient buffer remaining for AEAD cipher fragment")) {
                return new String[] {"handshake_failure"};
            }
            // The stream ended during the handshake: SSLSocketImpl.handleEOF raises "Remote host terminated the
            // handshake" and startHandshake answers it with TransportContext.fatal(HANDSHAKE_FAILURE, ...), which sends
            // the alert while the handshake context exists (the relay's bytes show handshake_failure from a Java
            // client in wire::close_after_client_hello and wire::truncated_record, and from a Java server whose client
            // gave up before its ClientHello in versions::tls10_client_default_security_level).
            if (m.equals("Remote host terminated the handshake")) {
                return new String[] {"handshake_failure"};
            }
            // Bytes that are not a TLS record header (SSLSocketInputRecord: "HTTP/", garbage): a plain SSLException
            // that SSLTransport.decode turns into fatal(UNEXPECTED_MESSAGE) (the relay's bytes show unexpected_message
            // from a Java client in wire::http_response and wire::garbage_server_hello).
            if (m.equals("Unsupported or unrecognized SSL message")) {
                return new String[] {"unexpected_message"};
            }
            // A handshake message JSSE has no consumer for in this state: HandshakeContext.dispatch raises it with
            // unexpected_message. JSSE reads records up to SSLRecord.maxLargeRecordSize (2^14 over the TLS limit), so an
            // over-long record of zeros is read as hello_request messages (the relay's bytes show unexpected_message
            // from a Java client in wire::oversized_record).
            if (e instanceof javax.net.ssl.SSLProtocolException && m.startsWith("Unsupported handshake message: ")) {
                return new String[] {"unexpected_message"};
            }
            if (m.startsWith("No matching application layer protocol values")
                    || m.startsWith("Invalid application_layer_protocol_negotiation")) {
                return new String[] {"no_application_protocol"};
            }
            return null;
        }

    }

    // ---- a small JSON reader and string quoting (no dependencies in source-file mode) ----------------------------

    static final class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.ws();
            if (j.i != j.s.length()) {
                throw j.err("trailing characters");
            }
            return v;
        }

        @SuppressWarnings("unchecked")
        static Map<String, Object> obj(Object o) {
            if (o == null) {
                return new LinkedHashMap<>();
            }
            if (!(o instanceof Map)) {
                throw new IllegalArgumentException("expected a JSON object, got " + o);
            }
            return (Map<String, Object>) o;
        }

        IllegalArgumentException err(String what) {
            return new IllegalArgumentException("bad JSON at offset " + i + ": " + what);
        }

        void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        Object value() {
            ws();
            if (i >= s.length()) {
                throw err("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (peek('}')) {
                    return m;
                }
                do {
                    ws();
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                } while (peek(','));
                expect('}');
                return m;
            }
            if (c == '[') {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (peek(']')) {
                    return l;
                }
                do {
                    l.add(value());
                    ws();
                } while (peek(','));
                expect(']');
                return l;
            }
            if (c == '"') {
                return string();
            }
            for (String lit : new String[] {"true", "false", "null"}) {
                if (s.startsWith(lit, i)) {
                    i += lit.length();
                    return lit.equals("null") ? null : Boolean.valueOf(lit);
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            if (start == i) {
                throw err("unexpected character " + c);
            }
            String num = s.substring(start, i);
            try {
                return num.matches("-?[0-9]+") ? (Number) Long.valueOf(num) : (Number) Double.valueOf(num);
            } catch (NumberFormatException e) {
                throw err("bad number " + num);
            }
        }

        boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        void expect(char c) {
            if (!peek(c)) {
                throw err("expected " + c);
            }
        }

        String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw err("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    throw err("unterminated escape");
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw err("short \\u escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException x) {
                            throw err("bad \\u escape");
                        }
                        i += 4;
                        break;
                    default: b.append(e);
                }
            }
        }

        static String quote(String v) {
            if (v == null) {
                return "null";
            }
            StringBuilder b = new StringBuilder("\"");
            for (int k = 0; k < v.length(); k++) {
                char c = v.charAt(k);
                if (c == '"' || c == '\\') {
                    b.append('\\').append(c);
                } else if (c < 0x20) {
                    b.append(String.format("\\u%04x", (int) c));
                } else {
                    b.append(c);
                }
            }
            return b.append('"').toString();
        }
    }
}
