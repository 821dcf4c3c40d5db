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
# The HEIC decoder for the Lambda's arm64, cross-built with zig like the Rust code; libheif's and
# libjpeg-turbo's cmake builds get the same toolchain (the aarch64 prefix, no host libraries).
arm64=aarch64-unknown-linux-gnu
"$root/infra/codecs/build.sh" "$arm64"
# Static: zig's linker does not fall back from -lheif to libheif.a as the host linker does.
export PKG_CONFIG_PATH="$root/target/codecs/$arm64/lib/pkgconfig" PKG_CONFIG_ALLOW_CROSS=1
export SYSTEM_DEPS_LINK=static
export CMAKE_TOOLCHAIN_FILE_aarch64_unknown_linux_gnu="$root/infra/codecs/cross-$arm64.cmake"
sam build --template infra/template.yaml --beta-features
if [ -f samconfig.toml ]; then
  sam deploy
else
  sam deploy --guided --capabilities CAPABILITY_IAM
fi
