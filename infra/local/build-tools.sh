#!/usr/bin/env bash
# Installs what the Rust build needs beyond the toolchain, when it is missing: cmake (builds
# libjpeg-turbo, vendored in the turbojpeg-sys crate, and libheif and libde265) and nasm (the
# x86-64 SIMD of libjpeg-turbo and rav1d, which the build requires rather than silently making a
# slow decoder). From Debian's packages with apt-get, as root or through sudo. Then builds the
# HEIC decoder libheif needs (infra/codecs/build.sh, once). Prints nothing when there is nothing
# to do. With --browser (make test) also Chromium and its WebDriver, for the gallery's browser
# test.
set -euo pipefail
codecs="$(dirname "$0")/../codecs/build.sh"

missing=()
if [ "${1:-}" = --browser ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
fi
command -v cmake >/dev/null || missing+=(cmake)
# libheif's build and libheif-sys find libde265 through pkg-config.
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ "$(uname -m)" = x86_64 ]; then
  command -v nasm >/dev/null || missing+=(nasm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exec "$codecs"
fi

if ! command -v apt-get >/dev/null; then
  echo "the build needs ${missing[*]}: install them with your package manager" >&2
  exit 1
fi
apt_get=(apt-get)
[ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
echo "installing ${missing[*]} from Debian (the codecs' build tools; Chromium for the browser test) ..."
# A fresh machine may have no package lists yet.
if ! DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "${missing[@]}" >/dev/null; then
  "${apt_get[@]}" update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "${missing[@]}" >/dev/null
fi
exec "$codecs"
