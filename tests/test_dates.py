"""Publication-date finding and question time spans: right when a date is stated, None otherwise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.reading.dates import dated_by, find_publication_date, is_dateline, is_inferred, question_time_range

SEEDS = Path(__file__).parent.parent / "qa" / "seeds"
TODAY = date(2025, 1, 15)


def seed(stem_start: str) -> str:
    return next(SEEDS.glob(f"{stem_start}_*.txt")).read_text(encoding="utf-8")


def test_seed_000_dateline() -> None:
    assert find_publication_date(seed("000")) == "2013-04-10"


def test_seed_003_title_suffix() -> None:
    title = "Russia Urges Washington, Pyongyang to Reduce Tensions Over N. Korea Nuclear Program - 2003-04-08"
    assert find_publication_date(seed("003"), title=title) == "2003-04-08"
    assert find_publication_date(seed("003")) == "2003-04-08"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"declared": "2024-01-17", "url": "https://x.com/2023/02/03/a"}, ("2024-01-17", "field")),
        ({"declared": "soon", "url": "https://x.com/2023/02/03/a"}, ("2023-02-03", "url")),
        ({"title": "Talks resume - 2003-04-08", "text": "Jan. 5, 2025\nBody."}, ("2003-04-08", "title")),
        ({"text": "Jan. 5, 2025\nBody."}, ("2025-01-05", "dateline")),
        ({"text": "In 2003 Russia proposed talks."}, (None, None)),
    ],
)
def test_dated_by_says_which_source_gave_the_date(kwargs: dict, expected: tuple) -> None:
    assert dated_by(**{"text": "Body.", **kwargs}) == expected


def test_only_a_declared_field_is_not_inferred() -> None:
    assert [is_inferred(s) for s in ("field", "url", "title", "dateline", "twin", None)] == [
        False, True, True, True, True, False]


@pytest.mark.parametrize("stem", ["001", "004"])
def test_seeds_without_full_date_get_none(stem: str) -> None:
    assert find_publication_date(seed(stem)) is None


@pytest.mark.parametrize(
    "declared",
    [
        "2024-01-17",
        "2024-01-17T10:00:00Z",
        "2024-01-17T23:30:00+05:00",
        "Jan 17, 2024",
        "17 January 2024",
        "Wed, 17 Jan 2024 10:00:00 GMT",
        "17 janvier 2024",
    ],
)
def test_declared_formats(declared: str) -> None:
    assert find_publication_date("no date here", declared=declared) == "2024-01-17"


def test_declared_wins_over_url_and_text() -> None:
    found = find_publication_date(
        "Jan. 5, 2025\nBody.", url="https://x.com/2023/02/03/story", declared="2024-01-17"
    )
    assert found == "2024-01-17"


@pytest.mark.parametrize("declared", ["2024", "January 2024", "yesterday", "soon", ""])
def test_partial_or_relative_declared_dates_are_ignored(declared: str) -> None:
    assert find_publication_date("Nothing dated.", declared=declared) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://www.usatoday.com/story/news/2024/01/17/some-story/4258265001/",
        "https://example.com/news/2024-01-17/some-story",
        "https://example.com/news/20240117-some-story.html",
    ],
)
def test_url_dates(url: str) -> None:
    assert find_publication_date("Body.", url=url) == "2024-01-17"


@pytest.mark.parametrize(
    "url",
    ["https://example.com/2024/13/45/x", "https://example.com/story/4258265001/", "https://example.com/12345678"],
)
def test_url_numbers_that_are_not_dates(url: str) -> None:
    assert find_publication_date("Body.", url=url) is None


def test_url_wins_over_dateline() -> None:
    assert find_publication_date("Jan. 5, 2025\nBody.", url="https://x.com/2022/06/09/a") == "2022-06-09"


@pytest.mark.parametrize(
    "title",
    [
        "Talks resume - 2003-04-08",
        "Talks resume — April 8, 2003",
        "Ten Things You Need to Know Today: 8 April 2003 | The Week",
    ],
)
def test_title_suffix(title: str) -> None:
    assert find_publication_date("Body.", title=title) == "2003-04-08"


def test_date_inside_title_is_not_a_suffix() -> None:
    assert find_publication_date("Body.", title="Remembering September 11, 2001 twenty years on") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\n\nWednesday, 10 April 2013\n\nRussia warns", "2013-04-10"),
        ("Jan. 5, 2025\nThe council met.", "2025-01-05"),
        ("January 5, 2025 10:00 AM ET\nThe council met.", "2025-01-05"),
        ("Headline\nPublished 3:04 PM EST, Fri January 10, 2025\nThe council met.", "2025-01-10"),
        ("By Ana Ruiz, March 3, 2024\nThe council met.", "2024-03-03"),
        ("LONDON, Jan. 5, 2025 (Reuters) - The minister said talks would resume.", "2025-01-05"),
        ("Updated: Sept. 30, 2024\nBody.", "2024-09-30"),
    ],
)
def test_datelines(text: str, expected: str) -> None:
    assert find_publication_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "She gave birth to a son on June 21, 2015, while awaiting sentencing.",
        "Norton was pregnant in 2015 with her fourth child.",
        "March 19 — The school system decided to keep schools closed.",
        "A" * 700 + "\nJanuary 5, 2025\n",
        "Officials counted 2003 ballots and 12 04 2013 receipts.",
        "The treaty was signed on 31 February 2013.",
    ],
)
def test_no_dateline(text: str) -> None:
    assert find_publication_date(text) is None


@pytest.mark.parametrize(
    "line, expected",
    [
        ("Wednesday, 10 April 2013", True),
        ("Updated 3:04 PM ET, Jan. 5, 2025", True),
        ("He was born on June 21, 1950.", False),
        ("Russia warns against stoking N.Korea tensions", False),
        ("April 2013", False),
    ],
)
def test_is_dateline(line: str, expected: bool) -> None:
    assert is_dateline(line) is expected


D = date


@pytest.mark.parametrize(
    "question, expected",
    [
        ("What did Russia say in 2003?", (D(2003, 1, 1), D(2003, 12, 31))),
        ("What happened in April 2013?", (D(2013, 4, 1), D(2013, 4, 30))),
        ("What happened April 2013?", (D(2013, 4, 1), D(2013, 4, 30))),
        ("What did Lavrov say on 10 April 2013?", (D(2013, 4, 10), D(2013, 4, 10))),
        ("What did Lavrov say on April 10, 2013?", (D(2013, 4, 10), D(2013, 4, 10))),
        ("What changed between 2003 and 2005?", (D(2003, 1, 1), D(2005, 12, 31))),
        ("Trends in the 1990s?", (D(1990, 1, 1), D(1999, 12, 31))),
        ("What happened last week?", (D(2025, 1, 8), D(2025, 1, 15))),
        ("What happened this week?", (D(2025, 1, 9), D(2025, 1, 15))),
        ("Who won this year?", (D(2025, 1, 1), D(2025, 12, 31))),
        ("Who won last year?", (D(2024, 1, 1), D(2024, 12, 31))),
        ("What happened last month?", (D(2024, 12, 1), D(2024, 12, 31))),
        ("What happened this month?", (D(2025, 1, 1), D(2025, 1, 31))),
        ("What happened yesterday?", (D(2025, 1, 14), D(2025, 1, 14))),
        ("What is the news today?", (D(2025, 1, 15), D(2025, 1, 15))),
        ("What happened in January?", (D(2025, 1, 1), D(2025, 1, 31))),
        ("What happened in March?", (D(2024, 3, 1), D(2024, 3, 31))),
        ("What happened in May?", (D(2024, 5, 1), D(2024, 5, 31))),
        ("What happened on January 6?", (D(2025, 1, 6), D(2025, 1, 6))),
    ],
)
def test_question_time_range(question: str, expected: tuple[date, date]) -> None:
    assert question_time_range(question, TODAY) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What did Lavrov say about North Korea?",
        "How many of the 2,003 people were evacuated?",
        "What did the G8 ministers discuss?",
        "Which are the top 10 risks?",
        "Why were 2000 people evacuated?",
        "Did the prize reach $2025?",
        "Which of the top 10 may be closed?",
        "What is 30% of 1500?",
        "What happened in the year 1800?",
    ],
)
def test_questions_without_time(question: str) -> None:
    assert question_time_range(question, TODAY) is None


DATEISH = st.sampled_from(
    [
        "2003", "April", "10", "April 10,", "2013", "Jan.", "last", "this", "week", "month", "year",
        "yesterday", "today", "in", "on", "Published", "3:04 PM", "—", "-", "\n", "/2024/01/17/",
        "1990s", "31 February 2013", "Sept. 5, 2025", "0000", "9999", "2100", "1899",
    ]
)
TEXTISH = st.lists(st.one_of(DATEISH, st.text(max_size=12)), max_size=25).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(text=TEXTISH, title=TEXTISH, url=st.text(max_size=60))
def test_find_publication_date_never_raises(text: str, title: str, url: str) -> None:
    found = find_publication_date(text, title=title, url=url)
    assert found is None or 1900 <= date.fromisoformat(found).year <= 2100


@settings(max_examples=40, deadline=None)
@given(declared=st.one_of(st.text(max_size=40), TEXTISH))
def test_declared_never_raises(declared: str) -> None:
    found = find_publication_date("", declared=declared)
    assert found is None or date.fromisoformat(found)


@settings(max_examples=200, deadline=None)
@given(question=st.one_of(st.text(), TEXTISH), today=st.dates())
def test_question_time_range_never_raises(question: str, today: date) -> None:
    span = question_time_range(question, today)
    assert span is None or span[0] <= span[1]
