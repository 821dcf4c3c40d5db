#!/usr/bin/env bash
# Installs what the Rust build needs beyond the toolchain, when it is missing: cmake (builds
# libjpeg-turbo, vendored in the turbojpeg-sys crate) and nasm (its x86-64 SIMD, which the build
# requires rather than silently making a slow decoder). From Debian's packages with apt-get, as
# root or through sudo. Prints nothing when there is nothing to do.
set -euo pipefail

missing=()
command -v cmake >/dev/null || missing+=(cmake)
if [ "$(uname -m)" = x86_64 ]; then
  command -v nasm >/dev/null || missing+=(nasm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "the build needs ${missing[*]}: install them with your package manager" >&2
  exit 1
fi
apt_get=(apt-get)
[ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
echo "installing ${missing[*]} from Debian (for libjpeg-turbo) ..."
# A fresh machine may have no package lists yet.
if ! DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "${missing[@]}" >/dev/null; then
  "${apt_get[@]}" update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q "${missing[@]}" >/dev/null
fi
