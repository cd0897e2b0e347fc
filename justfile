# Convenience recipes (install just with `cargo install just --locked`); the README's commands do not need it.

# Run the scenario matrix (pass extra flags, e.g. `just run --filter 'seed::*' --format json`).
run *ARGS:
    cargo run --release -- run {{ARGS}}

# Run every test: unit tests, CLI tests, renderer snapshots, and one test per matrix cell.
test *ARGS:
    cargo test --locked {{ARGS}}

# The checks CI runs besides the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --locked --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Check every scenario file without running it.
validate:
    cargo run --release -- validate

# Every report format into reports/.
reports:
    mkdir -p reports
    -cargo run --release -- run --format table --output reports/tlsmatrix.txt
    -cargo run --release -- run --format json --output reports/tlsmatrix.json
    -cargo run --release -- run --format markdown --output reports/tlsmatrix.md
    -cargo run --release -- run --format junit --output reports/tlsmatrix.xml
    -cargo run --release -- run --format html --output reports/tlsmatrix.html

# Where the backends disagree, scenario by scenario.
compare *ARGS:
    cargo run --release -- compare {{ARGS}}

# Why a scenario's cells fail, and the fix (e.g. `just explain seed::untrusted_ca`).
explain SCENARIO *ARGS:
    cargo run --release -- explain {{SCENARIO}} {{ARGS}}

# Compare this run with a saved JSON report.
baseline FILE:
    cargo run --release -- run --baseline {{FILE}}

# Regenerate docs/catalog.md and docs/scenario.schema.json.
docs:
    cargo run --release -- catalog
    cargo run --release -- schema > docs/scenario.schema.json

# Render the HTML report in headless Chromium and check it (needs Debian's chromium).
html-check:
    bash scripts/html-check.sh

# The whole CI script.
ci:
    bash .ci/run

# One pcapng file per cell (key log embedded), then show a cell's decrypted alerts with tshark, e.g.
# `just pcap seed::untrusted_ca` (needs Debian's tshark).
pcap FILTER="seed::untrusted_ca":
    cargo run --release -- run --filter '{{FILTER}}' --pcap pcaps
    for f in pcaps/*.pcapng; do echo "$f"; bash scripts/pcap-check.sh "$f"; done

# Every cell's transcript (what went over the wire, decrypted where a key log allows).
transcript FILTER="*":
    cargo run --release -- run --filter '{{FILTER}}' --transcript

# The benchmark against the bare libraries, and the 100 / 1,000 / 10,000-cell scale run.
bench:
    cargo run --release -- bench
    cargo run --release -- bench --scale
