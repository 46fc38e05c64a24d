"""Publication dates of articles and the time spans that questions name.

Dates decide which articles may answer a time-bound question, so a wrong date costs more than
a missing one: only full day-month-year dates are accepted, never a year guessed from a bare
number. Regexes find candidate spans; python-dateutil (and dateparser for declared values in
other languages) does the parsing.
"""

from __future__ import annotations

import calendar
import re
import threading
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta


MIN_YEAR, MAX_YEAR = 1900, 2100
# dateutil is imported on first use (~15 ms with its time zones; most questions name no day),
# one thread at a time: CPython 3.11 can fail when two threads compile modules at once.
_IMPORT = threading.Lock()


def _date_parser():
    with _IMPORT:
        from dateutil import parser
    return parser


def _months(n: int = 0, years: int = 0):
    with _IMPORT:
        from dateutil.relativedelta import relativedelta
    return relativedelta(months=n, years=years)


DATELINE_WINDOW = 600
MAX_DECLARED_CHARS = 100
MAX_DATELINE_EXTRA_WORDS = 6
MAX_DATELINE_OFFSET = 40

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_MONTH_WITHOUT_YEAR = (
    r"(?:(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?|May)"
)
_FULL_MONTH_WITHOUT_YEAR = (
    r"(?:(?i:january|february|march|april|june|july|august|september|october|november|december)|May)"
)
_COUNTED_NOUN = (
    r"(?i:people|persons|residents|troops|soldiers|workers|employees|jobs|students|dollars|euros"
    r"|pounds|miles|kilometres|kilometers|km|metres|meters|feet|tons|tonnes|acres|homes|houses"
    r"|cases|deaths|votes|times|units|members|users|pages|words)\b"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_FULL_DATE = (
    r"(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)"
    rf"|\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+\d{{4}}\b"
    rf"|\b{_MONTH}\s+{_DAY},?\s+\d{{4}}\b"
)
_FULL_DATE_RE = re.compile(_FULL_DATE, re.IGNORECASE)
_URL_DATE_RE = re.compile(r"(?<!\d)(\d{4})([/_-]?)(\d{2})\2(\d{2})(?!\d)")
_TITLE_SUFFIX_RE = re.compile(
    rf"(?:^|[-–—|:,(]\s*)({_FULL_DATE})\)?\s*(?:\|[^|]{{1,40}})?$", re.IGNORECASE
)
_DATELINE_NOISE_RE = re.compile(
    r"\b\d{1,2}(?::\d{2})+\s*(?:[ap]\.?m\.?)?"
    r"|\b(?:published|updated|posted|last|modified|date|on|at|and|by)\b"
    r"|[^\w\s]",
    re.IGNORECASE,
)
_DASH_AFTER_DATE_RE = re.compile(r"\s*(?:\([^)]{0,40}\))?\s*[-–—]")

_DEFAULT_A = datetime(1, 1, 1)
_DEFAULT_B = datetime(2, 2, 2)
_DATEPARSER_SETTINGS = {
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}

Span = tuple[date, date]


# How an article's date was found (``Article.date_source``). Only FIELD is the publisher's own
# metadata; the others are read or inferred by qa, and `qa list` marks their dates with "~".
FIELD, URL, TITLE, DATELINE, TWIN = "field", "url", "title", "dateline", "twin"
DATE_SOURCES = (FIELD, URL, TITLE, DATELINE, TWIN)


def find_publication_date(
    text: str, title: str = "", url: str = "", declared: str | None = None
) -> str | None:
    """Return the article's publication date as ISO "YYYY-MM-DD", or None when none is stated."""
    return dated_by(text, title, url, declared)[0]


def dated_by(
    text: str, title: str = "", url: str = "", declared: str | None = None
) -> tuple[str | None, str | None]:
    """The publication date as ISO "YYYY-MM-DD" and how it was found (FIELD, URL, TITLE or
    DATELINE), or (None, None) when none is stated.

    Sources are tried from most to least trustworthy: a declared metadata field, a date in the
    URL path, a date suffix on the title, then a dateline near the start of the text.
    """
    finders: tuple[tuple[str, Callable[[], date | None]], ...] = (
        (FIELD, lambda: _declared_date(declared) if declared else None),
        (URL, lambda: _url_date(url)),
        (TITLE, lambda: _title_date(title)),
        (DATELINE, lambda: _dateline_date(text)),
    )
    for source, find in finders:
        found = find()
        if found:
            return found.isoformat(), source
    return None, None


def is_inferred(date_source: str | None) -> bool:
    """Whether a date is qa's reading rather than the publisher's declared field: a URL path,
    a title suffix, a dateline or a dated twin. A date whose source was not recorded (an
    article stored before qa kept it) is not called inferred: nothing is known either way."""
    return date_source is not None and date_source != FIELD


def is_dateline(line: str) -> bool:
    """Tell whether a line is only a dateline ("Wednesday, 10 April 2013", "Updated 3:04 PM ET,
    Jan. 5, 2025"), so readers can skip it when looking for a title."""
    match = _FULL_DATE_RE.search(line)
    return (
        match is not None
        and _to_date(match.group()) is not None
        and _only_dateline_words(line, match.start(), match.end())
    )


def question_time_range(question: str, today: date) -> Span | None:
    """Return the (first, last) days a question refers to, or None when it names no time.

    Several mentions ("between 2003 and 2005") give the span covering all of them. Relative
    phrases ("last week", "in January") are resolved against `today`.
    """
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    for pattern, to_span in _QUESTION_RULES:
        for match in pattern.finditer(question):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            try:
                span = to_span(match, today)
            except (ValueError, OverflowError):
                continue
            if span:
                spans.append(span)
                taken.append(match.span())
    if not spans:
        return None
    return min(first for first, _ in spans), max(last for _, last in spans)


def _to_date(value: str) -> date | None:
    """Parse a string holding a complete date; partial dates (no day or no year) give None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = _date_parser().parse(value, default=_DEFAULT_A, ignoretz=True).date()
            second = _date_parser().parse(value, default=_DEFAULT_B, ignoretz=True).date()
    except (ValueError, OverflowError):
        return None
    return first if first == second and _plausible(first) else None


def _plausible(day: date) -> bool:
    return MIN_YEAR <= day.year <= MAX_YEAR


def _declared_date(value: str) -> date | None:
    value = value.strip()
    if not value or len(value) > MAX_DECLARED_CHARS:
        return None
    return _to_date(value) or _dateparser_date(value)


def _dateparser_date(value: str) -> date | None:
    """Fallback for declared dates dateutil cannot read, such as "10 avril 2013"."""
    if not any(char.isdigit() for char in value):
        return None
    import dateparser

    try:
        parsed = dateparser.parse(value, settings=_DATEPARSER_SETTINGS)
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed.date() if parsed and _plausible(parsed.date()) else None


def _url_date(url: str) -> date | None:
    for match in _URL_DATE_RE.finditer(url):
        year, _, month, day = match.groups()
        try:
            found = date(int(year), int(month), int(day))
        except ValueError:
            continue
        if _plausible(found):
            return found
    return None


def _title_date(title: str) -> date | None:
    match = _TITLE_SUFFIX_RE.search(title.strip())
    return _to_date(match.group(1)) if match else None


def _dateline_date(text: str) -> date | None:
    for match in _FULL_DATE_RE.finditer(text[:DATELINE_WINDOW]):
        found = _to_date(match.group())
        if found and _in_dateline(text, match):
            return found
    return None


def _in_dateline(text: str, match: re.Match[str]) -> bool:
    line_start = text.rfind("\n", 0, match.start()) + 1
    line_end = text.find("\n", match.end())
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    start, end = match.start() - line_start, match.end() - line_start
    return (
        _only_dateline_words(line, start, end)
        or _opens_dateline(line, start, end)
        or _ends_headline(line, start)
    )


def _only_dateline_words(line: str, start: int, end: int) -> bool:
    """True when the rest of the line is weekday, time, "Updated", a byline or a place name."""
    rest = _DATELINE_NOISE_RE.sub(" ", line[:start] + " " + line[end:])
    words = rest.split()
    return len(words) <= MAX_DATELINE_EXTRA_WORDS and all(
        word[0].isupper() or not word[0].isalpha() for word in words
    )


def _opens_dateline(line: str, start: int, end: int) -> bool:
    """True for "LONDON, Jan. 5, 2025 (Reuters) - ..." style openings."""
    return start <= MAX_DATELINE_OFFSET and bool(_DASH_AFTER_DATE_RE.match(line, end))


def _ends_headline(line: str, start: int) -> bool:
    """True for a headline carrying its date as a suffix ("... Program - 2003-04-08")."""
    suffix = _TITLE_SUFFIX_RE.search(line)
    return suffix is not None and suffix.start(1) == start


def _month_span(year: int, month: int) -> Span:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _year_span(year: int) -> Span:
    return date(year, 1, 1), date(year, 12, 31)


def _not_in_future(span_for_year: Callable[[int], Span | None], today: date) -> Span | None:
    """A month or day named without a year means the latest one that has started by today."""
    span = span_for_year(today.year)
    if span and span[0] > today:
        return span_for_year(today.year - 1)
    return span


def _parse_with_year(value: str, year: int) -> datetime | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _date_parser().parse(value, default=datetime(year, 1, 1), ignoretz=True)
    except (ValueError, OverflowError):
        return None


def _day_rule(match: re.Match[str], today: date) -> Span | None:
    found = _to_date(match.group())
    return (found, found) if found else None


def _month_year_rule(match: re.Match[str], today: date) -> Span | None:
    parsed = _parse_with_year(match.group(), MIN_YEAR)
    if parsed is None or not _plausible(parsed.date()):
        return None
    return _month_span(parsed.year, parsed.month)


def _month_day_rule(match: re.Match[str], today: date) -> Span | None:
    def day_in(year: int) -> Span | None:
        parsed = _parse_with_year(match.group(), year)
        return (parsed.date(), parsed.date()) if parsed else None

    return _not_in_future(day_in, today)


def _month_rule(match: re.Match[str], today: date) -> Span | None:
    def month_in(year: int) -> Span | None:
        parsed = _parse_with_year(match.group("month"), year)
        return _month_span(year, parsed.month) if parsed else None

    return _not_in_future(month_in, today)


def _decade_rule(match: re.Match[str], today: date) -> Span | None:
    start = int(match.group("decade"))
    return (date(start, 1, 1), date(start + 9, 12, 31)) if MIN_YEAR <= start < MAX_YEAR else None


def _year_rule(match: re.Match[str], today: date) -> Span | None:
    year = int(match.group())
    return _year_span(year) if MIN_YEAR <= year <= MAX_YEAR else None


def _day_word_rule(match: re.Match[str], today: date) -> Span | None:
    day = today if match.group().lower() == "today" else today - timedelta(days=1)
    return day, day


def _relative_rule(match: re.Match[str], today: date) -> Span | None:
    which, unit = match.group("which").lower(), match.group("unit").lower()
    if unit == "week":
        return today - timedelta(days=6 if which == "this" else 7), today
    if which == "past":
        return today - (_months(1) if unit == "month" else _months(years=1)), today
    shift = 0 if which == "this" else 1
    if unit == "month":
        first = today.replace(day=1) - _months(shift)
        return _month_span(first.year, first.month)
    return _year_span(today.year - shift)


_QUESTION_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str], date], Span | None]]] = [
    (_FULL_DATE_RE, _day_rule),
    (re.compile(rf"\b{_MONTH}\s+(?:of\s+)?\d{{4}}\b", re.IGNORECASE), _month_year_rule),
    (
        re.compile(
            rf"\b(?:{_MONTH_WITHOUT_YEAR}\s+{_DAY}|{_DAY}(?:\s+(?i:of))?\s+{_MONTH_WITHOUT_YEAR})(?!\w)"
        ),
        _month_day_rule,
    ),
    (re.compile(r"\b(?P<decade>(?:19|20)\d0)'?s\b"), _decade_rule),
    (re.compile(rf"(?<![\w,.$€£#:/])\d{{4}}(?![\w%]|[.,]\d|\s+{_COUNTED_NOUN})"), _year_rule),
    (re.compile(r"\b(?:today|yesterday)\b", re.IGNORECASE), _day_word_rule),
    (
        re.compile(r"\b(?P<which>this|last|past|previous)\s+(?P<unit>week|month|year)\b", re.IGNORECASE),
        _relative_rule,
    ),
    (
        re.compile(
            rf"\b(?i:in|during|since|until|by|early|late|mid-?)\s+(?i:early\s+|late\s+|mid-?)?"
            rf"(?P<month>{_FULL_MONTH_WITHOUT_YEAR})\b"
        ),
        _month_rule,
    ),
]
