"""Each tool against real parts: Chroma with the demo docs, the real model, SQLite."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from knowledge import KnowledgeBase, KnowledgeConfig
from widget_api.companies import CompanyConfig, MeetingConfig
from widget_api.crm.models import Lead
from widget_api.services import Services
from widget_api.settings import Settings
from widget_api.tools.registry import Outcome, ToolContext, ToolRunner


@pytest.fixture
def acme(base_services: Services) -> CompanyConfig:
    return base_services.companies.get("acme")


@pytest.fixture
def ctx(acme: CompanyConfig) -> ToolContext:
    return ToolContext(company=acme, session_id="ws_" + uuid.uuid4().hex, channel="voice")


def call(
    services: Services, ctx: ToolContext, name: str, args: Any, call_id: str | None = None
) -> Outcome:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return services.tools.run(ctx, call_id or uuid.uuid4().hex, name, arguments)


def lead_count(services: Services, email: str) -> int:
    with services.db.session() as session:
        return session.scalar(
            select(func.count()).select_from(Lead).where(Lead.email_normalized == email)
        )


# --- search_knowledge -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "source", "fact"),
    [
        ("How much does the Growth plan cost per agent?", "pricing.md", "$69"),
        ("Do you support single sign-on with Okta?", "security.md", "SAML"),
        (
            "Does the Salesforce integration sync contacts and accounts?",
            "integrations.md",
            "Salesforce",
        ),
    ],
)
def test_search_knowledge_finds_the_passage(
    base_services: Services, ctx: ToolContext, query: str, source: str, fact: str
) -> None:
    outcome = call(base_services, ctx, "search_knowledge", {"query": query, "top_k": 4})
    assert outcome.ok, outcome.output
    passages = outcome.result["passages"]
    assert 1 <= len(passages) <= 4
    assert any(p["source"].endswith(source) and fact in p["section"] + p["text"] for p in passages)
    assert set(passages[0]) == {"title", "source", "url", "section", "text", "score"}


def test_search_knowledge_shortens_a_long_query_instead_of_refusing_it(
    base_services: Services, ctx: ToolContext
) -> None:
    """The model sometimes passes the visitor's whole message; that is searched, not refused."""
    query = (
        "Hi, we are a 40 person support team at a fintech company in Berlin. We use Zendesk for"
        " email and Intercom for chat, our agents keep switching tools and lose context, and our"
        " CFO keeps asking about invoices and how we would pay. We pay suppliers from our German"
        " bank account. Can we pay the annual Growth plan by bank transfer?"
    )
    assert len(query) > 300
    outcome = call(base_services, ctx, "search_knowledge", {"query": query, "top_k": 4})
    assert outcome.ok, outcome.output
    assert any("bank transfer" in p["text"] for p in outcome.result["passages"])


@pytest.fixture
def chroma_down(base_services: Services, tmp_path: Path) -> KnowledgeBase:
    """A knowledge base pointed at a Chroma server that is not there (port 9: discard)."""
    return KnowledgeBase(
        KnowledgeConfig(chroma_path=tmp_path / "chroma", chroma_host="127.0.0.1", chroma_port=9),
        base_services.embedder,
    )


def test_search_knowledge_with_chroma_down_is_a_tool_error(
    base_services: Services, ctx: ToolContext, chroma_down: KnowledgeBase
) -> None:
    down = chroma_down
    runner = ToolRunner(db=base_services.db, knowledge=down, embedder=base_services.embedder)
    outcome = runner.run(ctx, "c1", "search_knowledge", json.dumps({"query": "pricing"}))
    assert (outcome.ok, outcome.error_code) == (False, "knowledge_unavailable")
    assert "colleague" in outcome.result["error"]["message"]


