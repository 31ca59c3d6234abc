"""Contact details a visitor types into the chat: name and email, across turns."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# "my name is Jane Doe", "I'm Jane", "this is Jane Doe from Initech", "name: Jane Doe".
_NAME = re.compile(
    r"(?:\bmy name is|\bname\s*[:=]|\bi am|\bi'm|\bi’m|\bthis is|\bcall me)\s+"
    r"([A-Z][\w'’\-]+(?:\s+[A-Z][\w'’\-]+){0,2})",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(?:from|at|with|work for|company is)\s+([A-Z][\w&.\-]*(?:\s+[A-Z][\w&.\-]*){0,2})"
)
# Words that follow "I'm"/"I am" without being a name ("I'm interested", "I am looking").
_NOT_NAMES = {
    "interested",
    "looking",
    "curious",
    "wondering",
    "trying",
    "just",
    "not",
    "a",
    "an",
    "the",
    "here",
    "from",
    "with",
    "at",
    "on",
    "in",
    "evaluating",
    "comparing",
    "new",
    "ready",
    "happy",
    "good",
    "fine",
    "great",
    "ok",
    "okay",
    "sorry",
    "thinking",
    "planning",
    "going",
    "considering",
}


@dataclass
class Contact:
    """What the visitor has told us about themselves so far."""

    name: str | None = None
    email: str | None = None
    company: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.name and self.email)


def extract_contact(text: str, known: Contact) -> tuple[Contact, bool]:
    """Merge details found in `text` into `known`; returns (contact, whether anything changed)."""
    email_match = _EMAIL.search(text)
    name = _find_name(text)
    company_match = _COMPANY.search(text)
    updated = Contact(
        name=name or known.name,
        email=email_match.group(0).lower() if email_match else known.email,
        company=company_match.group(1).strip() if company_match else known.company,
    )
    changed = (updated.name, updated.email) != (known.name, known.email)
    return updated, changed


def _find_name(text: str) -> str | None:
    # A bare "Jane Doe, jane@x.com" answer to "what's your name and email?" also counts.
    for match in _NAME.finditer(text):
        words = match.group(1).split()
        kept: list[str] = []
        for word in words:
            if word.lower() in _NOT_NAMES or not word[0].isupper() or "@" in word:
                break
            kept.append(word.strip("'’"))
        if kept:
            return " ".join(kept)
    bare = re.match(r"^\s*([A-Z][a-z'’\-]+(?:\s+[A-Z][a-z'’\-]+){0,2})\s*[,;]\s*\S+@", text)
    if bare:
        return bare.group(1)
    return None
