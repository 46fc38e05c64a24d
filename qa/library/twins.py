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

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from qa.chunking import Chunk
from qa.dates import MIN_YEAR, TWIN
from qa.library.filters import Filters
from qa.reading import Article

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


def date_from_twins(library: "Library", articles: list[Article], chunks: list[Chunk],
                    vectors: np.ndarray) -> list[Article]:
    """``articles`` with every undated one that has dated twins agreeing on a day given that day
    (``date_source`` "twin"). ``chunks`` are the articles' chunks and ``vectors`` their vectors,
    row for row, as an ingest holds them before its commit; ``library`` is searched for twins
    already stored."""
    if all(a.date for a in articles) or vectors is None or not len(vectors):
        return articles
    first: dict[str, int] = {}
    for i, chunk in enumerate(chunks):
        first.setdefault(chunk.article_id, i)
    dated = [a for a in articles if a.date and a.id in first]
    dated_vectors = vectors[[first[a.id] for a in dated]] if dated else None
    out = list(articles)
    for i, article in enumerate(articles):
        if article.date or article.id not in first:
            continue
        vector = vectors[first[article.id]]
        candidates = _stored_candidates(library, vector)
        if dated_vectors is not None:
            nearest = np.argsort(-(dated_vectors @ vector))[:CANDIDATES]
            candidates += [dated[j] for j in nearest]
        days = {c.date[:10] for c in {c.id: c for c in candidates}.values()
                if c.id != article.id and c.date and is_twin(article.text, c.text)}
        if len(days) == 1:
            out[i] = replace(article, date=days.pop(), date_source=TWIN)
    return out


def _stored_candidates(library: "Library", vector: np.ndarray) -> list[Article]:
    """The dated stored articles whose chunks lie nearest to ``vector``."""
    if not library.counts["chunks"]:
        return []
    hits = library.dense_search(vector, CANDIDATES, _DATED)
    return [c.article for c in library.chunks([row for row, _ in hits])]
