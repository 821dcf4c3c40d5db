# Cross-building the codecs for the arm64 Lambda (aarch64, glibc) with zig, as cargo lambda does
# for the Rust code: used by infra/codecs/build.sh for libde265 and, through
# CMAKE_TOOLCHAIN_FILE_aarch64_unknown_linux_gnu (infra/deploy.sh), by libheif-sys and
# turbojpeg-sys. The zig wrappers are written by build.sh next to the prefix.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
get_filename_component(imgpipe_prefix "${CMAKE_CURRENT_LIST_DIR}/../../target/codecs/aarch64-unknown-linux-gnu" ABSOLUTE)
set(CMAKE_C_COMPILER "${imgpipe_prefix}/bin/zig-cc")
set(CMAKE_CXX_COMPILER "${imgpipe_prefix}/bin/zig-c++")
set(CMAKE_AR "${imgpipe_prefix}/bin/zig-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${imgpipe_prefix}/bin/zig-ranlib" CACHE FILEPATH "")
# Libraries and headers only from the aarch64 prefix, never the build machine's x86-64 ones.
set(CMAKE_FIND_ROOT_PATH "${imgpipe_prefix}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
include("${CMAKE_CURRENT_LIST_DIR}/find-only-our-decoders.cmake")
