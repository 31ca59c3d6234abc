"""The widget's HTTP routes: loader, assets, widget page (CSP, escaping), demo host page."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import pytest

from widget_api.routes.widget_assets import AssetStore, render_widget_page


@pytest.fixture(scope="module")
def client(make_app: Any) -> Any:
    return make_app().test_client()


def test_embed_loader_is_small_gzipped_and_cacheable(client: Any) -> None:
    resp = client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == "gzip"
    assert resp.mimetype == "text/javascript" and "max-age=" in resp.headers["Cache-Control"]
    assert len(resp.data) <= 3 * 1024
    assert b"SalesWidget" in gzip.decompress(resp.data)
    again = client.get("/embed.js", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_widget_page_frame_ancestors_and_strict_csp(client: Any, customer_port: int) -> None:
    resp = client.get(f"/widget/acme?host=http://127.0.0.1:{customer_port}")
    assert resp.status_code == 200
    csp = dict(
        part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";")
    )
    ancestors = csp["frame-ancestors"].split()
    assert f"http://127.0.0.1:{customer_port}" in ancestors
    assert "https://acme-relay.example" in ancestors and "*" not in ancestors
    assert (
        csp["script-src"] == "'self'"
        and "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    )
    # No inline script: the only <script> bodies are the JSON config.
    html = resp.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) == [
        ' type="application/json" id="widget-config"'
    ]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/widget/acme?host=https://evil.example", 403),
        ("/widget/acme?host=https://acme-relay.example.evil.example", 403),
        ("/widget/nope", 404),
        ("/widget-assets/../settings.py", 404),
        ("/widget-assets/secret.js", 404),
    ],
)
def test_refusals(client: Any, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_company_values_are_escaped(widget_services: Any) -> None:
    company = widget_services.companies.get("acme").model_copy(
        update={"display_name": "<img src=x onerror=alert(1)>", "greeting": "</script><b>hi"}
    )
    html = render_widget_page(
        company, AssetStore(), settings=widget_services.settings, host_origin=None, blocked=False
    )
    assert "<img src=x" not in html and "</script><b>" not in html
    config = re.search(r'id="widget-config">(.*?)</script>', html, re.S)
    assert config is not None
    assert json.loads(config.group(1))["greeting"] == "</script><b>hi"


def test_demo_host_page_embeds_the_widget(client: Any) -> None:
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'src="/embed.js" data-company="acme"' in html
