#!/usr/bin/env python3
"""Cold-start cost of a function binary: the time from process start to its first
`GET /2018-06-01/runtime/invocation/next`, which is when Lambda's init phase ends.

A minimal Lambda runtime API on loopback answers nothing but notes when `next` first arrives;
the binary is started with the environment a deployed function has (names, region, dummy
credentials). Prints one JSON line per binary with the median and min over the runs.

    bench/init_time.py [--runs N] BINARY...
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# What both functions need to start; the values only have to parse.
FUNCTION_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "UPLOADS_BUCKET": "bench-uploads",
    "DERIVATIVES_BUCKET": "bench-derivatives",
    "TABLE_NAME": "bench-images",
    "API_CURSOR_SECRET": "bench-cursor-secret-of-enough-length",
    "RUST_LOG": "warn",
}


class FirstNext:
    """Records the first `next` request; holds every request open until the run ends."""

    def __init__(self):
        self.arrived = threading.Event()
        self.at = None


def serve(first):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.endswith("/runtime/invocation/next") and not first.arrived.is_set():
                first.at = time.perf_counter()
                first.arrived.set()
            # Never answer: the function waits for work, as it would between invocations.
            time.sleep(5)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_run(binary):
    first = FirstNext()
    server = serve(first)
    env = dict(os.environ, **FUNCTION_ENV)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    env.pop("API_LISTEN", None)
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not first.arrived.wait(timeout=10):
            proc.kill()
            _, err = proc.communicate()
            sys.exit(f"{binary} never asked for an invocation; stderr:\n{err.decode(errors='replace')}")
        return (first.at - started) * 1000
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    for binary in args.binaries:
        one_run(binary)  # warm the page cache, as a reused execution environment would not
        times = sorted(one_run(binary) for _ in range(args.runs))
        print(json.dumps({
            "binary": binary,
            "size_mb": round(os.path.getsize(binary) / 1e6, 2),
            "init_median_ms": round(statistics.median(times), 2),
            "init_min_ms": round(times[0], 2),
            "runs": args.runs,
        }))


if __name__ == "__main__":
    main()
