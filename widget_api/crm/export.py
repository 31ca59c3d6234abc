"""Lead exports for sales: CSV (spreadsheet-safe) and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from widget_api.crm.lead_models import EXPORT_COLUMNS, LeadView

# A spreadsheet evaluates a cell starting with these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell text, quoted with a leading `'` when a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def leads_to_csv(leads: Iterable[LeadView]) -> str:
    out = io.StringIO()
    write_csv(leads, out)
    return out.getvalue()


def write_csv(leads: Iterable[LeadView], out: io.TextIOBase | Any) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for lead in leads:
        data = lead.model_dump()
        writer.writerow([safe_cell(data[column]) for column in EXPORT_COLUMNS])


def leads_to_json(leads: Iterable[LeadView]) -> str:
    """A JSON array of leads (ISO 8601 UTC timestamps), values unmodified."""
    rows = [lead.model_dump(mode="json") for lead in leads]
    return json.dumps(rows, ensure_ascii=False, indent=2)
