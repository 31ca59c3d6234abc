"""A loopback webhook receiver that verifies Standard Webhooks signatures and dedupes by id.

Used by the delivery tests (in their process) and `scripts/bench_delivery.py` (in a process of
its own, `ReceiverProcess`); it can fail or hang a share of requests (seeded), or follow a
per-attempt script, and be restarted on the same port.
Accepting means: the signature verified and the id was recorded once (repeats are counted as
duplicates and answered 200, which is what a receiver should do with at-least-once delivery).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

# (webhook-id, attempt number at this receiver) -> "ok" | "fail" | "hang" | "stall"
# hang: answer late but do the work; stall: answer late with a 503 and do nothing.
Script = Callable[[str, int], str]


class WebhookReceiver:
    def __init__(
        self,
        secret: str,
        *,
        port: int = 0,
        fail_rate: float = 0.0,
        hang_rate: float = 0.0,
        hang_seconds: float = 2.0,
        seed: int = 0,
        script: Script | None = None,
    ) -> None:
        self.webhook = Webhook(secret)
        self.port = port
        self.fail_rate = fail_rate
        self.hang_rate = hang_rate
        self.hang_seconds = hang_seconds
        self.script = script
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted: dict[str, float] = {}  # id -> monotonic time first accepted
        self.payloads: dict[str, dict[str, Any]] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.attempts: Counter[str] = Counter()
        self.duplicates = 0
        self.bad_signatures = 0
        self.arrived = threading.Event()  # set on every request (tests wait on it)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _decide(self, msg_id: str) -> str:
        with self.lock:
            self.attempts[msg_id] += 1
            nth = self.attempts[msg_id]
            if self.script is not None:
                return self.script(msg_id, nth)
            roll = self.rng.random()
        if roll < self.hang_rate:
            return "hang"
        if roll < self.hang_rate + self.fail_rate:
            return "fail"
        return "ok"

    def _accept(self, msg_id: str, payload: dict[str, Any], headers: dict[str, str]) -> None:
        with self.lock:
            if msg_id in self.accepted:
                self.duplicates += 1
            else:
                self.accepted[msg_id] = time.monotonic()
                self.payloads[msg_id] = payload
                self.headers[msg_id] = headers

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        self.arrived.set()
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return 401
        msg_id = headers["webhook-id"]
        action = self._decide(msg_id)
        if action == "fail":
            return 500
        if action in ("hang", "stall"):
            # The sender gives up first; after a hang the work still happens (its answer is
            # lost), so the retry that follows is a duplicate the id lets us drop.
            time.sleep(self.hang_seconds)
            if action == "stall":
                return 503
        self._accept(msg_id, payload, headers)
        return 200

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The head and the body go out in two writes; with Nagle on, the second waits for
            # the client's delayed ACK of the first (~40 ms on Linux) on every request.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.handle(body, headers)
                answer = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender timed out and went away
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Senders open many connections at once (after an outage, or when hung requests
            # were dropped); a real server's listen backlog takes them, the default 5 would not.
            request_queue_size = 1024

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender that timed out and hung up: expected here, not worth a trace

        server = Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True, name="receiver").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Tally:
    """What a receiver process accepted, fetched when the run is over."""

    accepted: dict[str, float]  # id -> CLOCK_MONOTONIC (system-wide on Linux) of acceptance
    duplicates: int
    bad_signatures: int
    requests: int
    cpu_seconds: float  # the receiver process's, since it started serving


def _serve(conn: Connection, secret: str, options: dict[str, Any]) -> None:
    """The receiver process: answer commands from the pipe until told to quit."""
    began = time.process_time()
    receiver = WebhookReceiver(secret, **options).start()
    conn.send(receiver.port)
    while True:
        command = conn.recv()
        if command == "stop":
            receiver.stop()
        elif command == "start":
            receiver.start()
        elif command == "count":
            with receiver.lock:
                conn.send(len(receiver.accepted))
            continue
        elif command == "tally":
            with receiver.lock:
                conn.send(
                    Tally(dict(receiver.accepted), receiver.duplicates, receiver.bad_signatures,
                          sum(receiver.attempts.values()), time.process_time() - began)
                )  # fmt: skip
            continue
        elif command == "quit":
            receiver.stop()
            conn.send(None)
            return
        conn.send(None)


class ReceiverProcess:
    """A `WebhookReceiver` in a process of its own, so its CPU is not the caller's.

    The benchmark's writer and clock run in the caller; a receiver sharing that interpreter
    would compete with them for one GIL and skew both. Same controls (start, stop on the same
    port) through a pipe; the accepted ids and their times come back at the end (`tally`).
    """

    def __init__(self, secret: str, **options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, secret, options), daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def launch(self) -> ReceiverProcess:
        self._proc.start()
        self.port = self._conn.recv()
        return self

    def start(self) -> None:
        self._ask("start")

    def stop(self) -> None:
        self._ask("stop")

    def count(self) -> int:
        return int(self._ask("count"))

    def tally(self) -> Tally:
        return self._ask("tally")

    def close(self) -> None:
        if self._proc.is_alive():
            self._ask("quit")
            self._proc.join(10)
