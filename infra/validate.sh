#!/usr/bin/env bash
# `make validate`: checks the SAM template offline. No AWS account is touched: the credentials
# are dummies, and both linters work from their bundled specifications.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.venv/bin"
export AWS_ACCESS_KEY_ID=validate AWS_SECRET_ACCESS_KEY=validate AWS_DEFAULT_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
# Never the emulator's endpoint: validation must not depend on a running local cloud.
unset AWS_ENDPOINT_URL

echo "== cfn-lint infra/template.yaml"
"$bin/cfn-lint" "$root/infra/template.yaml"
echo "== sam validate --lint"
"$bin/sam" validate --lint --template "$root/infra/template.yaml"
echo "== drift: template vs local cloud and code"
"$bin/python" "$root/infra/check_drift.py"
echo "== security: the claims of SECURITY.md about the template"
"$bin/python" "$root/infra/check_security.py"
