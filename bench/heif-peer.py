"""The HEIC/AVIF peer: Pillow, with pillow-heif (its bundled libheif + libde265) for HEIC and
Pillow's own AVIF plugin (its bundled libavif + dav1d) for AVIF, on one thread, doing what
`imgpipe bench` does: decode once, orient, three Lanczos variants, JPEG at the same qualities.

    python heif-peer.py FILE REPS

- Decode: `Image.open(...).load()`. libheif applies `irot`/`imir` and pillow-heif then resets the
  EXIF Orientation to 1; Pillow's AVIF plugin turns `irot`/`imir` into the EXIF Orientation, so
  `ImageOps.exif_transpose` after the decode uprights both, and is a no-op where nothing is left.
- Variants, each from the full-resolution upright image: 1600x1600 and 800x800 inside (never
  enlarged), 200x200 cover (centre crop). `Image.resize` with LANCZOS and `reducing_gap=2.0`,
  the path `Image.thumbnail` takes: a box reduction to twice the target, then Lanczos.
- Colour: an embedded ICC profile (iPhones embed Display P3) is converted to sRGB on each
  variant, as imgpipe does; nclx-only files (the encoders' sRGB default) are left alone.
- JPEG at quality 82/82/80, no metadata written, Pillow's defaults otherwise (4:2:0).

Prints one JSON line: `median_ms` (whole job, median of REPS after one warm-up), `decode_ms`
(median of REPS separate decode-only runs, decode + orient), `peak_rss_mb` (ru_maxrss of this
process) and which library decoded the file.
"""

import io
import json
import resource
import statistics
import sys
import time

from PIL import Image, ImageCms, ImageOps, features
import pillow_heif

# One thread, as the other tools get one core (the default is the number of usable CPUs: 1 under
# taskset, but say it).
pillow_heif.options.DECODE_THREADS = 1
pillow_heif.register_heif_opener()
PILLOW_AVIF = features.check("avif")
if PILLOW_AVIF:
    from PIL import AvifImagePlugin

    AvifImagePlugin.DEFAULT_MAX_THREADS = 1
elif pillow_heif.libheif_info().get("AVIF"):
    # Only if this Pillow has no AVIF plugin: pillow-heif builds with an AV1 decoder register it.
    pillow_heif.register_avif_opener()

VARIANTS = [
    {"width": 1600, "height": 1600, "fit": "inside", "quality": 82},
    {"width": 800, "height": 800, "fit": "inside", "quality": 82},
    {"width": 200, "height": 200, "fit": "cover", "quality": 80},
]
SRGB = ImageCms.createProfile("sRGB")


def decode(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to do
    return image


def plan(v, width, height):
    """(target size, source box) for one variant on a width x height image."""
    if v["fit"] == "inside":
        scale = min(v["width"] / width, v["height"] / height, 1.0)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return size, (0, 0, width, height)
    # cover: the largest centred box of the variant's aspect ratio, scaled down to the variant
    # (a smaller image is cropped to the aspect ratio, not enlarged).
    aspect = v["width"] / v["height"]
    box_w, box_h = (width, width / aspect) if width / height < aspect else (height * aspect, height)
    left, top = (width - box_w) / 2, (height - box_h) / 2
    scale = min(v["width"] / box_w, 1.0)
    size = (max(1, round(box_w * scale)), max(1, round(box_h * scale)))
    return size, (left, top, left + box_w, top + box_h)


def job(data):
    decoded = image = decode(data)
    if image.mode != "RGB":
        image = image.convert("RGB")  # JPEG output: alpha and 16-bit modes go
    icc = decoded.info.get("icc_profile")
    transform = None
    if icc:
        transform = ImageCms.buildTransform(
            ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, "RGB", "RGB"
        )
    for v in VARIANTS:
        size, box = plan(v, *image.size)
        variant = image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
        if transform is not None:
            ImageCms.applyTransform(variant, transform, inPlace=True)
        variant.save(io.BytesIO(), "JPEG", quality=v["quality"])
    return decoded


def timed_runs(fn, data, reps):
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn(data)
        times.append((time.perf_counter() - started) * 1000)
    return times


def decoder_name(image):
    if PILLOW_AVIF and isinstance(image, AvifImagePlugin.AvifImageFile):
        codecs = AvifImagePlugin._avif.codec_versions().split(", ")
        decoders = ", ".join(c for c in codecs if "dec" in c.split("[")[-1])
        return f"Pillow {Image.__version__} AVIF plugin (libavif {features.version('avif')}; {decoders})"
    info = pillow_heif.libheif_info()
    decoders = ", ".join(info.get("decoders", {}).values())
    return f"pillow-heif {pillow_heif.__version__} (libheif {info['libheif']}; {decoders})"


def main():
    file, reps = sys.argv[1], int(sys.argv[2])
    data = open(file, "rb").read()
    upright = job(data)  # warm-up
    totals = timed_runs(job, data, reps)
    decodes = timed_runs(decode, data, reps)
    print(json.dumps({
        "file": file,
        "mode": "decode-once",
        "reps": reps,
        "megapixels": round(upright.width * upright.height / 1e6, 2),
        "size": f"{upright.width}x{upright.height}",
        "median_ms": round(statistics.median(totals), 2),
        "min_ms": round(min(totals), 2),
        "decode_ms": round(statistics.median(decodes), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        "format": upright.format,
        "decoder": decoder_name(upright),
        "icc_to_srgb": bool(upright.info.get("icc_profile")),
        "pillow": Image.__version__,
    }))


if __name__ == "__main__":
    main()
