"""Reports and webhook deliveries in the admin (JSON API and page), the meeting-link redirect
and the booking notifications.

Thin adapters over `widget_api.reports` and `widget_api.delivery.outbox`; authentication is
the admin's own (Bearer token for the API, the signed cookie and CSRF token for the page).
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from pydantic import BaseModel, Field, ValidationError

from widget_api.delivery import outbox
from widget_api.errors import ApiError
from widget_api.reports import charts, export
from widget_api.reports.bookings import parse, record, verify
from widget_api.reports.funnel import FunnelReport, funnel
from widget_api.reports.latency import LatencyRow, latency
from widget_api.reports.questions import (
    TopQuestion,
    UnansweredReport,
    faq_draft,
    top_questions,
    unanswered,
)
from widget_api.reports.recorder import follow_link, widget_opened
from widget_api.reports.window import ReportQuery
from widget_api.routes import admin
from widget_api.routes.documented import (
    ADMIN_API,
    ADMIN_FORM,
    ADMIN_PAGE,
    CSV,
    HTML,
    LOGIN_FORM,
    SEE_OTHER,
    Answer,
    Decorator,
    documented,
)

bp = Blueprint("reports", __name__, template_folder="../templates")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TopQuestionsAnswer(BaseModel):
    questions: list[TopQuestion]


class LatencyAnswer(BaseModel):
    days: list[LatencyRow]


class DeadLetter(BaseModel):
    id: int
    event_id: str = Field(description="The webhook-id receivers dedupe on.")
    type: str
    endpoint: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str


class DeadLettersAnswer(BaseModel):
    dead_letters: list[DeadLetter]
    counts: dict[str, int] = Field(description="Deliveries per state: pending, delivered, dead.")


class RetryAnswer(BaseModel):
    retried: int


class RetryForm(BaseModel):
    csrf_token: str


class BookingAnswer(BaseModel):
    counted: bool = Field(description="False for other events and repeated notifications.")


def _api_report(summary: str, ok: Answer | type[BaseModel]) -> Decorator:
    return documented(summary, ok=ok, errors=(*ADMIN_API, "validation_failed"),
                      query=ReportQuery, security="adminToken", tags=("reports",))  # fmt: skip


def _page_report(summary: str, ok: Answer | type[BaseModel]) -> Decorator:
    return documented(summary, ok=ok, errors=(*ADMIN_PAGE, "admin_token_invalid",
                      "validation_failed"), query=ReportQuery, security="adminCookie",
                      tags=("reports",))  # fmt: skip


_FAQ = Answer("text/markdown", description="A FAQ draft (Markdown) download.")

_CSV = {
    "funnel": lambda db, emb, cid, q: export.funnel_csv(funnel(db, cid, q)),
    "top-questions": lambda db, emb, cid, q: export.top_csv(top_questions(db, cid, q)),
    "unanswered": lambda db, emb, cid, q: export.unanswered_csv(unanswered(db, emb, cid, q)),
    "latency": lambda db, emb, cid, q: export.latency_csv(latency(db, cid, q)),
}


def _services() -> Any:
    from widget_api.services import get_services

    return get_services(current_app)


def _report_query() -> ReportQuery:
    data = {k: v for k, v in request.args.items() if v != ""}
    try:
        return ReportQuery.model_validate(data)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")}) or ["since"]
        raise ApiError("validation_failed", details=[{"fields": fields}]) from None


def _download(body: str, mimetype: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


def _csv(name: str, company_id: str) -> Response:
    s = _services()
    body = _CSV[name](s.db, s.embedder, company_id, _report_query())
    return _download(body, "text/csv", f"{name}-{company_id}.csv")


def _faq(company: Any) -> Response:
    s = _services()
    report = unanswered(s.db, s.embedder, company.id, _report_query())
    return _download(faq_draft(report, company.display_name), "text/markdown",
                     f"faq-draft-{company.id}.md")  # fmt: skip


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/admin/<company_id>/reports/funnel")
@_api_report("Funnel counts per day or week.", FunnelReport)
def api_funnel(company_id: str) -> FunnelReport:
    """Funnel counts per day or week (`period`), zeros included."""
    admin._api_auth(company_id)
    return funnel(_services().db, company_id, _report_query())


@bp.get("/api/admin/<company_id>/reports/top-questions")
@_api_report("The most asked questions.", TopQuestionsAnswer)
def api_top_questions(company_id: str) -> TopQuestionsAnswer:
    """The most asked questions in the window."""
    admin._api_auth(company_id)
    rows = top_questions(_services().db, company_id, _report_query())
    return TopQuestionsAnswer(questions=rows)


@bp.get("/api/admin/<company_id>/reports/unanswered")
@_api_report("Unanswered questions grouped by meaning.", UnansweredReport)
def api_unanswered(company_id: str) -> UnansweredReport:
    """Unanswered questions grouped by meaning, with examples and the closest document."""
    admin._api_auth(company_id)
    s = _services()
    return unanswered(s.db, s.embedder, company_id, _report_query())


@bp.get("/api/admin/<company_id>/reports/latency")
@_api_report("Time to first audio per day (p50, p95).", LatencyAnswer)
def api_latency(company_id: str) -> LatencyAnswer:
    """Time to first audio per day: p50 and p95."""
    admin._api_auth(company_id)
    rows = latency(_services().db, company_id, _report_query())
    return LatencyAnswer(days=rows)


@bp.get("/api/admin/<company_id>/reports/funnel.csv", endpoint="api_funnel_csv")
@bp.get("/api/admin/<company_id>/reports/top-questions.csv", endpoint="api_top_csv")
@bp.get("/api/admin/<company_id>/reports/unanswered.csv", endpoint="api_unanswered_csv")
@bp.get("/api/admin/<company_id>/reports/latency.csv", endpoint="api_latency_csv")
@_api_report("A report (funnel, top questions, unanswered, latency) as CSV.", CSV)
def api_csv(company_id: str) -> Response:
    """A report as CSV."""
    admin._api_auth(company_id)
    return _csv(request.path.rsplit("/", 1)[1].removesuffix(".csv"), company_id)


@bp.get("/api/admin/<company_id>/reports/unanswered.md")
@_api_report("Unanswered questions, a FAQ draft, as Markdown.", _FAQ)
def api_faq(company_id: str) -> Response:
    """The unanswered questions as a Markdown FAQ draft."""
    return _faq(admin._api_auth(company_id))


@bp.get("/api/admin/<company_id>/webhooks/dead-letters")
@documented(
    "Webhook deliveries that gave up, and counts per state.",
    ok=DeadLettersAnswer,
    errors=ADMIN_API,
    security="adminToken",
    tags=("webhooks",),
)
def api_dead_letters(company_id: str) -> DeadLettersAnswer:
    """Webhook deliveries that gave up (newest first), and counts per state."""
    admin._api_auth(company_id)
    db = _services().db
    letters = [DeadLetter(**d.as_dict()) for d in outbox.list_deliveries(db, company_id)]
    return DeadLettersAnswer(dead_letters=letters, counts=outbox.count_by_state(db, company_id))


@bp.post("/api/admin/<company_id>/webhooks/dead-letters/<int:delivery_id>/retry")
@documented(
    "Send a dead letter again.",
    ok=RetryAnswer,
    errors=(*ADMIN_API, "delivery_not_found"),
    security="adminToken",
    tags=("webhooks",),
)
def api_retry(company_id: str, delivery_id: int) -> RetryAnswer:
    """Send a dead letter again (attempts start over)."""
    admin._api_auth(company_id)
    if not outbox.retry_dead(_services().db, company_id, _delivery_id(delivery_id)):
        raise ApiError("delivery_not_found")
    return RetryAnswer(retried=delivery_id)


def _delivery_id(value: int) -> int:
    if not 0 < value <= 2**31 - 1:  # ids come from URLs; beyond INTEGER the driver would fail
        raise ApiError("delivery_not_found")
    return value


# --- page --------------------------------------------------------------------------------------


@bp.get("/admin/<company_id>/reports")
@documented(
    "Reports page (login form when signed out).",
    ok={200: HTML, 401: LOGIN_FORM},
    errors=(*ADMIN_PAGE, "validation_failed"),
    query=ReportQuery,
    security="adminCookie",
    tags=("reports",),
)
def page(company_id: str) -> Any:
    """Funnel, questions, latency and webhook dead letters (login form when signed out)."""
    company = admin._company(company_id)
    session = admin._page_session(company)
    if session is None:
        return admin._login_page(company)
    s, q = _services(), _report_query()
    report = funnel(s.db, company_id, q)
    current = {k: v for k, v in request.args.items() if v}
    return render_template(
        "admin/reports.html", company=company, q=q, funnel=report,
        funnel_chart=charts.funnel_svg(report), series_chart=charts.series_svg(report),
        top=top_questions(s.db, company_id, q),
        unanswered=unanswered(s.db, s.embedder, company_id, q),
        latency=latency(s.db, company_id, q),
        dead=outbox.list_deliveries(s.db, company_id),
        counts=outbox.count_by_state(s.db, company_id),
        csrf_token=session.csrf_token, labels=charts.LABELS, args=current,
    )  # fmt: skip


@bp.get("/admin/<company_id>/reports/funnel.csv", endpoint="page_funnel_csv")
@bp.get("/admin/<company_id>/reports/top-questions.csv", endpoint="page_top_csv")
@bp.get("/admin/<company_id>/reports/unanswered.csv", endpoint="page_unanswered_csv")
@bp.get("/admin/<company_id>/reports/latency.csv", endpoint="page_latency_csv")
@_page_report("The page's CSV link of a report.", CSV)
def page_csv(company_id: str) -> Response:
    """The page's CSV links (cookie session)."""
    _page_auth(company_id)
    return _csv(request.path.rsplit("/", 1)[1].removesuffix(".csv"), company_id)


