"""The system prompt: deterministic, and it carries the sales-rep rules from the config."""

from __future__ import annotations

from widget_api.companies import CompanyConfig, CompanyRegistry
from widget_api.instructions import build_instructions
from widget_api.settings import BUNDLED_COMPANIES_DIR


def _acme() -> CompanyConfig:
    return CompanyRegistry.load(BUNDLED_COMPANIES_DIR, env={}).get("acme")


def test_same_config_gives_identical_prompt() -> None:
    assert build_instructions(_acme()) == build_instructions(_acme())


def test_prompt_carries_persona_greeting_and_offer() -> None:
    acme = _acme()
    prompt = build_instructions(acme)
    assert acme.persona in prompt
    assert acme.greeting in prompt
    assert acme.summary in prompt


def test_prompt_names_every_tool_and_the_grounding_rule() -> None:
    prompt = build_instructions(_acme())
    for tool in ("search_knowledge", "get_demo_clip", "log_lead", "create_meeting_link"):
        assert tool in prompt
    assert "Never state a price" in prompt
    assert "ask for the visitor's name and email" in prompt


def test_prompt_follows_config_language_questions_and_clips() -> None:
    acme = _acme()
    german = acme.model_copy(
        update={
            "language": "de",
            "clips": [],
            "qualification_questions": ["Wie groß ist Ihr Team?"],
        }
    )
    prompt = build_instructions(german)
    assert "Speak German" in prompt
    assert "Wie groß ist Ihr Team?" in prompt
    assert "get_demo_clip" not in prompt  # no clips → no clip section
    assert build_instructions(german) != build_instructions(acme)


def test_prompt_lists_required_lead_fields_and_meeting_lengths() -> None:
    acme = _acme()
    prompt = build_instructions(acme)
    assert ", ".join(acme.required_lead_fields) in prompt
    assert "15, 30, 45 minutes" in prompt
