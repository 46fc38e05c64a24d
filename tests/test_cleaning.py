"""Furniture removal: page chrome and appeals go, article sentences stay verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.reading.cleaning import clean_text, is_furniture

SEEDS = Path(__file__).parent.parent / "qa" / "seeds"


def seed(stem_start: str) -> str:
    return next(SEEDS.glob(f"{stem_start}_*.txt")).read_text(encoding="utf-8")


def squash(text: str) -> str:
    return " ".join(text.split())


KEY_SENTENCES = {
    "000": [
        "Russia warns against stoking N.Korea tensions",
        "On North Korea we have no differences with the United States",
        "was to be the focus of talks at a dinner for the G8 ministers later Wednesday.",
    ],
    "001": [
        "LONDON — Foreign Minister Sergei Lavrov said Wednesday that Moscow agrees with Washington's stance",
        "Hague said the ministers also planned to discuss Burma, Somalia, cybersecurity, and sexual violence in war zones.",
    ],
    "003": [
        "six-sided discussions involving the United States, North Korea, Russia, China, South Korea and Japan",
        "Russia Urges Washington, Pyongyang to Reduce Tensions Over N. Korea Nuclear Program - 2003-04-08",
        "in violation of a 1994 agreement.",
    ],
    "004": [
        "By Press Association",
        "Russia’s top diplomat has accused the United States, South Korea and Japan on Wednesday",
        "those who believe to be the masters of the universe.”",
    ],
}


@pytest.mark.parametrize("stem", sorted(KEY_SENTENCES))
def test_seed_keeps_key_sentences(stem: str) -> None:
    cleaned = clean_text(seed(stem))
    for sentence in KEY_SENTENCES[stem]:
        assert sentence in cleaned


@pytest.mark.parametrize("stem", ["000", "004"])
def test_seed_without_furniture_keeps_every_line(stem: str) -> None:
    original = [squash(line) for line in seed(stem).splitlines() if line.strip()]
    assert [line for line in clean_text(seed(stem)).split("\n") if line] == original


def test_seed_003_loses_page_header() -> None:
    cleaned = clean_text(seed("003"))
    assert "Accessibility links" not in cleaned
    assert "Breaking News" not in cleaned
    assert cleaned.startswith("Russia Urges Washington")


def test_seed_001_loses_whole_donation_appeal() -> None:
    cleaned = clean_text(seed("001"))
    appeal = ["A Message from The Moscow Times", "Dear readers", "undesirable", "from just $2", "Remind me later"]
    for appeal_part in appeal:
        assert appeal_part not in cleaned
    assert cleaned.endswith("sexual violence in war zones.")


def test_appeal_in_the_middle_ends_at_its_dismiss_line() -> None:
    text = "First paragraph.\n\nA message from the Harbour Times:\nPlease support our newsroom.\nMaybe later\n\nSecond paragraph."
    assert clean_text(text) == "First paragraph.\n\nSecond paragraph."


def test_appeal_header_ending_the_text_takes_the_short_tail() -> None:
    text = "Story line.\nThank you for reading\nPlease consider supporting us with a donation."
    assert clean_text(text) == "Story line."


def test_appeal_header_without_appeal_keeps_following_article() -> None:
    article = "\n".join(f"Paragraph {n} of a long story about the harbour bridge." for n in range(40))
    text = "Thank you for reading\n" + article
    assert clean_text(text) == text


@pytest.mark.parametrize(
    "line",
    [
        "Accessibility links",
        "Breaking News",
        "Skip to content",
        "ADVERTISEMENT",
        "Advertisement:",
        "Share this article",
        "Remind me later.",
        "Read more:",
        "Need a break? Play the USA TODAY Daily Crossword Puzzle.",
        "Get CNN Health's weekly newsletter Sign up here to get The Results Are In with Dr. Sanjay Gupta every Tuesday.",
        "What's everyone talking about? Sign up for our trending newsletter to get the latest news of the day",
        "To empower the journalism behind IndyStar, please consider a subscription.",
        "We use cookies to improve your experience on our site.",
        "Accept all cookies",
        "If you make a purchase by clicking one of the links, we may earn an affiliate fee.",
        "Follow USA TODAY reporter Nathan Bomey on Twitter @NathanBomey.",
        "Eric Lagatta covers breaking and trending news for USA TODAY. Reach him at elagatta@gannett.com",
        "Unable to view our graphics? Click here to see them.",
        "(This story was updated to add new information.)",
        "Copyright 2024 Coastal Herald. All rights reserved.",
    ],
)
def test_furniture_lines(line: str) -> None:
    assert is_furniture(line)
    assert clean_text(f"Real sentence one.\n{line}\nReal sentence two.") == "Real sentence one.\nReal sentence two."


@pytest.mark.parametrize(
    "line",
    [
        "Biden will call for Congress to ban targeted online advertising for young people.",
        "Caucusgoers must be a registered voter and registered Republican to participate.",
        "Federal officials have advised against sending unsolicited donated goods.",
        "More than 2 million people signed up for the newsletter last year, the company said.",
        "Theatre 810 is located at 810 Jefferson St. in downtown Lafayette. For more information, click here.",
        "Copyright infringement lawsuits surged in 2024.",
        "Breaking news coverage of the storm continued overnight.",
        "Fever",
        "The cookies were sold at a bake sale to support the school.",
    ],
)
def test_article_lines_are_kept(line: str) -> None:
    assert not is_furniture(line)
    assert clean_text(line) == line


def test_whitespace_is_normalised() -> None:
    text = "  Title  \r\n\r\n\r\n\tFirst   line.  \nSecond line.\t\n\n\n\n\nThird\u00a0paragraph.   \n\n"
    assert clean_text(text) == "Title\n\nFirst line.\nSecond line.\n\nThird paragraph."


def test_removed_line_does_not_leave_double_blank_lines() -> None:
    assert clean_text("One.\n\nAdvertisement\n\nTwo.") == "One.\n\nTwo."


def test_empty_and_furniture_only_text() -> None:
    assert clean_text("") == ""
    assert clean_text("\n\nAccessibility links\n\nBreaking News\n") == ""


LINEISH = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "Advertisement", "A Message from The Moscow Times:", "Remind me later.", "Sign up for our newsletter",
            "Thank you for reading", "Maybe later", "support journalism", "\r\n", "\n\n", "Click here", "\u00a0", "\u2028",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(LINEISH, max_size=30))
def test_clean_text_only_keeps_input_lines(parts: list[str]) -> None:
    text = "\n".join(parts)
    cleaned = clean_text(text)
    assert "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip()
    input_lines = {squash(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    for line in filter(None, cleaned.split("\n")):
        assert squash(line) in squash(text)
        assert squash(line) in input_lines
