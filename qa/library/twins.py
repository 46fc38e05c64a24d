"""Dates for undated articles from their dated twins: a syndicated copy carries its source's date.

Wire stories reach a library through several outlets, and some copies lose their date on the
way (a text file with no dateline, a feed without a date field). When an undated article's text
is a near-duplicate of a dated one, already in the library or in the same ingest, it is given
that date, with ``date_source`` "twin". Nothing is guessed: no twin, or twins that disagree on the
day, leaves the article undated.

Candidates are found by vector (the nearest dated chunks to the article's first chunk, and the
first chunks of the batch's dated articles), then confirmed on the whole text: only a copy with
small edits passes, not another article on the same story.

A twin's date is the date that copy carries, not proof of the copy's own: on rtqa-2025's 1,152
dated articles, 9 pairs reach TWIN_RATIO, and 4 share the day; 3 are one or two days apart (a
story updated), one a year (an annual Groundhog Day template, ratio 92) and one six months (the
same text under two dates). Hence "twin" dates are marked as inferred, and twins that disagree
date nothing. (None of that set's 47 undated articles has a twin: they stay undated.)

Only arriving articles are dated: an undated article stored before its dated twin arrives stays
undated (changing a stored article's date would rewrite its rows in every backend); removing it
and ingesting it again after the twin dates it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from qa.library.filters import Filters
from qa.reading import Article
from qa.reading.chunking import Chunk
from qa.reading.dates import MIN_YEAR, TWIN

if TYPE_CHECKING:
    from qa.library.base import Library

# rapidfuzz ratio (normalized edit similarity, 0-100) between two whole cleaned texts at which
# they are one story: a copy with a changed headline, number or name scores 95+, two outlets'
# own reports of the same event score far below (the seeds' two 2013 Lavrov articles: 46).
TWIN_RATIO = 90
CANDIDATES = 5  # nearest chunks (library) and first chunks (batch) checked per undated article
_DATED = Filters(since=date(MIN_YEAR, 1, 1))  # undated articles never pass a date bound


def is_twin(text: str, other: str) -> bool:
    """Whether two article texts are the same story with small edits."""
    return fuzz.ratio(text, other, score_cutoff=TWIN_RATIO) > 0


class TwinDater:
    """Dates an ingest's undated articles batch by batch, as their vectors come from the encoder
    (a streaming ingest stages each batch's rows with their dates, so dating cannot wait for the
    end). Twins are looked for among the stored articles and this ingest's dated articles so far
    (one vector each: the first chunk's)."""

    def __init__(self, library: "Library") -> None:
        self._library = library
        self._dated: list[Article] = []
        self._vectors: list[np.ndarray] = []
        self._seen: set[str] = set()

    def date(self, chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article]) -> list[Article]:
        """The articles whose first chunk is in this batch and that dated twins agreeing on a day
        date (``date_source`` "twin"), with that date. ``chunks`` and ``vectors`` are the batch's,
        row for row; ``articles`` holds every article of the ingest by id."""
        first: dict[str, int] = {}
        for i, chunk in enumerate(chunks):
            if chunk.article_id not in self._seen:  # chunks come in article order: this is its first
                self._seen.add(chunk.article_id)
                first[chunk.article_id] = i
        starting = [articles[aid] for aid in first if aid in articles]
        for article in starting:
            if article.date:
                self._dated.append(article)
                self._vectors.append(vectors[first[article.id]])
        dated_vectors = np.asarray(self._vectors) if self._vectors else None
        found = []
        for article in starting:
            if article.date:
                continue
            vector = vectors[first[article.id]]
            candidates = _stored_candidates(self._library, vector)
            if dated_vectors is not None:
                candidates += [self._dated[j] for j in np.argsort(-(dated_vectors @ vector))[:CANDIDATES]]
            days = {c.date[:10] for c in {c.id: c for c in candidates}.values()
                    if c.id != article.id and c.date and is_twin(article.text, c.text)}
            if len(days) == 1:
                found.append(replace(article, date=days.pop(), date_source=TWIN))
        return found


def _stored_candidates(library: "Library", vector: np.ndarray) -> list[Article]:
    """The dated stored articles whose chunks lie nearest to ``vector``."""
    if not library.counts["chunks"]:
        return []
    hits = library.dense_search(vector, CANDIDATES, _DATED)
    return [c.article for c in library.chunks([row for row, _ in hits])]