def test_an_outage_is_not_stored_as_the_calls_answer(
    base_services: Services, ctx: ToolContext, chroma_down: KnowledgeBase
) -> None:
    arguments = json.dumps({"query": "What does the Growth plan cost?"})
    during = ToolRunner(db=base_services.db, knowledge=chroma_down, embedder=base_services.embedder)
    assert during.run(ctx, "c-outage", "search_knowledge", arguments).error_code == (
        "knowledge_unavailable"
    )
    # The same call retried once the knowledge base is back runs again instead of replaying.
    after = base_services.tools.run(ctx, "c-outage", "search_knowledge", arguments)
    assert (after.ok, after.replayed) == (True, False)
    assert after.result["passages"]


# --- get_demo_clip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "clip_id"),
    [
        ("how does the chatbot answer my customers", "ai-agent"),
        ("the HubSpot connection", "salesforce-sync"),
        ("dashboards for response times", "analytics"),
        ("one queue for all our emails and chats", "unified-inbox"),
    ],
)
def test_get_demo_clip_matches_by_meaning(
    base_services: Services, ctx: ToolContext, topic: str, clip_id: str
) -> None:
    outcome = call(base_services, ctx, "get_demo_clip", {"topic": topic})
    assert outcome.ok, outcome.output
    assert outcome.result["clip"]["id"] == clip_id
    assert outcome.result["clip"]["video_url"].startswith("https://")


@pytest.mark.parametrize("topic", ["a recipe for lasagne", "tomorrow's weather in Paris"])
def test_get_demo_clip_says_plainly_when_nothing_fits(
    base_services: Services, ctx: ToolContext, topic: str
) -> None:
    outcome = call(base_services, ctx, "get_demo_clip", {"topic": topic})
    assert (outcome.ok, outcome.error_code) == (False, "no_clip_found")


# --- create_meeting_link ----------------------------------------------------------------------


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_calendly_link_prefills_name_email_notes_and_utm(
    base_services: Services, ctx: ToolContext
) -> None:
    args = {"name": "Ann Lee", "email": "ann@example.com", "notes": "wants SSO & EU hosting"}
    outcome = call(base_services, ctx, "create_meeting_link", args)
    assert outcome.ok, outcome.output
    url = outcome.result["url"]
    assert url.startswith("https://calendly.com/acme-relay/demo?")
    assert _query(url) == {
        "name": ["Ann Lee"],
        "email": ["ann@example.com"],
        "a1": ["wants SSO & EU hosting"],
        "utm_source": ["sales-widget"],
    }
    assert outcome.result["duration_minutes"] == 30


@pytest.mark.parametrize(
    ("provider", "base", "path", "params"),
    [
        (
            "cal.com",
            "https://cal.com/acme",
            "/acme/45min",
            {"name", "email", "notes", "utm_source"},
        ),
        ("url", "https://acme.example/book?team=emea", "/book", {"team", "utm_source"}),
    ],
)
def test_other_providers_build_their_url(
    base_services: Services, ctx: ToolContext, provider: str, base: str, path: str, params: set[str]
) -> None:
    meetings = MeetingConfig(provider=provider, base_url=base, durations=[30, 45])  # type: ignore[arg-type]
    company = ctx.company.model_copy(update={"meetings": meetings})
    other = ToolContext(company=company, session_id=ctx.session_id)
    args = {"name": "Bo", "email": "bo@example.com", "notes": "n", "duration_minutes": 45}
    outcome = call(base_services, other, "create_meeting_link", args)
    assert outcome.ok, outcome.output
    assert urlsplit(outcome.result["url"]).path == path
    assert set(_query(outcome.result["url"])) == params


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"duration_minutes": 20}, "tool_arguments_invalid"),
        ({"timezone": "Mars/Olympus"}, "tool_arguments_invalid"),
        ({"email": "not-an-email"}, "lead_email_invalid"),
        ({"notes": "x" * 501}, "tool_arguments_invalid"),
    ],
)
def test_meeting_link_bad_arguments(
    base_services: Services, ctx: ToolContext, args: dict, code: str
) -> None:
    outcome = call(base_services, ctx, "create_meeting_link", args)
    assert (outcome.ok, outcome.error_code) == (False, code)