@bp.get("/admin/<company_id>/reports/unanswered.md")
@_page_report("The page's FAQ draft link.", _FAQ)
def page_faq(company_id: str) -> Response:
    """The page's "export as FAQ draft" link."""
    return _faq(_page_auth(company_id))


def _page_auth(company_id: str) -> Any:
    company = admin._company(company_id)
    if admin._page_session(company) is None:
        raise ApiError("admin_token_invalid")
    return company


@bp.post("/admin/<company_id>/webhooks/dead-letters/<int:delivery_id>/retry")
@documented(
    "The page's retry button.",
    ok={303: SEE_OTHER},
    body=RetryForm,
    form=True,
    errors=(*ADMIN_FORM, "delivery_not_found"),
    security="adminCookie",
    tags=("webhooks",),
)
def page_retry(company_id: str, delivery_id: int) -> Any:
    """The page's retry button; back to the reports page."""
    admin._page_form_auth(company_id)
    if not outbox.retry_dead(_services().db, company_id, _delivery_id(delivery_id)):
        raise ApiError("delivery_not_found")
    return redirect(url_for("reports.page", company_id=company_id) + "#webhooks", code=303)


# --- visitors and providers ------------------------------------------------------------------


@bp.get("/go/<token>")
@documented(
    "A meeting-link click: counted, then redirected.",
    ok={302: Answer(None, description="To the booking page.", headers=("Location",))},
    errors=("link_not_found", "not_found", "database_unavailable"),
    tags=("widget",),
)
def meeting_click(token: str) -> Any:
    """Count a meeting-link click, then on to the booking page."""
    # Tokens are url-safe base64; anything else (a NUL, say) never reaches the database.
    url = follow_link(_services().db, token) if _TOKEN.fullmatch(token) else None
    if url is None:
        raise ApiError("link_not_found")
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/hooks/<company_id>/bookings/<provider>")
@documented(
    "A signed Calendly (`calendly`) or Cal.com (`cal.com`) booking notification.",
    ok=BookingAnswer,
    errors=(
        "unknown_company",
        "not_found",
        "bookings_not_configured",
        "signature_invalid",
        "invalid_json",
        "validation_failed",
        "payload_too_large",
        "database_unavailable",
    ),
    headers=("Calendly-Webhook-Signature", "X-Cal-Signature-256"),
)
def booking_notice(company_id: str, provider: str) -> BookingAnswer:
    """A Calendly (`calendly`) or Cal.com (`cal.com`) booking notification, signed."""
    company = _services().companies.get(company_id)
    secret_env = company.meetings.booking_secret_env
    secret = os.environ.get(secret_env or "") if secret_env else None
    if (
        provider not in ("calendly", "cal.com")
        or provider != company.meetings.provider
        or not secret
    ):
        raise ApiError("bookings_not_configured")
    body = request.get_data(cache=False)
    verify(provider, secret, body, {k.lower(): v for k, v in request.headers.items()})
    notice = parse(provider, body)
    counted = notice is not None and record(_services().db, company_id, provider, notice)
    return BookingAnswer(counted=bool(counted))


@bp.after_app_request
def _count_widget_open(response: Response) -> Response:
    # The widget page loads once per visitor who opens the widget (the loader creates the
    # frame on first open): that load is the funnel's first stage.
    if request.endpoint == "widget.widget_page" and response.status_code == 200:
        company_id = (request.view_args or {}).get("company_id")
        if company_id:
            widget_opened(_services().db, company_id)
    return response


@bp.after_request
def _harden(response: Response) -> Response:
    # The admin's headers (strict CSP, no framing, no caching) on every route here too.
    return admin._harden(response)
