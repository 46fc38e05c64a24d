"""GBNF grammars (llama.cpp's constrained decoding) that let the model only copy a span of its
evidence: any run of up to ``max_words`` consecutive words of one sentence, or the abstain mark.

The grammar is linear in the evidence: one rule per word position, each either ending the span
or going on to the next word of the same sentence.
"""
from __future__ import annotations

import re

MAX_SPAN_WORDS = 8
_LEAD = re.compile(r"^[\"“‘'(\[]+")
_POSSESSIVE = re.compile(r"['’]s?$")
_TRAIL = re.compile(r"[\"”’')\],;:!?]+$")


def words(sentence: str) -> list[str]:
    """The words a span is made of: whitespace-separated, with quotes, brackets and clause
    punctuation at their edges taken off (a span can end at "Glaser" in "Nikki Glaser,"), and the
    sentence's final full stop; inner ones stay ("U.S.", "No. 3")."""
    out = []
    raw = sentence.split()
    for i, token in enumerate(raw):
        word = _TRAIL.sub("", _LEAD.sub("", token))
        if i == len(raw) - 1:
            word = _TRAIL.sub("", word.rstrip("."))
        if word:
            out.append(word)
    return out


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def span_grammar(sentences: list[str], abstain: str, max_words: int = MAX_SPAN_WORDS,
                 banned: frozenset[str] = frozenset(), no_start: frozenset[str] = frozenset()) -> str:
    """A grammar whose strings are the spans of ``sentences`` (at most ``max_words`` words,
    joined by single spaces) that hold none of the ``banned`` words (lower case, "'s" aside)
    and start with none of the ``no_start`` words, and ``abstain``. Greedy decoding under a
    grammar commits to its first token: a model about to write "The app is RedNote" would
    otherwise be held to a span starting "The". Rule ``w{s}-{i}-{k}``: the span has reached
    word ``i`` of sentence ``s`` with ``k`` more words allowed."""
    rules: dict[str, str] = {}
    starts: set[str] = set()
    for s, sentence in enumerate(sentences):
        ws = words(sentence)
        ok = [_POSSESSIVE.sub("", w).lower() not in banned for w in ws]
        for i in range(len(ws)):
            if ok[i] and ws[i].lower() not in no_start:
                starts.add(f"w{s}-{i}-{max_words - 1}")
        for i in range(len(ws) - 1, -1, -1):
            for k in range(max_words):
                more = k > 0 and i + 1 < len(ws) and ok[i + 1]
                go_on = f" (\" \" w{s}-{i + 1}-{k - 1})?" if more else ""
                rules[f"w{s}-{i}-{k}"] = _literal(ws[i]) + go_on
    reachable = _reachable(rules, starts)
    body = [f"root ::= {' | '.join(sorted(starts, key=_order) + [_literal(abstain)])}"]
    body += [f"{name} ::= {rules[name]}" for name in sorted(reachable, key=_order)]
    return "\n".join(body) + "\n"


def _order(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in name[1:].split("-"))


def _reachable(rules: dict[str, str], starts: set[str]) -> set[str]:
    seen, todo = set(), list(starts)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += re.findall(r"w\d+-\d+-\d+", rules[name])
    return seen
