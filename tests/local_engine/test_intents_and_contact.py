"""The local engine's keyword routing and contact extraction (pure functions)."""

from __future__ import annotations

import pytest

from widget_api.local_engine.contact import Contact, extract_contact
from widget_api.local_engine.intents import classify


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Can I book a meeting?", "meeting"),
        ("Show me a video of the inbox", "clip"),
        ("Hi!", "greeting_only"),
        ("Are you a bot?", "identity"),
        ("thanks", "thanks_only"),
        ("Do you offer a free trial?", "question"),
    ],
)
def test_each_phrasing_picks_its_intent(text: str, expected: str) -> None:
    intent = classify(text, has_contact_details=False)
    flags = {k for k, v in vars(intent).items() if v}
    assert flags == {expected}


def test_a_meeting_request_is_not_also_a_clip_request() -> None:
    intent = classify("book a demo call and show me a video", has_contact_details=False)
    assert (intent.meeting, intent.clip) == (True, False)


def test_handing_over_contact_details_is_not_a_question() -> None:
    assert not classify("Sam Carter, sam@globex.example", has_contact_details=True).question
    assert classify("Sam here, what does it cost?", has_contact_details=True).question


@pytest.mark.parametrize(
    ("text", "name", "email"),
    [
        ("I'm Sam Carter, sam@Globex.example", "Sam Carter", "sam@globex.example"),
        ("Jane Doe, jane@x.example", "Jane Doe", "jane@x.example"),
        ("my email is bo@x.example", None, "bo@x.example"),
        ("I'm happy with that", None, None),
    ],
)
def test_contact_details_are_found(text: str, name: str | None, email: str | None) -> None:
    contact, changed = extract_contact(text, Contact())
    assert (contact.name, contact.email, changed) == (name, email, bool(name or email))


def test_known_details_are_kept_when_a_message_adds_nothing() -> None:
    known = Contact(name="Ann", email="ann@x.example")
    contact, changed = extract_contact("what about pricing?", known)
    assert (contact, changed, contact.complete) == (known, False, True)


@pytest.mark.parametrize(
    ("text", "company"),
    [
        ("I'm Sam from Globex, sam@globex.example", "Globex"),
        ("Jane here, I work for Initech Labs", "Initech Labs"),
        ("we are looking at options", None),
    ],
)
def test_the_company_is_picked_up_when_named(text: str, company: str | None) -> None:
    contact, _changed = extract_contact(text, Contact())
    assert contact.company == company


def test_a_company_alone_is_not_a_change_of_contact_details() -> None:
    # Only a new name or email re-links the lead; the company rides along with them.
    contact, changed = extract_contact("I'm with Umbrella", Contact(name="Ann"))
    assert (contact.company, changed) == ("Umbrella", False)
