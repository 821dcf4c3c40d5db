#!/usr/bin/env bash
# `make deploy`: builds both functions for Lambda (arm64, provided.al2023) with cargo lambda
# (zig from the venv cross-compiles, the C/C++ codecs too) and deploys the stack. The first run
# is guided and saves its answers in samconfig.toml; later runs reuse them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$root/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0

"$root/infra/local/venv.sh"
"$root/infra/local/build-tools.sh"
# shellcheck source=infra/arm64-env.sh
source "$root/infra/arm64-env.sh"
sam build --template infra/template.yaml --beta-features
if [ -f samconfig.toml ]; then
  sam deploy
else
  sam deploy --guided --capabilities CAPABILITY_IAM
fi
