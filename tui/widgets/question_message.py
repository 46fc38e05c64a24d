"""A question in the conversation: the user's words, as typed, under the title "You"."""
from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class QuestionMessage(Static):
    """A question the user asked."""

    DEFAULT_CSS = """
    QuestionMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $secondary;
        background: $boost;
        text-style: bold;
    }
    """

    def __init__(self, question: str) -> None:
        super().__init__(Content(question.strip()))
        self.question = question
        self.border_title = "You"
