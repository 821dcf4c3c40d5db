# Sourced by infra/deploy.sh and infra/smoke-arm64.sh (with $root set): builds the HEIC decoder for
# the Lambda's arm64, cross-built with zig like the Rust code, and exports what a cross build of
# the functions needs; libheif's and libjpeg-turbo's cmake builds get the same toolchain (the
# aarch64 prefix, no host libraries).
arm64=aarch64-unknown-linux-gnu
export PATH="$root/.venv/bin:$PATH"
"$root/infra/codecs/build.sh" "$arm64"
# Static: zig's linker does not fall back from -lheif to libheif.a as the host linker does.
export PKG_CONFIG_PATH="$root/target/codecs/$arm64/lib/pkgconfig" PKG_CONFIG_ALLOW_CROSS=1
export SYSTEM_DEPS_LINK=static
export CMAKE_TOOLCHAIN_FILE_aarch64_unknown_linux_gnu="$root/infra/codecs/cross-$arm64.cmake"
# jpegli-sys (the JPEG encoder) links its two static libraries by bare name (-ljpegli-static,
# -lhwy), which zig's linker resolves to lib*.so only. A linker script of that name, in a
# directory the link already searches, hands lld the archive instead; lld finds the bare name in
# the link's search path, where jpegli-sys's build script put its own build directories.
for lib in jpegli-static hwy; do
  echo "INPUT(lib$lib.a)" > "$root/target/codecs/$arm64/lib/lib$lib.so"
done
