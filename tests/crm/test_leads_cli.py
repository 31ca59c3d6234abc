"""The `leads` CLI: output and exit codes, against the same databases as the library."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from widget_api.crm.cli import main
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, get_lead, upsert_lead


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    """Two leads; the CLI finds the database through DATABASE_URL like the server does."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("COLUMNS", "200")
    ann = LeadFields(name="Ann [bold]Lee[/bold]", email="ann@initech.example", company="Initech")
    bob = LeadFields(name="Bob", email="bob@hooli.example", company="=Hooli")
    upsert_lead(db, "acme", ann, session_id="s1", channel="voice")
    upsert_lead(db, "globex", bob, session_id="s2", channel="text")
    return db


def test_list_shows_a_table_of_leads(cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ann@initech.example" in out and "bob@hooli.example" in out
    assert "[bold]Lee[/bold]" in out  # visitor text is shown literally, never as markup
    assert "2 lead(s)" in out


@pytest.mark.parametrize(
    ("args", "emails"),
    [
        (["--company", "globex"], ["bob@hooli.example"]),
        (["--search", "INITECH"], ["ann@initech.example"]),
        (["--status", "qualified"], []),
        (["--since", "2000-01-01", "--until", "2999-12-31", "--sort", "email"],
         ["ann@initech.example", "bob@hooli.example"]),
    ],
)  # fmt: skip
def test_list_filters_as_json(
    cli_db: Database, capsys: pytest.CaptureFixture[str], args: list[str], emails: list[str]
) -> None:
    assert main(["list", "--json", *args]) == 0
    assert [lead["email"] for lead in json.loads(capsys.readouterr().out)] == emails


def test_show_and_set_status(cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["email"] == "ann@initech.example"
    assert main(["set-status", "1", "contacted"]) == 0
    assert "contacted" in capsys.readouterr().out
    assert get_lead(cli_db, None, 1).status == "contacted"


def test_export_csv_to_a_file(
    cli_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "leads.csv"
    assert main(["export", "--format", "csv", "--output", str(target), "--sort", "email"]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["email"] for r in rows] == ["ann@initech.example", "bob@hooli.example"]
    assert rows[1]["company"] == "'=Hooli"
    assert "wrote 2 lead(s)" in capsys.readouterr().err


def test_export_json_to_stdout(cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "json", "--company", "acme"]) == 0
    assert [d["company"] for d in json.loads(capsys.readouterr().out)] == ["Initech"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["show", "999"], 1),
        (["set-status", "999", "qualified"], 1),
        (["set-status", "1", "won"], 2),
        (["show", "abc"], 2),
        (["list", "--since", "yesterday"], 2),
        (["list", "--status", "hot"], 2),
        (["list", "--sort", "password"], 2),
        (["export", "--format", "xml"], 2),
        (["export"], 2),
        (["frobnicate"], 2),
        ([], 2),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(
    cli_db: Database, capsys: pytest.CaptureFixture[str], args: list[str], code: int
) -> None:
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("leads") and "error" in err and len(err.splitlines()) == 1


def test_unreachable_database_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert main(["--database-url", url, "list"]) == 1
    assert (
        capsys.readouterr().err.strip() == "leads: error: database unavailable (OperationalError)"
    )


def test_show_prints_the_record_with_evidence_and_transcript(
    cli_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    from widget_api.crm.claims import log_lead_claims
    from widget_api.crm.record import Line, append_lines, start_or_resume

    start_or_resume(cli_db, company_id="acme", session_id="s9", transport="local-text")
    append_lines(cli_db, "acme", "s9", [Line("user", "We are a team of 12 on Zendesk.")])
    lead = log_lead_claims(cli_db, "acme", "s9",
                           LeadFields(name="Cy", email="cy@x.example"), channel="text")  # fmt: skip
    assert main(["show", str(lead.id)]) == 0
    out = capsys.readouterr().out
    assert "team of 12" in out and "We are a team of 12 on Zendesk." in out and "local-text" in out
    assert main(["show", str(lead.id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["email"] == "cy@x.example" and data["conversations"][0]["transcript"]


def test_export_person_forget_and_purge(
    cli_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "ann.json"
    assert main(["export-person", "ann@initech.example", "--output", str(target)]) == 0
    assert json.loads(target.read_text())["leads"][0]["name"] == "Ann [bold]Lee[/bold]"
    assert main(["forget", "ANN@initech.example"]) == 0
    assert "1 leads" in capsys.readouterr().out
    assert main(["export-person", "ann@initech.example"]) == 0
    assert json.loads(capsys.readouterr().out)["leads"] == []
    assert main(["purge"]) == 2  # no retention configured and no --days
    assert main(["purge", "--days", "30"]) == 0  # Bob is recent: kept
    assert main(["show", "2", "--json"]) == 0
