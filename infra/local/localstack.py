"""The LocalStack variation of the local cloud, for users with Docker: the same resources,
created in LocalStack, and the functions deployed there as real Lambdas (zipped `bootstrap`
built by `cargo lambda build`), fed by a real SQS event source mapping instead of our bridge.

It cannot run where there is no Docker engine (CI here has none); the moto flow is the tested
one. Kept thin on purpose: it reuses resources.create_all."""

import os
import platform
import subprocess
import time
import urllib.request
from pathlib import Path

import resources

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "infra" / "docker-compose.yml"
ENDPOINT = "http://127.0.0.1:4566"
REGION = "us-east-1"
FUNCTION = "process-upload"


def compose(*args):
    subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), *args], check=True, cwd=ROOT)


def wait_healthy(timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"LocalStack did not become healthy at {ENDPOINT} within {timeout}s")


def build_zip(venv_bin):
    """`cargo lambda build` cross-compiles for Lambda's glibc (with zig from the venv)."""
    arch = "--arm64" if platform.machine() in ("aarch64", "arm64") else "--x86-64"
    subprocess.run(
        [str(venv_bin / "cargo-lambda"), "lambda", "build", "--release", arch,
         "--bin", FUNCTION, "--output-format", "zip"],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"},
    )
    return ROOT / "target" / "lambda" / FUNCTION / "bootstrap.zip", (
        "arm64" if arch == "--arm64" else "x86_64"
    )


def start(venv_bin, visibility_timeout, function_env):
    """Brings LocalStack up with everything deployed; returns the env entries for local.env."""
    import boto3

    compose("up", "-d")
    wait_healthy()
    created = resources.create_all(ENDPOINT, REGION, visibility_timeout)
    zip_path, architecture = build_zip(venv_bin)
    client = dict(endpoint_url=ENDPOINT, region_name=REGION)
    lambda_ = boto3.client("lambda", **client)
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Architectures=[architecture],
        # LocalStack accepts any role; on AWS the SAM template creates a least-privilege one.
        Role="arn:aws:iam::000000000000:role/imgpipe-process-upload",
        Code={"ZipFile": zip_path.read_bytes()},
        Timeout=60,
        MemorySize=1024,
        # LocalStack points the SDKs inside its Lambdas at itself (AWS_ENDPOINT_URL).
        Environment={"Variables": {k: v for k, v in function_env.items() if not k.startswith("AWS_")}},
    )
    lambda_.get_waiter("function_active_v2").wait(FunctionName=FUNCTION)
    lambda_.create_event_source_mapping(
        EventSourceArn=created["QUEUE_ARN"],
        FunctionName=FUNCTION,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    return {"AWS_ENDPOINT_URL": ENDPOINT, **created}


def update_settings(function_env):
    """New settings for the deployed function (LocalStack starts new instances with them)."""
    import boto3

    lambda_ = boto3.client("lambda", endpoint_url=ENDPOINT, region_name=REGION)
    lambda_.update_function_configuration(
        FunctionName=FUNCTION,
        Environment={"Variables": {k: v for k, v in function_env.items() if not k.startswith("AWS_")}},
    )
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=FUNCTION)


def stop():
    compose("down", "--volumes")
