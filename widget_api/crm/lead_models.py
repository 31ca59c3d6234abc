"""The CRM's lead models, built from the one field table (`vocabulary.LEAD_FIELDS`).

`LeadFields` is what a visitor told us, validated and normalized; `LeadView` is a stored lead as
sales sees it (CLI, admin page, JSON API, exports, webhooks). Both are generated from the table
so a new field needs one declaration there (plus its column and migration), not an edit here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator
from pydantic.config import JsonDict

from widget_api.vocabulary import LEAD_FIELDS, LeadFieldSpec

_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")


class InvalidEmail(ValueError):
    """The email cannot be a deliverable-looking address; maps to `lead_email_invalid`."""

    code = "lead_email_invalid"


class InvalidPhone(ValueError):
    """The phone number is not a plausible international or national number."""

    code = "lead_phone_invalid"


def normalize_email(raw: str) -> str:
    """Lower-cased, stripped, syntax-checked email (no DNS lookups: we run offline)."""
    candidate = raw.strip()
    if not candidate or len(candidate) > 320:
        raise InvalidEmail("email is empty or too long")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail("email is not a valid address") from exc
    return checked.normalized.lower()


def normalize_phone(raw: str | None) -> str | None:
    """`+<7-15 digits>` (E.164-like) or a national number of 6-15 digits; None when empty.

    Spoken numbers arrive with spaces, dashes, dots and parentheses; `00` is the international
    prefix. Letters (other than an `ext`/`x` extension, which is dropped) are rejected.
    """
    if raw is None or not raw.strip():
        return None
    text = re.split(r"(?i)\s*(?:ext\.?|x)\s*\d+\s*$", raw.strip())[0]
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact[1:] if international else compact
    if not digits.isdigit() or not digits.isascii():
        raise InvalidPhone("phone has characters other than digits and separators")
    low = 7 if international else 6
    if not low <= len(digits) <= 15:
        raise InvalidPhone("phone has too few or too many digits")
    return ("+" if international else "") + digits


def number_as_text(value: Any) -> Any:
    """Models often send a bare number (a team size); the field is text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def input_field(spec: LeadFieldSpec, *, required: bool, described: bool = False) -> Any:
    """`(type, FieldInfo)` for one input field; optional fields default to None."""
    extra: dict[str, Any] = {"description": spec.description} if described else {}
    if required:
        return (str, Field(min_length=spec.min_length, max_length=spec.max_length, **extra))
    return (str | None, Field(None, max_length=spec.max_length, **extra))


class LeadFieldsBase(BaseModel):
    """What a visitor told us; strings stripped, empty optional fields become None."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")
    specs: ClassVar[dict[str, LeadFieldSpec]] = {}  # the table this model was built from

    if TYPE_CHECKING:  # every lead has these two (the table marks them required)
        name: str
        email: str

    @field_validator("*", mode="before")
    @classmethod
    def _prepare(cls, value: Any, info: ValidationInfo) -> Any:
        spec = cls.specs.get(info.field_name or "")
        if spec is not None and spec.accepts_number:
            value = number_as_text(value)
        return value if spec is None or spec.required else _blank_to_none(value)

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value)


def lead_fields_model(specs: tuple[LeadFieldSpec, ...]) -> type[LeadFieldsBase]:
    fields = {s.name: input_field(s, required=s.required) for s in specs}
    model = create_model("LeadFields", __base__=LeadFieldsBase, __module__=__name__, **fields)
    model.specs = {s.name: s for s in specs}
    return model


class LeadViewBase(BaseModel):
    """A lead as shown to sales (CLI, admin page, JSON API, exports)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    if TYPE_CHECKING:
        id: int
        company_id: str
        name: str
        email: str
        session_id: str | None
        status: str
        channel: str
        meeting_link: str | None
        created_at: datetime
        updated_at: datetime

        def __getattr__(self, name: str) -> str | None: ...  # the other lead fields


def _record_fields() -> tuple[dict[str, Any], dict[str, Any]]:
    """The stored lead's own columns (not visitor input): before and after the fields."""
    head = {"id": (int, ...), "company_id": (str, ...)}
    tail = {
        "channel": (str, ...),
        "session_id": (str | None, ...),
        "status": (str, ...),
        "meeting_link": (str | None, ...),
        "created_at": (datetime, ...),
        "updated_at": (datetime, ...),
    }
    return head, tail


RECORD_COLUMNS = tuple(name for part in _record_fields() for name in part)


def _view_field(spec: LeadFieldSpec) -> Any:
    # Personal data is marked in the schema (OpenAPI): forget/export/retention must reach it.
    extra: JsonDict | None = {"x-personal-data": True} if spec.personal else None
    if spec.required:
        return (str, Field(description=spec.label, json_schema_extra=extra))
    return (str | None, Field(None, description=spec.label, json_schema_extra=extra))


def lead_view_model(specs: tuple[LeadFieldSpec, ...]) -> type[LeadViewBase]:
    head, tail = _record_fields()
    fields = {s.name: _view_field(s) for s in specs}
    return create_model(
        "LeadView", __base__=LeadViewBase, __module__=__name__, **head, **fields, **tail
    )


def export_columns(specs: tuple[LeadFieldSpec, ...]) -> tuple[str, ...]:
    """The CSV/JSON export columns: the lead's id and company, its fields, then its record."""
    head, tail = _record_fields()
    return (*head, *(s.name for s in specs if s.exported), *tail)


if TYPE_CHECKING:
    LeadFields = LeadFieldsBase
    LeadView = LeadViewBase
else:
    LeadFields = lead_fields_model(LEAD_FIELDS)
    LeadView = lead_view_model(LEAD_FIELDS)
EXPORT_COLUMNS = export_columns(LEAD_FIELDS)
# Columns a returning visitor may update; an empty new value never erases a stored one.
UPDATABLE_FIELDS = tuple(s.name for s in LEAD_FIELDS if not s.required)
