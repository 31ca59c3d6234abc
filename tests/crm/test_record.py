"""The conversation record, lead claims with evidence, forget/export and retention (both DBs)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from widget_api.crm.claims import lead_claims, log_lead_claims, record_meeting_link
from widget_api.crm.db import Database
from widget_api.crm.leads import LeadFields, get_lead
from widget_api.crm.models import Conversation, Lead, ToolCall, utcnow
from widget_api.crm.privacy import audit_entries, export_person, forget_person, purge_older_than
from widget_api.crm.record import (
    Line,
    append_lines,
    conversation_record,
    conversations_for_lead,
    end,
    record_context,
    start_or_resume,
    tool_line,
)
from widget_api.errors import DomainError


def _fields(**extra: str) -> LeadFields:
    return LeadFields(name=extra.pop("name", "Jane Doe"), email=extra.pop("email", "jane@x.io"),
                      interest=extra.pop("interest", "Pricing"), **extra)  # fmt: skip


def test_record_keeps_transcript_page_transports_and_outcome(db: Database) -> None:
    start_or_resume(db, company_id="acme", session_id="s1", transport="local-text", language="en")
    record_context(db, "s1", page_url="https://shop.example/pricing?x=1",
                   referrer="https://search.example/", privacy_accepted=True)  # fmt: skip
    append_lines(db, "acme", "s1", [Line("user", "What does Growth cost?"),
                                    Line("assistant", "Growth is $49 per agent.")])  # fmt: skip
    append_lines(db, "acme", "s1", [tool_line("c1", "create_meeting_link", "{}",
                                              '{"url": "https://cal/x"}', True)])  # fmt: skip
    start_or_resume(db, company_id="acme", session_id="s1", transport="relay-voice")
    record_context(db, "s1", page_url="https://shop.example/other", referrer=None,
                   privacy_accepted=True)  # fmt: skip
    record_meeting_link(db, "acme", "s1", None, "https://cal/x")
    end(db, "s1", reason="page_left")

    record = conversation_record(db, "s1")
    assert record is not None
    assert record.page_url == "https://shop.example/pricing?x=1"
    assert record.referrer == "https://search.example/"
    assert record.transports == ["local-text", "relay-voice"]
    assert record.language == "en" and record.turns == 1
    assert [line.role for line in record.transcript] == ["user", "assistant", "tool"]
    assert record.transcript[2].tool_name == "create_meeting_link"
    assert (record.outcome, record.end_reason) == ("meeting_link", "page_left")
    assert record.summary and "Growth" in record.summary
    assert record.privacy_accepted_at is not None and record.duration_seconds is not None


def test_booking_first_then_details_puts_link_and_facts_on_one_lead(db: Database) -> None:
    start_or_resume(db, company_id="acme", session_id="s1", transport="local-text")
    record_meeting_link(db, "acme", "s1", None, "https://cal/book")
    append_lines(db, "acme", "s1", [Line("user", "We have about 60 agents on Zendesk.")])
    lead = log_lead_claims(db, "acme", "s1", _fields(), channel="text")
    assert lead.meeting_link == "https://cal/book"
    assert lead.team_size == "about 60 agents"
    append_lines(db, "acme", "s1", [Line("user", "We'd like to start by next quarter.")])
    lead = get_lead(db, "acme", lead.id)
    assert lead.timeline == "by next quarter"
    evidence = {c.field: c.evidence for c in lead_claims(db, lead.id)}
    assert evidence["team_size"] == "We have about 60 agents on Zendesk."
    assert evidence["timeline"] == "We'd like to start by next quarter."
    assert [c.session_id for c in conversations_for_lead(db, lead.id)] == ["s1"]


def test_another_conversation_adds_but_does_not_overwrite(db: Database) -> None:
    first = log_lead_claims(db, "acme", "s1", _fields(company="Initech"), channel="text")
    second = log_lead_claims(
        db, "acme", "s2", _fields(name="Mallory", company="Evil Corp", team_size="5 agents"),
        channel="text",
    )
    assert second.id == first.id
    assert (second.name, second.company, second.team_size) == ("Jane Doe", "Initech", "5 agents")
    conflicts = {(c.field, c.value) for c in lead_claims(db, first.id) if c.conflict}
    assert conflicts == {("name", "Mallory"), ("company", "Evil Corp")}
    # The lead's own conversation may correct itself.
    again = log_lead_claims(db, "acme", "s1", _fields(company="Initrode"), channel="text")
    assert again.company == "Initrode"


def test_log_lead_is_capped_per_conversation(db: Database) -> None:
    for i in range(3):
        log_lead_claims(db, "acme", "s1", _fields(email=f"v{i}@x.io"), channel="text",
                        max_updates=3)  # fmt: skip
    try:
        log_lead_claims(db, "acme", "s1", _fields(email="v9@x.io"), channel="text", max_updates=3)
    except DomainError as exc:
        assert exc.code == "lead_update_limit"
    else:
        raise AssertionError("the fourth log_lead was accepted")
    with db.session(readonly=True) as session:
        assert session.scalar(select(Lead).where(Lead.email == "v9@x.io")) is None


def _person_data(db: Database) -> int:
    start_or_resume(db, company_id="acme", session_id="s1", transport="local-text")
    append_lines(db, "acme", "s1", [Line("user", "I'm Jane, jane@x.io, 12 agents")])
    lead = log_lead_claims(db, "acme", "s1", _fields(), channel="text")
    with db.session() as session:
        session.add(ToolCall(company_id="acme", session_id="s1", call_id="c1", name="log_lead",
                             arguments='{"email": "jane@x.io"}', output="{}", state="done"))
    log_lead_claims(db, "acme", "s9", _fields(name="Other", email="other@x.io"), channel="text")
    return lead.id


def test_export_person_holds_lead_conversations_claims_and_tool_calls(db: Database) -> None:
    _person_data(db)
    data = export_person(db, "acme", "JANE@x.io")
    assert [lead["email"] for lead in data["leads"]] == ["jane@x.io"]
    assert [c["session_id"] for c in data["conversations"]] == ["s1"]
    assert data["conversations"][0]["transcript"][0]["text"].startswith("I'm Jane")
    assert {c["field"] for c in data["claims"]} >= {"team_size", "name"}
    assert [t["call_id"] for t in data["tool_calls"]] == ["c1"]


def test_forget_person_deletes_everything_and_audits_without_personal_data(db: Database) -> None:
    _person_data(db)
    counts = forget_person(db, "acme", "jane@x.io")
    assert counts["leads"] == 1 and counts["conversations"] == 1 and counts["tool_calls"] == 1
    data = export_person(db, "acme", "jane@x.io")
    assert data["leads"] == data["conversations"] == data["claims"] == data["tool_calls"] == []
    assert conversation_record(db, "s1") is None
    assert export_person(db, "acme", "other@x.io")["leads"]  # someone else is untouched
    [audit] = audit_entries(db)
    assert audit["action"] == "forget" and "jane" not in str(audit).lower()


def test_retention_purges_old_conversations_and_leads(db: Database) -> None:
    _person_data(db)
    start_or_resume(db, company_id="acme", session_id="fresh", transport="local-text")
    old = utcnow() - timedelta(days=40)
    with db.session() as session:
        session.execute(update(Conversation).where(Conversation.session_id == "s1")
                        .values(started_at=old))  # fmt: skip
        session.execute(update(ToolCall).values(created_at=old))
        session.execute(update(Lead).where(Lead.email == "jane@x.io").values(updated_at=old))
    counts = purge_older_than(db, 30)
    assert counts["conversations"] == 1 and counts["leads"] == 1
    assert conversation_record(db, "s1") is None
    assert conversation_record(db, "fresh") is not None
    assert export_person(db, "acme", "other@x.io")["leads"]
    assert audit_entries(db)[0]["action"] == "purge"


def test_forget_finds_a_conversation_that_only_mentioned_the_email(db: Database) -> None:
    start_or_resume(db, company_id="acme", session_id="s-said", transport="relay-voice")
    append_lines(db, "acme", "s-said", [Line("user", "You can write to Jane@X.io later")])
    counts = forget_person(db, "acme", "jane@x.io")
    assert counts["conversations"] == 1 and counts["transcript_entries"] == 1
    assert conversation_record(db, "s-said") is None


def test_the_visitors_browser_language_replaces_the_companys_and_bad_tags_are_ignored(
    db: Database,
) -> None:
    start_or_resume(db, company_id="acme", session_id="s-lang", transport="local-text",
                    language="en")  # fmt: skip
    record_context(db, "s-lang", page_url=None, referrer=None, privacy_accepted=False,
                   language="de-CH")  # fmt: skip
    record = conversation_record(db, "s-lang")
    assert record is not None and record.language == "de-CH"
    for junk in ("x", "de_CH", "en-US; drop table", "a" * 40, "zh-Hant-TW-x-private-use"):
        record_context(db, "s-lang", page_url=None, referrer=None, privacy_accepted=False,
                       language=junk)  # fmt: skip
    record = conversation_record(db, "s-lang")
    assert record is not None and record.language == "de-CH"
