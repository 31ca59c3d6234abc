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

bp = Blueprint("admin_record", __name__, template_folder="../templates")


class PersonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^\x00\s]+@[^\x00\s]+$")


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
def api_lead_record(company_id: str, lead_id: int) -> Any:
    """The lead with evidence, claims (conflicts marked) and conversations with transcripts."""
    admin._api_auth(company_id)
    return lead_record(admin._services().db, company_id, lead_id).as_json()


@bp.get("/api/admin/<company_id>/people/export")
def api_export_person(company_id: str) -> Response:
    """Everything held about one person (`?email=`), as JSON."""
    admin._api_auth(company_id)
    return _download(company_id, _person(dict(request.args)).email)


@bp.post("/api/admin/<company_id>/people/forget")
def api_forget_person(company_id: str) -> Any:
    """Delete one person (body `{"email": ...}`): lead, conversations, transcripts, tool calls."""
    admin._api_auth(company_id)
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError("invalid_json")
    counts = forget_person(admin._services().db, company_id, _person(body).email)
    return {"deleted": counts}


# --- page --------------------------------------------------------------------------------------


@bp.get("/admin/<company_id>/leads/<int:lead_id>")
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
def page_export_person(company_id: str) -> Response:
    """The page's export link (cookie session)."""
    company = admin._company(company_id)
    if admin._page_session(company) is None:
        raise ApiError("admin_token_invalid")
    return _download(company_id, _person(dict(request.args)).email)


@bp.post("/admin/<company_id>/people/forget")
def page_forget_person(company_id: str) -> Any:
    """The page's forget form; back to the listing afterwards."""
    admin._page_form_auth(company_id)
    person = _person({"email": request.form.get("email")})
    forget_person(admin._services().db, company_id, person.email)
    return redirect(url_for("admin.page", company_id=company_id, forgotten=1), code=303)


bp.after_request(admin._harden)
