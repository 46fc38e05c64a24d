"""What a question asks for: a name, place, number, date or thing that a span of the evidence
can be (news quiz questions mostly do: "Which company…", "Who…", "How much…"), or an
explanation ("Why…", "How did…") that takes a sentence; and the names the question itself
gives, which are not its answer.

For the first kind the reader lets the model copy a span of its evidence (``qa.grammar``)
instead of writing: a small model writing an answer often names a neighbouring entity of the
same kind from the same passages, or one of its own.
"""
from __future__ import annotations

import re

# The question's own wording that asks for a name, place, number or date, or for a thing
# ("drinking what?", "what item").
_ASKS = re.compile(
    r"\b(?:who|whom|whose|which|where|when|how\s+(?:many|much|old|long|far|tall)|named|called)\b|"
    r"\bwhat(?:\s+[\w'’-]+){0,3}?\s+(?:year|month|day|date|time|city|country|state|company|firm|team|"
    r"name|percentage|percent|share|number|amount|price|fee|cost|rate|age|kind|type|brand|app|airline|"
    r"nation|island|town|region|organi[sz]ation|group|agency|party|colou?r|item|good|festival|food|part|"
    r"animal|sport|title|word|owner|deadline|record|score|total|award|prize)s?\b|\bwhat\s*\??\s*$", re.I)
# "Which countries…", "which two teams…": the question asks for several of a kind ("which of
# these teams" and "which group of countries" ask for one).
_SEVERAL = re.compile(
    r"\b(?:which|what)\s+(?:(?:two|three|four|five|several)\s+(?:(?!of\b)[\w'’-]+\s+){0,2}?[\w'’-]+s\b|"
    r"(?:(?!of\b)[\w'’-]+\s+){0,2}?(?:countries|nations|(?<!United\s)states|companies|firms|brands|cities|towns|"
    r"islands|regions|parties|agencies|organi[sz]ations|groups|teams|airlines|apps|players|leaders|candidates|"
    r"members|locations|places)\b)",
    re.I)
_OPEN = re.compile(r"^\s*(?:why|how(?!\s+(?:many|much|old|long|far|tall)))\b", re.I)
_RUN = re.compile(r"(?:[A-Z][\w'’.&-]*\s+)*[A-Z][\w'’.&-]*")


def asks_for_entity(question: str) -> bool:
    """Whether the question asks for a name, place, number, date or thing (a span of the
    evidence can be the whole answer), not for an explanation ("why…", "how did…")."""
    return not _OPEN.search(question) and bool(_ASKS.search(question))


def asks_for_several(question: str) -> bool:
    """Whether the question asks for several things of a kind ("Which countries did Lavrov
    accuse…?", "Which two teams…?"): its answer is a list, and one item of it is wrong."""
    return asks_for_entity(question) and bool(_SEVERAL.search(question))


def question_names(question: str) -> frozenset[str]:
    """The one-word names the question itself gives (capitalised words after its first), lower
    case, "'s" and a final full stop taken off: the answer to "Which app surged amid the TikTok
    ban?" is not TikTok. A word of a longer name ("North Korea") is left out: the answer may share
    it ("the United States, South Korea and Japan")."""
    names = set()
    for m in _RUN.finditer(question):
        words = m.group().split()[1:] if m.start() == 0 else m.group().split()
        if len(words) == 1:
            names.add(re.sub(r"['’]s?$", "", words[0]).rstrip(".").lower())
    return frozenset(names)



def names_around(given: frozenset[str], sentences: list[str]) -> frozenset[str]:
    """``given`` and every word of a run of capitalised words in ``sentences`` that holds one of
    them: "Russian Foreign Minister Sergei Lavrov" is one name, so where the question gives
    "Lavrov", "Foreign Minister Sergei" is no answer to whom he met either."""
    found = set(given)
    for sentence in sentences:
        for run in _RUN.findall(sentence):
            words = [re.sub(r"['’]s?$", "", w).rstrip(".").lower() for w in run.split()]
            if len(words) > 1 and given.intersection(words):
                found.update(words)
    return frozenset(found)
