"""Milvus boolean expressions: which rows a reader's generation sees, and a search's filters.

Filters act inside Milvus's search (so k hits come back whenever k chunks match); these
functions spell them over the chunk fields: ``added``/``removed`` for the generation,
``date`` and ``month`` for dates, ``source_key`` and the articles' ``url`` for outlets.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from qa.library.filters import Filters, host_patterns, next_day
from qa.library.milvus.client import UNDATED

MONTH_LIST = 600  # bounded ranges up to 50 years are listed (a partition key prunes on == and in only)


def quote(text: str) -> str:
    """``text`` as a Milvus string literal."""
    return json.dumps(text, ensure_ascii=False)


def live(generation: int) -> str:
    """The rows a reader pinned at ``generation`` sees: added by then and not removed by then."""
    return f"added <= {generation} and (removed == 0 or removed > {generation})"


def month(day: str | None) -> str:
    """The ``month`` field of a chunk dated ``day`` (ISO, maybe with a time)."""
    return day[:7] if day else UNDATED


def month_expr(where: Filters) -> str:
    """Months that hold every date the filter admits (implied by its date terms, so it never
    changes what matches): a list when both bounds are set, else a range."""
    low = month(where.since.isoformat()) if where.since else None
    high = month(where.until.isoformat()) if where.until else None  # stored dates are ISO days
    if low and high:
        first, last = (int(m[:4]) * 12 + int(m[5:]) - 1 for m in (low, high))
        if last - first < MONTH_LIST:
            return f"month in {json.dumps([f'{i // 12:04d}-{i % 12 + 1:02d}' for i in range(first, last + 1)])}"
    return " and ".join(t for t in (low and f"month >= {quote(low)}", high and f"month <= {quote(high)}") if t)


def date_expr(where: Filters, months: bool) -> str:
    """``where``'s date bounds as a Milvus expression over the ``date`` field ("" when undated);
    with ``months`` (the collection has a ``month`` field), led by the months the dates fall in,
    which a partition key or the month index turns into a small candidate set before the date
    strings are compared."""
    terms = [month_expr(where)] if months and where.dated else []
    if where.since is not None:
        terms.append(f"date >= {quote(where.since.isoformat())}")
    if where.until is not None:
        terms.append(f'date != "" and date < {quote(next_day(where.until))}')
    if not terms:
        return ""
    return f'(({" and ".join(terms)}) or date == "")' if where.include_undated else " and ".join(terms)


def url_expr(sources: Iterable[str]) -> str:
    """The articles whose url is on one of the domains among ``sources`` ("" when none is a domain)."""
    return " or ".join(f"url like {quote(p)}" for s in sources for p in host_patterns(s))


def source_expr(sources: Iterable[str], article_ids: list[str]) -> str:
    """Chunks of the outlets ``sources`` (their ``source_key``) or of the articles ``article_ids``
    (those on a domain among them, found with :func:`url_expr`)."""
    ors = [f"source_key in {json.dumps([s.lower() for s in sources], ensure_ascii=False)}"]
    if article_ids:
        ors.append(f"article_id in {json.dumps(article_ids, ensure_ascii=False)}")
    return f"({' or '.join(ors)})"
