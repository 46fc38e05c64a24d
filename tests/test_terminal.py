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
