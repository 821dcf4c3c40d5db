#!/usr/bin/env bash
# Builds the HEIC decoder libheif needs, before cargo runs: libde265 (HEVC), as a static library,
# from the source in the `libde265-sys2` crate on crates.io (downloaded once, checksum pinned).
# That crate cannot be a cargo dependency: it declares `links = "heif"` like libheif-sys. AV1 comes
# from the `rav1d` crate (Rust, dav1d's C API); libheif compiles against dav1d's headers, taken
# from Debian's libdav1d-dev package without installing it, so no shared libdav1d is in reach.
#
#   infra/codecs/build.sh [TARGET]    TARGET: a Rust target triple (default: this machine)
#
# Installs into target/codecs/host (or target/codecs/TARGET), which .cargo/config.toml points
# PKG_CONFIG_PATH at; a cross build sets PKG_CONFIG_PATH itself (see infra/deploy.sh). Prints
# nothing when everything is already built.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:-host}"
prefix="$root/target/codecs/$target"
stamp="$prefix/.built"
libde265_crate=libde265-sys2-0.1.0
libde265_sha256=2e6fd7e0988d221cfb3e73a8e7a9359461335d924eb38b4092b14c2409e05820
# What a change here must rebuild: this script and the toolchain file.
recipe="$(cat "$0" "$root/infra/codecs/find-only-our-decoders.cmake" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ]; then
  exit 0
fi

work="$root/target/codecs/src"
mkdir -p "$work" "$prefix/lib/pkgconfig" "$prefix/include"

# libde265's source, from crates.io.
if [ ! -d "$work/$libde265_crate/vendor/libde265" ]; then
  echo "downloading libde265 (in $libde265_crate from crates.io) ..."
  curl -sSfL -o "$work/$libde265_crate.crate" \
    "https://static.crates.io/crates/libde265-sys2/$libde265_crate.crate"
  echo "$libde265_sha256  $work/$libde265_crate.crate" | sha256sum -c --quiet
  tar -xzf "$work/$libde265_crate.crate" -C "$work"
fi

# dav1d's headers (arch-independent), from Debian's package, unpacked, not installed.
if [ ! -f "$work/dav1d/usr/include/dav1d/dav1d.h" ]; then
  echo "fetching dav1d's headers (Debian libdav1d-dev) ..."
  rm -rf "$work/dav1d" && mkdir -p "$work/dav1d"
  (cd "$work/dav1d" && { apt-get download -q libdav1d-dev >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get download -q libdav1d-dev >/dev/null 2>&1; }; } \
    && dpkg-deb -x libdav1d-dev_*.deb .)
fi
rm -rf "$prefix/include/dav1d"
cp -r "$work/dav1d/usr/include/dav1d" "$prefix/include/dav1d"
# An empty archive stands for libdav1d: libheif's CMake insists on finding a library file, and
# the symbols come from the rav1d crate at the final link.
ar rcs "$prefix/lib/libdav1d.a"
dav1d_version="$(sed -n 's/^Version: *//p' "$work"/dav1d/usr/lib/*/pkgconfig/dav1d.pc)"
cat > "$prefix/lib/pkgconfig/dav1d.pc" <<PC
prefix=$prefix
Name: dav1d
Description: dav1d's C API, provided by the rav1d crate
Version: $dav1d_version
Libs: -L\${prefix}/lib -ldav1d
Cflags: -I\${prefix}/include
PC

cmake_cross=()
case "$target" in
  host) ;;
  *)
    toolchain="$root/infra/codecs/cross-$target.cmake"
    if [ ! -f "$toolchain" ]; then
      echo "no cross build of the codecs for $target yet (needs $toolchain)" >&2
      exit 1
    fi
    cmake_cross=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")
    # zig from the project venv (the one cargo lambda uses), behind wrappers that drop the
    # `--target=` flags cc-rs adds for clang, which zig spells `-target`.
    zig_python="$root/.venv/bin/python"
    "$zig_python" -m ziglang version >/dev/null
    zig_target="${target%%-*}-linux-gnu.2.17"
    mkdir -p "$prefix/bin"
    for tool in cc c++ ar ranlib; do
      case "$tool" in
        cc | c++) zig_args="$tool -target $zig_target" ;;
        *) zig_args="$tool" ;;
      esac
      cat > "$prefix/bin/zig-$tool" <<WRAPPER
#!/usr/bin/env bash
args=()
for arg in "\$@"; do [[ \$arg == --target=* ]] || args+=("\$arg"); done
exec "$zig_python" -m ziglang $zig_args "\${args[@]}"
WRAPPER
      chmod +x "$prefix/bin/zig-$tool"
    done
    ;;
esac
echo "building libde265 (static, $target) ..."
build="$work/build-libde265-$target"
log="$work/build-libde265-$target.log"
rm -rf "$build"
# The compiler's warnings about libde265's code are not ours to act on: kept in the log, shown
# only when the build fails.
trap 'echo "libde265 build failed; last lines of $log:" >&2; tail -n 30 "$log" >&2' ERR
cmake -S "$work/$libde265_crate/vendor/libde265" -B "$build" -G "Unix Makefiles" \
  "${cmake_cross[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  -DBUILD_SHARED_LIBS=OFF -DENABLE_SDL=OFF -DENABLE_DECODER=OFF -DENABLE_ENCODER=OFF >"$log" 2>&1
cmake --build "$build" -j "$(nproc)" >>"$log" 2>&1
cmake --install "$build" >>"$log" 2>&1
trap - ERR
echo "$recipe" > "$stamp"
