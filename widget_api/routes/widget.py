"""The widget's HTTP face: the embed loader, the widget page, its assets, the demo host page,
and the realtime WebSocket (`/ws/realtime/<companyId>`).

Views stay thin: the page is rendered from the company config, the socket is handed to
`widget_api.relay.serve.serve_conversation`, which moves a relayed one onto the relay loop.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from flask_sock import Sock

from widget_api.companies.models import CompanyConfig
from widget_api.errors import ApiError
from widget_api.origins import frame_ancestors, is_origin_allowed
from widget_api.relay.contracts import RelayLimits
from widget_api.relay.hub import RelayHub
from widget_api.relay.page_link import DeferredReader, PageSocket
from widget_api.relay.records import CrmConversationLog
from widget_api.relay.serve import ConversationSetup, Mode, serve_conversation
from widget_api.routes.widget_assets import AssetStore, render_host_page, render_widget_page
from widget_api.services import Services, get_services

log = logging.getLogger(__name__)

bp = Blueprint("widget", __name__)
sock = Sock()
assets = AssetStore()
WS_ENDPOINT = "widget.realtime_ws"
TRANSPORTS = ("auto", "webrtc", "relay", "text")


HUB_KEY = "widget.relay_hub"


@bp.record_once
def _configure_sockets(state: Any) -> None:
    # Frames are ~1.3 KB of base64 audio; read them in one go, and cap what a page may send.
    # simple-websocket's reader thread waits (DeferredReader): a relayed conversation moves the
    # socket to the relay loop instead, and only the local text engine starts the thread.
    state.app.config.setdefault(
        "SOCK_SERVER_OPTIONS",
        {"max_message_size": 1024 * 1024, "receive_bytes": 16384, "thread_class": DeferredReader},
    )
    # One relay loop per process (started by the first conversation), shared by its conversations.
    state.app.extensions.setdefault(HUB_KEY, RelayHub())


def _services() -> Services:
    return get_services(current_app)


def _request_origin() -> str:
    """This server's origin as the browser addressed it (same-origin pages are ours)."""
    return request.host_url.rstrip("/")


def _origin_ok(origin: str | None, company: CompanyConfig) -> bool:
    settings = _services().settings
    return origin == _request_origin() or is_origin_allowed(origin, company, settings.server_origin)


@bp.get("/embed.js")
def embed_js() -> Response:
    """The loader a company puts on its site with one script tag."""
    return assets.response("embed.js", request, max_age=300)


@bp.get("/widget-assets/<path:name>")
def widget_asset(name: str) -> Response:
    """Versioned widget assets (cached for a year; the URL changes with the content)."""
    return assets.response(name, request, max_age=31536000, immutable=True)


@bp.get("/widget/<company_id>")
def widget_page(company_id: str) -> Response:
    """The widget page inside the iframe, framed only by the company's allowed origins."""
    services = _services()
    company = services.companies.get(company_id)
    settings = services.settings
    host = request.args.get("host")
    blocked = host is not None and not _origin_ok(host, company)
    # The embed snippet may pick a transport for this page (`data-transport`); every transport
    # runs the same server-side checks, so this only changes how the visitor connects.
    transport = request.args.get("transport")
    if transport not in TRANSPORTS:
        transport = company.transport
    html = render_widget_page(
        company, assets, settings=settings, host_origin=None if blocked else host,
        blocked=blocked, transport=transport,
    )  # fmt: skip
    resp = Response(html, status=403 if blocked else 200, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = _widget_csp(company, services)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    resp.headers["Permissions-Policy"] = "microphone=(self), autoplay=(self)"
    return resp


def _widget_csp(company: CompanyConfig, services: Services) -> str:
    settings = services.settings
    me = _request_origin()
    ws = ("wss://" if me.startswith("https") else "ws://") + urlsplit(me).netloc
    openai = "{0.scheme}://{0.netloc}".format(urlsplit(settings.openai_base_url))
    media = sorted(
        {"{0.scheme}://{0.netloc}".format(urlsplit(str(u)))
         for c in company.clips for u in (c.video_url, c.thumbnail_url) if u}
    )  # fmt: skip
    media_src = " ".join(["'self'", "blob:", *media])
    img_src = " ".join(["'self'", "data:", *media])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {img_src}",
            f"media-src {media_src}",
            f"connect-src 'self' {ws} {openai}",
            f"frame-ancestors {frame_ancestors(company, settings.server_origin)} {me}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


@bp.get("/")
def demo_host_page() -> Response:
    """A demo host page that embeds the first company's widget, so a newcomer sees it at once."""
    services = _services()
    companies = services.companies.all()
    company_id = request.args.get("company") or (companies[0].id if companies else "")
    company = services.companies.get(company_id)
    resp = Response(render_host_page(company), mimetype="text/html")
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
        "frame-src 'self'; img-src 'self' data:; base-uri 'none'"
    )
    return resp


@bp.before_app_request
def _check_ws_origin() -> None:
    """Refuse the WebSocket handshake (403 JSON) for unknown companies or foreign origins."""
    if request.endpoint != WS_ENDPOINT:
        return
    company = _services().companies.get((request.view_args or {}).get("company_id", ""))
    if not _origin_ok(request.headers.get("Origin"), company):
        raise ApiError("origin_not_allowed")


@sock.route("/ws/realtime/<company_id>", bp=bp)
def realtime_ws(ws: Any, company_id: str) -> None:
    """One visitor conversation: relayed to OpenAI, or answered by the local text engine."""
    services = _services()
    company = services.companies.get(company_id)
    mode: Mode = "text" if request.args.get("mode") == "text" else "voice"
    setup = conversation_setup(services, company, mode=mode, session_id=f"ws_{uuid.uuid4().hex}")
    serve_conversation(PageSocket(ws), setup, mode, current_app.extensions[HUB_KEY])


def conversation_setup(
    services: Services, company: CompanyConfig, *, mode: str, session_id: str
) -> ConversationSetup:
    """Wire one conversation's dependencies from the app's services."""
    from widget_api.instructions import build_instructions
    from widget_api.realtime.session_config import build_session
    from widget_api.tools.base import ToolContext

    settings = services.settings
    ctx = ToolContext(company=company, session_id=session_id, channel=mode)
    tools = services.tools
    secret = settings.openai_api_key
    key = secret.get_secret_value() if secret is not None and settings.realtime_enabled else None
    return ConversationSetup(
        display_name=company.display_name,
        model=company.model,
        session=build_session(
            company, tools.declarations(company), instructions=build_instructions(company)
        ),
        run_tool=lambda call_id, name, arguments: tools.run(ctx, call_id, name, arguments),
        conversation=CrmConversationLog(services.db, company_id=company.id, session_id=session_id),
        encoder=services.embedder,
        limits=RelayLimits(
            max_session_seconds=settings.relay_max_session_seconds,
            idle_timeout_seconds=settings.relay_idle_timeout_seconds,
        ),
        base_url=settings.openai_base_url,
        api_key=key,
        connect_timeout=settings.openai_timeout_seconds,
    )
