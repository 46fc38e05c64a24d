"""The time a library covers, and what a question naming another time is told.

A question about "February 2025" asked of a library that ends on 10 January 2025 can only be
declined, but the generic decline ("the articles don't say") leaves the user guessing whether
the library lacks the story or the time. When the question names a time wholly outside the
library's dated articles, the decline says which: "Your library has nothing after 10 January
2025". Only times the question fixes count ("in 2030", "March 2025"): a relative one ("last
week") is read against the library's newest article by retrieval, so it is never outside.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from qa.reading.dates import question_time_range


_LATER = re.compile(r"\b(?:since|after)\b", re.I)        # "since 2022": 2022 and every year after it
_EARLIER = re.compile(r"\b(?:before|until|till|prior to)\b", re.I)


def named_span(question: str, today: date | None = None) -> tuple[date, date] | None:
    """The days a question names whatever today is ("in 2030", "from 2003 to 2024"; "since 2022"
    runs on without end), or None when it names none or only a relative time ("last week", "in
    January": which January depends on today)."""
    today = today or date.today()
    span = question_time_range(question, today)
    if span is None or span != question_time_range(question, today - timedelta(days=1000)):
        return None
    return (date.min if _EARLIER.search(question) else span[0], date.max if _LATER.search(question) else span[1])


def outside_library(question: str, covered: tuple[date, date] | None) -> str | None:
    """What to answer a question naming a time the library's articles (``covered``: their first and
    last days) do not reach, or None when it names none, or one the library reaches."""
    span = named_span(question)
    if span is None or covered is None:
        return None
    first, last = covered
    runs = f"its dated articles run from {_day(first)} to {_day(last)}."
    if span[0] > last:
        return f"Your library has nothing after {_day(last)}: {runs}"
    if span[1] < first:
        return f"Your library has nothing before {_day(first)}: {runs}"
    return None


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
