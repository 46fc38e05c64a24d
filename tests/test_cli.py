"""The command line, driven through click's CliRunner with fake models."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa import cli

from conftest import SEEDS

Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_version_and_help():
    assert run("--version").output.startswith("qa, version ")
    out = run("--help").output
    assert "ingest" in out and "ask" in out and "QA_HOME" in out


def test_first_ask_builds_the_default_library_and_prints_json(fakes, qa_home):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    result = run("ask", "--json", Q2003)
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["abstained"] is False and obj["citations"][0]["n"] == 1
    assert "003_c13b77ec0b5e076f" in obj["citations"][0]["article_id"]
    assert (qa_home / "libraries" / "default" / "manifest.json").is_file()


def test_ask_prints_answer_and_sources(fakes):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    out = " ".join(run("ask", Q2003).output.split())
    assert "Russia proposed six-sided discussions [1]." in out
    assert "Sources" in out and "six-sided discussions involving" in out


def test_ask_prints_the_passages_before_the_model_reads_them(fakes, monkeypatch):
    """The sources line is on stdout (flushed) when the model is asked, before the answer text."""
    import sys

    seen_when_asked = []
    stream = type(fakes).stream

    def watched(self, messages, max_tokens=200):
        sys.stdout.flush()
        seen_when_asked.append(sys.stdout.buffer.getvalue().decode())
        yield from stream(self, messages, max_tokens)

    monkeypatch.setattr(type(fakes), "stream", watched)
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    out = run("ask", Q2003).output
    assert seen_when_asked and seen_when_asked[0].startswith("Passages\n[1] Russia Urges Washington, Pyongyang")
    assert "(2003-04-08 · " in seen_when_asked[0] and "found in " in seen_when_asked[0]
    assert "Russia proposed" not in seen_when_asked[0]
    first = seen_when_asked[0].splitlines()
    assert first[2].startswith("    “") and "six-sided" in first[2]  # the best sentence of passage 1
    assert out.index("Passages") < out.index("Russia proposed six-sided discussions [1].") < out.index("Sources")


def test_json_adds_only_sources_s_to_the_timings(fakes):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    obj = json.loads(run("ask", "--json", Q2003).stdout)
    assert list(obj["timings"]) == ["retrieve_s", "sources_s", "first_token_s", "generate_s", "verify_s", "total_s"]


def test_ingest_list_and_ask_another_library(fakes, tmp_path):
    lib = tmp_path / "lib"
    result = run("ingest", str(SEEDS / "000_8e1adf5baa08f22c.txt"), "--library", str(lib))
    assert result.exit_code == 0, result.output
    assert "1 articles added" in result.output
    listed = run("list", "--library", str(lib)).output
    assert "2013-04-10" in listed and "Russia warns against stoking N.Korea tensions" in listed
    fakes.replies.append("Lavrov warned against military maneuvers [1].")
    obj = json.loads(run("ask", "--json", "--library", str(lib), "What did Lavrov warn against?").stdout)
    assert obj["passages"][0]["date"] == "2013-04-10"


def test_bad_input_exit_codes(fakes, tmp_path):
    assert run("ingest", str(tmp_path / "absent.txt"), "--library", str(tmp_path / "l")).exit_code == 2
    assert run("ask", "--library", str(tmp_path / "nolib"), "Anything?").exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "A real article about the harbour reopening after repairs."}\n{oops\n')
    result = run("ingest", str(bad), "--library", str(tmp_path / "l2"))
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output and "1 articles added" in result.output


def test_no_llm_prints_passages_without_loading_the_model(fakes, use_loaders):
    use_loaders(llm=lambda model=None, progress=None: pytest.fail("--no-llm loaded the LLM"))
    obj = json.loads(run("ask", "--no-llm", "--json", "-k", "3", Q2003).stdout)
    assert obj["answer"] == "" and obj["abstained"] is False and obj["citations"] == []
    assert "003_c13b77ec0b5e076f" in obj["passages"][0]["article_id"] and len(obj["passages"]) == 3
    assert set(obj["timings"]) == {"retrieve_s", "total_s"}
    out = " ".join(run("ask", "--no-llm", Q2003).output.split())
    assert out.startswith("Passages 1. Russia Urges Washington, Pyongyang to Reduce Tensions") and "retrieve" in out


def test_no_llm_says_when_the_articles_do_not_answer(fakes):
    out = " ".join(run("ask", "--no-llm", "Who won the football world cup final penalty shootout?").output.split())
    assert "The articles don't answer that." in out and "Closest passages 1." in out


def test_commands_from_other_modules_are_listed_and_run_when_asked_for():
    """Every command's module (qa/cli/commands.py: COMMANDS) is imported only when named (or listed)."""
    out = run("--help").output
    for name in ("ask", "chat", "doctor", "eval", "info", "ingest", "libraries", "list", "mcp", "remove", "serve",
                 "stories", "timeline"):
        assert f"  {name} " in out, name
    assert "--port" in run("serve", "--help").output
    assert "--no-llm" in run("stories", "--help").output
    assert "--yes" in run("libraries", "rm", "--help").output
    assert run("no-such-command").exit_code == 2


def test_a_question_runs_without_the_garbage_collector_and_gives_it_back(fakes, monkeypatch, qa_home):
    import gc

    from qa.api import Assistant
    from qa.library import FolderLibrary

    run("ask", "--no-llm", "--json", Q2003)  # builds the sample library (with the collector on)
    during: list[tuple[str, bool]] = []
    search, articles = Assistant.search, FolderLibrary.articles
    monkeypatch.setattr(Assistant, "search", lambda self, *a, **k: (during.append(("ask", gc.isenabled())),
                                                                    search(self, *a, **k))[1])
    monkeypatch.setattr(FolderLibrary, "articles", lambda self: (during.append(("list", gc.isenabled())),
                                                                 articles(self))[1])
    assert json.loads(run("ask", "--no-llm", "--json", Q2003).stdout)["passages"]
    assert gc.isenabled()  # a caller in this process gets the collector back
    assert run("list").exit_code == 0
    assert during == [("ask", False), ("list", True)]
