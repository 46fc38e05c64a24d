"""Timelines choose each entry's sentences with the judge, as answers do: the sentence the judge says
answers the user's question wins over one that only shares the topic's words."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakes import FakeEncoder, FakeLLM, KeywordJudge
from qa.api import Assistant
from qa.library import create_library

QUESTION = "How did the harbour bridge toll plan change over the years?"
UNSUPPORTED = "Mars has two moons [1]."  # every entry then quotes its best evidence sentence


@pytest.fixture
def toll(tmp_path) -> Path:
    """Each year's article: its lead, a sentence repeating the topic's words that answers nothing
    about the toll of that year, and the sentence that does."""
    rows = [
        ("a2019", "2019-04-02", "Lawmakers approved the harbour bridge toll plan on Monday after long talks. "
         "Drivers would pay $15 to cross."),
        ("a2023", "2023-06-27", "Federal officials approved the harbour bridge toll plan on Tuesday after a review. "
         "A harbour bridge toll plan study from 1990 priced the harbour bridge toll at $9. "
         "The harbour bridge toll plan was discussed by the harbour bridge board for the harbour bridge. "
         "Its chairman said crossing would now cost commuters more each year. "
         "Drivers could pay up to $23 to cross at peak hours."),
    ]
    rows += [(f"x{y}", f"{y}-0{m}-1{m}", f"A bakery on Main Street sold {m} kinds of rye bread.")
             for y in (2019, 2023) for m in (3, 8)]
    feed = tmp_path / "toll.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "title": f"Report {i}", "date": d, "source": "Harbour Times",
                                        "url": f"https://harbour.test/{i}", "text": t}) + "\n" for i, d, t in rows))
    create_library(tmp_path / "lib", FakeEncoder()).add([feed], FakeEncoder())
    return tmp_path / "lib"


def _entries(toll: Path, judge: KeywordJudge | None, use_loaders, question: str = QUESTION) -> tuple[dict, FakeLLM]:
    use_loaders(judge=lambda: judge)
    llm = FakeLLM(*[UNSUPPORTED] * 2)
    answer = Assistant(toll, encoder=FakeEncoder(), llm=llm).ask(question, timeline=True)
    return {e.period: e.text for e in answer.timeline}, llm


def test_the_judge_decides_which_amount_an_entry_quotes(toll, use_loaders):
    """Shared words alone pick the 1990 study's $9 (it repeats "harbour bridge toll plan"); the judge,
    reading the user's question, knows the $23 sentence answers it."""
    without, _ = _entries(toll, None, use_loaders)
    assert "$9" in without["2023"]
    judge = KeywordJudge("$23")
    entries, _ = _entries(toll, judge, use_loaders)
    assert "$23" in entries["2023"] and "$9" not in entries["2023"]
    assert "$15" in entries["2019"]
    assert QUESTION in judge.questions


def test_the_judge_decides_which_sentences_the_model_reads(toll, use_loaders):
    """Without amounts asked for, the lead still comes first, and the judge's sentence joins it in the
    prompt in place of one that only repeats the topic."""
    topic = "harbour bridge toll plan"
    _, plain = _entries(toll, None, use_loaders, topic)
    _, judged = _entries(toll, KeywordJudge("cost commuters"), use_loaders, topic)
    read = {name: next(m["content"] for m in llm.prompts[1] if m["role"] == "user") for name, llm in
            (("plain", plain), ("judged", judged))}
    assert "cost commuters" not in read["plain"] and "cost commuters" in read["judged"]
    assert all("Federal officials approved" in text for text in read.values())
