#!/usr/bin/env bash
# Checks the HTML report in a real browser: renders `tlsmatrix run --format html` with headless Chromium, checks that
# the page's script drew every cell, and takes a screenshot. Not a cargo test because Chromium is not on a fresh
# machine (`apt-get install -y chromium`).
#
# Usage: scripts/html-check.sh [OUTDIR] [-- extra `tlsmatrix run` arguments]
#   OUTDIR (default: a temporary directory) receives report.html, report.dom.html and report.png.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "html-check: FAIL: $*" >&2
  exit 1
}

OUT=""
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then
  OUT="$1"
  shift
fi
if [ "${1:-}" = "--" ]; then shift; fi
[ -n "$OUT" ] || OUT="$(mktemp -d)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

CHROMIUM="${CHROMIUM:-}"
if [ -z "$CHROMIUM" ]; then
  for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
      CHROMIUM="$c"
      break
    fi
  done
fi
[ -n "$CHROMIUM" ] || die "chromium not found: apt-get install -y chromium"

# 1. The report. 0 (all matched) and 1 (a cell did not) both produce a full page; 2 is bad input or a harness fault.
rm -f "$OUT/report.html" "$OUT/report.dom.html" "$OUT/report.png"
rc=0
cargo run --release -q -- run --format html --output "$OUT/report.html" "$@" || rc=$?
case "$rc" in
  0 | 1) ;;
  *)
    # With --output the load errors are only in the page; show them.
    if [ -f "$OUT/report.html" ]; then
      { grep -o '<li><code>[^<]*</code></li>' "$OUT/report.html" || true; } |
        sed 's/^<li><code>/  /; s/<\/code><\/li>$//; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&#39;/'"'"'/g; s/&amp;/\&/g' >&2
    fi
    die "tlsmatrix run exited $rc (2 = a scenario did not load or a harness error)"
    ;;
esac
[ -s "$OUT/report.html" ] || die "$OUT/report.html was not written"
echo "html-check: report.html $(wc -c <"$OUT/report.html") bytes (tlsmatrix exit $rc)"

# Chromium with everything that could reach the network or a profile switched off; a fresh profile per call.
profiles=()
cleanup() { for p in "${profiles[@]}"; do rm -rf "$p"; done; }
trap cleanup EXIT
browse() {
  local profile
  profile="$(mktemp -d)"
  profiles+=("$profile")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" "$@"
}

# 2. The DOM after the page's script ran: it sets data-cells on the matrix to the number of cells it drew, which must
# equal data-expected-cells (the report's cell count, written by the renderer).
browse --dump-dom "file://$OUT/report.html" >"$OUT/report.dom.html" 2>"$OUT/chromium-dom.log" ||
  die "chromium --dump-dom failed (see $OUT/chromium-dom.log)"
dom="$OUT/report.dom.html"
if grep -q 'data-js-error=' "$dom"; then
  die "the page's script failed: $(grep -o 'data-js-error="[^"]*"' "$dom" | sed -n 1p)"
fi
# The first match of a pattern (sed, not head: head would end the pipe early and pipefail would report SIGPIPE).
first() { { grep -o "$1" "$2" || true; } | sed -n 1p; }
expected="$(first 'data-expected-cells="[0-9]*"' "$dom" | tr -dc 0-9)"
drawn="$(first 'data-cells="[0-9]*"' "$dom" | tr -dc 0-9)"
[ -n "$expected" ] || die "no data-expected-cells in the page: not a tlsmatrix HTML report?"
[ -n "$drawn" ] || die "no data-cells on the matrix: the script did not finish (see $OUT/chromium-dom.log)"
[ "$drawn" = "$expected" ] || die "the matrix shows $drawn cells, the report has $expected"
[ "$expected" -gt 0 ] || die "the report has no cells"
grep -q 'data-rendered="yes"' "$dom" || die "the script did not mark the page rendered"
td_cells="$(grep -o '<td class="cell s-[a-z]*[" ]' "$dom" | wc -l)"
[ "$td_cells" = "$expected" ] || die "$td_cells cell elements in the DOM, expected $expected"
# A known scenario, when the run included it (it does unless filtered out by extra arguments).
if [ "$#" -eq 0 ]; then
  grep -q 'data-scenario="seed::untrusted_ca"' "$dom" || die "scenario seed::untrusted_ca is not in the matrix"
fi
grep -q '<select name="category">' "$dom" || die "the filters were not built"
echo "html-check: DOM ok: $drawn of $expected cells drawn, filters present"

# 3. A screenshot, with one cell's details open (the fragment names a cell), to look at and to prove it paints.
png="$OUT/report.png"
rm -f "$png"
# The cell to open: the first one, which is in view without scrolling (headless --screenshot paints a scrolled page
# blank, and the page scrolls a linked cell into view).
cell="$(first 'data-name="[^"]*"' "$dom" | sed 's/^data-name="//; s/"$//; s/&gt;/>/g; s/&amp;/\&/g')"
browse --screenshot="$png" --window-size=1400,1000 --hide-scrollbars \
  "file://$OUT/report.html#${cell}" >"$OUT/chromium-screenshot.log" 2>&1 ||
  die "chromium --screenshot failed (see $OUT/chromium-screenshot.log)"
[ -f "$png" ] || die "no screenshot written to $png (see $OUT/chromium-screenshot.log)"
size="$(wc -c <"$png")"
[ "$size" -gt 10240 ] || die "the screenshot is only $size bytes: a blank page?"
echo "html-check: screenshot $png ($size bytes)"
echo "html-check: ok ($OUT)"
