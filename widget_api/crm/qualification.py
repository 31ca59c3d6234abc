"""Qualification facts a visitor states in a message: team size, timeline, budget, role, tool.

Plain rules, no model: each match keeps the whole message as its evidence, so sales can read
the visitor's own words next to the value (and judge a wrong reading at a glance). Precision
matters more than recall here: the Realtime model also reports these through `log_lead`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EVIDENCE_CHARS = 500

_NUMBER = r"(\d[\d,.]*\+?|a dozen|dozens of|a few|several|a hundred|hundreds of)"
_PEOPLE = (
    r"(agents?|people|persons|employees|seats|users|reps|representatives|staff|engineers|"
    r"developers|support (?:agents|people|staff)|members|folks)"
)
_TEAM = re.compile(
    rf"(?:\b(?:about|around|roughly|approximately|nearly|almost|over|under|some|~)\s+)?"
    rf"\b{_NUMBER}\s+(?:\w+\s+)?{_PEOPLE}\b",
    re.IGNORECASE,
)
_TEAM_OF = re.compile(rf"\bteam of\s+{_NUMBER}\b", re.IGNORECASE)
_TIMELINE = re.compile(
    r"\b((?:by|within|in|before|from)\s+(?:the\s+)?(?:next|this|end of|early|mid|late)?\s*"
    r"(?:\d+\s+(?:days?|weeks?|months?)|q[1-4](?:\s+\d{4})?|quarter|month|week|year|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)"
    r"(?:\s+\d{4})?|next (?:quarter|month|week|year)|this (?:quarter|month|week|year)|"
    r"asap|as soon as possible|right away|immediately)\b",
    re.IGNORECASE,
)
_BUDGET = re.compile(
    r"(?:budget\D{0,20}?)?((?:[$€£]\s?\d[\d,.]*\s?(?:k|m|thousand|million)?|"
    r"\d[\d,.]*\s?(?:k|m)?\s?(?:usd|eur|gbp|dollars|euros|pounds))"
    r"(?:\s*(?:per|a|/)\s*(?:month|year|annum|seat|user|agent))?)",
    re.IGNORECASE,
)
_BUDGET_WORD = re.compile(r"\bbudget\b", re.IGNORECASE)
_ROLE = re.compile(
    # The typographic apostrophe (U+2019) is how many keyboards type "I am" contracted.
    r"\b(?:i am|i'm|i’m|as)\s+(?:the\s+|a\s+|an\s+)?((?:head|director|vp|vice president|manager|"
    r"lead|chief|cto|ceo|coo|cio|founder|co-founder|owner)(?:\s+of)?(?:\s+[a-z]+){0,3})",
    re.IGNORECASE,
)
_TOOL = re.compile(
    r"\b(?:we (?:currently |now )?use|we're (?:currently )?using|we are (?:currently )?using|"
    r"we're on|we are on|currently on|currently using|switching from|migrating from|moving from)"
    r"\s+([A-Z][\w.+\-]*(?:\s+[A-Z][\w.+\-]*){0,2})",
)


@dataclass(frozen=True)
class Fact:
    field: str
    value: str
    evidence: str


def _team_size(text: str) -> str | None:
    match = _TEAM.search(text) or _TEAM_OF.search(text)
    return match.group(0).strip() if match else None


def _budget(text: str) -> str | None:
    match = _BUDGET.search(text)
    if match is None:
        return None
    # A bare currency amount counts as a budget only when the message talks about money.
    if not _BUDGET_WORD.search(text) and not re.search(r"(?i)spend|afford|pay|price", text):
        return None
    return match.group(1).strip()


def _role(text: str) -> str | None:
    match = _ROLE.search(text)
    if match is None:
        return None
    words = re.split(r"\s+(?:at|in|for|and|with|from)\b", match.group(1))[0]
    return words.strip().rstrip(".,;")


# "60 agents on Zendesk": a team working on a named tool.
_TEAM_ON_TOOL = re.compile(
    rf"\b{_PEOPLE}\s+(?:on|in|using)\s+([A-Z][\w.+\-]*(?:\s+[A-Z][\w.+\-]*)?)"
)


def _tool(text: str) -> str | None:
    match = _TOOL.search(text)
    if match:
        return match.group(1).strip().rstrip(".,;")
    match = _TEAM_ON_TOOL.search(text)
    return match.group(2).strip().rstrip(".,;") if match else None


def _timeline(text: str) -> str | None:
    match = _TIMELINE.search(text)
    return match.group(1).strip() if match else None


_EXTRACTORS = (
    ("team_size", _team_size),
    ("timeline", _timeline),
    ("budget", _budget),
    ("role", _role),
    ("current_tool", _tool),
)


def extract_facts(text: str) -> list[Fact]:
    """The qualification facts one visitor message states, each with the message as evidence."""
    if not text or not text.strip():
        return []
    evidence = " ".join(text.split())[:MAX_EVIDENCE_CHARS]
    facts = []
    for field, extract in _EXTRACTORS:
        value = extract(text)
        if value:
            facts.append(Fact(field, value[:200], evidence))
    return facts


def find_evidence(value: str, messages: list[str]) -> str | None:
    """The latest visitor message that mentions `value` (its numbers or its words), if any.

    Used for values the Realtime model reports through `log_lead`: the quote comes from the
    visitor's own transcript, never from the model's paraphrase.
    """
    numbers = re.findall(r"\d+", value)
    words = [w.lower() for w in re.findall(r"[A-Za-z]{4,}", value)]
    for message in reversed(messages):
        lowered = message.lower()
        if numbers and all(n in message for n in numbers):
            return " ".join(message.split())[:MAX_EVIDENCE_CHARS]
        if not numbers and words and any(w in lowered for w in words):
            return " ".join(message.split())[:MAX_EVIDENCE_CHARS]
    return None
