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
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# One package per name, in a stable order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if ((${#missing[@]} == 0)); then
  echo "setup-peers: every optional peer and tool is installed"
  exit 0
fi
if ((check)); then
  echo "setup-peers: missing: ${missing[*]} (bash scripts/setup-peers.sh installs them)"
  exit 1
fi

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "setup-peers: installing ${missing[*]}"
# tshark asks whether non-root users may capture; the answer does not matter here, but it must not ask.
echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-peers: done"
