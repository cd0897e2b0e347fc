#!/usr/bin/env bash
# Coverage-guided fuzzing of the scenario and PKI loaders (fuzz/), time-bounded for CI.
#
#   FUZZ_SECONDS=60 scripts/fuzz.sh            # each target for 60 s (default)
#   scripts/fuzz.sh scenario                   # one target
#
# Runs on the stable toolchain: `-s none` builds without AddressSanitizer (which needs -Zsanitizer, nightly-only),
# keeping libFuzzer's coverage instrumentation (sancov flags are stable `-C` options). The loaders are safe Rust,
# so ASan would add little; a panic, abort, timeout or out-of-memory still fails the run. Seeds: every scenario,
# the real pki.yaml and the hostile corpus. A crash leaves its input in fuzz/artifacts/<target>/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(scenario pki_spec)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz into ~/.cargo/bin (a few minutes, once)"
    cargo install cargo-fuzz --locked
fi

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    case "$target" in
        scenario) find scenarios tests/hostile/scenario -type f -exec cp -t "$corpus" {} + ;;
        pki_spec) cp fixtures/pki.yaml "$corpus/"; cp tests/hostile/pki/* "$corpus/" ;;
    esac
    echo "fuzzing $target for ${seconds}s"
    # -rss_limit_mb: the loaders refuse documents over 1 MiB, so a 512 MiB process is a finding.
    # -timeout: one input taking over 2 s is a hang.
    cargo fuzz run -s none -O "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -timeout=2 -max_len=65536 -print_final_stats=1
done
