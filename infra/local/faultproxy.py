"""A fault-injecting TCP proxy between process-upload and the emulator, and the small HTTP
control the fault tests flip it with. Only the function talks through it (the bridge, the API
and the tests reach moto directly), so a fault looks to the function like AWS failing under it
while SQS keeps the messages. It passes bytes through untouched until told otherwise.

Modes (`POST /faults` with `{"mode": ..., "match": ...}`, `GET /faults` for the state):
    pass         forward everything (the default)
    refuse       stop listening: new connections are refused, open ones are reset
    reset        reset connections (with `match`: only one whose request contains it)
    unavailable  answer `503 Service Unavailable` and close (with `match`: that request only)
    hold         stop forwarding requests (with `match`: the one containing it) until the
                 next change of mode releases them

`match` is a byte string looked for in what the function sends, such as `/bucket/key` of one
upload's GetObject, so that a fault hits one record of a batch and not its neighbours."""

import asyncio
import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("pass", "refuse", "reset", "unavailable", "hold")
CHUNK = 64 * 1024
# The longest request head the proxy reads before it answers 503 to a connection.
HEAD_LIMIT = 64 * 1024
UNAVAILABLE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b"<Error><Code>ServiceUnavailable</Code>"
    b"<Message>fault injected by the local cloud</Message></Error>"
)
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/xml\r\n"
    + f"Content-Length: {len(UNAVAILABLE_BODY)}\r\n".encode()
    + b"Connection: close\r\n\r\n"
    + UNAVAILABLE_BODY
)


def reset(writer):
    """Closes a connection with a TCP reset, as a crashed or firewalled server would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class FaultProxy:
    """Forwards 127.0.0.1:<port> to the upstream port on its own event loop thread."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.port = 0
        self.mode = "pass"
        self.match = None
        # Requests or connections a fault was applied to, and requests being held right now.
        self.faulted = 0
        self.held = 0
        self.connections = set()
        self.loop = asyncio.new_event_loop()
        self.server = None
        # Set (and replaced) by every change of mode: what was held goes on.
        self.release = None

    # -- the thread's side ----------------------------------------------------------------
    def start(self):
        threading.Thread(target=self.loop.run_forever, name="fault-proxy", daemon=True).start()
        self.call(self._start())
        return self.port

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def set(self, mode, match=None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        return self.call(self._set(mode, match))

    def state(self):
        return self.call(self._state())

    # -- the loop's side ------------------------------------------------------------------
    async def _start(self):
        self.release = asyncio.Event()
        await self._listen()

    async def _listen(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _state(self):
        return {
            "mode": self.mode,
            "match": self.match.decode(errors="replace") if self.match else None,
            "faulted": self.faulted,
            "held": self.held,
            "open_connections": len(self.connections),
        }

    async def _set(self, mode, match):
        was_refusing = self.mode == "refuse"
        self.mode = mode
        self.match = match.encode() if match else None
        self.release.set()
        self.release = asyncio.Event()
        if mode == "refuse" and not was_refusing:
            self.server.close()
        elif was_refusing and mode != "refuse":
            await self._listen()
        # Pooled keep-alive connections would carry on past a connection-level fault.
        if mode == "refuse" or (mode in ("reset", "unavailable") and not self.match):
            for client, upstream in list(self.connections):
                reset(client)
                upstream.transport.abort()
            self.faulted += len(self.connections)
        return await self._state()

    async def _serve(self, client_reader, client_writer):
        if self.match is None and self.mode == "reset":
            self.faulted += 1
            reset(client_writer)
            return
        if self.match is None and self.mode == "unavailable":
            self.faulted += 1
            await self._answer_unavailable(client_reader, client_writer, b"")
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
        except OSError:
            reset(client_writer)
            return
        pair = (client_writer, upstream_writer)
        self.connections.add(pair)
        try:
            # Each side ends on its own; the other then sees its connection closed.
            await asyncio.gather(
                self._requests(client_reader, client_writer, upstream_writer),
                self._pump(upstream_reader, client_writer),
                return_exceptions=True,
            )
        finally:
            self.connections.discard(pair)
            for writer in pair:
                writer.transport.abort()

    async def _pump(self, reader, writer):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()

    async def _requests(self, reader, client_writer, upstream_writer):
        """Forwards what the function sends, applying the fault to requests it matches."""
        tail = b""
        while data := await reader.read(CHUNK):
            # The tail catches a match split across two reads.
            window = tail + data
            tail = data[-256:]
            targeted = self.match is not None and self.match in window
            if self.mode == "hold" and (targeted or self.match is None):
                self.faulted += 1
                self.held += 1
                try:
                    await self.release.wait()
                finally:
                    self.held -= 1
            elif targeted and self.mode == "reset":
                self.faulted += 1
                reset(client_writer)
                upstream_writer.transport.abort()
                return
            elif targeted and self.mode == "unavailable":
                self.faulted += 1
                upstream_writer.transport.abort()
                await self._answer_unavailable(reader, client_writer, data)
                return
            upstream_writer.write(data)
            await upstream_writer.drain()
        upstream_writer.transport.abort()

    async def _answer_unavailable(self, reader, writer, head):
        # Read the request head first, so that the client sees an answer and not a reset.
        try:
            while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                data = await asyncio.wait_for(reader.read(CHUNK), timeout=5)
                if not data:
                    break
                head += data
            writer.write(UNAVAILABLE)
            await writer.drain()
        except (OSError, asyncio.TimeoutError):
            pass
        writer.close()


class Control:
    """`GET /faults` and `POST /faults` on their own port; `status` adds the local cloud's
    own counters (the bridge's, the function's pid) to the proxy's state."""

    def __init__(self, proxy, status):
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/faults":
                    return self.answer(404, {"error": "not found"})
                self.answer(200, control.snapshot())

            def do_POST(self):
                if self.path != "/faults":
                    return self.answer(404, {"error": "not found"})
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    wanted = json.loads(self.rfile.read(length) or b"{}")
                    proxy.set(wanted.get("mode", "pass"), wanted.get("match"))
                except (ValueError, TypeError, AttributeError) as error:
                    return self.answer(400, {"error": str(error)})
                self.answer(200, control.snapshot())

            def answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.proxy = proxy
        self.status = status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def snapshot(self):
        return {**self.proxy.state(), **self.status()}

    def start(self):
        threading.Thread(target=self.server.serve_forever, name="fault-control", daemon=True).start()
        return f"http://127.0.0.1:{self.port}"