def test_meeting_link_is_recorded_on_the_lead(base_services: Services, ctx: ToolContext) -> None:
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    call(base_services, ctx, "log_lead", {"name": "Mo", "email": email, "interest": "Growth plan"})
    outcome = call(base_services, ctx, "create_meeting_link", {"name": "Mo", "email": email})
    assert outcome.result["recorded_on_lead"] is True
    with base_services.db.session() as session:
        lead = session.scalars(select(Lead).where(Lead.email_normalized == email)).one()
    assert lead.meeting_link == outcome.result["url"]


# --- log_lead ---------------------------------------------------------------------------------


def test_log_lead_calls_past_the_configured_cap_are_refused(
    base_services: Services, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIDGET_LOG_LEAD_MAX_CALLS_PER_CONVERSATION", "2")
    cap = Settings(_env_file=None).log_lead_max_calls_per_conversation  # type: ignore[call-arg]
    runner = ToolRunner(
        db=base_services.db,
        knowledge=base_services.knowledge,
        embedder=base_services.embedder,
        max_lead_updates=cap,
    )
    email = f"cap-{uuid.uuid4().hex[:8]}@example.com"
    codes = [
        runner.run(ctx, uuid.uuid4().hex, "log_lead", json.dumps(
            {"name": "Cy", "email": email, "interest": f"try {i}"}
        )).error_code
        for i in range(3)
    ]  # fmt: skip
    assert codes == [None, None, "lead_update_limit"]


def test_log_lead_creates_then_updates_the_same_lead(
    base_services: Services, ctx: ToolContext
) -> None:
    email = f"lead-{uuid.uuid4().hex[:8]}@example.com"
    first = call(
        base_services,
        ctx,
        "log_lead",
        {"name": "Kim", "email": email, "interest": "AI agent", "team_size": 25},
    )
    update = {"name": "Kim Park", "email": email.upper(), "interest": "AI"}
    update["phone"] = "+49 30 1234567"
    second = call(base_services, ctx, "log_lead", update)
    assert first.ok and second.ok, (first.output, second.output)
    assert first.result["lead_id"] == second.result["lead_id"]
    assert lead_count(base_services, email) == 1
    with base_services.db.session() as session:
        lead = session.scalars(select(Lead).where(Lead.email_normalized == email)).one()
    assert (lead.name, lead.team_size, lead.phone, lead.channel) == (
        "Kim Park",
        "25",
        "+49301234567",
        "voice",
    )
    assert lead.session_id == ctx.session_id


@pytest.mark.parametrize(
    ("args", "code", "hint"),
    [
        ({"name": "A", "email": "a@b", "interest": "x"}, "lead_email_invalid", "email"),
        (
            {"name": "A", "email": "a@example.com", "interest": "x", "phone": "call me maybe"},
            "lead_phone_invalid",
            "phone",
        ),
        ({"name": "A", "email": "a@example.com"}, "tool_arguments_invalid", "details"),
        (
            {"name": "", "email": "a@example.com", "interest": "x"},
            "tool_arguments_invalid",
            "details",
        ),
        (
            {"name": "A", "email": "a@example.com", "interest": "x", "shoe": 9},
            "tool_arguments_invalid",
            "details",
        ),
        (
            {"name": "A", "email": "a@example.com", "interest": "x" * 2001},
            "tool_arguments_invalid",
            "details",
        ),
    ],
)
def test_log_lead_errors_tell_the_model_what_to_do(
    base_services: Services, ctx: ToolContext, args: dict, code: str, hint: str
) -> None:
    outcome = call(base_services, ctx, "log_lead", args)
    assert (outcome.ok, outcome.error_code) == (False, code)
    assert set(outcome.result) == {"error"}
    assert hint in outcome.result["error"]["message"] or hint in outcome.result["error"]
    # Validation details name fields, never echo the input back.
    assert "call me maybe" not in outcome.output and "x" * 100 not in outcome.output


def test_log_lead_enforces_company_required_fields(
    base_services: Services, ctx: ToolContext
) -> None:
    company = ctx.company.model_copy(
        update={"required_lead_fields": ["name", "email", "interest", "phone", "company"]}
    )
    strict = ToolContext(company=company, session_id=ctx.session_id)
    outcome = call(
        base_services,
        strict,
        "log_lead",
        {"name": "A", "email": "req@example.com", "interest": "x", "company": "Initech"},
    )
    assert (outcome.ok, outcome.error_code) == (False, "lead_fields_missing")
    assert outcome.result["error"]["details"] == [{"fields": ["phone"]}]
    assert lead_count(base_services, "req@example.com") == 0


# --- registry behaviour -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("delete_everything", "{}", "unknown_tool"),
        ("log_lead", "{not json", "tool_arguments_invalid"),
        ("log_lead", "[1, 2]", "tool_arguments_invalid"),
        ("log_lead", "null", "tool_arguments_invalid"),
        ("search_knowledge", json.dumps({"query": "x" * 20_000}), "tool_arguments_invalid"),
        (
            "search_knowledge",
            json.dumps({"query": "pricing", "top_k": 50}),
            "tool_arguments_invalid",
        ),
        ("search_knowledge", json.dumps({"query": 42}), "tool_arguments_invalid"),
        ("get_demo_clip", "", "tool_arguments_invalid"),
    ],
)
def test_bad_calls_become_error_outputs_never_exceptions(
    base_services: Services, ctx: ToolContext, name: str, arguments: str, code: str
) -> None:
    outcome = base_services.tools.run(ctx, "call-1", name, arguments)
    assert (outcome.ok, outcome.error_code) == (False, code)
    assert json.loads(outcome.output)["error"]["code"] == code


