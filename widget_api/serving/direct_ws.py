"""A synchronous path for a WebSocket's frames, beside ASGI's `receive`/`send` coroutines.

ASGI hands every message through a queue: uvicorn pauses reading the socket, a task wakes to
`receive()` it and resumes reading; every outgoing message is a coroutine, and for a page that
is not reading in step, a task. For a relayed conversation that is 50 audio frames a second each
way: at a few hundred conversations the queue, the pause/resume system calls and the task
switches were most of the loop's Python time, and their queueing the relay's latency tail.

This protocol offers the endpoint, through `scope["extensions"][DIRECT_EXTENSION]`:

- `attach(handler)`: whole messages go to `handler(text_or_bytes)` as they are parsed, while
  nothing waits in the ASGI queue (order is kept: a message that arrived before `attach` is
  still read through `receive()` first). The close, and everything else, still arrive through
  `receive()`. The handler must not block: it runs inside `data_received`.
- `send_text(text) -> bool`: write a text frame now when the socket is open and its transport
  is not applying back-pressure; False means "use `send()`" (which waits for the transport).

Limits are uvicorn's own (`ws_max_size` → close 1009); the code mirrors its `handle_message`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.wsproto_impl import FrameTooLargeError
from wsproto import events
from wsproto.connection import ConnectionState

from widget_api.serving.guard import ConnectionGuard, GuardedWSProtocol

log = logging.getLogger(__name__)

DIRECT_EXTENSION = "widget.direct"

FrameHandler = Callable[[str | bytes], None]


class DirectWSProtocol(GuardedWSProtocol):
    """uvicorn's wsproto protocol with the guard's hooks and the direct frame path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_frame: FrameHandler | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][DIRECT_EXTENSION] = {
            "attach": self._attach,
            "send_text": self._send_text,
        }

    def _attach(self, handler: FrameHandler) -> None:
        self._on_frame = handler

    def _send_text(self, text: str) -> bool:
        if (
            not self.writable.is_set()  # the transport's buffer is full: `send()` waits
            or self.close_sent
            or self.disconnected
            or self.conn.state is not ConnectionState.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(self.conn.send(events.Message(data=text)))
        return True

    def handle_message(self, event: events.TextMessage | events.BytesMessage) -> None:
        handler = self._on_frame
        if handler is None or not self.queue.empty():
            super().handle_message(event)  # queued for `receive()`, in order
            return
        try:
            self.buffer.extend(event)
        except FrameTooLargeError:
            self._on_frame = None
            super().handle_message(event)  # still too large there: uvicorn's refusal, close 1009
            return
        if not event.message_finished:
            return
        frame: str | bytes = self.buffer.value.getvalue()  # type: ignore[union-attr]
        self.buffer.clear()
        try:
            handler(frame)
        except Exception:
            log.exception("frame handler failed; dropping the connection")
            self._on_frame = None
            self.transport.abort()


def direct_ws_protocol(guard: ConnectionGuard) -> type[DirectWSProtocol]:
    """The WebSocket protocol class for uvicorn's Config, bound to one worker's guard."""
    return type("WidgetWSProtocol", (DirectWSProtocol,), {"guard": guard})
