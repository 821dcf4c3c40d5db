#!/usr/bin/env python3
"""The local cloud: moto's server (S3, SQS, DynamoDB), the real function binaries under
`cargo lambda watch`, and a bridge that feeds the SQS queue to process-upload the way Lambda's
SQS event source mapping does. Everything it starts is recorded by PID in the state directory
and stopped by `down` or Ctrl-C.

    localcloud.py up    [--state-dir D]   start in the background, return once ready; on a
                                          cloud already up, apply changed IMGPIPE_* settings
                                          (restarts the functions, keeps all data)
    localcloud.py serve [--state-dir D]   run in the foreground (Ctrl-C stops everything)
    localcloud.py down  [--state-dir D]   stop what `up` started
    localcloud.py status [--state-dir D]

With `--emulator localstack` (or IMGPIPE_EMULATOR=localstack) it runs LocalStack under
docker compose instead, with the functions deployed there as real Lambdas (localstack.py).

Resources get the same names and settings as infra/ deploys (see resources.py)."""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import faultproxy
import resources
from sqs_event import lambda_sqs_event
from cloudenv import read_env

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_STATE = ROOT / ".imgpipe"
# The profile the local functions and the tests share, so each crate is built once.
PROFILE = "local"
READY_TIMEOUT_S = float(os.environ.get("IMGPIPE_READY_TIMEOUT", "900"))
REGION = "us-east-1"
# How often the bridge checks that the function it invoked is still alive, where it can (the
# function's process is found through /proc, so on Linux).
WATCH_INTERVAL_S = 0.2
CAN_WATCH = Path("/proc/self/stat").exists()
# Settings of the local cloud itself, not of the functions.
LOCAL_ONLY_SETTINGS = {
    "IMGPIPE_READY_TIMEOUT", "IMGPIPE_VISIBILITY_TIMEOUT", "IMGPIPE_STATE_DIR", "IMGPIPE_EMULATOR",
    "IMGPIPE_TEST_STATE",
}


