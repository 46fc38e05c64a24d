"""GBNF grammars (llama.cpp's constrained decoding) that let the model only copy a span of its
evidence: any run of up to ``max_words`` consecutive words of one sentence, or the abstain mark.

The grammar is linear in the evidence: one rule per word position, each either ending the span
or going on to the next word of the same sentence. For a question that asks for several things
("Which countries…"), a span must join them ("…, South Korea and Japan"): the rules then also
remember whether the span has passed a joining word yet, and only a span that has may end.
"""
from __future__ import annotations

import re

MAX_SPAN_WORDS = 8
_LEAD = re.compile(r"^[\"“‘'(\[]+")
_POSSESSIVE = re.compile(r"['’]s?$")
_TRAIL = re.compile(r"[\"”’')\],;:!?]+$")
JOINERS = frozenset({"and", "or", "&"})


def words(sentence: str) -> list[str]:
    """The words a span is made of: whitespace-separated, with quotes, brackets and clause
    punctuation at their edges taken off (a span can end at "Glaser" in "Nikki Glaser,"), and the
    sentence's final full stop; inner ones stay ("U.S.", "No. 3")."""
    return [word for _, word in _pieces(sentence)]


def _pieces(sentence: str) -> list[tuple[str, str]]:
    """Each of ``sentence``'s whitespace-separated tokens that holds a word, with that word."""
    out = []
    raw = sentence.split()
    for i, token in enumerate(raw):
        word = _TRAIL.sub("", _LEAD.sub("", token))
        if i == len(raw) - 1:
            word = _TRAIL.sub("", word.rstrip("."))
        if word:
            out.append((token, word))
    return out


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def span_grammar(sentences: list[str], abstain: str, max_words: int = MAX_SPAN_WORDS,
                 banned: frozenset[str] = frozenset(), no_start: frozenset[str] = frozenset(),
                 joined: bool = False) -> str:
    """A grammar whose strings are the spans of ``sentences`` (at most ``max_words`` words,
    joined by single spaces) that hold none of the ``banned`` words (lower case, "'s" aside)
    and start with none of the ``no_start`` words, and ``abstain``. Greedy decoding under a
    grammar commits to its first token: a model about to write "The app is RedNote" would
    otherwise be held to a span starting "The". With ``joined``, a span must hold one of the
    JOINERS between two of its words: a list, not one of its items. Rule ``w{s}-{i}-{k}``: the
    span has reached word ``i`` of sentence ``s`` with ``k`` more words allowed (``v…`` where it
    has yet to pass a joiner, ``j…`` at the joiner itself)."""
    rules: dict[str, str] = {}
    starts: set[str] = set()
    for s, sentence in enumerate(sentences):
        ws = words(sentence)
        ok = [_POSSESSIVE.sub("", w).lower() not in banned for w in ws]
        mine = _joined_rules(s, ws, ok, max_words) if joined else _rules(s, ws, ok, max_words)
        rules.update(mine)
        first = "v" if joined else "w"
        for i in range(len(ws)):
            name = f"{first}{s}-{i}-{max_words - 1}"
            if ok[i] and ws[i].lower() not in no_start and name in mine:
                starts.add(name)
    reachable = _reachable(rules, starts)
    body = [f"root ::= {' | '.join(sorted(starts, key=_order) + [_literal(abstain)])}"]
    body += [f"{name} ::= {rules[name]}" for name in sorted(reachable, key=_order)]
    return "\n".join(body) + "\n"


def _rules(s: int, ws: list[str], ok: list[bool], max_words: int) -> dict[str, str]:
    rules = {}
    for i in range(len(ws) - 1, -1, -1):
        for k in range(max_words):
            more = k > 0 and i + 1 < len(ws) and ok[i + 1]
            go_on = f" (\" \" w{s}-{i + 1}-{k - 1})?" if more else ""
            rules[f"w{s}-{i}-{k}"] = _literal(ws[i]) + go_on
    return rules


def _joined_rules(s: int, ws: list[str], ok: list[bool], max_words: int) -> dict[str, str]:
    """``_rules`` (``w``: a span past its joiner, which may end), and the rules of a span that has
    yet to pass one (``v``: must go on) or stands on it (``j``: must go on). A ``v`` rule is made
    only where it can reach a joiner and then an end."""
    rules = _rules(s, ws, ok, max_words)
    for i in range(len(ws) - 2, -1, -1):
        for k in range(1, max_words):
            if not ok[i + 1]:
                continue
            rules[f"j{s}-{i}-{k}"] = f"{_literal(ws[i])} \" \" w{s}-{i + 1}-{k - 1}"
            towards = f"{'j' if ws[i + 1].lower() in JOINERS else 'v'}{s}-{i + 1}-{k - 1}"
            if ws[i].lower() not in JOINERS and towards in rules:
                rules[f"v{s}-{i}-{k}"] = f"{_literal(ws[i])} \" \" {towards}"
    return rules


def as_written(span: str, sentence: str) -> str | None:
    """``span`` (words as ``words`` makes them) as ``sentence`` writes it, its inner commas and
    quotes kept ("the United States, South Korea and Japan"), its outer punctuation left off;
    the words alone where that would leave a bracket or quote open ("FDA (on Jan. 15"); None
    where the sentence does not hold it."""
    pieces = _pieces(sentence)
    target = span.split()
    n = len(target)
    for a in range(len(pieces) - n + 1):
        if [w for _, w in pieces[a:a + n]] == target:
            inner = [t for t, _ in pieces[a:a + n - 1]]
            last, word = pieces[a + n - 1]
            for end in (last.rstrip(",;:!?."), word):  # a closing bracket kept where it closes one
                written = _LEAD.sub("", " ".join([*inner, end]))
                if _balanced(written):
                    return written
            return span
    return None


def _balanced(text: str) -> bool:
    return (text.count("(") == text.count(")") and text.count("[") == text.count("]")
            and text.count("“") == text.count("”") and text.count('"') % 2 == 0)


def _order(name: str) -> tuple:
    return (name[0], *(int(x) for x in name[1:].split("-")))


def _reachable(rules: dict[str, str], starts: set[str]) -> set[str]:
    seen, todo = set(), list(starts)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += re.findall(r"[vjw]\d+-\d+-\d+", rules[name])
    return seen
