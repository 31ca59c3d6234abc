"""Running the app on gunicorn, programmatically (`widget-api serve`).

`gthread` workers because flask-sock holds one handler thread per open WebSocket (a relayed
conversation's thread only sleeps: its frames run on the worker's relay loop, see
`relay.hub`); `--threads` therefore bounds the concurrent conversations per worker. One worker by
default because the session rate limits and daily caps are counted in the process; more workers
spread relayed audio over more cores but multiply those limits (each worker counts its own) and
load the model once each. The app is built inside the worker (not preloaded in the master):
torch's thread pools do not survive a fork.
"""

from __future__ import annotations

import logging
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


class WidgetServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with our settings; each worker builds the app and prepares storage first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        settings = self.settings
        options: dict[str, Any] = {
            "bind": f"{settings.host}:{settings.port}",
            "worker_class": "gthread",
            "workers": settings.server_workers,
            "threads": settings.server_threads,
            "timeout": BOOT_TIMEOUT_SECONDS,
            "graceful_timeout": 10,
            "keepalive": 5,
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
        from widget_api.services import get_services, prepare_storage

        configure_logging(self.settings.log_level)
        app = create_app(self.settings)
        prepare_storage(get_services(app))
        return app


def _announce_ready(worker: Any) -> None:
    settings = worker.app.settings
    log.info("ready: http://%s:%s/ (worker %s)", settings.host, settings.port, worker.pid)


def serve(settings: Settings) -> None:
    """Run until interrupted; exits non-zero when no worker could boot."""
    WidgetServer(settings).run()