def log(message):
    print(f"[localcloud {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_settings(environ=None):
    """The IMGPIPE_* settings (variants, limits) the user exported for the functions."""
    environ = os.environ if environ is None else environ
    return {
        key: value
        for key, value in sorted(environ.items())
        if key.startswith("IMGPIPE_") and key not in LOCAL_ONLY_SETTINGS
    }


def function_settings(aws, names, settings=None):
    """The environment process-upload runs with: the names, the endpoint, and the user's
    IMGPIPE_* settings (from the environment unless given)."""
    return {
        **aws,
        "UPLOADS_BUCKET": names["UPLOADS_BUCKET"],
        "DERIVATIVES_BUCKET": names["DERIVATIVES_BUCKET"],
        "TABLE_NAME": names["TABLE_NAME"],
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        **(user_settings() if settings is None else settings),
    }


def write_env_file(path, values):
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


# The IMGPIPE_* settings the running functions have (`settings.env`), and those a later `up`
# asks for (`settings.requested`, picked up on SIGHUP): `make reprocess` reads the first, so
# that it knows the configuration the function has.
APPLIED = "settings.env"
REQUESTED = "settings.requested"


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def proc_table():
    """{pid: (parent pid, command name, state)} of every process, read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = (Path("/proc") / entry / "stat").read_text()
        except OSError:
            continue
        # The name is in parentheses and may itself hold spaces or parentheses.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), name, fields[0])
    return table


def running_descendant(root_pid, name):
    """The pid of a live process called `name` under `root_pid`, or None."""
    table = proc_table()
    for pid, (_, comm, state) in table.items():
        if comm != name or state in ("Z", "X"):
            continue
        parent = pid
        while parent in table and parent != root_pid:
            parent = table[parent][0]
        if parent == root_pid:
            return pid
    return None


class Cloud:
    """One running local cloud, its processes and its bridge."""

    def __init__(self, state_dir, visibility_timeout, emulator="moto"):
        self.emulator = emulator
        self.state = state_dir
        self.logs = state_dir / "logs"
        self.visibility_timeout = visibility_timeout
        self.children = []
        # Held while the children list changes, so the health check never sees a process that
        # is being replaced on purpose (a new function instance after a crash).
        self.children_lock = threading.Lock()
        self.stopping = threading.Event()
        # Held by the bridge while it invokes the function, and while the function is replaced,
        # so that a settings change never cuts an invocation short.
        self.function_lock = threading.RLock()
        # Set by SIGHUP: a later `up` wrote new settings to apply.
        self.reload_requested = threading.Event()
        self.env = {}
        self.proxy = None
        # What the bridge did, for the fault tests (the control's `GET /faults`).
        self.counters = {
            "invocations": 0,
            "failed_invocations": 0,
            "messages_left_for_retry": 0,
            "function_restarts": 0,
            "last_batch": None,
        }

    # -- processes -----------------------------------------------------------------------
    def spawn(self, name, argv, env=None):
        log_file = open(self.logs / f"{name}.log", "ab")
        # A session of its own, so stopping it also stops what it started (cargo's children).
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        with self.children_lock:
            self.children.append((name, proc))
            self.write_pids()
        return proc

    def write_pids(self):
        lines = [f"supervisor={os.getpid()}"] + [f"{n}={p.pid}" for n, p in self.children]
        (self.state / "pids").write_text("\n".join(lines) + "\n")

    def stop_children(self):
        if self.emulator == "localstack":
            import localstack

            localstack.stop()
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()

    def ensure_alive(self, name, proc):
        if proc.poll() is not None:
            tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}; its log ends:\n{tail}")

    # -- start-up ------------------------------------------------------------------------
    def start(self):
        self.state.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        for stale in ("ready", "local.env"):
            (self.state / stale).unlink(missing_ok=True)
        if self.emulator == "localstack":
            return self.start_localstack()

        moto_port = free_port()
        endpoint = f"http://127.0.0.1:{moto_port}"
        log(f"starting moto on {endpoint}")
        moto = self.spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
        self.wait_until(lambda: self.http_ok(f"{endpoint}/moto-api/"), "moto", moto, 60)

        aws = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        os.environ.update(aws)
        log("creating buckets, queues, notification and table")
        created = resources.create_all(endpoint, REGION, self.visibility_timeout)
        self.env = {**aws, **created}

        # The function reaches moto through the fault proxy (pass-through unless a test says
        # otherwise); everything else talks to moto directly.
        self.proxy = faultproxy.FaultProxy(moto_port)
        proxy_endpoint = f"http://127.0.0.1:{self.proxy.start()}"
        control_url = faultproxy.Control(self.proxy, self.fault_status).start()
        log(f"function's endpoint: fault proxy {proxy_endpoint} (control {control_url}/faults)")
        self.function_aws = function_aws = {**aws, "AWS_ENDPOINT_URL": proxy_endpoint}
        self.created = created
        write_env_file(self.state / "function.env", function_settings(function_aws, created))
        write_env_file(self.state / APPLIED, user_settings())
        self.lambda_port = free_port()
        self.invoke_url = (
            f"http://127.0.0.1:{self.lambda_port}/2015-03-31/functions/process-upload/invocations"
        )
        log(f"starting cargo lambda watch on 127.0.0.1:{self.lambda_port} (profile {PROFILE})")
        log("waiting for process-upload to build and answer (first run compiles)")
        self.start_function()

        self.env["LAMBDA_INVOKE_URL"] = self.invoke_url
        self.env["FAULT_CONTROL_URL"] = control_url
        self.start_api(aws, created)
        threading.Thread(target=self.bridge, name="bridge", daemon=True).start()
        self.announce_ready()

    def start_function(self):
        """`cargo lambda watch` serving process-upload; returns once the function answers."""
        watch = self.spawn(
            "functions",
            [
                str(VENV_BIN / "cargo-lambda"), "lambda", "watch",
                "--profile", PROFILE,
                "--ignore-changes",
                "--invoke-address", "127.0.0.1",
                "--invoke-port", str(self.lambda_port),
                "--env-file", str(self.state / "function.env"),
            ],
            # cargo lambda looks for `cargo` on PATH; the venv's bin holds cargo-lambda itself.
            env={"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"},
        )
        self.wait_until(self.function_answers, "process-upload", watch, READY_TIMEOUT_S)

    def function_pid(self):
        """The running process-upload instance, found under its `cargo lambda watch`."""
        with self.children_lock:
            watch = next((p for n, p in self.children if n == "functions"), None)
        return running_descendant(watch.pid, "process-upload") if watch else None

    def restart_function(self):
        """A new instance after the last one died. `cargo lambda watch` does not start one
        itself (its invocations would hang), so it is replaced, on the same port, as Lambda
        starts a new execution environment."""
        self.replace_child("functions")
        self.start_function()
        self.counters["function_restarts"] += 1
        log("bridge: the function's process had died; started a new instance")

    def replace_child(self, name):
        """Stops the child `name` and forgets it, so that the health check does not take its
        exit for a failure."""
        with self.children_lock:
            old = next(p for n, p in self.children if n == name)
            self.children.remove((name, old))
        try:
            os.killpg(old.pid, signal.SIGTERM)
            old.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(old.pid, signal.SIGKILL)
            old.wait()

    def apply_settings(self):
        """Restarts the functions with the settings a later `up` asked for; the emulator, and
        with it every bucket, table and queue, stays as it is."""
        requested = read_env(self.state / REQUESTED, missing_ok=True)
        for key in user_settings():
            os.environ.pop(key, None)
        os.environ.update(requested)
        shown = ", ".join(f"{k}={v}" for k, v in requested.items()) or "the defaults"
        log(f"applying new settings ({shown}): restarting the functions, keeping the data")
        if self.emulator == "localstack":
            import localstack

            localstack.update_settings(function_settings({}, self.created, requested))
        else:
            write_env_file(self.state / "function.env", function_settings(self.function_aws, self.created, requested))
            with self.function_lock:
                self.replace_child("functions")
                self.start_function()
        self.replace_child("api")
        self.start_api(self.api_aws, self.created)
        write_env_file(self.state / APPLIED, requested)
        log("settings applied")

    def fault_status(self):
        return {**self.counters, "function_pid": self.function_pid() if CAN_WATCH else None}

    def start_api(self, aws, names):
        """The metadata API as a plain local HTTP server (the same router Lambda serves). A
        restart keeps its port and cursor key, so links and cursors stay good."""
        self.api_aws = aws
        port = self.api_port = getattr(self, "api_port", None) or free_port()
        self.api_secret = getattr(self, "api_secret", None) or secrets.token_hex(32)
        binary = ROOT / "target" / PROFILE / "metadata-api"
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: build it with `make build`")
        api_env = {
            **aws,
            "TABLE_NAME": names["TABLE_NAME"],
            "DERIVATIVES_BUCKET": names["DERIVATIVES_BUCKET"],
            # Uploads are on, with no authorizer: the local cloud is for one person's machine.
            "UPLOADS_BUCKET": names.get("UPLOADS_BUCKET", resources.UPLOADS_BUCKET),
            "API_LISTEN": f"127.0.0.1:{port}",
            # A fresh signing key per local cloud: cursors do not outlive it, as intended.
            "API_CURSOR_SECRET": self.api_secret,
            **{k: v for k, v in os.environ.items() if k.startswith("API_") and k not in ("API_LISTEN", "API_URL")},
        }
        url = f"http://127.0.0.1:{port}"
        log(f"starting the metadata API on {url}")
        api = self.spawn("api", [str(binary)], env=api_env)
        self.wait_until(lambda: self.http_ok(f"{url}/health"), "api", api, 60)
        self.env["API_URL"] = url

    def start_localstack(self):
        import localstack

        aws = {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        os.environ.update(aws)
        log("starting LocalStack (docker compose) and deploying the functions as Lambdas")
        names = {
            "UPLOADS_BUCKET": resources.UPLOADS_BUCKET,
            "DERIVATIVES_BUCKET": resources.DERIVATIVES_BUCKET,
            "TABLE_NAME": resources.TABLE_NAME,
        }
        created = localstack.start(VENV_BIN, self.visibility_timeout, function_settings(aws, names))
        self.created = {**names, **created}
        write_env_file(self.state / APPLIED, user_settings())
        self.env = {**aws, **created}
        self.start_api({**aws, "AWS_ENDPOINT_URL": created["AWS_ENDPOINT_URL"]}, created)
        self.announce_ready()

    def announce_ready(self):
        body = "".join(f"{k}={v}\n" for k, v in self.env.items())
        (self.state / "local.env").write_text(body)
        (self.state / "ready").write_text(str(os.getpid()))
        log(f"ready; endpoints in {self.state / 'local.env'}")

    def http_ok(self, url):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status < 500
        except (urllib.error.URLError, OSError):
            return False

    def function_answers(self):
        try:
            status, _, _ = self.invoke({"Records": []}, timeout=5)
            return status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_until(self, check, name, proc, timeout):
        deadline = time.time() + timeout
        while not check():
            self.ensure_alive(name, proc)
            if time.time() > deadline:
                raise RuntimeError(f"{name} not ready after {timeout:.0f}s; see {self.logs}/{name}.log")
            time.sleep(0.5)

    # -- the event source mapping ---------------------------------------------------------
    def invoke_watched(self, event):
        """Invokes the function and fails the invocation if its process dies meanwhile, as
        Lambda does when a runtime exits mid-invocation; the next invocation gets a new one."""
        if not CAN_WATCH:
            return self.invoke(event, timeout=900)
        pid = self.function_pid()
        if pid is None:
            self.restart_function()
            pid = self.function_pid()
        outcome = {}

        def call():
            try:
                outcome["response"] = self.invoke(event, timeout=900)
            except Exception as error:  # handed to the bridge below
                outcome["error"] = error

        worker = threading.Thread(target=call, name="invoke", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(WATCH_INTERVAL_S)
            if worker.is_alive() and pid is not None and self.function_pid() != pid:
                # Replacing `cargo lambda watch` also ends the request left hanging on it.
                self.restart_function()
                return 502, "Unhandled", b'{"errorType": "Runtime.ExitError"}'
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    def invoke(self, event, timeout):
        request = urllib.request.Request(
            self.invoke_url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers.get("X-Amz-Function-Error"), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("X-Amz-Function-Error"), error.read()

    def bridge(self):
        """Long-polls the queue and invokes process-upload with each batch. Messages the function
        reports in `batchItemFailures` are left for redelivery (and, after maxReceiveCount, the
        DLQ); the rest are deleted. A failed invocation leaves the whole batch, as Lambda does."""
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=REGION)
        queue_url = self.env["QUEUE_URL"]
        queue_arn = self.env["QUEUE_ARN"]
        while not self.stopping.is_set():
            try:
                received = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
                if not received:
                    continue
                event = lambda_sqs_event(received, queue_arn, REGION)
                self.counters["invocations"] += 1
                with self.function_lock:
                    status, function_error, payload = self.invoke_watched(event)
                if status != 200 or function_error:
                    self.counters["failed_invocations"] += 1
                    self.counters["messages_left_for_retry"] += len(received)
                    self.counters["last_batch"] = {"messages": len(received), "left_for_retry": len(received)}
                    log(f"bridge: invocation failed ({status} {function_error}); {len(received)} message(s) left for redelivery")
                    continue
                failed = {
                    f.get("itemIdentifier")
                    for f in (json.loads(payload or b"{}") or {}).get("batchItemFailures", [])
                }
                done = [m for m in received if m["MessageId"] not in failed]
                self.counters["messages_left_for_retry"] += len(received) - len(done)
                self.counters["last_batch"] = {"messages": len(received), "left_for_retry": len(received) - len(done)}
                for start in range(0, len(done), 10):
                    sqs.delete_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(done[start : start + 10])
                        ],
                    )
                log(f"bridge: batch of {len(received)}: {len(done)} done, {len(failed)} left for retry")
            except Exception as error:  # keep polling: the emulator may be restarting
                if not self.stopping.is_set():
                    log(f"bridge: {type(error).__name__}: {error}")
                    time.sleep(1)


def serve(args):
    cloud = Cloud(args.state_dir, args.visibility_timeout, args.emulator)

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Only noted here; the loop below applies it, once the cloud is up (`up` sends it to a ready
    # cloud only).
    signal.signal(signal.SIGHUP, lambda _signum, _frame: cloud.reload_requested.set())
    return_code = 0
    try:
        cloud.start()
        while True:
            if cloud.reload_requested.is_set():
                cloud.reload_requested.clear()
                cloud.apply_settings()
            with cloud.children_lock:
                for name, proc in cloud.children:
                    cloud.ensure_alive(name, proc)
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping")
    except Exception as error:
        log(f"failed: {error}")
        return_code = 1
    finally:
        cloud.stopping.set()
        cloud.stop_children()
        for leftover in ("ready", "pids"):
            (args.state_dir / leftover).unlink(missing_ok=True)
        log("stopped")
    return return_code


def up(args):
    state = args.state_dir
    state.mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(exist_ok=True)
    supervisor = supervisor_pid(state)
    if (state / "ready").exists() and supervisor:
        return reconfigure(state, supervisor)
    log_path = state / "logs" / "cloud.log"
    log_file = open(log_path, "ab")
    start = log_path.stat().st_size
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", "--state-dir", str(state),
         "--visibility-timeout", str(args.visibility_timeout), "--emulator", args.emulator],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + READY_TIMEOUT_S + 60
    shown = start
    while not (state / "ready").exists():
        shown = echo_new(log_path, shown)
        if proc.poll() is not None:
            echo_new(log_path, shown)
            log(f"the local cloud failed to start; logs in {state / 'logs'}")
            return 1
        if time.time() > deadline:
            log("timed out waiting for the local cloud; stopping it")
            down(args)
            return 1
        time.sleep(0.5)
    echo_new(log_path, shown)
    return 0


def reconfigure(state, supervisor):
    """`up` on a running cloud: if the IMGPIPE_* settings differ from those the functions run
    with, has the supervisor restart them with these (SIGHUP) and waits until it has."""
    wanted = user_settings()
    applied = read_env(state / APPLIED, missing_ok=True)
    if wanted == applied:
        log(f"already running with these settings; endpoints in {state / 'local.env'}")
        return 0
    changed = sorted(k for k in {*wanted, *applied} if wanted.get(k) != applied.get(k))
    # The function refuses a bad setting at its cold start, which would leave the cloud waiting:
    # the same parser, run first, says what is wrong instead.
    tool = ROOT / "target" / PROFILE / "imgpipe"
    if tool.exists():
        check = subprocess.run([str(tool), "config"], capture_output=True, text=True)
        if check.returncode != 0:
            log(f"not applying the new settings: {check.stderr.strip()}")
            return 2
    log(f"already running; settings changed ({', '.join(changed)}): restarting the functions, keeping the data")
    write_env_file(state / REQUESTED, wanted)
    log_path = state / "logs" / "cloud.log"
    shown = log_path.stat().st_size if log_path.exists() else 0
    os.kill(supervisor, signal.SIGHUP)
    deadline = time.time() + READY_TIMEOUT_S
    while read_env(state / APPLIED, missing_ok=True) != wanted:
        shown = echo_new(log_path, shown)
        if not pid_alive(supervisor):
            log(f"the local cloud stopped while restarting; logs in {state / 'logs'}")
            return 1
        if time.time() > deadline:
            log("timed out waiting for the functions to restart")
            return 1
        time.sleep(0.3)
    echo_new(log_path, shown)
    return 0


def echo_new(path, offset):
    """Shows what the supervisor logged since `offset`: progress while `up` waits."""
    with open(path, "rb") as f:
        f.seek(offset)
        new = f.read()
    if new:
        sys.stdout.write(new.decode(errors="replace"))
        sys.stdout.flush()
    return offset + len(new)


def supervisor_pid(state):
    pids = read_env(state / "pids", missing_ok=True)
    pid = int(pids.get("supervisor", "0") or 0)
    return pid if pid and pid_alive(pid) else None


def down(args):
    state = args.state_dir
    pids = {k: int(v) for k, v in read_env(state / "pids", missing_ok=True).items() if v.strip().isdigit()}
    supervisor = pids.pop("supervisor", None)
    if supervisor and pid_alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.time() + 20
        while pid_alive(supervisor) and time.time() < deadline:
            time.sleep(0.2)
    # Whatever the supervisor could not stop (it was killed, say) is stopped here by PID.
    for name, pid in pids.items():
        if pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for leftover in ("ready", "pids"):
        (state / leftover).unlink(missing_ok=True)
    log("local cloud stopped")
    return 0


def status(args):
    pid = supervisor_pid(args.state_dir)
    if pid and (args.state_dir / "ready").exists():
        print(f"running (supervisor {pid}); endpoints in {args.state_dir / 'local.env'}")
        return 0
    print("not running")
    return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "serve", "down", "status"])
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("IMGPIPE_STATE_DIR", DEFAULT_STATE)))
    parser.add_argument(
        "--visibility-timeout", type=int,
        default=int(os.environ.get("IMGPIPE_VISIBILITY_TIMEOUT", "30")),
        help="seconds before an unacknowledged message is redelivered",
    )
    parser.add_argument(
        "--emulator", choices=["moto", "localstack"],
        default=os.environ.get("IMGPIPE_EMULATOR", "moto"),
        help="moto (no Docker; the default and what CI runs) or localstack (docker compose)",
    )
    args = parser.parse_args()
    args.state_dir = args.state_dir.resolve()
    return {"up": up, "serve": serve, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
