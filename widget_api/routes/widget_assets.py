"""The widget's static files (from `embed_widget/`) and the two server-rendered pages.

Assets are read once, gzipped once and served with an ETag; the widget page links them by
content hash so browsers can cache them for a year. Every company value placed in a page is
HTML-escaped, and the page's JSON config is escaped so it can never close its script element.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from flask import Request, Response
from markupsafe import escape

from widget_api.companies.models import CompanyConfig
from widget_api.errors import ApiError
from widget_api.local_engine.engine import text_introduction
from widget_api.settings import Settings

# What a page may send in one message (the relay's RelayLimits.max_text_chars).
MAX_TEXT_CHARS = 2000

# `embed_widget` ships as package data, so the installed package serves the same files.
ASSET_DIR = Path(str(resources.files("embed_widget")))
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
SERVED = ("embed.js", "widget.js", "widget.css", "audio-worklet.js", "protocol.js")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    mimetype: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


class AssetStore:
    """Reads, hashes and gzips each served file once per process."""

    def __init__(self, folder: Path = ASSET_DIR) -> None:
        self._folder = folder
        self._cache: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Asset:
        if name not in SERVED:
            raise ApiError("not_found")
        with self._lock:
            if name not in self._cache:
                body = (self._folder / name).read_bytes()
                self._cache[name] = Asset(
                    body=body,
                    gzipped=gzip.compress(body, 9, mtime=0),
                    etag='"' + hashlib.sha256(body).hexdigest()[:16] + '"',
                    mimetype=_TYPES[Path(name).suffix],
                )
            return self._cache[name]

    def url(self, name: str) -> str:
        return f"/widget-assets/{name}?v={self.get(name).version}"

    def template(self, name: str) -> Template:
        return Template((self._folder / name).read_text(encoding="utf-8"))

    def response(
        self, name: str, request: Request, *, max_age: int, immutable: bool = False
    ) -> Response:
        asset = self.get(name)
        headers = {
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
            "Cache-Control": f"public, max-age={max_age}" + (", immutable" if immutable else ""),
            "X-Content-Type-Options": "nosniff",
        }
        if asset.etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, mimetype=asset.mimetype, headers=headers)
        return Response(asset.body, mimetype=asset.mimetype, headers=headers)


def _script_json(value: dict[str, Any]) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survive."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def widget_config(
    company: CompanyConfig, assets: AssetStore, *, settings: Settings,
    host_origin: str | None, blocked: bool, transport: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What the page's script needs: names, theme, transport and the URLs it talks to."""
    return {
        "companyId": company.id,
        "displayName": company.display_name,
        "greeting": company.greeting,
        "language": company.language,
        "theme": company.theme.model_dump(),
        "transport": transport or company.transport,
        "realtime": settings.realtime_enabled,
        "callsUrl": settings.openai_base_url.rstrip("/") + "/realtime/calls",
        "wsPath": f"/ws/realtime/{company.id}",
        "sessionPath": "/api/realtime/session",
        "toolPath": f"/api/chat/{company.id}/tool",
        "workletUrl": assets.url("audio-worklet.js"),
        "hostOrigin": host_origin,
        "textGreeting": text_introduction(company.display_name),
        "maxChars": MAX_TEXT_CHARS,
        "resumePath": f"/api/widget/{company.id}/resume",
        "privacy": company.privacy.model_dump(mode="json"),
        "blocked": blocked,
    }


def render_widget_page(
    company: CompanyConfig, assets: AssetStore, *, settings: Settings,
    host_origin: str | None, blocked: bool, transport: str | None = None,
) -> str:  # fmt: skip
    config = widget_config(
        company, assets, settings=settings, host_origin=host_origin, blocked=blocked,
        transport=transport,
    )  # fmt: skip
    return assets.template("widget.html").substitute(
        lang=escape(company.language),
        name=escape(company.display_name),
        initial=escape(company.display_name[:1].upper()),
        css_url=escape(assets.url("widget.css")),
        js_url=escape(assets.url("widget.js")),
        protocol_url=escape(assets.url("protocol.js")),
        config=_script_json(config),
    )


def render_host_page(company: CompanyConfig) -> str:
    """The demo 'customer site' at `/`, embedding the widget exactly as a customer would."""
    theme = company.theme
    attrs = (
        f'data-company="{escape(company.id)}" data-color="{escape(theme.primary_color)}" '
        f'data-label="{escape(theme.launcher_label)}" data-position="{escape(theme.position)}"'
    )
    snippet = f'<script src="/embed.js" {attrs} async></script>'
    return assets_host_template().substitute(
        name=escape(company.display_name),
        summary=escape(company.summary),
        color=escape(theme.primary_color),
        snippet_text=escape(
            f'<script src="https://YOUR-HOST/embed.js" data-company="{company.id}" async></script>'
        ),
        snippet=snippet,
    )


def assets_host_template() -> Template:
    return Template((ASSET_DIR / "host.html").read_text(encoding="utf-8"))
