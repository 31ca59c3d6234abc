"""Long questions made searchable: keep the question and the most informative terms.

A visitor (or the model) may paste a paragraph. The embedding model reads only its first 256
word pieces and BM25 drowns in filler words, so a long query is cut to a short one: the last
question sentence it asks, alone when it names its topic, else with a few of the rarer-looking
terms of the rest (numbers, names, long words) in their original order, without stop words or
repeats; with no question, those terms up to the length limit.
"""

from __future__ import annotations

import re

MAX_QUERY_CHARS = 300
# With a question found, only a few context terms join it, and none when the question names
# its topic itself: every extra topic dilutes the query's embedding more than it helps BM25.
MAX_CONTEXT_TERMS = 6
SELF_CONTAINED_TERMS = 4
_QUESTION = re.compile(r"[^.!?\n]*\?")
_WORD = re.compile(r"[\w$€£%][\w.$€£%'+-]*", re.UNICODE)
STOP_WORDS = frozenset(
    re.split(
        r"\s+",
        """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not of off on once only or other our ours out over own same she should so
    some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    yours hi hello thanks thank please hey ok okay well really actually basically like want
    wondering know tell let get got just maybe much many thing things something anything""".strip(),
    )
)


def _score(word: str) -> float:
    """How informative a term looks without corpus statistics."""
    score = min(len(word), 12) / 12
    if any(ch.isdigit() for ch in word):
        score += 1.0
    if word[:1].isupper():
        score += 0.5
    return score


def shorten_query(query: str, max_chars: int = MAX_QUERY_CHARS) -> str:
    """`query` itself when short enough, else a `max_chars` version keeping what matters."""
    query = " ".join(query.split())
    if len(query) <= max_chars:
        return query
    questions = [q.strip() for q in _QUESTION.findall(query) if len(q.strip()) > 3]
    head = questions[-1] if questions and len(questions[-1]) <= max_chars // 2 else ""
    taken = {w.lower() for w in _WORD.findall(head)}
    candidates: list[tuple[int, str]] = []
    for position, word in enumerate(_WORD.findall(query)):
        key = word.lower().strip(".'-")
        if key in STOP_WORDS or key in taken or len(key) < 2:
            continue
        taken.add(key)
        candidates.append((position, word.strip(".'-")))
    ranked = sorted(candidates, key=lambda c: (-_score(c[1]), c[0]))
    budget = max_chars - len(head) - 1
    own_terms = sum(1 for w in _WORD.findall(head) if w.lower() not in STOP_WORDS)
    limit = (
        len(ranked) if not head else 0 if own_terms >= SELF_CONTAINED_TERMS else MAX_CONTEXT_TERMS
    )
    chosen: list[tuple[int, str]] = []
    for position, word in ranked:
        if len(chosen) >= limit:
            break
        if len(word) + 1 > budget:
            continue
        chosen.append((position, word))
        budget -= len(word) + 1
    terms = " ".join(word for _, word in sorted(chosen))
    return f"{head} {terms}".strip()[:max_chars]
