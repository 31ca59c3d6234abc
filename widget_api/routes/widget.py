"""The widget's HTTP face: the embed loader, the widget page, its assets, the demo host page.

Views stay thin: the page is rendered from the company config. Conversations are wired in
`widget_api.conversation`, outside the HTTP layer.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from widget_api.companies.models import CompanyConfig
from widget_api.origins import frame_ancestors, is_origin_allowed
from widget_api.routes.documented import HTML, NOT_MODIFIED, Answer, documented
from widget_api.routes.widget_assets import AssetStore, render_host_page, render_widget_page
from widget_api.services import Services, get_services
from widget_api.vocabulary import TRANSPORTS

log = logging.getLogger(__name__)

bp = Blueprint("widget", __name__)
assets = AssetStore()


def _services() -> Services:
    return get_services(current_app)


def _origin_ok(origin: str | None, company: CompanyConfig) -> bool:
    # The configured public origin, never the request's Host header: a rebound DNS name
    # (`Host: evil.example`, `Origin: http://evil.example`) must not pass as "same origin".
    settings = _services().settings
    return is_origin_allowed(origin, company, settings.server_origin)


@bp.get("/embed.js")
@documented(
    "The embed loader script.",
    ok={200: Answer("text/javascript", description="The loader."), 304: NOT_MODIFIED},
)
def embed_js() -> Response:
    """The loader a company puts on its site with one script tag."""
    return assets.response("embed.js", request, max_age=300)


@bp.get("/widget-assets/<path:name>")
@documented(
    "A versioned widget asset.",
    errors=("not_found",),
    ok={200: Answer("*/*", description="Script, style sheet or worklet."), 304: NOT_MODIFIED},
)
def widget_asset(name: str) -> Response:
    """Versioned widget assets (cached for a year; the URL changes with the content)."""
    return assets.response(name, request, max_age=31536000, immutable=True)


@bp.get("/widget/<company_id>")
@documented(
    "The widget page (framed by allowed origins only).",
    errors=("unknown_company", "not_found"),
    ok={200: HTML, 403: Answer("text/html", description="Host not allowed (blocked page).")},
)
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
    me = urlsplit(settings.server_origin)
    ws = ("wss://" if me.scheme == "https" else "ws://") + me.netloc
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
            f"frame-ancestors {frame_ancestors(company, settings.server_origin)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


@bp.get("/")
@documented("Demo host page embedding a company's widget.", ok=HTML, errors=("unknown_company",))
def demo_host_page() -> Response:
    """A demo host page that embeds the first company's widget, so a newcomer sees it at once."""
    services = _services()
    companies = services.companies.all()
    company_id = request.args.get("company") or (companies[0].id if companies else "")
    company = services.companies.get(company_id)
    resp = Response(render_host_page(company), mimetype="text/html")
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
        "frame-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'"
    )
    return resp
