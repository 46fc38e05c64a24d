"""Search filters: a date range and outlets, applied inside the search, not to its top k.

A filtered search must still return k passages when k matching ones exist, so
every backend turns :class:`Filters` into a candidate set before ranking (the
folder backend: the matching chunk rows from SQLite; Milvus: a boolean expression).
The command line's ``--since``/``--until``/``--source`` come here through :func:`parse_day`.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_DAY = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


@dataclass(frozen=True)
class Filters:
    """``since``/``until``: inclusive bounds on an article's date; undated articles match a
    bound only with ``include_undated``. ``sources``: outlets, each compared without regard
    to case with the article's source, or a domain its url is on ("voanews.com" takes
    www.voanews.com too); an article passes if it matches any of them."""

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    include_undated: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            object.__setattr__(self, "sources", (self.sources,))
        object.__setattr__(self, "sources", tuple(s.strip() for s in self.sources if s.strip()))

    def __bool__(self) -> bool:
        return self.dated or bool(self.sources)

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    def sql(self, table: str) -> tuple[str, list]:
        """A WHERE clause over ``table``'s date, source and url columns, and its parameters."""
        terms, params = [], []
        dates = []
        if self.since is not None:
            dates.append(f"{table}.date >= ?")
            params.append(self.since.isoformat())
        if self.until is not None:
            # Dates are ISO strings, some with a time: anything on the last day sorts below its next day.
            dates.append(f"{table}.date < ?")
            params.append(next_day(self.until))
        if dates:
            undated = f" OR coalesce({table}.date, '') = ''" if self.include_undated else ""
            terms.append(f"(({' AND '.join(dates)}){undated})")
        if self.sources:
            ors = []
            for name in self.sources:
                ors.append(f"lower({table}.source) = lower(?)")
                params.append(name)
                for pattern in host_patterns(name):
                    ors.append(f"lower({table}.url) LIKE ?")
                    params.append(pattern)
            terms.append(f"({' OR '.join(ors)})")
        return " AND ".join(terms) or "1", params

    def describe(self) -> str:
        """The filters as the command line spells them, for messages ("--since 2010-01-01")."""
        parts = []
        if self.since is not None:
            parts.append(f"--since {self.since.isoformat()}")
        if self.until is not None:
            parts.append(f"--until {self.until.isoformat()}")
        parts += [f"--source {name}" for name in self.sources]
        if self.include_undated and self.dated:
            parts.append("--include-undated")
        return " ".join(parts)

    def nothing_matches(self) -> str:
        """The abstention when no article passes: it names the filters, so the user sees why."""
        return f"No article in the library matches {self.describe()}, so there is nothing to answer from."

    def to_dict(self) -> dict:
        """The ``"filters"`` object of ``--json`` output."""
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "sources": list(self.sources), "include_undated": self.include_undated}


def make_filters(since: date | str | None = None, until: date | str | None = None,
                 sources: Iterable[str] | str = (), include_undated: bool = False) -> Filters:
    """Filters from the API's and command line's values: dates as ``date`` or "YYYY[-MM[-DD]]"."""
    def day(value: date | str | None, end: bool) -> date | None:
        return parse_day(value, end) if isinstance(value, str) else value

    first, last = day(since, False), day(until, True)
    if first and last and first > last:
        raise ValueError(f"--since {first.isoformat()} is after --until {last.isoformat()}")
    return Filters(first, last, (sources,) if isinstance(sources, str) else tuple(sources), include_undated)


def host_patterns(name: str) -> list[str]:
    """SQL LIKE patterns of the urls on domain ``name`` and its subdomains; none for a name
    that cannot be a domain (an outlet's name with spaces)."""
    host = name.strip().lower().removeprefix("www.")
    if "." not in host or " " in host or "/" in host or "%" in host or "_" in host:
        return []
    return [f"%://{host}/%", f"%://{host}", f"%.{host}/%", f"%.{host}"]


def parse_day(value: str, end: bool = False) -> date:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as a day: the first day of that year or month,
    or with ``end`` its last (``--until 2014`` takes all of 2014)."""
    match = _DAY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(match[1]), match[2], match[3]
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            m = int(month)
            return date(year, m, calendar.monthrange(year, m)[1] if end else 1)
        return date(year, int(month), int(day))
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None


def next_day(day: date) -> str:
    """The ISO day after ``day``, the bound every date on ``day`` sorts below; after the last day
    a date can have (``--until 9999``), a string above every such date."""
    if day == date.max:
        return "9999-12-31~"
    return date.fromordinal(day.toordinal() + 1).isoformat()
