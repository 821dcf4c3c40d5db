#!/usr/bin/env python3
"""`make demo`: uploads photos to the local cloud's uploads bucket, waits until the pipeline
has handled each one, and prints what it recorded."""

import argparse
import datetime
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

from cloudenv import client_settings, read_env

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 120
DEMO_PREFIX = "demo/"


def utc_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def api_get(api, path):
    with urllib.request.urlopen(f"{api}{path}", timeout=10) as response:
        return json.load(response)


def listed(api, prefix):
    """Every image under `prefix`, newest first, through the API's pages."""
    items, cursor = [], None
    while True:
        query = {"prefix": prefix, "limit": "100", **({"cursor": cursor} if cursor else {})}
        page = api_get(api, "/images?" + urllib.parse.urlencode(query))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def describe_variants(record):
    if record["status"] != "processed":
        return record.get("reason") or ""
    return ", ".join(f"{v['name']} {v['width']}x{v['height']}" for v in record["variants"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".imgpipe")
    parser.add_argument("photos", nargs="*", type=Path)
    args = parser.parse_args()

    env = read_env(args.state_dir / "local.env")
    session = client_settings(env)
    s3 = boto3.client("s3", **session)
    api = env["API_URL"]
    photos = args.photos or sorted((ROOT / "fixtures" / "photos").iterdir())
    photos = [p for p in photos if p.is_file()]
    if not photos:
        print("no photos to upload", file=sys.stderr)
        return 1

    # The gallery first: it is what a person opens, and it works before the demo photos are in.
    print(f"The gallery: {api}/  (open it in a browser; drop photos on the page to upload them)")
    print("The local cloud runs without authentication: anything on this machine that reaches "
          f"{api} can list photos and upload.\n")

    started = utc_now()
    keys = []
    for photo in photos:
        key = f"{DEMO_PREFIX}{photo.name}"
        s3.upload_file(str(photo), env["UPLOADS_BUCKET"], key)
        keys.append(key)
        print(f"uploaded {photo} -> s3://{env['UPLOADS_BUCKET']}/{key}")

    deadline = time.time() + WAIT_S
    done = {}
    while len(done) < len(keys):
        for summary in listed(api, DEMO_PREFIX):
            key = summary["source_key"]
            if key in keys and key not in done and summary["uploaded_at"] >= started:
                done[key] = api_get(api, summary["href"])
                print(f"  {summary['status']:9} {key}")
        if len(done) < len(keys):
            if time.time() > deadline:
                missing = ", ".join(k for k in keys if k not in done)
                print(f"timed out after {WAIT_S}s waiting for: {missing}; see `make logs`", file=sys.stderr)
                return 1
            time.sleep(0.5)

    rows = [("key", "status", "size", "camera", "taken at", "variants / reason")]
    for key in keys:
        record = done[key]
        exif = record.get("exif") or {}
        camera = " ".join(filter(None, (exif.get("make"), exif.get("model"))))
        size = f"{record['width']}x{record['height']}" if record.get("width") else "-"
        rows.append((key, record["status"], size, camera or "-", exif.get("taken_at") or "-", describe_variants(record)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(
        f"""
The gallery is at {api}/ (no sign-in locally). The metadata API is at {api}:

  curl -s '{api}/images?limit=5'
  curl -s '{api}/images/{done[keys[0]]['id']}'
  curl -si '{api}/images/{done[keys[0]]['id']}/variants/thumb'     # 302 to the variant

Variants are in s3://{env['DERIVATIVES_BUCKET']}/<id>/<variant>.jpg, records in the
DynamoDB table {env['TABLE_NAME']}. Upload more from the gallery, through the API's presigned
uploads (`curl -s -X POST {api}/uploads -d '{{"filename": "a.jpg", "content_type": "image/jpeg",
"bytes": 1234}}'`, then send the file as the answer says), or with the AWS CLI or any SDK pointed
at the endpoint:

  set -a; source {args.state_dir}/local.env; set +a
  aws s3 cp my-photo.jpg s3://{env['UPLOADS_BUCKET']}/my-photo.jpg

Follow the logs with `make logs`; stop everything with `make down`."""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
