"""An answer in the conversation, from its first streamed word to the checked answer.

While the model writes, the text streams into a :class:`~textual.widgets.Markdown` (its stream
batches the updates). When the answer is final, the widget shows the checked text with each
citation marker [n] as a ``cite:n`` link: the app hears the click and highlights passage n in
the passages panel. A timeline answer is a list of dated entries instead.
"""
from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Key
from textual.message import Message
from textual.widgets import Markdown

from tui.export import ABSTAIN_LINE
from tui.store import Turn
from tui.widgets.prompt_input import type_into_prompt
from tui.widgets.text import md_escape


def answer_markdown(turn: Turn) -> str:
    """The answer as Markdown, each [n] marker a link to passage n in the panel."""
    if turn.abstained:
        lines, groups = [ABSTAIN_LINE, ""], {}
        for src in turn.cited_passages():     # one line per article, with all its passage numbers
            groups.setdefault(src.get("article_id") or src["n"], []).append(src)
        for group in groups.values():
            marks = "".join(f"[\\[{s['n']}\\]](cite:{s['n']})" for s in group)
            first = group[0]
            title = first.get("title") or "Untitled"
            when = f" ({first['date']})" if first.get("date") and first["date"] not in title else ""
            lines.append(f"- {marks} {md_escape(title)}{when}")
        return "\n".join(lines)
    cited = {c["n"] for c in turn.citations}

    def links(text: str) -> str:
        return re.sub(r"\[(\d+)\]", lambda m: f"[\\[{m[1]}\\]](cite:{m[1]})" if int(m[1]) in cited else m[0],
                      text)

    if turn.timeline:
        return "\n".join(f"- **{md_escape(e['period'])}**{_day(e)} — {links(e['text'])}" for e in turn.timeline)
    return links(turn.text)


def _day(entry: dict) -> str:
    """A timeline entry's date, where it says more than its period ("2003" → " · 2003-04-08")."""
    day = entry.get("date") or ""
    return f" · {day}" if day and day != entry["period"] and day.startswith(entry["period"]) else ""


class AnswerMessage(Vertical, can_focus=True):
    """An answer: streamed as Markdown while the model writes, then the checked answer
    with its [n] markers linked to the passages panel. Focus or click selects it."""

    DEFAULT_CSS = """
    AnswerMessage {
        height: auto;
        padding: 0 1;
        border: round $primary 50%;
        border-title-color: $text-primary 70%;
        border-subtitle-color: $text-muted;

        &.-selected {
            border: round $primary;
            border-title-color: $text-primary;
            border-title-style: bold;
        }
        &:focus {
            background-tint: $foreground 4%;
        }
        &.-streaming {
            border: round $primary 30%;
        }
        &.-abstained {
            border: round $warning 50%;
            border-title-color: $text-warning;
        }
        &.-abstained.-selected {
            border: round $warning;
        }
        & Markdown {
            padding: 0;
            margin: 0;
            background: transparent;
        }
        & Markdown * {
            link-color: $text-accent;
            link-background: $accent-muted;
            link-style: bold;
            link-color-hover: $text;
            link-background-hover: $accent;
        }
        & Markdown > *:last-child {
            margin-bottom: 0;
        }
        &.-abstained Markdown {
            color: $text-warning;
        }
    }
    """

    class Selected(Message):
        """The user focused or clicked a final answer: the app shows its passages."""

        def __init__(self, message: "AnswerMessage") -> None:
            super().__init__()
            self.message = message

    def __init__(self, number: int, turn: Turn | None = None) -> None:
        super().__init__()
        self.number = number
        self.turn = turn
        self.partial = ""
        self._stream = None
        self.border_title = f"Answer {number}"
        if turn is None:
            self.add_class("-streaming")

    def compose(self) -> ComposeResult:
        yield Markdown(answer_markdown(self.turn) if self.turn else "", open_links=False)

    def on_mount(self) -> None:
        if self.turn is not None:
            self._decorate(self.turn)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    async def append(self, piece: str) -> None:
        """Add a piece of the text the model is writing."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        self.partial += piece
        await self._stream.write(piece)

    async def stop_stream(self) -> None:
        """Stop streaming (the answer is final, or cancelled)."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def finish(self, turn: Turn) -> None:
        """Replace the streamed text with the checked answer."""
        await self.stop_stream()
        self.turn = turn
        self.remove_class("-streaming")
        await self.markdown.update(answer_markdown(turn))
        self._decorate(turn)

    def _decorate(self, turn: Turn) -> None:
        self.set_class(turn.abstained, "-abstained")
        self.border_title = f"Answer {self.number}" + (" · ⚠ not in the articles" if turn.abstained else "")
        self.border_subtitle = turn.model or ""

    def on_focus(self) -> None:
        if self.turn is not None:
            self.post_message(self.Selected(self))

    def on_click(self) -> None:
        if self.turn is not None:
            self.post_message(self.Selected(self))

    def on_key(self, event: Key) -> None:
        """Typing on a selected answer goes to the question box."""
        type_into_prompt(self, event)
