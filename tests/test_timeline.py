"""Timelines: questions about change over time, answered per period with dated, verified entries."""
from __future__ import annotations

import json
import random
from datetime import date

import pytest
from click.testing import CliRunner

from fakes import FakeLLM
from qa import cli
from qa.api import Assistant
from qa.library import Filters, create_library
from qa.answering.timeline import (UNDATED, Period, is_timeline_question, lead_span, periods, question_scope,
                         subject)
from qa.reading import Article


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("question", [
    "How did Russia's stance on North Korea change from 2003 to 2024?",
    "How has the harbour toll evolved over the years?",
    "What happened between 2010 and 2014 with Iran?",
    "Timeline of the six-party talks",
    "What has Lavrov said since 2013?",
])
def test_questions_about_change_over_time_are_timelines(question):
    assert is_timeline_question(question)


@pytest.mark.parametrize("question", [
    "What did Russia propose in 2003?", "Who is Sergei Lavrov?", "How many people died in the flood?",
])
def test_questions_about_one_moment_are_not(question):
    assert not is_timeline_question(question)


def test_the_subject_drops_the_question_frame_and_its_years():
    assert subject("How did Russia's stance on North Korea change from 2003 to 2024?") == \
        "Russia's stance on North Korea"
    assert subject("How has the Fed changed its rates since 2013?") == "the Fed its rates"
    assert subject("Timeline of the six-party talks") == "the six-party talks"
    assert subject("What happened between 2010 and 2014 with Iran?") == "What happened with Iran"


def test_years_named_in_the_question_scope_it_and_keep_undated_articles():
    assert question_scope("How did X change from 2024 to 2003?") == \
        Filters(date(2003, 1, 1), date(2024, 12, 31), include_undated=True)
    assert question_scope("What has X said since 2013?") == Filters(since=date(2013, 1, 1), include_undated=True)
    assert not question_scope("How did X change over the years?")


def test_periods_are_years_oldest_first_or_the_months_of_a_single_year():
    assert [p.label for p in periods(["2013-04-10", "2003-04-08", None, "2013-01-02", "2024-06-19"])] == \
        ["2003", "2013", "2024"]
    assert periods(["2013-04-10"]) == [Period("2013", date(2013, 1, 1), date(2013, 12, 31))]
    months = periods(["2013-04-10", "2013-02-28", "2013-04-01"])
    assert [(p.label, p.since, p.until) for p in months] == [
        ("2013-02", date(2013, 2, 1), date(2013, 2, 28)), ("2013-04", date(2013, 4, 1), date(2013, 4, 30))]
    assert periods([None, ""]) == []


def test_many_years_are_merged_into_spans_of_neighbouring_years():
    merged = periods([f"{y}-05-01" for y in range(2000, 2014)])
    assert len(merged) <= 6 and merged[0].since == date(2000, 1, 1) and merged[-1].until == date(2013, 12, 31)
    assert all(a.until < b.since for a, b in zip(merged, merged[1:]))
    assert merged[0].label == "2000–2002"


def test_the_lead_skips_dateline_headline_byline_and_caption():
    text = ("Wednesday, 10 April 2013\nHarbour bridge closes\nBy Press Association\n"
            "The mayor speaks at the pier on Monday near the city hall buildings (Jane Doe, AP)\n"
            "The harbour bridge will close for six months from May while crews replace its cables, the council said.")
    article = Article("a", "h", "Harbour bridge closes", text, "s", "", None)
    start, end = lead_span(article)
    assert text[start:end].startswith("The harbour bridge will close for six months")


def _story(tmp_path):
    """The harbour toll story over three years, the busy middle year holding most articles,
    and one undated article; plus an unrelated article."""
    rows = [("a2003", "2003-03-10", "The council proposed a harbour bridge toll of one dollar to pay for repairs.")]
    rows += [(f"b2013-{i}", f"2013-0{i + 1}-12", f"The harbour bridge toll rose to three dollars. {news}")
             for i, news in enumerate(["Ferries were added.", "Commuters complained loudly.", "Trucks pay double.",
                                       "Cyclists ride free on weekends.", "Revenue beat forecasts by a third."])]
    rows += [("c2024", "2024-06-19", "The council scrapped the harbour bridge toll after the new tunnel opened."),
             ("u", None, "Drivers protested the harbour bridge toll outside the council, organisers said."),
             ("x", "2013-05-05", "A bakery opened on Main Street with rye bread and pastries.")]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"id": i, "title": f"Report {i}", "date": d, "source": "Harbour Times",
                                        "url": f"https://harbour.test/{i}", "text": t}) + "\n"
                            for i, d, t in rows))
    return feed


