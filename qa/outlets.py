"""Outlets side by side: who else carries a cited story, and how each words the cited sentence.

Retrieval shows a story syndicated by several outlets once and keeps the copies in
``Passage.also_in``. An answer names those outlets ("also reported by …"); asked to compare
(``compare_sources``), it lists for each citation every outlet's version of the quoted sentence,
taken from that outlet's own text, with the numbers and names one version has and the cited one
lacks, so a reader sees where the copies differ.

A copy's version is the sentence (or two adjacent sentences, where the copy split it) of its
text closest to the quote by edit similarity; a copy with nothing close enough has no version
(it cut that sentence), rather than a loosely related one.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from qa.reading import Article
from qa.reading.chunking import sentence_spans

if TYPE_CHECKING:
    from qa.answering import Citation
    from qa.retrieval import Passage

MATCH_MIN = 60  # rapidfuzz ratio (0-100) to the quote below which a copy has no version of it
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[A-Za-z][A-Za-z'’.-]*[A-Za-z]|[A-Za-z]")
_NUMBER_WORDS = frozenset("""zero one two three four five six seven eight nine ten eleven twelve thirteen
fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
hundred thousand million billion trillion dozen half first second third fourth fifth""".split())
# Capitalised words that are not names wherever they stand (a sentence's first word, mostly).
_NOT_NAMES = frozenset("""a an the and or but of to in on at for by with from as is are was were be this that
these those it its he she they we you i his her their our what which who when where why how if then there
here also mr mrs ms dr""".split())


@dataclass
class Version:
    """One outlet's wording of a cited sentence. ``adds``/``lacks``: the numbers and names this
    version has that the cited quote lacks, and the other way round (empty for the cited one)."""

    article_id: str
    source: str
    date: str | None
    url: str
    quote: str | None  # None: the outlet's text has no sentence close to the cited one
    similarity: float  # rapidfuzz ratio to the cited quote, 0-100
    date_source: str | None = None  # how ``date`` was found (qa.reading.dates.DATE_SOURCES)
    adds: list[str] = field(default_factory=list)
    lacks: list[str] = field(default_factory=list)


@dataclass
class SideBySide:
    """Every outlet's version of citation ``citation``'s quote; the cited article comes first."""

    citation: int
    versions: list[Version]


def other_outlets(source: str, copies: Iterable[str]) -> list[str]:
    """The outlets among ``copies`` (their source names) other than ``source``, once each, in order."""
    seen = {source.casefold()}
    out = []
    for name in copies:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def also_reported(source: str, copies: Iterable[str]) -> str:
    """"also reported by A, B and C", or "" when no other outlet carries the story."""
    names = other_outlets(source, copies)
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"also reported by {listed}"


def matching_sentence(quote: str, text: str) -> tuple[str | None, float]:
    """The sentence, or pair of adjacent sentences, of ``text`` closest to ``quote``, and its
    ratio; (None, best ratio) when none reaches MATCH_MIN."""
    sentences = [" ".join(text[a:b].split()) for a, b in sentence_spans(text)] or [" ".join(text.split())]
    windows = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]
    best = process.extractOne(" ".join(quote.split()), windows, scorer=fuzz.ratio)
    if best is None:
        return None, 0.0
    found, score, _ = best
    return (found if score >= MATCH_MIN else None), round(float(score), 1)


def markers(sentence: str) -> list[str]:
    """The numbers (figures and number words) and capitalised names of a sentence, in order, once
    each: what a reader checks when two outlets' versions differ."""
    out: list[str] = []
    for token in _TOKEN.findall(sentence):
        token = re.sub(r"['’]s$", "", token).rstrip(".")
        if token[:1].isdigit():
            token = token.replace(",", "")
        elif not (any(part in _NUMBER_WORDS for part in token.lower().split("-"))
                  or (token[:1].isupper() and token.lower() not in _NOT_NAMES)):
            continue
        if token not in out:
            out.append(token)
    return out


def version(article: Article, quote: str, cited: bool = False) -> Version:
    """``article``'s version of ``quote``: the quote itself for the cited article, else its
    closest sentence with the markers it adds and lacks."""
    if cited:
        return Version(article.id, article.source, article.date, article.url, quote, 100.0, article.date_source)
    found, score = matching_sentence(quote, article.text)
    if found is None:
        return Version(article.id, article.source, article.date, article.url, None, score, article.date_source)
    mine, theirs = markers(found), markers(quote)
    lower_mine, lower_theirs = {m.lower() for m in mine}, {m.lower() for m in theirs}
    return Version(article.id, article.source, article.date, article.url, found, score, article.date_source,
                   adds=[m for m in mine if m.lower() not in lower_theirs],
                   lacks=[m for m in theirs if m.lower() not in lower_mine])


def compare_sources(citations: list["Citation"], passages: list["Passage"]) -> list[SideBySide]:
    """For each citation whose passage other outlets carry too, every outlet's version."""
    by_article = {p.article.id: p for p in passages}
    out = []
    for c in citations:
        passage = by_article.get(c.article_id)
        if passage is None or not passage.also_in:
            continue
        out.append(SideBySide(c.n, [version(passage.article, c.quote, cited=True)] +
                              [version(copy, c.quote) for copy in passage.also_in]))
    return out
