"""A question naming a time the library's articles do not reach is told so, not declined generically."""
from __future__ import annotations

import json
from datetime import date

import pytest

from fakes import FakeLLM
from qa.answering import ABSTAIN_TEXT
from qa.api import Assistant
from qa.coverage import named_span, outside_library
from qa.library import create_library

COVERED = (date(2013, 4, 10), date(2024, 6, 19))


def test_only_a_time_the_question_fixes_counts():
    assert named_span("What happened in February 2025?") == (date(2025, 2, 1), date(2025, 2, 28))
    assert named_span("How did the toll change from 2003 to 2024?") == (date(2003, 1, 1), date(2024, 12, 31))
    assert named_span("What did Lavrov say last week?") is None  # read against the newest article instead
    assert named_span("What happened in January?") is None       # which January depends on today
    assert named_span("Who is Sergei Lavrov?") is None
    assert named_span("How much aid has Ukraine had since the war began in 2022?") == (date(2022, 1, 1), date.max)
    assert named_span("What did the council decide before 2010?") == (date.min, date(2010, 12, 31))


def test_the_decline_says_which_side_of_the_library_the_time_is_on():
    after = outside_library("Who won the 2030 election?", COVERED)
    assert after == "Your library has nothing after 19 June 2024: its dated articles run from 10 April 2013 to 19 June 2024."
    assert outside_library("What happened on 2 March 1990?", COVERED).startswith("Your library has nothing before 10 April 2013")
    assert outside_library("What happened in 2019?", COVERED) is None
    assert outside_library("What happened in 2030?", None) is None  # nothing dated: nothing to say
    assert outside_library("What has the council said since 2010?", COVERED) is None  # 2010 and after


@pytest.fixture
def harbour(tmp_path, fake_encoder):
    rows = [("a", "2013-04-10", "The harbour bridge toll rose to three dollars."),
            ("b", "2024-06-19", "The council scrapped the harbour bridge toll."),
            ("u", None, "Drivers protested the harbour bridge toll.")]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "title": f"Report {i}", "date": d, "text": t}) + "\n"
                            for i, d, t in rows))
    create_library(tmp_path / "lib", fake_encoder).add([feed], fake_encoder)
    return tmp_path / "lib"


def test_a_question_about_a_time_after_the_library_is_told_its_last_day(harbour, fake_encoder):
    """Without this, the model's decline was answered by quoting 2013 and 2024 passages instead."""
    llm = FakeLLM()
    answer = Assistant(harbour, encoder=fake_encoder, llm=llm, judge=None).ask(
        "What happened to the harbour bridge toll in 2030?")
    assert answer.abstained and answer.text.startswith("Your library has nothing after 19 June 2024")
    assert answer.passages and llm.prompts == []  # the closest passages are shown; the model is not asked


def test_a_timeline_since_a_later_time_an_earlier_time_and_an_ordinary_decline(harbour, fake_encoder):
    assistant = Assistant(harbour, encoder=fake_encoder, llm=FakeLLM(), judge=None)
    late = assistant.ask("How did the harbour bridge toll change since 2030?")
    assert late.abstained and late.text.startswith("Your library has nothing after 19 June 2024")
    early = assistant.ask("What did the council say about the harbour bridge toll in 1990?")
    assert early.abstained and early.text.startswith("Your library has nothing before 10 April 2013")
    inside = assistant.ask("What did the council say about the whale migration in 2019?")
    assert inside.abstained and inside.text == ABSTAIN_TEXT


def test_retrieval_alone_declines_a_time_outside_the_library_saying_so(harbour, fake_encoder):
    """``qa ask --no-llm``, the HTTP and MCP search: the same decline as an answer, passages still shown."""
    assistant = Assistant(harbour, encoder=fake_encoder, llm=FakeLLM(), judge=None)
    found = assistant.retrieve_only("What happened to the harbour bridge toll in 2030?")
    assert found.abstained and found.text.startswith("Your library has nothing after 19 June 2024")
    assert found.passages
    inside = assistant.retrieve_only("What happened to the harbour bridge toll in 2013?")
    assert not inside.abstained and inside.text == ""