@pytest.fixture
def story(tmp_path, fake_encoder):
    create_library(tmp_path / "lib", fake_encoder).add([_story(tmp_path)], fake_encoder)
    return tmp_path / "lib"


def test_each_period_is_searched_on_its_own_and_undated_articles_come_last(story, fake_encoder):
    groups = Assistant(story, encoder=fake_encoder, llm=FakeLLM()).periods("How did the harbour bridge toll change?")
    labels = [period.label for period, _ in groups]
    assert labels == ["2003", "2013", "2024", UNDATED]
    for period, passages in groups:
        for p in passages:
            if period.since is None:
                assert p.article.date is None
            else:
                assert period.since.isoformat() <= p.article.date <= period.until.isoformat()
    assert all(p.article.id != "x" for _, ps in groups for p in ps)  # off the subject: no period


def test_a_timeline_has_verified_entries_citing_their_own_period(story, fake_encoder):
    llm = FakeLLM("The council proposed a one dollar harbour bridge toll [1].",
                  "The toll rose to three dollars [2].",
                  "Mars has two moons [4].",  # supported by nothing: the entry quotes its evidence instead
                  "NOT IN ARTICLES")
    answer = Assistant(story, encoder=fake_encoder, llm=llm).ask("How did the harbour bridge toll change?")
    entries = answer.timeline
    assert [e.period for e in entries][:3] == ["2003", "2013", "2024"]
    assert entries[0].text.startswith("The council proposed a one dollar") and not entries[0].extractive
    assert entries[0].date == "2003-03-10"
    assert "Mars" not in answer.text and entries[2].extractive and "tunnel" in entries[2].text
    for entry in entries:
        for n in entry.citations:
            cited = answer.passages[n - 1].article
            assert (cited.date or "").startswith(entry.period) or (entry.period == UNDATED and cited.date is None)
    prompts = [m[1]["content"] for m in llm.prompts]
    assert "2003-03-10" in prompts[0] and "2013" not in prompts[0]  # a period's prompt holds only its own passages
    assert answer.text.splitlines()[0].startswith("2003: ")


def test_timeline_json_shape_and_filters(story, fakes):
    fakes.replies += ["The toll rose to three dollars [1]."]
    result = run("timeline", "harbour bridge toll", "--library", str(story), "--since", "2013", "--until", "2013",
                 "--json")
    out = json.loads(result.output)
    assert out["filters"] == {"since": "2013-01-01", "until": "2013-12-31", "sources": [], "include_undated": False}
    assert [e["period"] for e in out["timeline"]] == ["2013-01", "2013-02", "2013-03", "2013-04", "2013-05"][:len(out["timeline"])]
    entry = out["timeline"][0]
    assert set(entry) == {"period", "date", "text", "citations", "extractive"}
    assert all(1 <= n <= len(out["passages"]) for e in out["timeline"] for n in e["citations"])
    assert all(p["date"].startswith("2013") for p in out["passages"])


def test_a_filter_that_matches_nothing_abstains_naming_it(story, fakes):
    for command in ("ask", "timeline"):
        out = json.loads(run(command, "harbour bridge toll", "--library", str(story), "--since", "2030",
                             "--json").output)
        assert out["abstained"] and "--since 2030-01-01" in out["answer"] and out["passages"] == []
    assert fakes.prompts == []


def test_ask_filters_keep_k_passages_of_the_outlet_or_dates_asked(story, fakes):
    out = json.loads(run("ask", "harbour bridge toll", "--library", str(story), "--no-llm", "--json",
                         "--since", "2013-02", "--until", "2013-04", "-k", "5").output)
    assert sorted(p["date"] for p in out["passages"]) == ["2013-02-12", "2013-03-12", "2013-04-12"]
    out = json.loads(run("ask", "harbour bridge toll", "--library", str(story), "--no-llm", "--json",
                         "--since", "2024", "--include-undated").output)
    assert {p["article_id"].split("-")[0] for p in out["passages"]} == {"c2024", "u"}
    assert all(p["date"] in (None, "2024-06-19") for p in out["passages"])
    bad = run("ask", "x", "--library", str(story), "--since", "2013-13")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


