#!/usr/bin/env bash
# A schema-driven fuzz run of the metadata API (schemathesis, from the project's venv) against a
# running local cloud's API server (API_URL, from its local.env): every operation of the OpenAPI
# document it serves, every default check (no server errors, answers that match the document,
# schema-valid requests accepted, invalid ones refused), a bounded number of examples and a fixed
# seed, so a failure reproduces. Part of `make test`.
#   API_URL=http://127.0.0.1:8080 tests/api-fuzz/run.sh [EXAMPLES]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
examples="${1:-50}"
: "${API_URL:?API_URL is not set: source .imgpipe/local.env (the local cloud) first}"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=imgpipe_hooks \
  "$root/.venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
  run "$API_URL/openapi.json" --url "$API_URL" --max-examples "$examples" --seed 20261201 --no-color
