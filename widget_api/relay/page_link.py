"""The page's WebSocket as the relay sees it: non-blocking `send`/`close`, frames to a callback.

The socket is an ASGI WebSocket served by the worker's uvicorn loop (wsproto underneath); this
class turns its `receive`/`send` coroutines into the callback shape the sessions use, and bounds
what one page can cost:

- inbound: uvicorn stops reading the socket while a message waits for us, and the reader only
  starts at `attach`, so a page that sends faster than we forward is held back by TCP itself;
  messages over the size limit are refused by uvicorn (close 1009); more than `frames_per_second`
  or `bytes_per_second` (each with a burst allowance) closes with 1008 `rate_exceeded`.
- outbound: frames wait in one queue bounded in bytes; a page that stops reading fills it and is
  dropped at once (TCP abort: a close frame would only queue behind the data it is not reading).

Where the server offers it (`serving.direct_ws`), frames skip ASGI's queue both ways: they are
handed over as they are parsed and written at once while the socket keeps up; the coroutines stay
the path for everything else (the close, and writes that must wait for a slow page).

Close codes are listed in README, "Running in production".
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from widget_api.relay.link import Link

log = logging.getLogger(__name__)

# How long a close handshake may take before the connection is dropped.
CLOSE_TIMEOUT = 2.0

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # reasons: rate_exceeded
CLOSE_TOO_BIG = 1009  # sent by uvicorn before the frame reaches us

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[str | bytes], None]
# serving.direct_ws's extension: {"attach": (Handler) -> None, "send_text": (str) -> bool}
DirectSocket = dict[str, Callable[..., Any]]


@dataclass(frozen=True)
class SocketLimits:
    """What one page's WebSocket may cost (settings: WIDGET_WS_*)."""

    # Page text frames and ~1 s audio appends (24 kHz PCM16 → 64 KB of base64) both fit.
    max_message_bytes: int = 256 * 1024
    # Frames waiting for a page that reads slower than we send; ~15 s of relayed audio.
    max_send_queue_bytes: int = 1024 * 1024
    # Audio appends arrive 50 a second (20 ms chunks); twice that plus a burst is generous.
    frames_per_second: float = 200.0
    frame_burst: int = 400
    # Audio is ~64 KB/s of base64; the burst lets one full-size text frame through at any time.
    bytes_per_second: float = 256 * 1024
    byte_burst: int = 1024 * 1024


class _Bucket:
    """A token bucket on the loop's clock: `take()` is False once the page floods."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate, self._burst = rate, float(burst)
        self._tokens, self._at = float(burst), now

    def take(self, now: float, amount: float = 1.0) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        self._tokens -= amount
        return self._tokens >= 0.0


class PageLink(Link[str | bytes]):
    """The page's side of one conversation, driven by the loop.

    `send` and `close` never block and never raise. Frames are read only once `attach` has
    named a handler, so nothing needs to be kept for later.
    """

    def __init__(
        self,
        receive: Receive,
        send: Send,
        limits: SocketLimits,
        abort: Callable[[], None] | None = None,
        direct: DirectSocket | None = None,
    ) -> None:
        super().__init__()
        self._receive = receive
        self._direct_attach = direct["attach"] if direct else None
        self._direct_send = direct["send_text"] if direct else None
        self._send = send
        self._limits = limits
        self._abort = abort
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[str] = collections.deque()
        self._queued_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._close_with: tuple[int, str] | None = None
        now = self._loop.time()
        self._frames = _Bucket(limits.frames_per_second, limits.frame_burst, now)
        self._bytes = _Bucket(limits.bytes_per_second, limits.byte_burst, now)
        self.lost: asyncio.Future[None] = self._loop.create_future()

    def _attached(self) -> None:
        """Start reading (the page is read only once a conversation is attached)."""
        if not self._closed and self._reader is None:
            if self._direct_attach is not None:
                self._direct_attach(self._deliver)
            self._reader = self._loop.create_task(self._read())

    # --- sending ----------------------------------------------------------------------------
    def send(self, text: str) -> None:
        if self._closed or self._close_with is not None:
            return
        idle = not self._queue and (self._writer is None or self._writer.done())
        if idle and self._direct_send is not None and self._direct_send(text):
            return  # written now; otherwise it waits its turn in the queue
        self._queue.append(text)
        self._queued_bytes += len(text)
        if self._queued_bytes > self._limits.max_send_queue_bytes:
            log.warning("page stopped reading; dropping its connection")
            self.abort()
            return
        self._start_writer()

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close after what is already queued; the connection is dropped if that stalls."""
        if self._closed or self._close_with is not None:
            return
        self._close_with = (code, reason)
        self._start_writer()
        self._loop.call_later(CLOSE_TIMEOUT, self.abort)  # the page never answered the close

    def abort(self) -> None:
        """Drop the connection now (no close handshake) and forget what was queued."""
        self._queue.clear()
        self._queued_bytes = 0
        if self._abort is not None and not self._closed:
            self._abort()
        elif not self._closed and self._close_with is None:
            self.close(CLOSE_POLICY, "aborted")

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = self._loop.create_task(self._write())

    async def _write(self) -> None:
        """Drain the queue; `send` only waits when the transport's buffer is full."""
        try:
            while self._queue:
                text = self._queue.popleft()
                self._queued_bytes -= len(text)
                await self._send({"type": "websocket.send", "text": text})
            if self._close_with is not None and not self._closed:
                code, reason = self._close_with
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # uvicorn's ClientDisconnected, OSError: the page is gone
            self._queue.clear()
            self._queued_bytes = 0

    # --- receiving --------------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            while True:
                message = await self._receive()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect
                text = message.get("text")
                self._deliver(text if text is not None else (message.get("bytes") or b""))
        except Exception:  # receive() reports a lost page as a message: this is a handler bug
            log.exception("page frame handler failed; dropping the conversation")
        finally:
            self._gone()

    def _deliver(self, frame: str | bytes) -> None:
        """One whole frame from the page, from `_read` or straight from the protocol."""
        if self._close_with is not None:
            return  # closing: wait for the page's close frame
        now = self._loop.time()
        if not (self._frames.take(now) and self._bytes.take(now, len(frame))):
            log.info("page exceeded its frame or byte rate; closing")
            self.close(CLOSE_POLICY, "rate_exceeded")
            return
        assert self._on_frame is not None
        self._on_frame(frame)

    def _gone(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        if not self.lost.done():
            self.lost.set_result(None)
        self._ended()
