#!/usr/bin/env bash
# Creates the project virtualenv (.venv) with the local cloud's pinned tools, or reuses it when
# it already has them. Prints nothing when there is nothing to do.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv"
requirements="$root/infra/local/requirements.txt"
stamp="$venv/.imgpipe-requirements"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
echo "setting up $venv (moto server, cargo-lambda) ..."
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
echo "virtualenv ready"
