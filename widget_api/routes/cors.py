"""CORS for the widget's JSON routes, for companies that call them from their own pages.

The bundled widget runs in an iframe on this server's origin and needs none of this; a company
integrating directly from one of its allowed origins does. Only allowed origins are echoed back
(never `*`), and no credentials are involved: the tool route authenticates with a bearer token.
"""

from __future__ import annotations

from flask import Response, current_app, request

from widget_api.companies.models import CompanyConfig
from widget_api.origins import is_origin_allowed
from widget_api.services import Services, get_services

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


def company_route_cors(response: Response) -> Response:
    """`after_request` for routes under `/<company_id>/`: that company's sites may call them."""
    services = get_services(current_app)
    company_id = (request.view_args or {}).get("company_id", "")
    companies = [c for c in services.companies.all() if c.id == company_id]
    return add_cors_headers(response, services, companies, "Content-Type, Authorization")
