#!/usr/bin/env bash
# Runs a command against the running local cloud: its endpoints (local.env) and the IMGPIPE_*
# settings its function runs with (settings.env), in place of any the caller has exported, so that
# `imgpipe reprocess` judges records by the configuration the function really has.
#   infra/local/with-cloud.sh STATE_DIR COMMAND [ARGS...]
set -euo pipefail
state="$1"
shift
if ! python3 "$(dirname "$0")/localcloud.py" status --state-dir "$state" >/dev/null; then
  echo "the local cloud in $state is not running: start it with \`make up\`" >&2
  exit 1
fi
for name in $(compgen -e); do
  case "$name" in IMGPIPE_*) unset "$name" ;; esac
done
set -a
# shellcheck disable=SC1091
source "$state/local.env"
# shellcheck disable=SC1091
[ -f "$state/settings.env" ] && source "$state/settings.env"
set +a
exec "$@"
