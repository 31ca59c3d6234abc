"""Running the app (`widget-api serve`): gunicorn master, uvicorn workers, one loop each.

gunicorn supervises the workers (restarts, graceful stop, `--workers`); each worker is uvicorn on
uvloop (`serving.worker`): WebSockets and slow or idle clients are served on the worker's event
loop and hold no thread, and HTTP requests run on a pool of `--threads` once their body has
arrived. Why this model: README, "Running in production". The app is built inside the worker
(not preloaded in the master): torch's thread pools do not survive a fork.
"""

from __future__ import annotations

import gc
import logging
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gunicorn.app.base import BaseApplication

from widget_api.settings import Settings

log = logging.getLogger(__name__)

# Booting a worker loads the model and may ingest the demo docs: allow for a slow machine.
BOOT_TIMEOUT_SECONDS = 180


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def raise_open_file_limit() -> int:
    """Lift the soft descriptor limit to the hard one: each idle WebSocket is a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft


class WidgetServer(BaseApplication):
    """gunicorn with our settings; each worker builds the app and prepares storage first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        from widget_api.serving.worker import worker_class_for

        settings = self.settings
        options: dict[str, Any] = {
            "bind": f"{settings.host}:{settings.port}",
            "worker_class": worker_class_for(settings),
            "workers": settings.server_workers,
            "timeout": BOOT_TIMEOUT_SECONDS,
            "graceful_timeout": 10,
            "keepalive": 5,
            "backlog": 2048,
            "loglevel": settings.log_level.lower(),
            # Access logs stay off: query strings and client addresses are not needed to operate.
            "accesslog": None,
            "errorlog": "-",
            "post_worker_init": _announce_ready,
            # gunicorn's runtime control socket is one per user by default; several servers
            # (tests, benchmarks, companies) on one machine would fight over it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from widget_api.app import create_app
        from widget_api.delivery.runner import start_sender
        from widget_api.services import get_services, prepare_storage
        from widget_api.serving.asgi import build_asgi

        configure_logging(self.settings.log_level)
        app = create_app(self.settings)
        prepare_storage(get_services(app))
        start_sender(get_services(app))  # webhook outbox: one sender per worker
        asgi = build_asgi(app)
        freeze_startup_heap()
        return asgi


def freeze_startup_heap() -> None:
    """Keep what start-up built (model, libraries, app: ~700,000 objects) out of the cyclic GC.

    A full collection walks every tracked object: on this heap it stopped the loop, and every
    relayed audio frame with it, for ~270 ms. Frozen objects are never scanned; the relay's
    short-lived frames are still collected as usual.
    """
    gc.collect()
    gc.freeze()


def _announce_ready(worker: Any) -> None:
    settings = worker.app.settings
    log.info("ready: http://%s:%s/ (worker %s)", settings.host, settings.port, worker.pid)


def serve(settings: Settings) -> None:
    """Run until interrupted; exits non-zero when no worker could boot."""
    raise_open_file_limit()
    WidgetServer(settings).run()


@contextmanager
def serve_in_thread(flask_app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The app on a loopback port, served by uvicorn from a daemon thread (tests, scripts).

    Same ASGI app, protocols and limits as a worker; yields the base URL.
    """
    import uvicorn

    from widget_api.services import get_services
    from widget_api.serving.asgi import build_asgi
    from widget_api.serving.worker import guard_for, uvicorn_options

    settings = get_services(flask_app).settings
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    if settings.public_origin is None:
        # As `serve --port` does: the server's own origin is the one it is reachable at.
        settings.host, settings.port = host, int(sock.getsockname()[1])
    config = uvicorn.Config(
        build_asgi(flask_app), log_config=None, **uvicorn_options(settings, guard_for(settings))
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
