"""Leads review for sales: the server-rendered admin page and its JSON API.

Thin adapters over `widget_api.crm`. The API authenticates every request with the company's
admin token as a Bearer token (no cookies, so cross-site requests carry no authority). The page
exchanges the token once for a signed HttpOnly SameSite=Strict cookie; its state-changing
forms also need the CSRF token from that cookie and a same-origin Origin header when present.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from widget_api.crm import admin_auth
from widget_api.crm.export import leads_to_csv, leads_to_json
from widget_api.crm.leads import LeadView, count_leads, get_lead, list_leads, parse_sort, set_status
from widget_api.errors import ApiError, DomainError
from widget_api.rate_limit import FailedAttempts
from widget_api.routes.documented import (
    ADMIN_API,
    ADMIN_FORM,
    ADMIN_PAGE,
    CSV,
    HTML,
    JSON_DOWNLOAD,
    LEAD_FILTERS,
    LOGIN_FORM,
    SEE_OTHER,
    Answer,
    documented,
)
from widget_api.vocabulary import LEAD_STATUSES, LeadStatus

bp = Blueprint("admin", __name__, template_folder="../templates")

COOKIE_NAME = "widget_admin"
_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class LeadQuery(BaseModel):
    """Filters, sort and page of a lead listing (query string of the page and the API)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    status: LeadStatus | None = None
    since: date | None = None
    until: date | None = None
    # No NUL: PostgreSQL text cannot hold one, and no stored value contains it.
    search: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00]*$")
    sort: str = Field(default="-created_at", max_length=20)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=2**31 - 1)  # beyond a BIGINT the driver fails

    def filters(self) -> dict[str, Any]:
        return {"status": self.status, "since": self.since, "until": self.until,
                "search": self.search or None}  # fmt: skip


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: LeadStatus


class LeadPage(BaseModel):
    leads: list[LeadView]
    total: int
    limit: int
    offset: int


# The page's forms (urlencoded), as the OpenAPI document describes them.
class LoginForm(BaseModel):
    token: str = Field(description="The company's admin token.")


class LogoutForm(BaseModel):
    csrf_token: str


class StatusForm(BaseModel):
    status: LeadStatus
    csrf_token: str
    back: str | None = Field(None, description="Listing to return to (this company's only).")


def _validated(model: type[BaseModel], data: Any) -> Any:
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        code = "lead_status_invalid" if fields == ["status"] else "validation_failed"
        raise ApiError(code, details=[{"fields": fields}]) from None
    if isinstance(parsed, LeadQuery):
        parse_sort(parsed.sort)  # unknown sort keys are a 422, not a 500
    return parsed


def _query() -> LeadQuery:
    data: dict[str, str | None] = {k: v for k, v in request.args.items() if v != ""}
    data.setdefault("search", data.pop("q", None))
    return _validated(LeadQuery, data)


def _services() -> Any:
    from widget_api.services import get_services

    return get_services(current_app)


def _company(company_id: str) -> Any:
    return _services().companies.get(company_id)  # ApiError("unknown_company") → 404


def _token(company: Any) -> str | None:
    return admin_auth.resolve_admin_token(company, _services().settings)


# --- JSON API ---------------------------------------------------------------------------------


def _failed_attempts() -> FailedAttempts:
    settings = _services().settings
    return FailedAttempts(
        _services().rate_limiter.store,
        settings.admin_failed_attempts_per_address,
        settings.admin_failed_attempts_window_seconds,
    )


def _client() -> str:
    return request.remote_addr or "unknown"


def _api_auth(company_id: str) -> Any:
    company = _company(company_id)
    candidate = admin_auth.bearer_token(request.headers.get("Authorization"))
    guard = _failed_attempts()
    guard.check(_client())  # 429 while this address is out of wrong attempts
    try:
        admin_auth.authorize(candidate, company, _services().settings)
    except DomainError:
        if candidate:  # a guess; a request without any token is not one
            guard.failed(_client())
        raise
    return company


@bp.get("/api/admin/<company_id>/leads")
@documented(
    "A page of the company's leads.",
    ok=LeadPage,
    errors=(*ADMIN_API, *LEAD_FILTERS),
    query=LeadQuery,
    security="adminToken",
)
def api_list(company_id: str) -> LeadPage:
    """A page of the company's leads with the total matching count."""
    _api_auth(company_id)
    query, db = _query(), _services().db
    leads = list_leads(db, company_id=company_id, **query.filters(), sort=query.sort,
                       limit=query.limit, offset=query.offset)  # fmt: skip
    total = count_leads(db, company_id=company_id, **query.filters())
    return LeadPage(leads=leads, total=total, limit=query.limit, offset=query.offset)