@pytest.mark.slow
def test_the_russia_timeline_on_the_seed_library(seed_library, encoder):
    """The real models: 2003, then 2013, then the undated 2024 article last, each entry citing
    an article of its own period."""
    answer = Assistant(seed_library, encoder=encoder).ask(
        "How did Russia's stance on North Korea change from 2003 to 2024?")
    entries = answer.timeline
    assert [e.period for e in entries[:2]] == ["2003", "2013"] and entries[-1].period == UNDATED
    assert entries[0].date == "2003-04-08" and entries[1].date == "2013-04-10"
    for entry in entries:
        cited = [answer.passages[n - 1].article for n in entry.citations]
        assert cited and all((a.date or "").startswith(entry.period) or (entry.period == UNDATED and not a.date)
                             for a in cited)
    assert any("preparing for war" in answer.passages[n - 1].text for e in entries if e.period == UNDATED
               for n in e.citations)
    assert all(c.verified for c in answer.checks if c.citations)


@pytest.mark.slow
def test_a_date_range_on_the_seed_library_keeps_only_2013(seed_library, encoder):
    assistant = Assistant(seed_library, encoder=encoder)
    passages = assistant.search("What did Lavrov say about North Korea?", where=Filters(date(2010, 1, 1),
                                                                                      date(2014, 12, 31)))
    assert passages and all(p.article.date.startswith("2013") for p in passages)
    nothing = assistant.ask("What did Lavrov say about North Korea?", since="2030")
    assert nothing.abstained and "--since 2030-01-01" in nothing.text


def test_a_selective_filter_still_gives_k_passages_in_a_10k_chunk_library(tmp_path, fake_encoder):
    """Filters act inside the search: the 7 articles of one outlet, or the 3 of one week, among
    10,000 articles that score higher, still fill k."""
    island = iter(["Ferries sail at dawn.", "Gulls nest on the pier.", "The lighthouse was painted red.",
                   "A storm closed the marina.", "Fishermen landed record cod.", "Tourists crowded the quay.",
                   "The ferry fares rose."])
    rng = random.Random(0)
    vocabulary = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "pu", "ro", "si", "tu") for b in range(40)]
    lines, days = [], []  # every text its own (near-duplicates would be collapsed into one passage)
    for i in range(10_000):
        rare = i % 1429 == 0  # 7 articles from the Island Gazette, spread through the library
        days.append(f"20{10 + i % 10}-0{1 + i % 9}-{10 + i % 17}")
        lines.append(json.dumps({
            "id": f"n{i}", "title": f"Harbour note {i}", "source": "Island Gazette" if rare else "Daily Harbour",
            "date": days[-1], "url": f"https://site{i % 3}.test/{i}",
            "text": next(island) if rare else "Harbour toll " + " ".join(rng.sample(vocabulary, 8)) + "."}))
    feed = tmp_path / "big.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    library = create_library(tmp_path / "lib", fake_encoder)
    library.add([feed], fake_encoder)
    assert library.counts["chunks"] == 10_000
    assistant = Assistant(tmp_path / "lib", encoder=fake_encoder, llm=FakeLLM())
    outlet = assistant.search("harbour toll", k=5, where=Filters(sources=("Island Gazette",)))
    assert len(outlet) == 5 and {p.article.source for p in outlet} == {"Island Gazette"}
    week = Filters(date(2013, 4, 10), date(2013, 4, 16))
    in_week = sum("2013-04-10" <= day <= "2013-04-16" for day in days)
    rows = assistant.search("harbour toll", k=5, where=week)
    assert in_week >= 5 and len(rows) == 5 and all("2013-04-10" <= p.article.date <= "2013-04-16" for p in rows)


def test_an_entry_that_swaps_in_another_name_is_not_verified(story, fake_encoder):
    from qa.answering import missing_names

    assert missing_names("Lavrov stressed a common stand with China", "Lavrov said Moscow and Washington "
                         "had a common stand") == ["China"]
    assert missing_names("Russia's diplomat spoke", "The Russian diplomat spoke") == []  # Russia in Russian
    llm = FakeLLM("The council proposed a one dollar harbour bridge toll in Boston [1].",
                  "The toll rose to three dollars [2].", "NOT IN ARTICLES", "NOT IN ARTICLES")
    answer = Assistant(story, encoder=fake_encoder, llm=llm).ask("How did the harbour bridge toll change?")
    first = answer.timeline[0]
    assert "Boston" not in first.text and first.extractive  # the 2003 entry quotes its evidence instead
    assert answer.timeline[1].text.startswith("The toll rose to three dollars") and not answer.timeline[1].extractive
