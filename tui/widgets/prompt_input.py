"""The question box at the bottom of the chat.

A :class:`~textual.widgets.TextArea`, so a long question wraps and can span lines, with Enter
rebound to send it: the app hears :class:`PromptInput.Submitted` and asks the question. The
bindings have ids, so ``keymap.json`` can remap Send and New line.
"""
from __future__ import annotations

from textual.binding import Binding
from textual.events import Key
from textual.message import Message
from textual.widget import Widget
from textual.widgets import TextArea


class PromptInput(TextArea):
    """The question box: Enter sends, Shift+Enter or Ctrl+J starts a new line."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 8;
        border: tall $primary 40%;
    }
    PromptInput:focus {
        border: tall $primary;
    }
    """

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding("shift+enter,ctrl+j", "newline", "New line", id="newline", priority=True, show=False),
    ]

    class Submitted(Message):
        """The user pressed Enter: ``text`` is the question as typed (the app strips it)."""

        def __init__(self, prompt: "PromptInput", text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")

    def set_question(self, text: str) -> None:
        """Put ``text`` in the box with the cursor at its end (a cancelled question comes back)."""
        self.text = text
        self.move_cursor(self.document.end)


def type_into_prompt(widget: Widget, event: Key) -> None:
    """A printable key pressed on ``widget`` (a selected answer, the stories list) goes into the
    question box, which takes the focus: the user started typing a question."""
    if event.is_printable and event.character:
        prompt = widget.app.query_one(PromptInput)
        prompt.focus()
        prompt.insert(event.character)
        event.stop()