@bp.get("/api/admin/<company_id>/leads/<int:lead_id>")
@documented("One lead.", ok=LeadView, errors=(*ADMIN_API, "lead_not_found"), security="adminToken")
def api_show(company_id: str, lead_id: int) -> LeadView:
    """One lead."""
    _api_auth(company_id)
    return get_lead(_services().db, company_id, lead_id)


@bp.route("/api/admin/<company_id>/leads/<int:lead_id>", methods=["PATCH"])
@bp.post("/api/admin/<company_id>/leads/<int:lead_id>/status")
@documented(
    "Change a lead's status (PATCH the lead, or POST its /status).",
    ok=LeadView,
    body=StatusChange,
    errors=(*ADMIN_API, "lead_not_found", "invalid_json", "payload_too_large", *LEAD_FILTERS),
    security="adminToken",
)
def api_set_status(company_id: str, lead_id: int) -> LeadView:
    """Change a lead's status: body `{"status": "contacted"}`."""
    _api_auth(company_id)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # `[[[[…` nested deeper than the parser goes: not usable JSON
        body = None
    if body is None:
        raise ApiError("invalid_json")
    change: StatusChange = _validated(StatusChange, body)
    return set_status(_services().db, company_id, lead_id, change.status)


_EXPORT_ERRORS = (*ADMIN_API, *LEAD_FILTERS)


@bp.get("/api/admin/<company_id>/leads.csv")
@documented("Leads as CSV.", ok=CSV, errors=_EXPORT_ERRORS, query=LeadQuery, security="adminToken")
def api_export_csv(company_id: str) -> Response:
    """Every matching lead as a CSV download."""
    _api_auth(company_id)
    return _export(company_id)


@bp.get("/api/admin/<company_id>/leads.json")
@documented(
    "Leads as JSON.",
    ok=JSON_DOWNLOAD,
    errors=_EXPORT_ERRORS,
    query=LeadQuery,
    security="adminToken",
)
def api_export_json(company_id: str) -> Response:
    """Every matching lead as a JSON download."""
    _api_auth(company_id)
    return _export(company_id)


def _export(company_id: str) -> Response:
    query = _query()
    leads = list_leads(_services().db, company_id=company_id, **query.filters(),
                       sort=query.sort, limit=None)  # fmt: skip
    if request.path.endswith(".csv"):
        body, mimetype = leads_to_csv(leads), "text/csv"
    else:
        body, mimetype = leads_to_json(leads), "application/json"
    filename = f"leads-{company_id}.{request.path.rsplit('.', 1)[1]}"
    disposition = f'attachment; filename="{filename}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


# --- page --------------------------------------------------------------------------------------


def _page_session(company: Any) -> admin_auth.AdminSession | None:
    return admin_auth.read_session_cookie(
        _services().signing_key, request.cookies.get(COOKIE_NAME),
        company_id=company.id, token=_token(company),
    )  # fmt: skip


def _same_origin() -> bool:
    """A browser's Origin (or Referer) must be this server; without either, the CSRF token rules.

    "This server" is the configured public origin, never the request's Host header: a rebound
    DNS name (`Host: evil.example`, `Origin: http://evil.example`) must not pass as same-origin.
    """
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == _services().settings.server_origin


def _login_page(company: Any, *, failed: bool = False, status: int = 401) -> Any:
    return render_template("admin/login.html", company=company, failed=failed), status


@bp.get("/admin/<company_id>/leads")
@documented(
    "The leads page (login form when signed out).",
    ok={200: HTML, 401: LOGIN_FORM},
    errors=(*ADMIN_PAGE, *LEAD_FILTERS),
    query=LeadQuery,
    security="adminCookie",
)
def page(company_id: str) -> Any:
    """The leads table: sort, search, status filter, exports and status changes."""
    company = _company(company_id)
    session = _page_session(company)
    if session is None:
        return _login_page(company)
    query, db = _query(), _services().db
    leads = list_leads(db, company_id=company_id, **query.filters(), sort=query.sort,
                       limit=query.limit, offset=query.offset)  # fmt: skip
    total = count_leads(db, company_id=company_id, **query.filters())
    current = {k: v for k, v in request.args.items() if v and k != "token"}

    def page_url(endpoint: str = "admin.page", **changes: Any) -> str:
        merged = {k: v for k, v in {**current, **changes}.items() if v not in (None, "")}
        return url_for(endpoint, company_id=company_id, **merged)

    return render_template(
        "admin/leads.html", company=company, leads=leads, total=total, query=query,
        statuses=LEAD_STATUSES, csrf_token=session.csrf_token, page_url=page_url,
        back=request.full_path, sort_key=parse_sort(query.sort),
    )  # fmt: skip


