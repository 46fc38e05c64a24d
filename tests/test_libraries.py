"""Named libraries: `--library NAME` is $QA_HOME/libraries/NAME for every command; `qa libraries`
lists them (plain and --json); `qa libraries rm` asks, or takes --yes; paths and URIs still work."""
from __future__ import annotations

import json

from click.testing import CliRunner

from qa import cli

from conftest import SEEDS

LAVROV = str(SEEDS / "000_8e1adf5baa08f22c.txt")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.main, list(args), input=input)


def test_a_name_is_a_library_in_qa_home(fakes, qa_home):
    assert run("ingest", LAVROV, "--library", "news").exit_code == 0
    assert (qa_home / "libraries" / "news" / "manifest.json").is_file()
    assert "Russia warns against stoking N.Korea tensions" in run("list", "--library", "news").output
    fakes.replies.append("Lavrov warned against military maneuvers [1].")
    obj = json.loads(run("ask", "--json", "--library", "news", "What did Lavrov warn against?").stdout)
    assert obj["passages"][0]["date"] == "2013-04-10"


def test_paths_with_a_slash_stay_paths(fakes, tmp_path, monkeypatch, qa_home):
    monkeypatch.chdir(tmp_path)
    assert run("ingest", LAVROV, "--library", "./here").exit_code == 0
    assert (tmp_path / "here" / "manifest.json").is_file() and not (qa_home / "libraries" / "here").exists()
    bad = run("list", "--library", "no spaces")
    assert bad.exit_code == 2 and "not a library name" in bad.output and "./NAME" in bad.output


def test_libraries_lists_and_removes(fakes, qa_home):
    run("ingest", LAVROV, "--library", "news")
    run("ingest", str(SEEDS), "--library", "all")
    rows = [json.loads(line) for line in run("libraries", "--json").stdout.splitlines()]
    assert [r["name"] for r in rows] == ["all", "news"]
    news = rows[1]
    assert news["articles"] == 1 and news["chunks"] >= 1 and news["embedder"] == "fake-bow"
    assert news["size_bytes"] > 0 and news["last_ingest"].startswith("20") and news["problem"] is None
    table = run("libraries").output
    assert table.splitlines()[0].split() == ["name", "articles", "chunks", "embedder", "size", "last", "ingest"]
    assert any(line.split()[:3] == ["all", "4", str(rows[0]["chunks"])] for line in table.splitlines())

    kept = run("libraries", "rm", "news", input="n\n")
    assert kept.exit_code == 1 and "Delete the library 'news' (1 articles" in kept.output
    assert (qa_home / "libraries" / "news").is_dir()
    gone = run("libraries", "rm", "news", input="y\n")
    assert gone.exit_code == 0 and not (qa_home / "libraries" / "news").exists()
    assert run("libraries", "rm", "--yes", "all").exit_code == 0
    assert run("libraries", "--json").stdout == ""
    missing = run("libraries", "rm", "--yes", "news")
    assert missing.exit_code == 2 and "no library named 'news'" in missing.output
