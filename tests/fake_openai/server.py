"""`FakeOpenAI`: the loopback fake of OpenAI's Realtime REST and WebSocket API for tests.

One aiohttp app serves REST and WebSocket on one 127.0.0.1 port, in a background thread with
its own event loop, so sync tests (Flask, httpx, `websockets.sync`) can drive it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from aiohttp import web

from . import call_control, rest, ws
from .cors import cors
from .faults import ENDPOINTS, Endpoint, Fault, FaultKind
from .protocol import new_id
from .recording import ConnectionRecord
from .script import Script, Turn
from .session_config import effective_session
from .state import STATE, FakeState, IssuedSecret

SHUTDOWN_TIMEOUT = 1.0


class FakeOpenAI:
    """The fake server. Use as a context manager, or call `start()` and `stop()`."""

    def __init__(
        self,
        *,
        port: int = 0,
        api_key: str | None = None,
        script: Script | Sequence[Turn] | None = None,
        echo: bool = False,
        uvloop: bool = False,
    ) -> None:
        self.api_key = api_key or "sk-test-" + secrets.token_hex(12)
        self._requested_port = port
        self._uvloop = uvloop  # faster loop for benchmarks, when the package is installed
        self.port = 0
        self._state = FakeState(api_key=self.api_key)
        self.script(script or Script(), echo=echo)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FakeOpenAI:
        """Bind 127.0.0.1 (a free port unless one was given) and serve from a daemon thread."""
        if self._thread is not None:
            return self
        loop = _new_loop(self._uvloop)
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        self._thread.start()
        self._call(self._astart())
        return self

    def stop(self) -> None:
        """Close every socket (held requests too) and join the thread; never hangs."""
        if self._loop is None or self._thread is None:
            return
        with contextlib.suppress(Exception):
            self._call(self._astop(), timeout=10)
        with contextlib.suppress(Exception):
            self._call(_cancel_leftover_tasks(), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        self._loop = None
        self._thread = None

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        assert self._loop is not None, "FakeOpenAI is not started"
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    async def _astart(self) -> None:
        self._state.stopping = asyncio.Event()
        app = web.Application(client_max_size=32 * 1024 * 1024, middlewares=[cors])
        app[STATE] = self._state
        app.router.add_post("/v1/realtime/client_secrets", rest.client_secrets)
        app.router.add_get("/v1/realtime", ws.realtime)
        from . import calls  # WebRTC is optional: /calls degrades without aiortc

        calls.register(app, self._state)
        call_control.register(app, self._state)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        await self._listen(self._requested_port)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        self._site = web.SockSite(
            self._runner, sock, shutdown_timeout=SHUTDOWN_TIMEOUT, backlog=1024
        )
        await self._site.start()

    async def _unlisten(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def _astop(self) -> None:
        self._state.stopping.set()
        for sock in list(self._state.websockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.close(code=ws.GOING_AWAY), timeout=SHUTDOWN_TIMEOUT)
        closer = self._state.extras.get("close_calls")
        if closer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closer(), timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- addresses ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The value for `OPENAI_BASE_URL`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    # -- scripting and faults -------------------------------------------------------------

    def script(
        self, script: Script | Sequence[Turn] | None = None, *, echo: bool = False, **options: Any
    ) -> Script:
        """Set what connections opened from now on play: a `Script` or a list of `Turn`s."""
        if not isinstance(script, Script):
            script = Script(turns=tuple(script or ()), echo=echo, **options)
        elif echo:
            script = Script(turns=script.turns, fallback=script.fallback, echo=True)
        self._state.script = script
        return script

    def set_fault(
        self,
        kind: FaultKind | None,
        *,
        endpoint: Endpoint | None = None,
        seconds: float = 0.0,
        times: int | None = None,
        after_deltas: int = 1,
        close_code: int | None = 1011,
    ) -> None:
        """Inject a fault on one endpoint (`client_secrets`, `realtime`, `calls`) or all.

        `set_fault("refuse")` with no endpoint stops listening altogether (ECONNREFUSED);
        `set_fault(None, endpoint=...)` clears. See `Fault` for each kind.
        """
        if kind is None:
            self.clear_faults(endpoint)
            return
        if kind == "refuse" and endpoint is None:
            self._call(self._unlisten())
            return
        fault = Fault(
            kind, seconds=seconds, times=times, after_deltas=after_deltas, close_code=close_code
        )
        for target in (endpoint,) if endpoint else ENDPOINTS:
            self._state.faults.set(target, fault)

    def clear_faults(self, endpoint: Endpoint | None = None) -> None:
        """Remove faults (all endpoints by default) and listen again if refusing."""
        self._state.faults.clear(endpoint)
        if endpoint is None and self._site is None and self._loop is not None:
            self._call(self._listen(self.port))

    def reset(self) -> None:
        """Between tests on a shared fake: no faults, default script, empty recordings.

        Issued `ek_` keys stay valid (an earlier test's secret may still be in use).
        """
        self.clear_faults()
        self.script()
        self._state.recorder.clear()
        with self._state.recorder.lock:
            self._state.extras.get("call_actions", []).clear()

    # -- secrets --------------------------------------------------------------------------

    @property
    def issued_secrets(self) -> dict[str, int]:
        """Every `ek_` value issued, with its `expires_at`."""
        with self._state.secrets_lock:
            return {k: v.expires_at for k, v in self._state.secrets.items()}

    def expire_secret(self, value: str) -> None:
        """Make an issued key expire now (to test expiry without waiting)."""
        with self._state.secrets_lock:
            issued = self._state.secrets[value]
            self._state.secrets[value] = IssuedSecret(
                issued.value, int(time.time()) - 1, issued.session
            )

    def mint_secret(self, session: dict[str, Any] | None = None, ttl: int = 600) -> str:
        """Issue an `ek_` directly (browser-side tests that skip the session route)."""
        value = "ek_" + secrets.token_hex(16)
        with self._state.secrets_lock:
            self._state.secrets[value] = IssuedSecret(
                value, int(time.time()) + ttl, effective_session(session)
            )
        return value

    # -- recordings (thread-safe snapshots) -----------------------------------------------

    @property
    def client_secret_requests(self) -> list[Any]:
        """JSON bodies POSTed to /v1/realtime/client_secrets, exactly as received."""
        return self._state.recorder.snapshot("client_secret_requests")

    @property
    def client_secret_headers(self) -> list[dict[str, str]]:
        return self._state.recorder.snapshot("client_secret_headers")

    @property
    def ws_sessions(self) -> list[ConnectionRecord]:
        """One record per Realtime connection (WebSocket or WebRTC), oldest first."""
        return self._state.recorder.snapshot_connections()

    @property
    def call_requests(self) -> list[dict[str, Any]]:
        """POST /v1/realtime/calls requests (headers redacted, SDP offer text)."""
        return self._state.recorder.snapshot("call_requests")

    @property
    def call_actions(self) -> list[dict[str, Any]]:
        """`/calls/{id}/accept|reject|hangup|refer` requests: `{call_id, action, body}`."""
        with self._state.recorder.lock:
            return copy.deepcopy(self._state.extras.get("call_actions", []))

    # -- calls: server-side ends and incoming SIP calls -------------------------------------

    def end_call(self, call_id: str) -> None:
        """OpenAI ends a call (e.g. its maximum duration): as a hang-up, without the request."""
        call = self._state.extras["call_objects"][call_id]
        self._call(call_control.close_call(self._state, call))

    def incoming_sip_call(
        self, webhook_url: str, secret: str, *, to_number: str, from_number: str,
        bad_signature: bool = False,
    ) -> tuple[str, int]:  # fmt: skip
        """Ring: a SIP call to `to_number` and its signed webhook to the app; (call_id, status)."""
        ring = call_control.ring(
            self._state, webhook_url, secret, to_number, from_number, bad_signature=bad_signature
        )
        return self._call(ring, timeout=30)  # type: ignore[no-any-return]

    def answered_call(self, session: dict[str, Any] | None = None) -> str:
        """A SIP call already accepted with `session` (no webhook): for sideband tests."""

        async def make() -> str:
            call = call_control.SipCall(self._state, new_id("rtc"), [])
            call.accept(session or {"type": "realtime"})
            self._state.extras["call_objects"][call.call_id] = call
            return call.call_id

        return self._call(make())  # type: ignore[no-any-return]

    def sip_speak(self, call_id: str, ms: int) -> None:
        """The SIP caller talks for `ms` (the call's simulated VAD counts the length)."""
        self._call(call_control.feed_audio(self._state, call_id, ms))

    def sip_call_status(self, call_id: str) -> str:
        return str(self._state.extras["call_objects"][call_id].status)

    def wait_for(
        self, predicate: Callable[[FakeOpenAI], Any], timeout: float = 5.0, interval: float = 0.01
    ) -> Any:
        """Poll `predicate(self)` until truthy; returns its value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError("FakeOpenAI.wait_for: condition not met")
            time.sleep(interval)

    def wait_for_connection(self, count: int = 1, timeout: float = 5.0) -> ConnectionRecord:
        """Wait until `count` Realtime connections have opened; returns the `count`-th."""
        records = self.wait_for(lambda f: len(f.ws_sessions) >= count and f.ws_sessions, timeout)
        return records[count - 1]


async def _cancel_leftover_tasks() -> None:
    """Cancel what shutdown left behind (WebRTC callbacks) so the loop closes cleanly."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
