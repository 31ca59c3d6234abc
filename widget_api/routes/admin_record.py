"""What sales receives per lead: the record page and its JSON, and per-person privacy actions.

Thin adapters over `crm.record` and `crm.privacy`, authenticated exactly like the leads page
and API in `routes.admin` (cookie session + CSRF for the page, Bearer token for the API).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from widget_api.crm.privacy import export_person, forget_person
from widget_api.crm.record import QUALIFICATION_LABELS, lead_record
from widget_api.errors import ApiError
from widget_api.routes import admin
from widget_api.routes.documented import (
    ADMIN_API,
    ADMIN_FORM,
    ADMIN_PAGE,
    HTML,
    JSON,
    LOGIN_FORM,
    SEE_OTHER,
    Answer,
    documented,
)

bp = Blueprint("admin_record", __name__, template_folder="../templates")


class PersonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^\x00\s]+@[^\x00\s]+$")


class PersonForm(BaseModel):
    """The page's forget form (urlencoded)."""

    email: str = Field(description="The person to forget.")
    csrf_token: str


class ForgetAnswer(BaseModel):
    deleted: dict[str, int] = Field(description="Rows removed per table (no personal data).")


PERSON_JSON = Answer(JSON, description="The person's data as JSON.")


def _person(data: Any) -> PersonRequest:
    return admin._validated(PersonRequest, data)


def _download(company_id: str, email: str) -> Response:
    body = json.dumps(export_person(admin._services().db, company_id, email), indent=2,
                      ensure_ascii=False)  # fmt: skip
    disposition = f'attachment; filename="person-{company_id}.json"'
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": disposition})  # fmt: skip


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/admin/<company_id>/leads/<int:lead_id>/record")
@documented(
    "A lead with each value's evidence, claims (conflicts marked) and conversations.",
    ok=Answer(JSON, description="Lead, evidence, claims, conversations."),
    errors=(*ADMIN_API, "lead_not_found"),
    security="adminToken",
    tags=("admin",),
)
def api_lead_record(company_id: str, lead_id: int) -> Any:
    """The lead with evidence, claims (conflicts marked) and conversations with transcripts."""
    admin._api_auth(company_id)
    return lead_record(admin._services().db, company_id, lead_id).as_json()


@bp.get("/api/admin/<company_id>/people/export")
@documented(
    "Everything held about one person, by email.",
    ok=PERSON_JSON,
    query=PersonRequest,
    errors=(*ADMIN_API, "validation_failed"),
    security="adminToken",
    tags=("admin",),
)
def api_export_person(company_id: str) -> Response:
    """Everything held about one person (`?email=`), as JSON."""
    admin._api_auth(company_id)
    return _download(company_id, _person(dict(request.args)).email)


@bp.post("/api/admin/<company_id>/people/forget")
@documented(
    "Delete one person's lead, conversations, transcripts and tool calls.",
    ok=ForgetAnswer,
    body=PersonRequest,
    errors=(*ADMIN_API, "invalid_json", "validation_failed", "payload_too_large"),
    security="adminToken",
    tags=("admin",),
)
def api_forget_person(company_id: str) -> ForgetAnswer:
    """Delete one person (body `{"email": ...}`): lead, conversations, transcripts, tool calls."""
    admin._api_auth(company_id)
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError("invalid_json")
    counts = forget_person(admin._services().db, company_id, _person(body).email)
    return ForgetAnswer(deleted=counts)


# --- page --------------------------------------------------------------------------------------


@bp.get("/admin/<company_id>/leads/<int:lead_id>")
@documented(
    "One lead's page (login form when signed out).",
    ok={200: HTML, 401: LOGIN_FORM},
    errors=(*ADMIN_PAGE, "lead_not_found"),
    security="adminCookie",
    tags=("admin",),
)
def lead_page(company_id: str, lead_id: int) -> Any:
    """One lead as sales sees it: values with the visitor's words, conflicts, conversations."""
    company = admin._company(company_id)
    session = admin._page_session(company)
    if session is None:
        return admin._login_page(company)
    record = lead_record(admin._services().db, company_id, lead_id)
    return render_template(
        "admin/lead.html", company=company, lead=record.lead.model_dump(), evidence=record.evidence,
        claims=record.claims, conflicts=record.conflicts, conversations=record.conversations,
        fields=QUALIFICATION_LABELS, csrf_token=session.csrf_token,
    )  # fmt: skip


@bp.get("/admin/<company_id>/people/export")
@documented(
    "The page's export of one person.",
    ok=PERSON_JSON,
    query=PersonRequest,
    errors=(*ADMIN_PAGE, "admin_token_invalid", "validation_failed"),
    security="adminCookie",
    tags=("admin",),
)
def page_export_person(company_id: str) -> Response:
    """The page's export link (cookie session)."""
    company = admin._company(company_id)
    if admin._page_session(company) is None:
        raise ApiError("admin_token_invalid")
    return _download(company_id, _person(dict(request.args)).email)


@bp.post("/admin/<company_id>/people/forget")
@documented(
    "The page's forget form.",
    ok={303: SEE_OTHER},
    body=PersonForm,
    form=True,
    errors=(*ADMIN_FORM, "validation_failed"),
    security="adminCookie",
    tags=("admin",),
)
def page_forget_person(company_id: str) -> Any:
    """The page's forget form; back to the listing afterwards."""
    admin._page_form_auth(company_id)
    person = _person({"email": request.form.get("email")})
    forget_person(admin._services().db, company_id, person.email)
    return redirect(url_for("admin.page", company_id=company_id, forgotten=1), code=303)


bp.after_request(admin._harden)
