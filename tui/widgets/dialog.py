"""The look of the chat's small dialogs (:class:`~tui.widgets.prompt_screen.PromptScreen`,
:class:`~tui.widgets.choice_screen.ChoiceScreen`): a box in the middle of the screen, over
the chat. Each dialog subclasses :class:`Dialog` and yields its content inside a
``Vertical(classes="dialog")``."""
from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose ``.dialog`` box is centred, bordered and sized to its content."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;

        & .dialog {
            width: 80%;
            max-width: 100;
            height: auto;
            max-height: 80%;
            border: thick $accent;
            border-subtitle-color: $text-muted;
            background: $surface;
            padding: 1 1;
        }
        & .dialog OptionList {
            height: auto;
            max-height: 20;
        }
    }
    """
