#!/usr/bin/env bash
# `make smoke-arm64`: the arm64 `bootstrap` that deploys, run once before it ships. Builds it as
# `make deploy` does (cargo lambda, zig, the cross-built codecs; about 12 minutes cold on 2 cores),
# then runs the zipped binary under qemu user-mode emulation against a stand-in Lambda runtime
# API and a moto server of its own (infra/smoke_arm64.py). Not part of `make test`: too slow.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

"$root/infra/local/venv.sh"
"$root/infra/local/build-tools.sh"

# qemu-user-static runs the aarch64 binary; libc6:arm64 (Debian multiarch) is its glibc.
if ! command -v qemu-aarch64-static >/dev/null || [ ! -e /lib/ld-linux-aarch64.so.1 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "smoke-arm64 needs qemu-user-static and an arm64 glibc: install them with your package manager" >&2
    exit 1
  fi
  apt=(apt-get)
  [ "$(id -u)" -eq 0 ] || apt=(sudo apt-get)
  dpkg=(dpkg)
  [ "$(id -u)" -eq 0 ] || dpkg=(sudo dpkg)
  echo "installing qemu-user-static and libc6:arm64 from Debian ..."
  "${dpkg[@]}" --add-architecture arm64
  "${apt[@]}" update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q qemu-user-static libc6:arm64 >/dev/null
fi

# shellcheck source=infra/arm64-env.sh
source "$root/infra/arm64-env.sh"
echo "== cargo lambda build --release --arm64 (process-upload)"
started=$(date +%s)
cargo lambda build --release --arm64 --bin process-upload --output-format zip
echo "built in $(( $(date +%s) - started )) s"

echo "== the zipped bootstrap under qemu-aarch64, against a stand-in runtime API and moto"
"$root/.venv/bin/python" "$root/infra/smoke_arm64.py" --zip "$root/target/lambda/process-upload/bootstrap.zip"
