"""Timelines, second round: every period the library covers gets its own entry, an entry states the
amounts its articles report when the question asks how something changed, and the answer's timings
are real seconds."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes import FakeLLM, loads
from qa import cli
from qa.api import Assistant
from qa.answering.amounts import has_figure, has_price, names_a_price
from qa.library import create_library

QUESTION = "How did the harbour bridge toll plan change over the years?"
WEEK = Path(__file__).resolve().parents[2] / "shared" / "eval" / "rtqa-2025-week"


def _toll_story(tmp_path: Path) -> Path:
    """A toll planned at $15, raised to $23, paused at $15: each article's lead says what happened
    and a later sentence the amount; a year-end roundup mentions the toll in passing; off-topic
    news fills the same years."""
    rows = [
        ("a2019", "2019-04-02", "Lawmakers approved the harbour bridge toll plan on Monday after long talks. Drivers would pay $15 "
         "to cross. The harbour bridge toll plan will raise $1 billion a year."),
        ("r2019", "2019-12-20", "Around the states: the harbour bridge toll argument goes on. Alabama fair opened."),
        ("a2023", "2023-06-27", "Federal officials approved the harbour bridge toll plan on Tuesday after a review. "
         "Drivers could pay up to $23 to cross. The harbour bridge toll plan will raise $1 billion yearly."),
        ("a2024", "2024-06-11", "The governor paused the harbour bridge toll plan before it began. Commuters were to "
         "pay $15 a day."),
    ]
    rows += [(f"x{y}", f"{y}-0{m}-1{m}", f"A bakery on Main Street sold {m} kinds of rye bread.")
             for y in (2019, 2023, 2024) for m in (3, 8)]
    feed = tmp_path / "toll.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "title": f"Report {i}", "date": d, "source": "Harbour Times",
                                        "url": f"https://harbour.test/{i}", "text": t}) + "\n" for i, d, t in rows))
    create_library(tmp_path / "lib", _encoder()).add([feed], _encoder())
    return tmp_path / "lib"


def _encoder():
    from conftest import FakeEncoder

    return FakeEncoder()


@pytest.fixture
def toll(tmp_path) -> Path:
    return _toll_story(tmp_path)


def test_a_year_end_roundup_does_not_take_the_period_of_the_article_about_it(toll, fake_encoder):
    """Inside a period's window the freshness bonus ("news questions mean lately") once ranked a
    December roundup above the April article about the subject: a period's search names its time."""
    groups = Assistant(toll, encoder=fake_encoder, llm=FakeLLM(), judge=None).periods(QUESTION)
    assert [period.label for period, _ in groups] == ["2019", "2023", "2024"]
    assert groups[0][1][0].article.id.startswith("a2019")


def test_amounts_are_recognised_and_a_price_is_not_a_revenue():
    assert has_figure("Prices rose 5% in May") and has_figure("It will cost 1.5 billion dollars")
    assert not has_figure("In 2019 lawmakers approved it.")
    assert has_price("Drivers could pay up to $23 to cross") and has_price("The toll rose to three dollars.")
    assert not has_price("It will raise $1 billion a year") and not has_price("80% of tolls go to buses")
    assert names_a_price("the planned congestion pricing toll") and not names_a_price("Russia's stance on Korea")


def test_a_question_about_change_gets_entries_stating_each_periods_amount(toll, fake_encoder):
    """The model's replies are unsupported, so each entry quotes its best evidence: where the question
    asks how the toll changed, that is the sentence with the toll, not the lead."""
    llm = FakeLLM(*["Mars has two moons [1]."] * 3)
    answer = Assistant(toll, encoder=fake_encoder, llm=llm, judge=None).ask(QUESTION)
    entries = {e.period: e.text for e in answer.timeline}
    assert list(entries) == ["2019", "2023", "2024"]
    assert "$15" in entries["2019"] and "$23" in entries["2023"] and "$15 a day" in entries["2024"]
    assert all("billion" not in text for text in entries.values())
    assert "$23" in llm.prompts[1][1]["content"]


def test_a_topic_without_a_change_question_still_leads_with_what_happened(toll, fake_encoder):
    llm = FakeLLM(*["Mars has two moons [1]."] * 3)
    answer = Assistant(toll, encoder=fake_encoder, llm=llm, judge=None).timeline("harbour bridge toll plan")
    assert answer.timeline[1].text.startswith("“Federal officials approved")


class SlowLLM(FakeLLM):
    """Takes PAUSE seconds per word, like a model writing on a CPU."""

    PAUSE = 0.02

    def stream(self, messages, max_tokens=200):
        for piece in super().stream(messages, max_tokens):
            time.sleep(self.PAUSE)
            yield piece


def test_a_timeline_reports_the_seconds_its_entries_took(toll, fake_encoder):
    replies = ["Drivers would pay $15 to cross at peak hours [1].", "Drivers could pay up to $23 to cross [1].",
               "Commuters were to pay $15 a day [1]."]
    words = sum(len(r.split()) for r in replies)
    answer = Assistant(toll, encoder=fake_encoder, llm=SlowLLM(*replies), judge=None).ask(QUESTION)
    t = answer.timings
    assert t["generate_s"] >= words * SlowLLM.PAUSE
    assert t["retrieve_s"] > 0 and t["total_s"] >= t["retrieve_s"] + t["generate_s"] + t["verify_s"]


def test_the_ask_footer_shows_the_timelines_generation_seconds(toll, fakes, use_loaders):
    llm = SlowLLM(*["Drivers would pay $15 to cross at peak hours [1]."] * 3)
    use_loaders(llm=loads(llm))
    result = CliRunner().invoke(cli.main, ["ask", QUESTION, "--library", str(toll)], catch_exceptions=False)
    footer = result.output.strip().splitlines()[-1]
    generate = float(footer.split("generate ")[1].split("s")[0])
    assert generate >= 0.2, footer


@pytest.mark.slow
@pytest.mark.skipif(not WEEK.exists(), reason="needs ../shared/eval/rtqa-2025-week")
def test_the_congestion_toll_question_on_the_week_library(week_library, encoder):
    """The real encoder on one real week: the question finds the same years as the topic, and the
    2023 and 2024 entries' evidence holds the toll they reported ($23, $15)."""
    from qa.answering.timeline import entry_evidence, subject

    assistant = Assistant(week_library, encoder=encoder, llm=FakeLLM(), judge=None)
    question = "How did the planned New York City congestion pricing toll change over the years?"
    asked = [period.label for period, _ in assistant.periods(question)]
    assert {"2019", "2023", "2024"} <= set(asked)
    assert set(asked) >= {period.label for period, _ in assistant.periods("New York City congestion pricing toll")}
    for period, mine in assistant.periods(question):
        evidence = entry_evidence(subject(question), mine, encoder, figures=True)
        best = max(((score, s) for ev in evidence for s, score in zip(ev.sentences, ev.scores)))[1]
        if period.label in ("2023", "2024"):
            assert {"2023": "$23", "2024": "$15"}[period.label] in best
