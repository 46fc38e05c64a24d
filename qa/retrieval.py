"""Retrieval: the passages of a library most likely to answer a question.

Hybrid: dense (FAISS, cosine) and keyword (BM25) candidates fused by
reciprocal rank, then articles from the time the question names ("in 2003",
"last week") ranked first, and the same wire story syndicated by several
outlets shown once (the copies are kept as alternative sources).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from embeddings.encoder import Encoder
from qa.dates import question_time_range
from qa.library import Library, StoredChunk
from qa.reading import Article

RRF_K = 60            # reciprocal rank fusion constant (Cormack et al. 2009)
CANDIDATES = 50       # per retriever, before fusion
DUPLICATE_RATIO = 90  # rapidfuzz token_set_ratio at which two passages are the same text


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. ``score`` is its cosine similarity to the question (higher is
    closer); ``also_in`` lists other articles carrying the same text."""

    chunk: StoredChunk
    score: float
    also_in: tuple[Article, ...] = field(default=())

    @property
    def article(self) -> Article:
        return self.chunk.article

    @property
    def text(self) -> str:
        return self.chunk.text


def _in_span(day: str | None, span: tuple[date, date]) -> int:
    """0: inside the span, 1: undated, 2: outside."""
    if not day:
        return 1
    try:
        d = date.fromisoformat(day)
    except ValueError:
        return 1
    return 0 if span[0] <= d <= span[1] else 2


class Retriever:
    """Hybrid, date-aware retrieval over one library."""

    def __init__(self, library: Library, encoder: Encoder, hybrid: bool = True) -> None:
        self.library = library
        self.encoder = encoder
        self.hybrid = hybrid

    def search(self, question: str, k: int = 5, today: date | None = None, context: str = "") -> list[Passage]:
        """The ``k`` best passages, best first. ``today`` anchors relative dates ("last week");
        ``context`` (earlier turns of a conversation) joins the query but not the date reading."""
        query = f"{context}\n{question}".strip() if context else question
        index = self.library.index
        if not len(index):
            return []
        qvec = self.encoder.encode([query])
        n = max(CANDIDATES, 4 * k)
        _, dense_rows = index.search(qvec, n)
        ranked: dict[int, float] = {}
        for rank, row in enumerate(int(r) for r in dense_rows[0] if r >= 0):
            ranked[row] = ranked.get(row, 0.0) + 1.0 / (RRF_K + rank)
        if self.hybrid:
            _, kw_rows = self.library.keyword_index.search(query, n)
            for rank, row in enumerate(int(r) for r in kw_rows):
                ranked[row] = ranked.get(row, 0.0) + 1.0 / (RRF_K + rank)
        rows = sorted(ranked, key=lambda r: -ranked[r])
        chunks = self.library.chunks(rows)
        cosine = index.vectors(rows) @ qvec[0]
        scored = [(c, float(s), ranked[c.row]) for c, s in zip(chunks, cosine)]
        span = self._time_span(question, today, [c.article.date for c, _, _ in scored])
        if span:
            scored.sort(key=lambda x: (_in_span(x[0].article.date, span), -x[2]))
        return _collapse_duplicates(scored, k)

    def _time_span(self, question: str, today: date | None, dates: list[str | None]):
        """The span the question names, against ``today``; if nothing retrieved falls in a
        relative span, against the newest article instead (an archive of old news)."""
        span = question_time_range(question, today or date.today())
        if span is None or today is not None or any(_in_span(d, span) == 0 for d in dates):
            return span
        newest = max((d for d in dates if d and _in_span(d, (date.min, date.max)) == 0), default=None)
        return question_time_range(question, date.fromisoformat(newest)) if newest else span


def _collapse_duplicates(scored: list[tuple[StoredChunk, float, float]], k: int) -> list[Passage]:
    from rapidfuzz import fuzz

    kept: list[tuple[StoredChunk, float, list[Article]]] = []
    for chunk, score, _ in scored:
        twin = next((item for item in kept if item[0].article.id != chunk.article.id and
                     fuzz.token_set_ratio(item[0].text, chunk.text) >= DUPLICATE_RATIO), None)
        if twin is not None:
            if chunk.article.id not in {a.id for a in twin[2]}:
                twin[2].append(chunk.article)
            continue
        kept.append((chunk, score, []))
        if len(kept) == k:
            break
    return [Passage(c, s, tuple(alts)) for c, s, alts in kept]

