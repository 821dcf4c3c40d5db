#!/usr/bin/env python3
"""`make load`: pushes N photos through the local cloud as fast as it takes them and checks
what the pipeline made of every one.

The mix (by position, so a run is reproducible): 70% plain valid photos, 10% invalid inputs,
10% duplicates (the same key uploaded twice, with two different photos: the item must end as
the second), 10% deletes (uploaded, then deleted at once: the item must end `deleted`, with no
variants left). Inputs are the fixtures, re-uploaded under distinct keys, some with spaces,
`+` and unicode in them.

What each upload must become is not decided here: the `imgpipe` tool (the function's own image
path, run locally once per fixture) says what record each fixture gives, and the cloud must
record the same (status, reason, hash, size, orientation, variant names and sizes). Ids and
variant keys are read from the items the pipeline wrote, never computed here.

Latency is read from each item: `updated_at` (when the function wrote it) minus `uploaded_at`
(the S3 event time of the upload it records), so the poller's interval does not blur it.
Throughput is photos over the span from the first upload to the last item written.

Exits non-zero when a photo is lost (no item), wrong (item, variants or leftovers not as
expected), in the DLQ, or not settled within the time limit (60 s + 0.5 s per photo unless
--timeout says otherwise)."""

import argparse
import datetime
import json
import math
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from cloudenv import client_settings, read_env

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
# Where the inputs come from. What each one gives is asked of the imgpipe tool.
FIXTURE_DIRS = ["photos", "cameras", "orientation", "formats", "invalid"]
LOCAL_CLOUD = ROOT / "infra" / "local" / "localcloud.py"
DEFAULT_TOOL = ROOT / "target" / "local" / "imgpipe"
UPLOAD_THREADS = 8
POLL_S = 1.0
# The fields of a record that must match the tool's; exif and gps are floats after a trip
# through DynamoDB and are covered by the end-to-end suite.
COMPARED = ["status", "reason", "reason_code", "format", "width", "height", "orientation", "bytes", "sha256"]
VARIANT_COMPARED = ["name", "format", "width", "height", "bytes"]
# What the poller reads of each item: enough to tell whether it has settled.
POLLED = ["source_key", "status", "sha256"]


