"""Lead fields are declared once (`vocabulary.LEAD_FIELDS`); everything else follows the table.

The proof of the issue ("a new lead field is added in one place"): a copy of the package gets
one new line in that table, and the tool schema, both validations, the export, the OpenAPI
document and the company config all carry the new field. The `leads` table is physical schema
(made by the migrations), so it is the one other edit; the ORM test below names it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, Text

import widget_api
from widget_api.companies.models import CompanyConfig
from widget_api.crm.export import EXPORT_COLUMNS
from widget_api.crm.lead_models import RECORD_COLUMNS
from widget_api.crm.leads import LeadFields, LeadView
from widget_api.crm.models import Lead
from widget_api.crm.record import QUALIFICATION_LABELS
from widget_api.openapi import build_openapi
from widget_api.tools import log_lead
from widget_api.tools.schema import parameters_schema
from widget_api.vocabulary import LEAD_FIELDS, LeadFieldSpec

NEW_FIELD = (
    '    LeadFieldSpec("industry", "Industry", "The visitor\'s industry, e.g. retail.", 120, 120,'
    " qualification=True),\n"
)


def orm_disagreements(specs: tuple[LeadFieldSpec, ...], columns: dict[str, Any]) -> list[str]:
    """Fields whose `leads` column is missing or differs from the table (type, null, length)."""
    out = []
    for spec in specs:
        column = columns.get(spec.name)
        if column is None:
            out.append(f"{spec.name}: no column")
            continue
        if column.nullable == spec.required:
            out.append(f"{spec.name}: nullable={column.nullable}")
        wanted = Text if spec.column_length is None else String
        length = getattr(column.type, "length", None)
        if type(column.type) is not wanted or length != spec.column_length:
            out.append(f"{spec.name}: {column.type!r}")
    return out


def test_the_leads_table_matches_the_declared_fields() -> None:
    columns = dict(Lead.__table__.columns.items())
    assert orm_disagreements(LEAD_FIELDS, columns) == []
    assert set(columns) - {s.name for s in LEAD_FIELDS} == {*RECORD_COLUMNS, "email_normalized"}


def test_every_field_reaches_the_tool_the_crm_the_export_and_the_api() -> None:
    names = [s.name for s in LEAD_FIELDS]
    lead_view = build_openapi()["components"]["schemas"]["LeadView"]["properties"]
    assert list(parameters_schema(log_lead.Args)["properties"]) == names
    assert list(LeadFields.model_fields) == names
    assert [n for n in LeadView.model_fields if n in names] == names
    assert [n for n in EXPORT_COLUMNS if n in names] == names
    assert set(names) <= set(lead_view)


def test_the_openapi_document_marks_personal_lead_fields() -> None:
    lead_view = build_openapi()["components"]["schemas"]["LeadView"]["properties"]
    marked = {name for name, prop in lead_view.items() if prop.get("x-personal-data")}
    assert marked == {s.name for s in LEAD_FIELDS if s.personal}


def test_the_tool_schema_describes_and_bounds_every_field() -> None:
    schema = parameters_schema(log_lead.Args)
    for spec in LEAD_FIELDS:
        prop = schema["properties"][spec.name]
        assert (prop["description"], prop["maxLength"]) == (spec.description, spec.max_length)
    assert schema["required"] == [s.name for s in LEAD_FIELDS if s.tool_required]


def test_companies_may_require_the_requirable_fields_only() -> None:
    enum = CompanyConfig.model_json_schema()["properties"]["required_lead_fields"]["items"]["enum"]
    assert enum == [s.name for s in LEAD_FIELDS if s.requirable]


def test_the_lead_page_shows_the_qualification_fields_with_their_labels() -> None:
    assert tuple((s.name, s.label) for s in LEAD_FIELDS if s.qualification) == QUALIFICATION_LABELS


# --- the proof: one new line in the table --------------------------------------------------

_PROBE = r"""
import json, sys
from widget_api import vocabulary
from widget_api.companies.models import CompanyConfig
from widget_api.crm.export import leads_to_csv
from widget_api.crm.lead_models import LeadView
from widget_api.crm.leads import validate_lead_fields
from widget_api.crm.models import Lead
from widget_api.crm.record import QUALIFICATION_LABELS
from widget_api.errors import DomainError
from widget_api.openapi import build_openapi
from widget_api.tools import log_lead
from widget_api.tools.schema import parameters_schema

