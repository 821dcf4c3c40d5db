#!/usr/bin/env python3
"""Runs the arm64 `bootstrap` that `make deploy` ships, once, under qemu user-mode emulation:
a moto server of its own with the deployment's resources, photos uploaded to it, the S3 events
moto queued for them handed to the binary as one SQS batch through a stand-in Lambda runtime
API on loopback, and then the records and variants it wrote checked. Exits non-zero on any
difference. Its timings are emulated: a smoke signal, not a benchmark.

    smoke_arm64.py --zip target/lambda/process-upload/bootstrap.zip"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infra" / "local"))
import resources  # noqa: E402  (the local cloud's resource definitions)
from localcloud import free_port  # noqa: E402
from sqs_event import lambda_sqs_event  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"
MEMORY_MB = "1280"  # the template's ProcessMemorySize
# What to upload, and what the record must say: (fixture, key, status, upright size or reason).
CASES = [
    ("photos/Landscape_6.jpg", "smoke/landscape 6.jpg", "processed", (1800, 1200)),
    ("heif/camera-gps.heic", "smoke/camera-gps.heic", "processed", None),
    ("heif/gray.avif", "smoke/gray.avif", "processed", None),
    ("invalid/corrupted.jpg", "smoke/corrupted.jpg", "rejected", "corrupt"),
]
INVOKE_TIMEOUT_S = 600


def log(message):
    print(f"[smoke-arm64 {time.strftime('%H:%M:%S')}] {message}", flush=True)


class RuntimeApi:
    """The Lambda runtime API's three calls, for one invocation: `next` hands out the event once
    (later calls wait, as Lambda's do between invocations), `response` and `error` end it."""

    REQUEST_ID = "smoke-arm64-0001"

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.handed_out = threading.Event()
        self.done = threading.Event()
        self.result = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.send_error(404)
                if api.handed_out.is_set():
                    api.done.wait()
                    time.sleep(3600)  # the process is stopped before this ends
                api.handed_out.set()
                deadline_ms = int((time.time() + INVOKE_TIMEOUT_S) * 1000)
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", api.REQUEST_ID)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:process-upload",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(api.event)))
                self.end_headers()
                self.wfile.write(api.event)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                kind = self.path.rsplit("/", 1)[-1]
                api.result = (kind, body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        host, port = self.server.server_address
        return f"{host}:{port}"


def jpeg_facts(data):
    """(width, height, has_exif) of a baseline or progressive JPEG, from its markers."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    i, has_exif, size = 2, False, None
    while i + 4 <= len(data) and size is None:
        if data[i] != 0xFF:
            raise ValueError(f"no marker at {i}")
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            has_exif = True
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            size = (width, height)
        i += 2 + length
    if size is None:
        raise ValueError("no frame header")
    return size[0], size[1], has_exif


def compare_with_host(items, work):
    """The same photos through this machine's x86-64 `imgpipe process` (same code, other
    architecture and SIMD): sizes and statuses must match; fingerprints are reported, since
    float rounding may differ between the two."""
    tool = ROOT / "target" / "local" / "imgpipe"
    if not tool.exists():
        log(f"({tool} is not built: no comparison with the x86-64 build)")
        return []
    out = work / "host"
    files = [str(ROOT / "fixtures" / fixture) for fixture, _, _, _ in CASES]
    subprocess.run([str(tool), "process", "--out", str(out), *files], check=True, capture_output=True)
    failures, differ = [], []
    for fixture, key, _, _ in CASES:
        host = json.loads((out / f"{Path(fixture).stem}.json").read_text())
        item = items.get(key)
        if item is None:
            continue
        arm = {
            "status": item["status"]["S"],
            "width": int(item["width"]["N"]) if "width" in item and "N" in item["width"] else None,
            "height": int(item["height"]["N"]) if "height" in item and "N" in item["height"] else None,
            "variants": sorted(
                (v["M"]["name"]["S"], int(v["M"]["width"]["N"]), int(v["M"]["height"]["N"]))
                for v in item.get("variants", {}).get("L", [])
            ),
        }
        expected = {
            "status": host["status"],
            "width": host.get("width"),
            "height": host.get("height"),
            "variants": sorted((v["name"], v["width"], v["height"]) for v in host.get("variants", [])),
        }
        if arm != expected:
            failures.append(f"{key}: arm64 {arm}, x86-64 {expected}")
        for field in ("sha256", "phash", "thumbhash", "dominant_color", "pipeline"):
            value = item.get(field, {}).get("S")
            if value != host.get(field):
                differ.append(f"{key} {field}: arm64 {value}, x86-64 {host.get(field)}")
    log("same statuses and sizes as the x86-64 build" if not failures else "sizes differ from the x86-64 build")
    for line in differ:
        log(f"differs from x86-64 (reported, not failed): {line}")
    if not differ:
        log("same hashes, fingerprints and pipeline id as the x86-64 build")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, required=True, help="the bootstrap.zip cargo lambda built")
    args = parser.parse_args()
    log(f"{args.zip}: {args.zip.stat().st_size / 1e6:.1f} MB zipped")

    aws = {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    os.environ.update(aws)
    import boto3

    work = Path(tempfile.mkdtemp(prefix="imgpipe-smoke-arm64-"))
    with zipfile.ZipFile(args.zip) as z:
        z.extract("bootstrap", work)
    bootstrap = work / "bootstrap"
    bootstrap.chmod(0o755)
    facts = subprocess.run(["file", "-b", str(bootstrap)], capture_output=True, text=True).stdout.strip()
    log(f"bootstrap: {facts[:90]}")
    if "aarch64" not in facts:
        log("FAIL: the zipped bootstrap is not an aarch64 binary")
        return 1

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    function = None
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        names = resources.create_all(endpoint, REGION, 30)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
        for fixture, key, _, _ in CASES:
            s3.upload_file(str(ROOT / "fixtures" / fixture), names["UPLOADS_BUCKET"], key)

        # The events moto queued for the uploads, as Lambda's event source mapping hands them over.
        messages = []
        deadline = time.time() + 30
        while len(messages) < len(CASES) and time.time() < deadline:
            messages += sqs.receive_message(
                QueueUrl=names["QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
        if len(messages) != len(CASES):
            log(f"FAIL: {len(messages)} S3 events queued for {len(CASES)} uploads")
            return 1
        event = lambda_sqs_event(messages, names["QUEUE_ARN"], REGION)

        api = RuntimeApi(event)
        env = {
            "PATH": os.environ.get("PATH", ""),
            **aws,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "process-upload",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": MEMORY_MB,
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/process-upload",
            "AWS_LAMBDA_LOG_STREAM_NAME": "smoke-arm64",
            "UPLOADS_BUCKET": names["UPLOADS_BUCKET"],
            "DERIVATIVES_BUCKET": names["DERIVATIVES_BUCKET"],
            "TABLE_NAME": names["TABLE_NAME"],
            "RUST_LOG": "info",
        }
        log_path = work / "bootstrap.log"
        started = time.time()
        with open(log_path, "wb") as out:
            function = subprocess.Popen(
                ["qemu-aarch64-static", str(bootstrap)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
            while not api.done.wait(0.5):
                if function.poll() is not None:
                    log(f"FAIL: the bootstrap exited with {function.returncode}; its output:")
                    print(log_path.read_text(errors="replace")[-3000:])
                    return 1
                if time.time() - started > INVOKE_TIMEOUT_S:
                    log(f"FAIL: no answer within {INVOKE_TIMEOUT_S} s")
                    return 1
        seconds = time.time() - started
        kind, body = api.result
        log(f"the function answered `{kind}` after {seconds:.1f} s under emulation (start-up included): {body.decode(errors='replace')[:200]}")
        failures = []
        if kind != "response" or json.loads(body or b"{}").get("batchItemFailures") != []:
            failures.append(f"expected a response with no batchItemFailures, got {kind}: {body[:300]!r}")

        items = {
            i["source_key"]["S"]: i
            for i in dynamodb.scan(TableName=names["TABLE_NAME"])["Items"]
        }
        for fixture, key, status, expected in CASES:
            item = items.get(key)
            if item is None:
                failures.append(f"{key}: no record")
                continue
            got = item["status"]["S"]
            line = f"{key}: {got}"
            if got != status:
                failures.append(f"{key}: {got}, expected {status}")
            if status == "rejected":
                code = item.get("reason_code", {}).get("S")
                line += f" ({code})"
                if code != expected:
                    failures.append(f"{key}: reason {code}, expected {expected}")
            else:
                size = (int(item["width"]["N"]), int(item["height"]["N"]))
                if expected and size != expected:
                    failures.append(f"{key}: {size}, expected upright {expected}")
                variants = [v["M"] for v in item["variants"]["L"]]
                if len(variants) != 3:
                    failures.append(f"{key}: {len(variants)} variants")
                shown = []
                for v in variants:
                    data = s3.get_object(Bucket=names["DERIVATIVES_BUCKET"], Key=v["key"]["S"])["Body"].read()
                    width, height, has_exif = jpeg_facts(data)
                    recorded = (int(v["width"]["N"]), int(v["height"]["N"]))
                    if (width, height) != recorded:
                        failures.append(f"{v['key']['S']}: {width}x{height}, record says {recorded}")
                    if has_exif:
                        failures.append(f"{v['key']['S']}: carries EXIF")
                    shown.append(f"{v['name']['S']} {width}x{height}")
                line += f" {size[0]}x{size[1]} -> {', '.join(shown)}"
            line += f" in {item.get('processing_ms', {}).get('N', '?')} ms (emulated)"
            log(line)
        failures += compare_with_host(items, work)
        emf = [l for l in log_path.read_text(errors="replace").splitlines() if l.startswith('{"') and '"_aws"' in l]
        if len(emf) != len(CASES):
            failures.append(f"{len(emf)} metric lines for {len(CASES)} records")
        if failures:
            for failure in failures:
                log(f"FAIL: {failure}")
            print(log_path.read_text(errors="replace")[-3000:])
            return 1
        log(f"ok: the arm64 bootstrap processed {len(CASES)} uploads as the x86-64 build does")
        return 0
    finally:
        if function and function.poll() is None:
            function.kill()
            function.wait()
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    sys.exit(main())
