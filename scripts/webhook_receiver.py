"""A loopback webhook receiver that verifies Standard Webhooks signatures and dedupes by id.

Used by the delivery tests and `scripts/bench_delivery.py`; it can fail or hang a share of
requests (seeded), or follow a per-attempt script, and be restarted on the same port.
Accepting means: the signature verified and the id was recorded once (repeats are counted as
duplicates and answered 200, which is what a receiver should do with at-least-once delivery).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