@bp.post("/admin/<company_id>/login")
@documented(
    "Swap the admin token for a session cookie.",
    body=LoginForm,
    form=True,
    ok={303: SEE_OTHER, 401: Answer("text/html", description="Wrong token: login form.")},
    errors=(*ADMIN_PAGE, "csrf_failed", "payload_too_large"),
)
def login(company_id: str) -> Any:
    """Swap the admin token for the page's session cookie."""
    company = _company(company_id)
    if not _same_origin():
        raise ApiError("csrf_failed")
    token = _token(company)
    guard = _failed_attempts()
    try:
        guard.check(_client())
    except DomainError as blocked:  # FailedAttempts raises the domain error
        page, status = _login_page(company, failed=True, status=blocked.status)
        return page, status, {"Retry-After": str(blocked.details[0]["retry_after"])}
    if not admin_auth.token_matches(request.form.get("token", ""), token):
        guard.failed(_client())
        return _login_page(company, failed=True)
    response = redirect(url_for("admin.page", company_id=company_id), code=303)
    cookie = admin_auth.issue_session_cookie(_services().signing_key, company_id, token or "")
    response.set_cookie(
        COOKIE_NAME, cookie,
        max_age=admin_auth.SESSION_MAX_AGE_SECONDS, path=f"/admin/{company_id}/",
        httponly=True, samesite="Strict", secure=request.is_secure,
    )  # fmt: skip
    return response


def _page_form_auth(company_id: str) -> Any:
    company = _company(company_id)
    session = _page_session(company)
    if session is None:
        raise ApiError("admin_token_invalid")
    if not _same_origin() or not admin_auth.csrf_matches(session, request.form.get("csrf_token")):
        raise ApiError("csrf_failed")
    return company


@bp.post("/admin/<company_id>/logout")
@documented(
    "Forget the session cookie.",
    ok={303: SEE_OTHER},
    errors=ADMIN_FORM,
    body=LogoutForm,
    form=True,
    security="adminCookie",
)
def logout(company_id: str) -> Any:
    """Forget the session cookie."""
    _page_form_auth(company_id)
    response = redirect(url_for("admin.page", company_id=company_id), code=303)
    response.delete_cookie(COOKIE_NAME, path=f"/admin/{company_id}/")
    return response


@bp.post("/admin/<company_id>/leads/<int:lead_id>/status")
@documented(
    "The page's status form.",
    ok={303: SEE_OTHER},
    body=StatusForm,
    form=True,
    errors=(*ADMIN_FORM, "lead_not_found", *LEAD_FILTERS),
    security="adminCookie",
)
def page_set_status(company_id: str, lead_id: int) -> Any:
    """The page's status form; back to the same listing afterwards."""
    _page_form_auth(company_id)
    change: StatusChange = _validated(StatusChange, {"status": request.form.get("status")})
    set_status(_services().db, company_id, lead_id, change.status)
    back = request.form.get("back", "")
    # Only a listing of this company's page: never an open redirect.
    if not back.startswith(f"/admin/{company_id}/leads?") or "//" in back or "\\" in back:
        back = url_for("admin.page", company_id=company_id)
    return redirect(back, code=303)


_PAGE_EXPORT_ERRORS = (*ADMIN_PAGE, "admin_token_invalid", *LEAD_FILTERS)


@bp.get("/admin/<company_id>/leads.csv")
@documented(
    "The page's CSV export.",
    ok=CSV,
    errors=_PAGE_EXPORT_ERRORS,
    query=LeadQuery,
    security="adminCookie",
)
def page_export_csv(company_id: str) -> Response:
    """The page's CSV export link (cookie session)."""
    return _page_export(company_id)


@bp.get("/admin/<company_id>/leads.json")
@documented(
    "The page's JSON export.",
    ok=JSON_DOWNLOAD,
    errors=_PAGE_EXPORT_ERRORS,
    query=LeadQuery,
    security="adminCookie",
)
def page_export_json(company_id: str) -> Response:
    """The page's JSON export link (cookie session)."""
    return _page_export(company_id)


def _page_export(company_id: str) -> Response:
    company = _company(company_id)
    if _page_session(company) is None:
        raise ApiError("admin_token_invalid")
    return _export(company_id)


@bp.after_request
def _harden(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    # Not "no-referrer": under it Chromium sends `Origin: null` with the page's own form posts,
    # which the same-origin check (rightly) refuses. Other sites still never see a referrer.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/admin/"):
        response.headers["Content-Security-Policy"] = _PAGE_CSP
        response.headers["X-Frame-Options"] = "DENY"
    return response
