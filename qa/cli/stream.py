"""What ``qa ask`` shows while an answer is on its way.

On a CPU the model takes seconds to read its prompt (and a first run a minute to join and check
its weights), while retrieval takes a fraction of a second: so the passages are printed the moment
they are found, to stdout, and a line on stderr says what the wait is for until the first word.
"""
from __future__ import annotations

import shutil
import sys
import time

import click

from qa.answering import Sources

SNIPPET = 300  # characters of a passage's best sentence shown


def is_terminal() -> bool:
    """Whether stdout is a terminal: the answer streams there (a pipe gets the final answer only)."""
    return sys.stdout.isatty()


def print_sources(sources: Sources, weak_below: float = 0.0) -> None:
    """The passages, numbered as the answer's [n] markers will cite them, each with its date,
    outlet and the sentence that shares most words with the question; flushed at once. A
    passage scoring under ``weak_below`` (the encoder's abstention threshold: too far from the
    question to answer from on its own) is marked "weak match" and dimmed, so that the close
    ones stand out when few are."""
    if not sources.passages:
        return
    click.echo(click.style("Passages", bold=True))
    for n, (passage, sentence) in enumerate(zip(sources.passages, sources.sentences, strict=True), 1):
        a = passage.article
        weak = passage.score < weak_below
        meta = " · ".join(x for x in (a.date, a.source, "weak match" if weak else "") if x) or "undated"
        click.echo(f"{click.style(f'[{n}]', bold=True)} {click.style(a.title, dim=weak or None)} "
                   f"{click.style(f'({meta})', dim=True)}")
        cut = sentence[:SNIPPET] + ("…" if len(sentence) > SNIPPET else "")
        click.echo(click.style(f"    “{cut}”", dim=weak or None))
    click.echo(click.style(f"found in {sources.retrieve_s:.1f}s", dim=True))
    click.echo()
    sys.stdout.flush()


class Waiting:
    """The stderr line until the answer's first word: a bar with bytes and speed while a first
    run joins and checks the weight parts, then "loading the language model…", then "the model
    is reading the passages…". Its ``progress`` is an :class:`~qa.api.Assistant`'s; a line that
    is not a terminal gets plain lines for the slow first-run step only. The status lines are
    still text, not spinners: a refresh thread would take CPU from the model on a small machine."""

    def __init__(self) -> None:
        self._console = None  # rich, imported only for the bar: not before the passages are out
        self._terminal = sys.stderr.isatty()
        self._live = None  # the rich Progress on screen
        self._task = None
        self._line = False  # a status line is on screen
        self._started = 0.0

    def progress(self, stage: str, done: int, total: int) -> None:
        if stage == "assemble":
            self._assembling(done, total)
        elif stage == "load":
            self.say("loading the language model…" if done < total else "the model is reading the passages…")

    def _assembling(self, done: int, total: int) -> None:
        label = f"preparing the language model (once, ~{total / 1e9:.1f} GB)"
        if self._task is None:
            self.stop()
            self._started = time.perf_counter()
            self.console.print(f"{label}…", highlight=False)  # stays above the bar, and where no bar shows
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            self._live = Progress(TextColumn("joining and checking the weight parts"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), TimeRemainingColumn(), console=self.console, transient=True,
                                  disable=not self._terminal)
            self._live.start()
            self._task = self._live.add_task(label, total=total)
        self._live.update(self._task, completed=done)
        if done >= total:
            self.stop()
            self._task = None
            self.console.print(f"[dim]{label}: checked in {time.perf_counter() - self._started:.0f}s[/]",
                               highlight=False)

    def say(self, text: str) -> None:
        """Show ``text`` on the status line (a terminal only), in place of the previous one."""
        if not self._terminal or self._task is not None:
            return
        self.stop()
        sys.stderr.write(f"\r\x1b[2m{text}\x1b[0m")
        sys.stderr.flush()
        self._line = True

    def stop(self) -> None:
        """Clear the status line or the bar, so that the answer starts on a clean line."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._line:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._line = False

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console


class StreamedText:
    """The answer's text on the terminal as the model writes it. The checked answer may differ
    (citations added, a timeline's entries, a span the check rejected): ``settle`` then erases
    what was streamed, so that each answer is printed once, in its final form."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, piece: str) -> None:
        click.echo(piece, nl=False)
        self.text += piece

    def settle(self, final: str) -> bool:
        """True when the streamed text is the final answer's, and stays; False when there is
        nothing on screen or it was erased (print the final answer)."""
        if not self.text:
            return False
        if " ".join(self.text.split()) == " ".join(final.split()):
            click.echo()
            return True
        from rich.cells import cell_len

        width, height = shutil.get_terminal_size()
        lines = sum(max(1, -(-cell_len(line) // width)) for line in self.text.split("\n"))
        if lines >= height:  # its top has scrolled out of reach: the final answer follows below it
            click.echo("\n")
            return False
        sys.stdout.write("\r" + (f"\x1b[{lines - 1}A" if lines > 1 else "") + "\x1b[J")
        sys.stdout.flush()
        return False
