"""$QA_HOME/config.toml gives defaults (library, model, k, threads, serve host/port); flags and
environment variables win; a bad file is named; `qa info` shows versions, paths, models, settings."""
from __future__ import annotations

import json

from click.testing import CliRunner

from qa import cli

from conftest import SEEDS

LAVROV = str(SEEDS / "000_8e1adf5baa08f22c.txt")
LAVROV_ID = "000_8e1adf5baa08f22c"  # the seed file's name starts its article id


def run(*args: str, **kwargs):
    return CliRunner().invoke(cli.main, list(args), **kwargs)


def test_config_defaults_and_what_wins(fakes, qa_home, monkeypatch):
    (qa_home / "config.toml").write_text('library = "news"\nk = 2\nthreads = 1\n[serve]\nport = 9999\n')
    monkeypatch.delenv("QA_THREADS", raising=False)
    assert run("ingest", LAVROV).exit_code == 0  # into the configured library
    assert (qa_home / "libraries" / "news" / "manifest.json").is_file()
    obj = json.loads(run("ask", "--no-llm", "--json", "What did Lavrov warn against?").stdout)
    assert len(obj["passages"]) == 1 and obj["passages"][0]["date"] == "2013-04-10"
    flagged = run("ask", "--no-llm", "--json", "--library", "other-lib", "What did Lavrov warn against?")
    assert flagged.exit_code == 2 and "other-lib" in flagged.output  # the flag won: no such library
    assert len(json.loads(run("ask", "--no-llm", "--json", "-k", "3", "x y z Lavrov").stdout)["passages"]) == 1

    settings = json.loads(run("info", "--json").stdout)["settings"]
    assert settings["library"] == {"value": "news", "from": str(qa_home / "config.toml")}
    assert settings["k"]["value"] == 2 and settings["serve.port"]["value"] == 9999
    assert settings["serve.host"] == {"value": "127.0.0.1", "from": "default"}
    monkeypatch.setenv("QA_THREADS", "3")
    assert json.loads(run("info", "--json").stdout)["settings"]["threads"] == {"value": "3", "from": "$QA_THREADS"}


def test_every_library_command_takes_the_configured_library(fakes, qa_home):
    """The command table gives each command its config.toml defaults: `qa stories` reads the
    configured library like `qa list` (it once read the sample articles)."""
    (qa_home / "config.toml").write_text('library = "news"\n')
    assert run("ingest", LAVROV).exit_code == 0
    assert len(run("list").stdout.splitlines()) == 1
    found = json.loads(run("stories", "--no-llm", "--json", "--since", "2000").stdout)
    [only] = [a["article_id"] for s in found["stories"] for a in s["articles"]]
    assert only.startswith(LAVROV_ID)


def test_model_help_names_the_default_model():
    from qa.models import DEFAULT_LLM

    for command in ("ask", "timeline", "chat", "eval", "serve", "mcp", "stories"):
        shown = " ".join(run(command, "--help").output.split())
        assert f"else {DEFAULT_LLM}]" in shown and "$QA_MODEL" in shown, command


def test_a_bad_config_is_named(fakes, qa_home):
    config = qa_home / "config.toml"
    for text, why in [("k = 'many'", "k must be int"), ("colour = 1", "unknown setting 'colour'"),
                      ("k = [", "not a readable TOML file"), ("[serve]\nport = true", "serve.port must be int")]:
        config.write_text(text)
        result = run("ask", "--no-llm", "anything")
        assert result.exit_code == 2 and str(config) in result.output and why in result.output, result.output


def test_info_lists_paths_and_models(qa_home, monkeypatch):
    monkeypatch.setenv("QA_CACHE", str(qa_home / "cache"))
    obj = json.loads(run("info", "--json").stdout)
    assert obj["version"] and obj["paths"]["data"] == str(qa_home)
    assert obj["paths"]["libraries"] == str(qa_home / "libraries") and obj["paths"]["config"].endswith("(absent)")
    roles = {m["name"]: m for m in obj["models"]}
    assert roles["all-MiniLM-L6-v2"]["role"] == "embedder" and roles["all-MiniLM-L6-v2"]["state"] in ("verified", "installed")
    text = run("info").output
    assert text.startswith("qa ") and "models" in text and "settings" in text and "all-MiniLM-L6-v2" in text
