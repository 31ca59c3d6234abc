"""CSV and JSON exports: every lead, every column, spreadsheet-safe."""

from __future__ import annotations

import csv
import io
import json

import pytest

from widget_api.crm.db import Database
from widget_api.crm.export import EXPORT_COLUMNS, leads_to_csv, leads_to_json, safe_cell
from widget_api.crm.leads import LeadFields, list_leads, upsert_lead


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Initech", "Initech"),
        (None, ""),
        (42, "42"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_quoted(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def _seed(db: Database) -> None:
    upsert_lead(db, "acme", LeadFields(name="=cmd|' /C calc'!A0", email="a@example.com",
                                       company="@evil", notes='multi\nline, "quoted"'),
                session_id="s", channel="voice")  # fmt: skip
    upsert_lead(db, "acme", LeadFields(name="Bob", email="b@example.com", phone="+1 415 555 0123"),
                session_id=None, channel="text")  # fmt: skip


def test_csv_export_has_every_lead_and_no_live_formulas(db: Database) -> None:
    _seed(db)
    rows = list(csv.DictReader(io.StringIO(leads_to_csv(list_leads(db, sort="email")))))
    assert len(rows) == 2 and tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0]["name"] == "'=cmd|' /C calc'!A0" and rows[0]["company"] == "'@evil"
    assert rows[0]["notes"] == 'multi\nline, "quoted"'
    assert rows[1]["phone"] == "'+14155550123"
    assert not any(v.startswith(("=", "+", "-", "@")) for row in rows for v in row.values())


def test_json_export_round_trips_values_unmodified(db: Database) -> None:
    _seed(db)
    data = json.loads(leads_to_json(list_leads(db, sort="email")))
    assert [d["email"] for d in data] == ["a@example.com", "b@example.com"]
    assert data[0]["name"] == "=cmd|' /C calc'!A0"
    assert data[0]["created_at"].endswith(("+00:00", "Z"))