def log(message):
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_time(text):
    """The stored timestamps: RFC 3339 UTC with milliseconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- what each fixture should give ------------------------------------------------------------
def oracle(tool):
    """Runs the imgpipe tool over every fixture and returns {path: record}. The tool names its
    records by file stem and stems repeat (image.gif, image.tiff), so it is given links with
    unique stems."""
    files = [p for name in FIXTURE_DIRS for p in sorted((FIXTURES / name).iterdir()) if p.is_file()]
    with tempfile.TemporaryDirectory(prefix="imgpipe-load-") as tmp:
        links = []
        for i, path in enumerate(files):
            link = Path(tmp) / f"in{i:04d}{path.suffix}"
            link.symlink_to(path.resolve())
            links.append(link)
        out = Path(tmp) / "out"
        subprocess.run([str(tool), "process", "--out", str(out), *map(str, links)], check=True, stdout=subprocess.DEVNULL)
        return {path: json.loads((out / f"{link.stem}.json").read_text()) for path, link in zip(files, links)}


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class Photo:
    key: str
    kind: str  # valid | invalid | duplicate | deleted
    uploads: list  # fixture paths, in upload order
    delete: bool = False
    item: dict = None
    problems: list = field(default_factory=list)


def key_for(prefix, i, kind, path):
    # Every seventh key has a nested prefix, a space, a plus and unicode, as users' keys do.
    if i % 7 == 3:
        return f"{prefix}nested dir/{i:05d} {kind}+é-{path.name}"
    return f"{prefix}{i:05d}-{kind}-{path.name}"


def plan(n, prefix, records):
    valid = sorted(p for p, r in records.items() if r["status"] == "processed")
    invalid = sorted(p for p, r in records.items() if r["status"] == "rejected")
    if not valid or not invalid:
        raise SystemExit("the fixtures gave no valid or no invalid input; nothing to mix")
    photos = []
    counters = {"valid": 0, "invalid": 0}

    def take(pool, which):
        path = pool[counters[which] % len(pool)]
        counters[which] += 1
        return path

    for i in range(n):
        slot = i % 10
        if slot == 0:
            kind, uploads = "invalid", [take(invalid, "invalid")]
        elif slot == 1:
            kind, uploads = "duplicate", [take(valid, "valid"), take(valid, "valid")]
        elif slot == 2:
            kind, uploads = "deleted", [take(valid, "valid")]
        else:
            kind, uploads = "valid", [take(valid, "valid")]
        photos.append(Photo(key_for(prefix, i, kind, uploads[-1]), kind, uploads, delete=kind == "deleted"))
    return photos


# -- uploading --------------------------------------------------------------------------------
def upload_all(s3, bucket, photos):
    bodies = {}
    for photo in photos:
        for path in photo.uploads:
            if path not in bodies:
                bodies[path] = path.read_bytes()

    def one(photo):
        for path in photo.uploads:
            s3.put_object(Bucket=bucket, Key=photo.key, Body=bodies[path])
        if photo.delete:
            s3.delete_object(Bucket=bucket, Key=photo.key)

    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        # list() re-raises the first upload error, if any.
        list(pool.map(one, photos))


# -- reading what the pipeline made -----------------------------------------------------------
DESERIALIZER = TypeDeserializer()


def plain(value):
    """DynamoDB's Decimals as the ints and floats the tool's JSON has."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def items_under(dynamodb, table, prefix, since, fields=None):
    """This run's items, through the `by_upload` index in pages (one Query, not one GetItem
    per photo); only `fields` of each, if given."""
    items = []
    args = dict(
        TableName=table,
        IndexName="by_upload",
        KeyConditionExpression="list_pk = :pk AND uploaded_at >= :since",
        FilterExpression="begins_with(source_key, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": "image"},
            ":since": {"S": since},
            ":prefix": {"S": prefix},
        },
    )
    if fields:
        # `status` is a reserved word.
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        args["ProjectionExpression"] = ", ".join(names)
        args["ExpressionAttributeNames"] = names
    while True:
        page = dynamodb.query(**args)
        items.extend({k: plain(DESERIALIZER.deserialize(v)) for k, v in raw.items()} for raw in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def settled(photo, item, records):
    """Whether the item shows the photo's last event handled (not yet whether it is right)."""
    if photo.delete:
        return item["status"] == "deleted"
    return item["status"] != "deleted" and item.get("sha256") == records[photo.uploads[-1]]["sha256"]


def wait_until_settled(dynamodb, env, photos, prefix, since, records, deadline):
    by_key = {p.key: p for p in photos}
    pending = set(by_key)
    while pending and time.time() < deadline:
        for item in items_under(dynamodb, env["TABLE_NAME"], prefix, since, POLLED):
            key = item["source_key"]
            if key in pending and settled(by_key[key], item, records):
                pending.discard(key)
        if pending:
            time.sleep(POLL_S)
    return pending


def wait_until_drained(sqs, queue_url, deadline):
    """Waits for the queue to hold nothing, so that no late event changes what is checked."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(int(attributes.get(n, "0")) == 0 for n in names):
            return True
        if time.time() >= deadline:
            return False
        time.sleep(POLL_S)


def derivative_objects(s3, bucket):
    sizes = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            sizes[obj["Key"]] = obj["Size"]
    return sizes


def dlq_keys(sqs, dlq_url, deadline):
    """The upload keys named by messages in the DLQ. They are read and made visible again, so
    the DLQ is left as it was found."""
    seen = {}
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            seen[m["MessageId"]] = m
    for m in seen.values():
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    keys = []
    for m in seen.values():
        try:
            records = json.loads(m["Body"]).get("Records", [])
        except (ValueError, AttributeError):
            keys.append(f"<unparseable message {m['MessageId']}>")
            continue
        keys.extend(urllib.parse.unquote_plus(r.get("s3", {}).get("object", {}).get("key", "")) for r in records)
    return keys, len(seen)


# -- judging ----------------------------------------------------------------------------------
def judge(photo, items, records, objects):
    """Fills photo.problems: what differs from the expected outcome."""
    if not items:
        return
    if len(items) > 1:
        photo.problems.append(f"{len(items)} items for one key")
    item = photo.item = items[0]
    if photo.delete:
        if item["status"] != "deleted":
            photo.problems.append(f"status {item['status']}, expected deleted")
        if item.get("variants"):
            photo.problems.append(f"deleted item still lists {len(item['variants'])} variants")
    else:
        expected = records[photo.uploads[-1]]
        for name in COMPARED:
            if item.get(name) != expected[name]:
                photo.problems.append(f"{name} {item.get(name)!r}, expected {expected[name]!r}")
        got = [{n: v.get(n) for n in VARIANT_COMPARED} for v in item.get("variants", [])]
        want = [{n: v[n] for n in VARIANT_COMPARED} for v in expected["variants"]]
        if got != want:
            photo.problems.append(f"variants {got}, expected {want}")
        for variant in item.get("variants", []):
            size = objects.get(variant["key"])
            if size is None:
                photo.problems.append(f"variant {variant['key']} missing from the derivatives bucket")
            elif size != variant["bytes"]:
                photo.problems.append(f"variant {variant['key']} is {size} bytes, the item says {variant['bytes']}")
    # Anything stored under the item's id that the item does not list is a leftover (all of
    # them, for a deleted or rejected photo).
    listed = {v["key"] for v in item.get("variants", [])}
    strays = sorted(k for k in objects if item["id"] in k.split("/") and k not in listed)
    if strays:
        photo.problems.append(f"leftover objects {strays}")


def percentile(values, q):
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# -- the run ----------------------------------------------------------------------------------
def run(args):
    env = read_env(args.state_dir / "local.env")
    session = dict(
        client_settings(env),
        config=Config(max_pool_connections=UPLOAD_THREADS * 2, retries={"mode": "standard", "max_attempts": 5}),
    )
    s3, sqs, dynamodb = (boto3.client(name, **session) for name in ("s3", "sqs", "dynamodb"))

    records = oracle(args.tool)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    prefix = f"load/{run_id}/"
    photos = plan(args.n, prefix, records)
    timeout = args.timeout if args.timeout is not None else 60 + 0.5 * args.n
    counts = {k: sum(p.kind == k for p in photos) for k in ("valid", "invalid", "duplicate", "deleted")}
    log(f"{args.n} photos under s3://{env['UPLOADS_BUCKET']}/{prefix} ({counts}); limit {timeout:.0f} s")

    # Items carry the S3 event time; a second of slack covers rounding to milliseconds.
    since = datetime.datetime.fromtimestamp(time.time() - 1, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    started = time.time()
    deadline = started + timeout
    upload_all(s3, env["UPLOADS_BUCKET"], photos)
    uploaded = time.time()
    log(f"uploaded in {uploaded - started:.1f} s ({args.n / max(uploaded - started, 1e-9):.0f} photos/s accepted); waiting for the pipeline")

    pending = wait_until_settled(dynamodb, env, photos, prefix, since, records, deadline)
    drained = wait_until_drained(sqs, env["QUEUE_URL"], deadline)
    timed_out = bool(pending) or not drained

    objects = derivative_objects(s3, env["DERIVATIVES_BUCKET"])
    by_key = {}
    for item in items_under(dynamodb, env["TABLE_NAME"], prefix, since):
        by_key.setdefault(item["source_key"], []).append(item)
    for photo in photos:
        judge(photo, by_key.get(photo.key, []), records, objects)
    in_dlq, dlq_total = dlq_keys(sqs, env["DLQ_URL"], time.time() + 30)
    ours_in_dlq = [k for k in in_dlq if k.startswith(prefix)]

    lost = [p for p in photos if p.item is None]
    wrong = [p for p in photos if p.problems]
    finished = [p for p in photos if p.item is not None and not p.delete]
    latencies = [1000 * (parse_time(p.item["updated_at"]) - parse_time(p.item["uploaded_at"])) for p in finished]
    last_write = max((parse_time(p.item["updated_at"]) for p in photos if p.item), default=time.time())
    seconds = last_write - started

    for photo in lost:
        log(f"LOST   {photo.key} ({photo.kind}, from {', '.join(p.name for p in photo.uploads)}): no item")
    for photo in wrong:
        log(f"WRONG  {photo.key} ({photo.kind}, from {', '.join(p.name for p in photo.uploads)}): {'; '.join(photo.problems)}")
    for key in ours_in_dlq:
        log(f"DLQ    {key}")
    if pending:
        log(f"{len(pending)} photo(s) not settled within {timeout:.0f} s, e.g. {sorted(pending)[:3]}")
    if not drained:
        log(f"the event queue was not empty after {timeout:.0f} s")

    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    summary = {
        "photos": args.n,
        "valid": counts["valid"] + counts["duplicate"],
        "invalid": counts["invalid"],
        "duplicates": counts["duplicate"],
        "deleted": counts["deleted"],
        "lost": len(lost),
        "wrong": len(wrong),
        "dlq_messages": len(ours_in_dlq),
        "timed_out": timed_out,
        "seconds": round(seconds, 2),
        "photos_per_s": round(args.n / seconds, 2) if seconds > 0 else None,
        "p50_ms": None if p50 is None else round(p50),
        "p95_ms": None if p95 is None else round(p95),
    }
    ok = not (lost or wrong or ours_in_dlq or timed_out)
    print(
        f"\n{'OK' if ok else 'FAILED'}: {args.n} photos ({summary['valid']} valid of which {counts['duplicate']} uploaded twice, "
        f"{counts['invalid']} invalid, {counts['deleted']} deleted right after upload): "
        f"{len(lost)} lost, {len(wrong)} wrong, {len(ours_in_dlq)} in the DLQ ({dlq_total} there in all).\n"
        f"{summary['photos_per_s']} photos/s over {seconds:.1f} s (first upload to last item written); "
        f"latency p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms "
        f"(S3 event time to item written, from each item's uploaded_at and updated_at; deletes excluded).",
        flush=True,
    )
    print(json.dumps(summary), flush=True)
    return 0 if ok else 1


def with_own_cloud(args):
    """Brings a cloud up in args.state_dir, runs, and takes it down again whatever happens."""

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        if subprocess.run([sys.executable, str(LOCAL_CLOUD), "up", "--state-dir", str(args.state_dir)]).returncode:
            log(f"the local cloud did not come up; see {args.state_dir}/logs/")
            return 1
        return run(args)
    finally:
        subprocess.run(["python3", str(LOCAL_CLOUD), "down", "--state-dir", str(args.state_dir)], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500, help="photos to upload (default 500)")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".imgpipe", help="the cloud's state directory")
    parser.add_argument("--own-cloud", action="store_true", help="bring a cloud up in --state-dir and tear it down afterwards")
    parser.add_argument("--timeout", type=float, help="overall wait in seconds (default 60 + 0.5 per photo)")
    parser.add_argument("--tool", type=Path, default=DEFAULT_TOOL, help="the imgpipe tool that says what each fixture gives")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("-n must be at least 1")
    return with_own_cloud(args) if args.own_cloud else run(args)


if __name__ == "__main__":
    sys.exit(main())
