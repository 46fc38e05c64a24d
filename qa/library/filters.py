"""Search filters: a date range and an outlet, applied inside the search, not to its top k.

A filtered search must still return k passages when k matching ones exist, so
every backend turns :class:`Filters` into a candidate set before ranking (the
folder backend: the matching chunk rows from SQLite; Milvus: a boolean expression).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Filters:
    """``since``/``until``: inclusive bounds on an article's date (undated articles never
    match a bound); ``source``: the outlet, compared without regard to case."""

    since: date | None = None
    until: date | None = None
    source: str | None = None

    def __bool__(self) -> bool:
        return self.since is not None or self.until is not None or bool(self.source)

    def sql(self, table: str) -> tuple[str, list]:
        """A WHERE clause over ``table``'s date and source columns, and its parameters."""
        terms, params = [], []
        if self.since is not None:
            terms.append(f"{table}.date >= ?")
            params.append(self.since.isoformat())
        if self.until is not None:
            # Dates are ISO strings, some with a time: anything on the last day sorts below its next day.
            terms.append(f"{table}.date < ?")
            params.append(next_day(self.until))
        if self.source:
            terms.append(f"lower({table}.source) = lower(?)")
            params.append(self.source)
        return " AND ".join(terms) or "1", params


def next_day(day: date) -> str:
    return date.fromordinal(day.toordinal() + 1).isoformat()
