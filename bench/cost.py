#!/usr/bin/env python3
"""What processing photos costs on AWS, from measured figures: the image path's time per photo
(`imgpipe bench` JSON lines, on stdin or a file), the variants' bytes per photo (the same run's
`imgpipe process` records, or --variant-kb), and AWS's list prices for us-east-1. Prints the
cost of 1 000 and 1 000 000 photos, item by item. Nothing here calls AWS.

    target/local/imgpipe bench --reps 5 photos/*.jpg | python3 bench/cost.py
    python3 bench/cost.py --bench-ms 64 --variant-kb 480      # figures from the README

Assumptions, each a flag: the function's memory (the template's 1280 MB), how the benchmark
machine's one core compares with the Lambda's share of a Graviton core at that memory (1280 MB
is 0.72 of a vCPU), and the time a photo spends waiting on S3 and DynamoDB (not measured here:
the local cloud's latencies are not AWS's).
"""

import argparse
import json
import math
import statistics
import sys

# AWS list prices, us-east-1, as of 2026-12-01 (check them: https://aws.amazon.com/pricing/).
PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,  # S3 Standard, first 50 TB
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand
}

# Per photo, from the pipeline's design: 1 GET of the original, one PUT per variant; the S3
# notification's SendMessage, and the event source mapping's ReceiveMessage and DeleteMessage
# (batches of up to 10, so about a tenth of one each); one conditional PutItem, which also writes
# each index the item is in.
S3_GETS = 1
SQS_REQUESTS = 1 + 2 / 10
# Index writes: by_upload, by_sha256 (full items); by_camera and by_taken when the photo has EXIF
# (taken as half of them); the five perceptual-hash bands (small, one unit each).
ITEM_KB = 2.5
FULL_INDEXES = 2 + 0.5 + 0.5
BAND_INDEXES = 5


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="?", help="imgpipe bench output (default: stdin, unless --bench-ms)")
    parser.add_argument("--bench-ms", type=float, help="median ms per photo, instead of a bench run")
    parser.add_argument("--memory-mb", type=int, default=1280)
    parser.add_argument("--cpu-share", type=float, default=0.72,
                        help="the Lambda's CPU relative to the benchmark's one core (1280 MB: 0.72 of a vCPU)")
    parser.add_argument("--io-ms", type=float, default=120.0,
                        help="time per photo waiting on S3 GET/PUT and DynamoDB (assumed)")
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--variant-kb", type=float, default=480.0, help="bytes of all variants of a photo, in KB")
    args = parser.parse_args()

    if args.bench_ms is not None:
        cpu_ms, source = args.bench_ms, "given"
    else:
        lines = (open(args.bench) if args.bench else sys.stdin).read().splitlines()
        rows = [json.loads(l) for l in lines if l.strip()]
        times = [r["median_ms"] for r in rows if "median_ms" in r]
        if not times:
            sys.exit("no imgpipe bench lines with median_ms")
        cpu_ms = statistics.median(times)
        source = f"median of {len(times)} photos' medians"
    duration_ms = cpu_ms / args.cpu_share + args.io_ms
    gb_seconds = args.memory_mb / 1024 * duration_ms / 1000

    per_photo = {
        "Lambda duration": gb_seconds * PRICES["lambda_arm64_gb_second"],
        # One invocation per batch of up to 10 messages.
        "Lambda requests": PRICES["lambda_request"] / 10,
        "S3 GET (original)": S3_GETS * PRICES["s3_get"],
        "S3 PUT (variants)": args.variants * PRICES["s3_put"],
        "SQS requests": SQS_REQUESTS * PRICES["sqs_request"],
        "DynamoDB writes": (math.ceil(ITEM_KB) * (1 + FULL_INDEXES) + BAND_INDEXES) * PRICES["dynamodb_write_unit"],
    }
    storage_month = args.variant_kb / 1024 / 1024 * PRICES["s3_gb_month"]

    print(f"image path {cpu_ms:.0f} ms on one core ({source}); on Lambda at {args.memory_mb} MB "
          f"({args.cpu_share:.2f} of it) plus {args.io_ms:.0f} ms of S3/DynamoDB: {duration_ms:.0f} ms a photo")
    print(f"{'':24} {'per photo':>12} {'1 000 photos':>14} {'1 000 000 photos':>18}")
    for name, cost in per_photo.items():
        print(f"{name:24} {cost:>12.8f} {cost * 1e3:>14.4f} {cost * 1e6:>18.2f}")
    total = sum(per_photo.values())
    print(f"{'once, in all':24} {total:>12.8f} {total * 1e3:>14.4f} {total * 1e6:>18.2f}")
    print(f"{'variants stored, a month':24} {storage_month:>12.8f} {storage_month * 1e3:>14.4f} {storage_month * 1e6:>18.2f}"
          f"   ({args.variant_kb:.0f} KB of variants a photo)")


if __name__ == "__main__":
    main()
