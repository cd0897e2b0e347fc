#!/usr/bin/env bash
# Shows what tshark reads in a pcapng written by `tlsmatrix::wire::pcapng`: the packet list (decrypted with the key
# log embedded in the file), then every TLS alert as "direction level description". The key log comes only from the
# file: the empty `tls.keylog_file` keeps one configured in a Wireshark profile out of the answer.
#
# Usage: scripts/pcap-check.sh FILE.pcapng
# Exit status: 0 when tshark read the file, 2 when tshark is missing.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 FILE.pcapng" >&2
  exit 1
fi
if ! command -v tshark >/dev/null 2>&1; then
  echo "pcap-check: tshark is not installed (apt-get install tshark)" >&2
  exit 2
fi

tshark -r "$1" -o tls.keylog_file: 2>/dev/null
echo "--- alerts (the server is port 443; level 2 = fatal; description per RFC 8446, e.g. 48 = unknown_ca)"
tshark -r "$1" -o tls.keylog_file: -Y tls.alert_message -T fields \
  -e tcp.srcport -e tcp.dstport -e tls.alert_message.level -e tls.alert_message.desc 2>/dev/null |
  awk -F'\t' '{ printf "%s  level %s  description %s\n", ($1 == 443 ? "S->C" : "C->S"), $3, $4 }'
