"""The second peer: libvips itself (Debian's libvips42 through pyvips), one thread, the same three
variants, timed like `imgpipe bench`. `thumbnail_buffer` is libvips's fastest path: it shrinks on
load (DCT scaling for JPEG), applies the EXIF orientation and resizes, once per variant.

    python vips-bench.py FILE REPS
"""

import json
import os
import resource
import statistics
import sys
import time

# Before pyvips loads libvips: one worker thread, as the other tools get one core.
os.environ["VIPS_CONCURRENCY"] = "1"
import pyvips  # noqa: E402

pyvips.cache_set_max(0)

VARIANTS = [
    {"width": 1600, "height": 1600, "crop": None, "quality": 82},
    {"width": 800, "height": 800, "crop": None, "quality": 82},
    {"width": 200, "height": 200, "crop": "centre", "quality": 80},
]


def per_variant(data):
    for v in VARIANTS:
        options = {"height": v["height"], "size": "down"}
        if v["crop"]:
            options["crop"] = v["crop"]
        image = pyvips.Image.thumbnail_buffer(data, v["width"], **options)
        image.write_to_buffer(".jpg", Q=v["quality"], strip=True)


def main():
    file, reps = sys.argv[1], int(sys.argv[2])
    data = open(file, "rb").read()
    per_variant(data)  # warm-up
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        per_variant(data)
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({
        "file": file,
        "mode": "per-variant",
        "reps": reps,
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        "vips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
    }))


if __name__ == "__main__":
    main()
