# A CMake toolchain file for the C/C++ codecs the `cmake` crate builds (libheif; libjpeg-turbo
# reads it too and finds nothing it needs here). libheif enables every codec CMake can find;
# whatever a developer machine happens to have installed (libjpeg, x265, aom, ffmpeg, ...) would
# be linked into the function as a shared library, and the Lambda's `bootstrap` must stand alone.
# So only the two decoders we build ourselves are looked for: libde265 (HEVC, built static by
# infra/codecs/build.sh) and dav1d's API (AV1, served by the `rav1d` crate).
foreach(package
    X265 kvazaar UVG266 vvdec vvenc X264 OpenH264 AOM SvtEnc RAV1E JPEG OpenJPEG FFMPEG OPENJPH
    libsharpyuv ZLIB Brotli Doxygen PNG TIFF GdkPixbuf)
  set(CMAKE_DISABLE_FIND_PACKAGE_${package} TRUE)
endforeach()
# The prefix infra/codecs/build.sh installs into, found through PKG_CONFIG_PATH; nothing from
# the system's library directories for the codecs.
set(CMAKE_FIND_USE_PACKAGE_REGISTRY FALSE)
