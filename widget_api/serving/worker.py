"""The gunicorn worker: uvicorn (uvloop, httptools, wsproto) with the guard's protocols.

uvicorn-worker is uvicorn's own gunicorn worker (the `uvicorn.workers` module moved there); this
subclass only supplies uvicorn's options from Settings. One guard per worker process: the
per-address cap counts connections per worker.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

from widget_api.serving.direct_ws import direct_ws_protocol
from widget_api.serving.guard import ConnectionGuard, per_worker_cap, protocol_classes
from widget_api.settings import Settings

# uvicorn answers its keep-alive pings itself; a page that stops answering them is gone.
WS_PING_SECONDS = 20.0


def guard_for(settings: Settings) -> ConnectionGuard:
    return ConnectionGuard(
        max_per_client=per_worker_cap(
            settings.server_max_connections_per_client, settings.server_workers
        ),
        header_timeout=settings.server_header_timeout_seconds,
        max_header_bytes=settings.server_max_header_bytes,
    )


def uvicorn_options(settings: Settings, guard: ConnectionGuard) -> dict[str, Any]:
    """uvicorn Config options for one worker (its app is set by the caller)."""
    http, _ = protocol_classes(guard)
    return {
        "loop": "uvloop",
        "http": http,
        "ws": direct_ws_protocol(guard),
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_ping_interval": WS_PING_SECONDS,
        "ws_ping_timeout": WS_PING_SECONDS,
        # Audio is base64 and barely compresses, and each deflate context costs ~300 KB per socket.
        "ws_per_message_deflate": False,
        "lifespan": "on",
        # Client addresses come from the socket: X-Forwarded-For is read by the app's ProxyFix
        # when it is configured, never trusted by default.
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
    }


class WidgetWorker(UvicornWorker):
    """uvicorn-worker with our options; `worker_class_for` binds the settings."""

    settings: Settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.guard = guard_for(self.settings)
        self.CONFIG_KWARGS = uvicorn_options(self.settings, self.guard)
        super().__init__(*args, **kwargs)


def worker_class_for(settings: Settings) -> type[WidgetWorker]:
    """A WidgetWorker subclass carrying `settings` (gunicorn builds workers from a class)."""
    return type("WidgetWorker", (WidgetWorker,), {"settings": settings})
