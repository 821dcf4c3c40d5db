#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from fixtures/: small copies of the photos (downscaled, EXIF and
ICC kept), the invalid inputs, the event JSONs, and query strings with cursors signed by the
fuzz key. Re-run after changing a fixture; it overwrites the seeds and keeps every other file,
such as libFuzzer's finds next to them.

Needs Debian's imagemagick (/usr/bin/convert) and exiftool. Run from anywhere:
    python3 fuzz/seed_corpus.py
"""

import base64
import hashlib
import hmac
import json
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"
IM = "/usr/bin/convert"
# Must match fuzz/src/api.rs.
CURSOR_SECRET = b"imgpipe-fuzz-cursor-secret"

# Files small enough to take as they are (bytes and pixels both within the fuzz limits).
AS_IS = [
    "cameras/Arbitro.tiff", "cameras/Canon_40D.jpg", "cameras/Fujifilm_FinePix_E500.jpg",
    "cameras/Nikon_D70.jpg", "cameras/Panasonic_DMC-FZ30.jpg", "cameras/Pentax_K10D.jpg",
    "formats/adobergb-mid.jpg", "formats/adobergb.jpg", "formats/image.gif",
    "invalid/bomb.jpg", "invalid/bomb.png", "invalid/doc.pdf", "invalid/drawing.svg",
    "invalid/empty.jpg", "invalid/notes.txt", "invalid/random.bin", "invalid/text-as.jpg",
    "invalid/image01137.jpg", "invalid/image01551.jpg", "invalid/image02206.jpg",
    "invalid/image01713.jpg", "invalid/image01980.jpg",
    # HEIF/AVIF (libheif, libde265, rav1d) and planar TIFFs: every small one, good and broken.
    *[f"heif/{p.name}" for p in sorted((FIX / "heif").iterdir()) if p.stat().st_size <= 130_000],
    *[f"tiff-planar/{p.name}" for p in sorted((FIX / "tiff-planar").iterdir())],
]

# Large fixtures, downscaled with ImageMagick; EXIF and ICC are kept unless -strip is given.
DOWNSCALED = {
    "cmyk.jpg": ("formats/cmyk.jpg", ["-resize", "96x64"]),
    "gray.jpg": ("formats/gray.jpg", ["-resize", "96x64"]),
    "progressive.jpg": ("formats/progressive.jpg", ["-resize", "96x64", "-interlace", "JPEG"]),
    "alpha.png": ("formats/alpha.png", ["-resize", "96x64", "png32:"]),
    "rgb16.png": ("formats/rgb16.png", ["-resize", "96x64", "-depth", "16", "png48:"]),
    "lossy.webp": ("formats/image.webp", ["-resize", "96x64", "-quality", "70"]),
    "lossless.webp": ("formats/image.webp", ["-resize", "48x32", "-define", "webp:lossless=true"]),
    "lzw.tiff": ("formats/image.tiff", ["-resize", "96x64", "-compress", "LZW"]),
    "gps_dscn0010.jpg": ("cameras/DSCN0010.jpg", ["-resize", "64x48"]),
    "type_error.jpg": ("cameras/30-type_error.jpg", ["-resize", "64x40"]),
    "gps_ifd.jpg": ("cameras/45-gps_ifd.jpg", ["-resize", "64x36"]),
    "zero_length_string.jpg": ("cameras/67-0_length_string.jpg", ["-resize", "64x32"]),
    "landscape_6.jpg": ("orientation/Landscape_6.jpg", ["-resize", "32x48"]),
    "landscape_5.jpg": ("orientation/Landscape_5.jpg", ["-resize", "32x48"]),
    "portrait_8.jpg": ("orientation/Portrait_8.jpg", ["-resize", "48x32"]),
    "invalid_exif_00971.jpg": ("invalid/image00971.jpg", ["-resize", "64x24"]),
}


QUERIES = [
    "", "status=processed", "status=rejected&limit=100", "limit=0", "limit=18446744073709551616",
    "camera=NIKON%20D70&status=processed", "camera=Canon+EOS+40D&prefix=holiday%2F",
    "taken_from=2008-05-30&taken_to=2008-05-30",
    "taken_from=2008-05-30T15:56:01Z&taken_to=2024-01-01T00:00:00%2B02:00",
    "taken_from=2009-01-01&taken_to=2008-01-01", "prefix=&cursor=", "colour=red",
    "status=processed&status=rejected", "taken_to=9999-12-31T23:59:60Z",
]

KEYS = [
    "holiday/my+photo+%C3%A9t%C3%A9+%2B1.jpg", "uploads%2Fmy+photo.jpg", "%ZZ", "%C3%28",
    "a%00b", "++%2B%25",
]


def write(target: str, name: str, data: bytes) -> None:
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cursor(query: str, key: dict) -> str:
    """A cursor as metadata_api::cursor::CursorSigner::encode makes it (serde_json, compact)."""
    payload = b64(json.dumps({"query": query, "key": dict(sorted(key.items()))},
                             separators=(",", ":"), ensure_ascii=False).encode())
    tag = hmac.new(CURSOR_SECRET, payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{b64(tag)}"


def fingerprint(parts: list) -> str:
    """metadata_api::params::ListQuery::fingerprint."""
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode()
        digest.update(len(raw).to_bytes(8, "big") + raw)
    return digest.digest()[:12].hex()


def tiff_exif(jpeg: bytes) -> bytes:
    """The TIFF structure of a JPEG's EXIF (APP1 `Exif\\0\\0` segment)."""
    at = jpeg.index(b"Exif\0\0")
    length = int.from_bytes(jpeg[at - 2:at], "big")
    return jpeg[at + 6:at - 2 + length]


def chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + len(data).to_bytes(4, "little") + data + (b"\0" if len(data) % 2 else b"")


def webp_with_exif(simple: bytes, exif: bytes) -> bytes:
    """A simple (VP8) WebP turned extended (VP8X) with an EXIF chunk after the image."""
    assert simple[12:16] == b"VP8 ", "expected a lossy simple WebP"
    image = simple[12:]
    width = int.from_bytes(image[14:16], "little") & 0x3FFF
    height = int.from_bytes(image[16:18], "little") & 0x3FFF
    vp8x = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + chunk(b"VP8X", vp8x) + image + chunk(b"EXIF", exif)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def images(tmp: Path) -> dict:
    found = {}
    for rel in AS_IS:
        found[Path(rel).name] = (FIX / rel).read_bytes()
    for name, (rel, args) in DOWNSCALED.items():
        out = tmp / name
        prefix = args[-1] if args[-1].endswith(":") else ""
        subprocess.run([IM, str(FIX / rel), *[a for a in args if a != prefix],
                        f"{prefix}{out}"], check=True)
        found[name] = out.read_bytes()
    # PNG keeps EXIF in an eXIf chunk (exiftool writes it), WebP in an EXIF chunk (built here:
    # Debian's exiftool cannot write WebP).
    gps_source = FIX / "cameras/DSCN0010.jpg"
    small_png, png = tmp / "small.png", tmp / "gps_exif.png"
    subprocess.run([IM, str(FIX / "formats/alpha.png"), "-resize", "32x24", f"png32:{small_png}"],
                   check=True)
    subprocess.run(["exiftool", "-q", "-q", "-tagsfromfile", str(gps_source), "-exif:all",
                    "-o", str(png), str(small_png)], check=True)
    found["gps_exif.png"] = png.read_bytes()
    found["gps_exif.webp"] = webp_with_exif(found["lossy.webp"], tiff_exif(gps_source.read_bytes()))
    # The start of a real HEIF (the box header is what sniffing reads) and a truncated JPEG.
    found["heif-head.heif"] = (FIX / "heif/samplefilehub.heif").read_bytes()[:256]
    canon = (FIX / "cameras/Canon_40D.jpg").read_bytes()
    found["truncated.jpg"] = canon[: len(canon) * 3 // 4]
    return found


def encode_seeds() -> dict:
    """Inputs of the `encode` target (fuzz/src/encode.rs): width, height, quality, flags, then
    pixel bytes, which it repeats to fill the image. Sizes at block edges and thin strips, every
    encoder, RGB and RGBA, flat and noisy pixels."""
    noise = bytes((i * 2654435761 >> 13) & 0xFF for i in range(3000))
    seeds = {}
    for name, (width, height, quality, flags, pixels) in {
        "1x1-q82-jpeg": (1, 1, 82, 0, b""),
        "8x8-q1-jpeg": (8, 8, 1, 0, noise),
        "9x9-q100-jpeg": (9, 9, 100, 0, noise),
        "17x15-q50-jpeg-rgba": (17, 15, 50, 4, noise),
        "300x2-q80-jpeg": (300, 2, 80, 0, noise),
        "2x300-q80-jpeg": (2, 300, 80, 0, noise),
        "512x512-q82-jpeg-flat": (512, 512, 82, 0, bytes([200, 80, 30])),
        "64x48-q82-jpeg-gradient": (64, 48, 82, 0, bytes(range(256))),
        "33x7-q70-webp": (33, 7, 70, 8, noise),
        "33x7-q70-webp-rgba": (33, 7, 70, 12, noise),
    }.items():
        high = ((width - 1) >> 8) | (((height - 1) >> 8) << 1)
        header = bytes([(width - 1) & 0xFF, (height - 1) & 0xFF, quality - 1, flags | high])
        seeds[name] = header + pixels
    return seeds


def main() -> None:
    # Seeds are (re)written in place. Nothing is deleted: the inputs the fuzzers found (named by
    # their SHA-1) and the regression inputs of fixed bugs live beside the seeds, and a seed that
    # is no longer made is removed by hand.
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in images(Path(tmp)).items():
            for target in ("sniff_limits", "process", "exif"):
                write(target, name, data)

    for path in sorted((FIX / "events").glob("*.json")):
        write("event", path.name, path.read_bytes())
        # The SQS bodies on their own, as parse_s3_body sees them.
        for i, record in enumerate(json.loads(path.read_text()).get("Records", [])):
            if isinstance(record, dict) and "body" in record:
                write("event", f"{path.stem}-body{i}.json", record["body"].encode())
    for i, key in enumerate(KEYS):
        write("event", f"key{i}.txt", key.encode())
    write("event", "sequencer.txt", b"0055AED6DCD90281E5")
    write("event", "event-time.txt", b"2026-11-26T05:43:40.139Z")

    for name, data in encode_seeds().items():
        write("encode", name, data)

    for i, query in enumerate(QUERIES):
        write("api_query", f"query{i}.txt", query.encode())
    # Cursors the check accepts: one on its own (bound to the empty query) and one in the query
    # string of the default listing.
    key = {"id": "abc", "list_pk": "all", "uploaded_at": "2026-11-26T05:43:40Z"}
    write("api_query", "cursor.txt", cursor("", key).encode())
    default_listing = fingerprint(["by_upload", "", "", "", "", ""])
    write("api_query", "query-with-cursor.txt",
          f"limit=2&cursor={cursor(default_listing, key)}".encode())


if __name__ == "__main__":
    main()
