"""`qa list` marks the dates qa found rather than a publisher declared (~) and says how in --json."""
from __future__ import annotations

import json

from click.testing import CliRunner

from qa import cli



def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)



def test_list_marks_inferred_dates_and_says_how(fakes, outlets_library):
    rows = [line.split("\t") for line in run("list", "--library", str(outlets_library)).output.splitlines()]
    shown = {title: day.strip() for _, day, title in rows}
    assert shown["Russia urges US and North Korea to ease nuclear standoff"] == "2003-04-08~"
    assert shown["Russia warns against stoking N.Korea tensions"] == "2013-04-10~"  # from its dateline
    assert sum(day == "-" for day in shown.values()) == 2  # the 2013 Interfax and the 2024 articles
    listed = [json.loads(line) for line in run("list", "--json", "--library", str(outlets_library)).output.splitlines()]
    assert {a["source"]: a["date_source"] for a in listed} == {
        "003_c13b77ec0b5e076f.txt": "title", "Wire Digest": "twin", "000_8e1adf5baa08f22c.txt": "dateline",
        "001_3f185c6f7e430aff.txt": None, "004_4bc43c88d9c50f08.txt": None}


def test_a_declared_date_is_shown_without_a_mark(fakes, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"text": "The harbour reopened after repairs.", "date": "2021-05-03"}) + "\n")
    lib = tmp_path / "lib"
    run("ingest", str(feed), "--library", str(lib))
    assert "\t2021-05-03 \t" in run("list", "--library", str(lib)).output