def test_retried_call_id_replays_the_first_output_and_writes_once(
    base_services: Services, ctx: ToolContext
) -> None:
    email = f"retry-{uuid.uuid4().hex[:8]}@example.com"
    args = {"name": "Rae", "email": email, "interest": "Starter"}
    first = call(base_services, ctx, "log_lead", args, call_id="call_same")
    again = call(base_services, ctx, "log_lead", args, call_id="call_same")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.output == first.output
    assert lead_count(base_services, email) == 1


@pytest.mark.parametrize(
    ("name", "changed"),
    [("log_lead", {"name": "Changed"}), ("create_meeting_link", {})],
)
def test_a_call_id_reused_for_another_call_is_a_tool_error_in_a_conversation(
    base_services: Services, ctx: ToolContext, name: str, changed: dict[str, Any]
) -> None:
    email = f"reuse-{uuid.uuid4().hex[:8]}@example.com"
    args = {"name": "Rae", "email": email, "interest": "Starter"}
    first = call(base_services, ctx, "log_lead", args, call_id="call_reused")
    other = {**args, **changed} if name == "log_lead" else {"name": "Rae"}
    again = call(base_services, ctx, name, other, call_id="call_reused")
    assert (first.ok, again.ok, again.error_code) == (True, False, "tool_call_conflict")
    assert lead_count(base_services, email) == 1


@pytest.mark.parametrize(
    ("call_id", "arguments"),
    [
        ("call\x00x", json.dumps({"name": "A", "email": "nul@example.com", "interest": "x"})),
        ("call ok", json.dumps({"name": "A", "email": "nul@example.com", "interest": "x"})),
        ("call_ok", json.dumps({"name": "A\u0000B", "email": "nul@example.com", "interest": "x"})),
        ("call_ok", '{"name": "A\\ud800", "email": "nul@example.com", "interest": "x"}'),
    ],
)
def test_ids_and_arguments_that_cannot_be_stored_are_refused(
    base_services: Services, ctx: ToolContext, call_id: str, arguments: str
) -> None:
    outcome = base_services.tools.run(ctx, call_id, "log_lead", arguments)
    assert (outcome.ok, outcome.error_code) == (False, "tool_arguments_invalid")
    assert lead_count(base_services, "nul@example.com") == 0