args = {"name": "Ada", "email": "ada@example.com", "interest": "A helpdesk."}
out = {"vocabulary": vocabulary.__file__}
out["tool_schema"] = parameters_schema(log_lead.Args)["properties"].get("industry")
out["tool_accepts"] = log_lead.Args.model_validate({**args, "industry": " Retail "}).model_dump()
try:
    log_lead.Args.model_validate({**args, "industry": "x" * 121})
    out["tool_rejects_long"] = False
except ValueError:
    out["tool_rejects_long"] = True
out["crm_keeps"] = validate_lead_fields({**args, "industry": " Retail "}).model_dump()
out["crm_blank"] = validate_lead_fields({**args, "industry": "  "}).model_dump()
try:
    validate_lead_fields({**args, "industry": "x" * 121})
except DomainError as exc:
    out["crm_rejects_long"] = exc.details
row = {"id": 1, "company_id": "acme", "channel": "text", "session_id": None, "status": "new",
       "meeting_link": None, "created_at": "2026-01-01T00:00:00Z",
       "updated_at": "2026-01-01T00:00:00Z", "industry": "Retail", **args}
out["csv"] = leads_to_csv([LeadView.model_validate(row)]).splitlines()
out["openapi"] = build_openapi()["components"]["schemas"]["LeadView"]["properties"].get("industry")
schema = CompanyConfig.model_json_schema()
out["requirable"] = schema["properties"]["required_lead_fields"]["items"]["enum"]
out["qualification"] = dict(QUALIFICATION_LABELS)
out["orm_columns"] = list(Lead.__table__.columns.keys())
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def with_new_field(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a copy of the package, with one more line in LEAD_FIELDS, builds from it."""
    root = tmp_path_factory.mktemp("one_edit")
    package = root / "widget_api"
    shutil.copytree(Path(widget_api.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    vocabulary = package / "vocabulary.py"
    source = vocabulary.read_text(encoding="utf-8")
    anchor = '    LeadFieldSpec("notes",'
    assert source.count(anchor) == 1
    vocabulary.write_text(source.replace(anchor, NEW_FIELD + anchor), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    assert Path(result["vocabulary"]).resolve() == vocabulary.resolve()
    return result


def test_a_new_field_reaches_the_tool_schema(with_new_field: dict[str, Any]) -> None:
    schema = with_new_field["tool_schema"]
    assert schema == {"type": "string", "maxLength": 120,
                      "description": "The visitor's industry, e.g. retail."}  # fmt: skip


def test_a_new_field_is_validated_by_the_tool(with_new_field: dict[str, Any]) -> None:
    assert with_new_field["tool_accepts"]["industry"] == "Retail"
    assert with_new_field["tool_rejects_long"] is True


def test_a_new_field_is_validated_and_normalized_by_the_crm(with_new_field: dict[str, Any]) -> None:
    assert with_new_field["crm_keeps"]["industry"] == "Retail"
    assert with_new_field["crm_blank"]["industry"] is None
    assert with_new_field["crm_rejects_long"] == [{"fields": ["industry"]}]


def test_a_new_field_is_an_export_column(with_new_field: dict[str, Any]) -> None:
    header, row = (line.split(",") for line in with_new_field["csv"])
    assert header.index("industry") == header.index("notes") - 1
    assert row[header.index("industry")] == "Retail"


def test_a_new_field_is_in_the_openapi_document(with_new_field: dict[str, Any]) -> None:
    assert with_new_field["openapi"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Industry",
        "description": "Industry", "x-personal-data": True,
    }  # fmt: skip


def test_a_new_field_reaches_company_configs_and_qualification(
    with_new_field: dict[str, Any],
) -> None:
    assert "industry" in with_new_field["requirable"]
    assert with_new_field["qualification"]["industry"] == "Industry"


def test_a_new_field_needs_its_column_and_migration_as_the_one_other_edit(
    with_new_field: dict[str, Any],
) -> None:
    # The table is physical schema: the ORM column and a migration are added by hand, and
    # test_the_leads_table_matches_the_declared_fields fails until they are.
    columns = set(with_new_field["orm_columns"])
    assert "industry" not in columns
    assert {s.name for s in LEAD_FIELDS} <= columns
