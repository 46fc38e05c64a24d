"""A one-line dialog: a path to export to, a library to switch to, filters to search within."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input

from tui.widgets.dialog import Dialog


class PromptScreen(Dialog[str | None]):
    """Ask for one line of text: Enter accepts (empty text too: ""), Esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_prompt")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.prompt_title = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.prompt_title
            dialog.border_subtitle = "Enter accept · Esc cancel"
            yield Input(self.value, placeholder=self.placeholder)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
