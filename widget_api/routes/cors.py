"""CORS for the widget's JSON routes, for companies that call them from their own pages.

The bundled widget runs in an iframe on this server's origin and needs none of this; a company
integrating directly from one of its allowed origins does. Only allowed origins are echoed back
(never `*`), and no credentials are involved: the tool route authenticates with a bearer token.
"""

from __future__ import annotations

from flask import Response, request

from widget_api.companies.models import CompanyConfig
from widget_api.origins import is_origin_allowed
from widget_api.services import Services

_MAX_AGE_SECONDS = "600"


def add_cors_headers(
    response: Response, services: Services, companies: list[CompanyConfig], headers: str
) -> Response:
    """Allow the request's Origin when one of `companies` (or the server itself) allows it."""
    origin = request.headers.get("Origin")
    response.vary.add("Origin")
    server = services.settings.server_origin
    if origin and any(is_origin_allowed(origin, c, server) for c in companies):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = headers
        response.headers["Access-Control-Max-Age"] = _MAX_AGE_SECONDS
    return response
