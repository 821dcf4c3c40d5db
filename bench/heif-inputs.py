"""Makes the 12 MP HEIC and AVIF inputs of `make bench` from one corpus JPEG (4032x3024, the
size of an iPhone's 12 MP photo), keeping its EXIF. Run once by compare.sh, with the bench venv's
Python (Pillow and pillow-heif, pinned there):

    python heif-inputs.py SOURCE.jpg OUTDIR

- 12mp.heic: pillow-heif (its bundled libheif + x265), quality 80, 8-bit 4:2:0, stored as a grid
  of 512x512 tiles as iPhones store their photos.
- 12mp.avif: Pillow's AVIF plugin (its bundled libavif + aom), quality 80, 4:2:0, speed 6.

Both are encoded on one thread, so that making them takes one core (about half a minute).
"""

import os
import sys

from PIL import Image, features
import pillow_heif


def main():
    source, outdir = sys.argv[1], sys.argv[2]
    image = Image.open(source)
    image.load()
    exif = image.info.get("exif")
    heic = os.path.join(outdir, "12mp.heic")
    avif = os.path.join(outdir, "12mp.avif")

    pillow_heif.options.SAVE_HDR_TO_12_BIT = False
    pillow_heif.from_pillow(image).save(
        heic + ".tmp", format="HEIF", quality=80, chroma=420, tile_size=512, exif=exif,
        enc_params={"x265:pools": "1", "x265:frame-threads": "1"},
    )
    os.replace(heic + ".tmp", heic)

    if not features.check("avif"):
        sys.exit("this Pillow has no AVIF encoder")
    image.save(
        avif + ".tmp", format="AVIF", quality=80, subsampling="4:2:0", speed=6, max_threads=1,
        exif=exif,
    )
    os.replace(avif + ".tmp", avif)
    for path in (heic, avif):
        print(f"made {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
