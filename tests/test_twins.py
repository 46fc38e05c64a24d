"""Undated syndicated copies take their dated twin's date at ingest, and nothing else gets one
(fake encoder: the candidates come from vectors, the decision from the whole texts)."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import SEEDS
from qa.library import create_library
from qa.library.twins import TWIN_RATIO, is_twin
from qa.reading import read_file

VOA = SEEDS / "003_c13b77ec0b5e076f.txt"
WIRE = Path(__file__).parent / "fixtures" / "wire_copy.jsonl"


def record(path: Path, **fields) -> Path:
    path.write_text(json.dumps(fields) + "\n", encoding="utf-8")
    return path


def by_source(lib) -> dict[str, tuple[str | None, str | None]]:
    return {a.source: (a.date, a.date_source) for a in lib.articles()}


def voa_body() -> str:
    text = VOA.read_text(encoding="utf-8")
    return text[text.index("Russia has again"):]


def test_the_fixture_copy_is_a_twin_of_the_voa_article_and_the_two_2013_reports_are_not():
    wire, voa = next(read_file(WIRE)), next(read_file(VOA))
    assert wire.date is None and is_twin(wire.text, voa.text)
    a, b = (next(read_file(SEEDS / f"{stem}.txt")) for stem in ("000_8e1adf5baa08f22c", "001_3f185c6f7e430aff"))
    assert not is_twin(a.text, b.text)  # two outlets' own reports of one meeting: not copies
    assert TWIN_RATIO >= 90


def test_an_undated_copy_in_the_same_batch_takes_its_twins_date(fake_encoder, tmp_path):
    lib = create_library(tmp_path / "lib", fake_encoder)
    report = lib.add([VOA, WIRE], fake_encoder)
    assert by_source(lib)["Wire Digest"] == ("2003-04-08", "twin")
    assert by_source(lib)[VOA.name] == ("2003-04-08", "title")
    assert {a.source: a.date_source for a in report.added}["Wire Digest"] == "twin"


def test_an_undated_copy_arriving_later_takes_the_stored_twins_date(fake_encoder, tmp_path):
    lib = create_library(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    lib.add([WIRE], fake_encoder)
    dates = by_source(lib)
    assert dates["Wire Digest"] == ("2003-04-08", "twin")
    # the seeds' undated articles have no dated copy: they stay undated
    assert dates["001_3f185c6f7e430aff.txt"] == (None, None)
    assert dates["004_4bc43c88d9c50f08.txt"] == (None, None)


def test_twins_that_disagree_on_the_day_date_nothing(fake_encoder, tmp_path):
    body = voa_body()
    first = record(tmp_path / "a.jsonl", text=body, source="Outlet A", date="2003-04-08", url="https://a.test/x")
    second = record(tmp_path / "b.jsonl", text=body.replace("Wednesday", "Thursday"), source="Outlet B",
                    date="2003-04-09", url="https://b.test/x")
    copy = record(tmp_path / "c.jsonl", text=body.replace("1994", "1992"), source="Outlet C", url="https://c.test/x")
    lib = create_library(tmp_path / "lib", fake_encoder)
    lib.add([first, second, copy], fake_encoder)
    assert by_source(lib)["Outlet C"] == (None, None)


def test_a_rewritten_report_of_the_same_story_is_not_a_twin(fake_encoder, tmp_path):
    """Same subject, same names, different wording: no date is lent."""
    rewrite = ("Moscow on Tuesday pressed Washington and Pyongyang to negotiate over North Korea's nuclear "
               "program, Russia's deputy foreign minister Alexander Losyukov told ITAR-Tass, calling the "
               "standoff extremely dangerous and proposing six-sided discussions with China, South Korea "
               "and Japan. The UN Security Council meets on the issue on Wednesday.")
    lib = create_library(tmp_path / "lib", fake_encoder)
    lib.add([VOA, record(tmp_path / "r.jsonl", text=rewrite, source="Rewrite", url="https://r.test/x")],
            fake_encoder)
    assert by_source(lib)["Rewrite"] == (None, None)
