#!/usr/bin/env python3
"""`make demo`: uploads photos to the local cloud's uploads bucket, waits until the pipeline
has handled each one, and prints what it recorded."""

import argparse
import datetime
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 120
LIST_PARTITION = "image"


def read_env(path):
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def utc_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def items_by_key(dynamodb, table):
    """Every item, newest first, through the listing index (no table scan)."""
    items, start = {}, None
    while True:
        query = dict(
            TableName=table,
            IndexName="by_upload",
            KeyConditionExpression="list_pk = :p",
            ExpressionAttributeValues={":p": {"S": LIST_PARTITION}},
            ScanIndexForward=False,
        )
        if start:
            query["ExclusiveStartKey"] = start
        page = dynamodb.query(**query)
        for item in page["Items"]:
            items.setdefault(item["source_key"]["S"], item)
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def text(item, *path):
    value = item
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return ""
        value = value[step]
    if isinstance(value, dict):
        for kind in ("S", "N"):
            if kind in value:
                return value[kind]
    return ""


def describe_variants(item):
    if text(item, "status") != "processed":
        return text(item, "reason")
    variants = item.get("variants", {}).get("L", [])
    return ", ".join(
        f"{text(v['M'], 'name')} {text(v['M'], 'width')}x{text(v['M'], 'height')}" for v in variants
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".imgpipe")
    parser.add_argument("photos", nargs="*", type=Path)
    args = parser.parse_args()

    env = read_env(args.state_dir / "local.env")
    session = dict(
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    s3 = boto3.client("s3", **session)
    dynamodb = boto3.client("dynamodb", **session)
    photos = args.photos or sorted((ROOT / "fixtures" / "photos").iterdir())
    photos = [p for p in photos if p.is_file()]
    if not photos:
        print("no photos to upload", file=sys.stderr)
        return 1

    started = utc_now()
    keys = []
    for photo in photos:
        key = f"demo/{photo.name}"
        s3.upload_file(str(photo), env["UPLOADS_BUCKET"], key)
        keys.append(key)
        print(f"uploaded {photo} -> s3://{env['UPLOADS_BUCKET']}/{key}")

    deadline = time.time() + WAIT_S
    done = {}
    while len(done) < len(keys):
        items = items_by_key(dynamodb, env["TABLE_NAME"])
        for key in keys:
            item = items.get(key)
            if item and text(item, "updated_at") >= started and key not in done:
                done[key] = item
                print(f"  {text(item, 'status'):9} {key}")
        if len(done) < len(keys):
            if time.time() > deadline:
                missing = ", ".join(k for k in keys if k not in done)
                print(f"timed out after {WAIT_S}s waiting for: {missing}; see `make logs`", file=sys.stderr)
                return 1
            time.sleep(0.5)

    rows = [("key", "status", "size", "camera", "taken at", "variants / reason")]
    for key in keys:
        item = done[key]
        camera = " ".join(filter(None, (text(item, "exif", "M", "make"), text(item, "exif", "M", "model"))))
        rows.append(
            (
                key,
                text(item, "status"),
                f"{text(item, 'width')}x{text(item, 'height')}" if text(item, "width") else "-",
                camera or "-",
                text(item, "exif", "M", "taken_at") or "-",
                describe_variants(item),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(
        f"""
Variants are in s3://{env['DERIVATIVES_BUCKET']}/<id>/<variant>.jpg, records in the
DynamoDB table {env['TABLE_NAME']}. Upload more (AWS CLI, or any SDK pointed at the endpoint):

  set -a; source {args.state_dir}/local.env; set +a
  aws s3 cp my-photo.jpg s3://{env['UPLOADS_BUCKET']}/my-photo.jpg

Follow the logs with `make logs`; stop everything with `make down`."""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
