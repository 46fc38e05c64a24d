"""The terminal: a bad option ends cleanly, each part of an answer is printed once in its final
form, weak passages say so, and `qa chat` refuses a library that is not there as `qa ask` does."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO


def qa_process(*args: str, home) -> subprocess.CompletedProcess:
    """``qa ARGS`` in a process of its own, as a user runs it (the real encoder)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), QA_HOME=str(home))
    return subprocess.run([sys.executable, "-c", "from qa.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("args", [("--since", "2026", "--until", "2020"), ("--library", "nosuch")],
                         ids=["range-ends-before-it-starts", "no-such-library"])
def test_bad_input_to_ask_exits_2_without_an_abort(tmp_path, args):
    for _ in range(3):  # it aborted every time, as the encoder's loading thread started
        done = qa_process("ask", *args, "x", home=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "terminate called" not in done.stderr and "Aborted" not in done.stderr
        assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr


Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"


def screen(output: str) -> list[str]:
    """What a terminal shows after ``output``: lines, with carriage returns, cursor-up and
    erase-below applied (the sequences StreamedText uses), colours dropped."""
    import re

    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[([\d;]*)([A-Za-z])|(\r)|(\n)|([^\x1b\r\n]+)", output):
        number, command, cr, nl, text = token
        if command == "A":
            row = max(0, row - int(number or 1))
        elif command == "J":
            lines = lines[:row] + [lines[row][:col]]
        elif cr:
            col = 0
        elif nl:
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif text:
            line = lines[row]
            lines[row] = line[:col] + text + line[col + len(text):]
            col += len(text)
    return lines


def ask_on_a_terminal(monkeypatch, *args: str) -> list[str]:
    from click.testing import CliRunner, _NamedTextIOWrapper

    from qa import cli

    monkeypatch.setattr(_NamedTextIOWrapper, "isatty", lambda self: True)  # the runner's stdout
    result = CliRunner().invoke(cli.main, ["ask", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return screen(result.output)


@pytest.mark.parametrize("reply", ["Russia proposed six-sided discussions [1].",
                                   "Russia proposed six-sided discussions."], ids=["as-streamed", "changed"])
def test_the_answer_is_on_screen_once_in_its_final_form(fakes, monkeypatch, reply):
    from qa.api import Assistant

    finals = []
    real_stream = Assistant.stream
    monkeypatch.setattr(Assistant, "stream", lambda self, *a, **kw: (
        item for item in real_stream(self, *a, **kw) if not (hasattr(item, "citations") and finals.append(item))))
    fakes.replies.append(reply)
    shown = ask_on_a_terminal(monkeypatch, Q2003)
    final = finals[0].text
    assert sum(final in line for line in shown) == 1, shown
    if final != reply:
        assert not any(reply in line for line in shown), shown


def test_an_abstention_is_said_once_without_loading_the_model(fakes, monkeypatch, use_loaders):
    loads = []
    use_loaders(llm=lambda model=None, progress=None: loads.append(model) or fakes)
    shown = ask_on_a_terminal(monkeypatch, "Which recipe uses saffron and cardamom in a winter stew?")
    assert sum("don't answer that" in line for line in shown) == 1, shown
    assert loads == []


def test_no_heading_without_passages_under_it(fakes, monkeypatch):
    shown = ask_on_a_terminal(monkeypatch, "--since", "2030", Q2003)
    assert not any("Closest passages" in line for line in shown), shown
    assert any("2030" in line for line in shown)


def test_weak_passages_are_marked(fakes, monkeypatch):
    fakes.replies.append("Russia proposed six-sided discussions [1].")
    shown = ask_on_a_terminal(monkeypatch, Q2003)
    listed = [line for line in shown if line.startswith("[")]
    assert len(listed) >= 2
    assert "weak match" not in listed[0] and any("weak match" in line for line in listed[1:]), listed


def test_chat_refuses_a_library_that_is_not_there_as_ask_does(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from qa import cli

    opened = []
    monkeypatch.setattr("tui.app.run_app", lambda **kw: opened.append(kw))
    for args in (["--library", "nosuch"], ["--library", str(tmp_path / "absent")]):
        result = CliRunner().invoke(cli.main, ["chat", *args])
        assert result.exit_code == 2 and "no library at" in result.output, result.output
    assert opened == []
