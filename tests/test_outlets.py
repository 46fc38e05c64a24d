"""Outlets side by side: an answer names the other outlets carrying a cited story, and with
compare_sources lists each outlet's own version of the cited sentence and how it differs.

The library of these tests: the four seeds and ``fixtures/wire_copy.jsonl``, the 2003 VOA
article as "Wire Digest" carries it (undated, headline changed, "six-sided ... and Japan"
become "five-sided" without Japan, a 1994 agreement becomes 1992)."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from conftest import SEEDS, WIRE
from qa import cli
from qa.answering import Citation
from qa.library import StoredChunk
from qa.outlets import also_reported, compare_sources, markers, matching_sentence, other_outlets
from qa.reading import read_file
from qa.retrieval import Passage

VOA = SEEDS / "003_c13b77ec0b5e076f.txt"
SIX = ("He said Russia was now advancing a plan that calls for six-sided discussions involving the United "
       "States, North Korea, Russia, China, South Korea and Japan.")
FIVE = ("He said Russia was now advancing a plan that calls for five-sided discussions involving the United "
        "States, North Korea, Russia, China and South Korea.")
Q = "What did Russia propose in 2003 for North Korea six-sided discussions?"


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_other_outlets_are_named_once_each_without_the_cited_one():
    assert other_outlets("VOA", ["Wire Digest", "voa", "Coast Herald", "wire digest", ""]) == [
        "Wire Digest", "Coast Herald"]
    assert also_reported("VOA", ["Wire Digest"]) == "also reported by Wire Digest"
    assert also_reported("VOA", ["A", "B", "C"]) == "also reported by A, B and C"
    assert also_reported("VOA", ["VOA"]) == ""


def test_a_copys_version_is_its_own_closest_sentence_or_none_when_it_cut_it():
    wire = next(read_file(WIRE))
    assert matching_sentence(SIX, wire.text)[0] == FIVE
    found, score = matching_sentence("North Korea's foreign minister visited Beijing for three days.", wire.text)
    assert found is None and score < 60


def test_a_sentence_split_in_two_by_the_copy_is_matched_whole():
    copy = "Talks start soon. Russia backs a plan for six-way talks. It includes Japan and China. Nothing else."
    assert matching_sentence("Russia backs a plan for six-way talks that includes Japan and China.", copy)[0] == (
        "Russia backs a plan for six-way talks. It includes Japan and China.")


def test_markers_are_numbers_number_words_and_names():
    assert markers("The 1,200 troops of Russia's army left on Monday, the first of three groups, "
                   "Mr. Lavrov said.") == ["1200", "Russia", "Monday", "first", "three", "Lavrov"]


def test_compare_sources_lists_each_outlets_version_and_what_differs():
    voa, wire = next(read_file(VOA)), next(read_file(WIRE))
    start = voa.text.index(SIX)
    passage = Passage(StoredChunk(0, voa, start, start + len(SIX)), 0.8, also_in=(wire,))
    alone = Passage(StoredChunk(1, wire, 0, 40), 0.5)
    cited = [Citation(1, voa.id, voa.title, voa.date, voa.source, voa.url, SIX),
             Citation(2, wire.id, wire.title, wire.date, wire.source, wire.url, wire.text[:40])]
    [entry] = compare_sources(cited, [passage, alone])  # citation 2 has no copies: not listed
    assert entry.citation == 1
    first, second = entry.versions
    assert (first.source, first.quote, first.adds, first.lacks) == (voa.source, SIX, [], [])
    assert (second.source, second.quote, second.url) == ("Wire Digest", FIVE, wire.url)
    assert (second.adds, second.lacks) == (["five-sided"], ["six-sided", "Japan"])



def test_ask_names_the_other_outlet_and_json_compares_versions(fakes, outlets_library):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    obj = json.loads(run("ask", "--json", "--compare-sources", "--library", str(outlets_library), Q).stdout)
    assert obj["citations"][0]["source"] == VOA.name
    assert [a["source"] for a in obj["citations"][0]["also_in"]] == ["Wire Digest"]
    assert obj["citations"][0]["also_in"][0]["date"] == "2003-04-08"  # the twin's date
    [entry] = obj["compare"]
    assert entry["citation"] == 1
    assert [(v["source"], v["date"], v["date_source"]) for v in entry["versions"]] == [
        (VOA.name, "2003-04-08", "title"), ("Wire Digest", "2003-04-08", "twin")]
    assert entry["versions"][1]["quote"] == FIVE
    assert entry["versions"][1]["url"] == "https://wire.example/world/russia-urges-talks-on-north-korea"
    assert (entry["versions"][1]["adds"], entry["versions"][1]["lacks"]) == (["five-sided"], ["six-sided", "Japan"])


def test_ask_prints_also_reported_by_and_the_side_by_side_versions(fakes, outlets_library):
    fakes.replies += ["Russia proposed six-sided discussions [1].", "Russia proposed six-sided discussions [1]."]
    plain = " ".join(run("ask", "--library", str(outlets_library), Q).output.split())
    assert "also reported by Wire Digest" in plain and "Side by side" not in plain
    out = " ".join(run("ask", "--compare-sources", "--library", str(outlets_library), Q).output.split())
    assert "Side by side" in out and f"“{FIVE}”" in out
    assert "Wire Digest · 2003-04-08~ (twin)" in out
    assert "differs from [1]: has five-sided; lacks six-sided, Japan" in out


def test_json_has_no_compare_field_unless_asked(fakes, outlets_library):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    obj = json.loads(run("ask", "--json", "--library", str(outlets_library), Q).stdout)
    assert "compare" not in obj


def test_the_chat_sources_panel_names_the_other_outlet(fakes, outlets_library):
    from qa.api import Assistant
    from tui.store import Turn
    from tui.widgets import passage_content

    fakes.replies.append("Russia proposed six-sided discussions [1].")
    answer = Assistant(outlets_library).ask(Q)
    [source] = Turn.from_answer(answer).cited_passages()
    assert passage_content(source).plain.splitlines()[2] == "also reported by Wire Digest"


@pytest.mark.slow
def test_real_models_compare_the_two_outlets_versions_of_the_2003_proposal(encoder, tmp_path):
    from qa.api import Assistant
    from qa.library import create_library

    create_library(tmp_path / "lib", encoder).add([SEEDS, WIRE], encoder)
    answer = Assistant(tmp_path / "lib", encoder=encoder).ask("What did Russia propose in 2003?",
                                                              compare_sources=True)
    assert not answer.abstained and re.search(r"six[- ]sided", answer.text), answer.text
    assert answer.compare, answer.to_dict()
    entry = next(e for e in answer.compare if "six-sided" in e.versions[0].quote)
    sources = [v.source for v in entry.versions]
    assert sources == [VOA.name, "Wire Digest"]
    wire = entry.versions[1]
    assert wire.date == "2003-04-08" and wire.date_source == "twin"
    assert "five-sided" in wire.adds and "six-sided" in wire.lacks and wire.quote in next(read_file(WIRE)).text
