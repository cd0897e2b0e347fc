# Convenience recipes (install just with `cargo install just --locked`); the README's commands do not need it.

# Run the scenario matrix (pass extra flags, e.g. `just run --filter 'seed::*' --format json`).
run *ARGS:
    cargo run --release -- run {{ARGS}}

# Run every test: unit tests, CLI tests, and one test per matrix cell.
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

# The whole CI script.
ci:
    bash .ci/run
