#!/usr/bin/env bash
# `make test`: the unit tests, then the end-to-end suite against a local cloud of its own (own
# state directory, own free ports), torn down afterwards even when a test fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# IMGPIPE_TEST_STATE lets two runs share a checkout without sharing a cloud.
state="${IMGPIPE_TEST_STATE:-$root/.imgpipe/test}"

"$root/infra/local/venv.sh"
"$root/infra/local/build-tools.sh" --browser

echo "== template checks (make validate)"
"$root/infra/validate.sh"

cleanup() {
  python3 "$root/infra/local/localcloud.py" down --state-dir "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

echo "== build (profile local: the functions, the tool and every test binary, once)"
cargo build --profile local --workspace --bins
cargo test --profile local --workspace --no-run

echo "== local cloud for the end-to-end suite"
# A short visibility timeout, so that a retried message shows up within the tests' waits.
IMGPIPE_VISIBILITY_TIMEOUT=5 "$root/.venv/bin/python" "$root/infra/local/localcloud.py" up --state-dir "$state"
set -a
# shellcheck disable=SC1091
source "$state/local.env"
set +a

# The suite's operations test restarts this cloud's functions with other settings, and back.
export IMGPIPE_STATE_DIR="$state"

echo "== tests"
# The end-to-end tests share one queue; one at a time keeps their waits independent.
cargo test --profile local --workspace -- --test-threads 1

echo "== the gallery in a browser (headless Chromium; screenshots in $state/screenshots)"
"$root/.venv/bin/python" "$root/tests/browser/gallery.py" --state-dir "$state"

echo "== the API's OpenAPI document against the API (schemathesis, bounded, fixed seed)"
"$root/tests/api-fuzz/run.sh" 100

echo "== load (a short make load against the same cloud: mixed uploads, every outcome checked)"
"$root/.venv/bin/python" "$root/infra/local/load.py" -n 40 --state-dir "$state"
