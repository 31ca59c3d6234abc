"""What a visitor's message asks for, by plain keyword rules.

The local engine runs without a language model, so routing is deliberately simple and
predictable: a few unambiguous phrasings pick a tool, and everything else is treated as a
question for the knowledge base (the safest default for a sales assistant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MEETING = re.compile(
    r"\b(book|schedule|meeting|appointment|calendly|set up a call|demo call|"
    r"talk to (?:sales|someone|a human|a person|a rep)|"
    r"speak (?:to|with) (?:sales|someone|a human|a person)|"
    r"get in touch|contact sales|call me)\b",
    re.IGNORECASE,
)
_CLIP = re.compile(
    r"\b(video|clip|show me|watch|walkthrough|walk-through|tour|"
    r"see (?:it|how|a demo)|demo of|demo video)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|good (?:morning|afternoon|evening)|howdy)\b[\s!.,]*", re.I
)
_IDENTITY = re.compile(
    r"\b(are you (?:a |an )?(?:bot|robot|human|real|person|ai|machine)|who are you|what are you|"
    r"can you (?:talk|speak|hear)|voice)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"^\s*(thanks|thank you|cheers|great|ok|okay|cool|bye|goodbye)\b[\s!.,]*$", re.I
)


@dataclass(frozen=True)
class Intent:
    meeting: bool = False
    clip: bool = False
    greeting_only: bool = False
    identity: bool = False
    thanks_only: bool = False
    question: bool = False


def classify(text: str, *, has_contact_details: bool) -> Intent:
    """Which things to do for this message; several can apply at once."""
    meeting = bool(_MEETING.search(text))
    clip = bool(_CLIP.search(text)) and not meeting
    identity = bool(_IDENTITY.search(text))
    rest = _GREETING.sub("", text).strip()
    greeting_only = bool(_GREETING.match(text)) and len(rest.split()) <= 2
    thanks_only = bool(_THANKS.match(text))
    # A message that only hands over contact details is not a question for the docs.
    words = len(text.split())
    question = not (meeting or clip or identity or greeting_only or thanks_only) and not (
        has_contact_details and words <= 12 and "?" not in text
    )
    return Intent(meeting, clip, greeting_only, identity, thanks_only, question)
