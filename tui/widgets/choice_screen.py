"""A dialog to choose one of a list: a saved chat to open, a model to switch to."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.widgets.dialog import Dialog


class ChoiceScreen(Dialog[str | None]):
    """Choose one of ``choices`` ((key, label) pairs): Enter gives its key, Esc None;
    ``empty`` is shown when there is nothing to choose."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_choice")]

    def __init__(self, title: str, choices: list[tuple[str, str]], empty: str = "Nothing here yet.") -> None:
        super().__init__()
        self.choice_title = title
        self.choices = choices
        self.empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.choice_title
            dialog.border_subtitle = "Enter choose · Esc cancel"
            if self.choices:
                yield OptionList(*(Option(Content(label), id=key) for key, label in self.choices))
            else:
                yield Label(self.empty)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
