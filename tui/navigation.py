"""Moving between a chat's answers and their passages: which answer is selected (its passages
fill the panel), Ctrl+Up/Down, F2 into the passages list, F3 hiding the panel, F1 the keys.

A mixin of :class:`tui.app.QAApp`, kept apart so the window's module holds layout and answering;
it uses the app's public ``passages`` panel and ``prompt`` box.
"""
from __future__ import annotations

from tui.widgets import AnswerMessage, KeysPanel, PromptInput


class AnswerNavigation:
    """Selecting answers and moving focus between the conversation, the passages and the prompt."""

    _selected: AnswerMessage | None = None

    def answers(self) -> list[AnswerMessage]:
        return [m for m in self.query(AnswerMessage) if m.turn is not None]

    async def select_answer(self, message: AnswerMessage | None) -> None:
        """Mark ``message`` selected and show its passages (None: none)."""
        self._selected = message
        for m in self.query(AnswerMessage):
            m.set_class(m is message, "-selected")
        await self.passages.show(message.turn if message else None, message.number if message else None)

    async def _move_selection(self, step: int) -> None:
        answers = self.answers()
        if not answers:
            return
        i = answers.index(self._selected) if self._selected in answers else len(answers)
        target = answers[max(0, min(len(answers) - 1, i + step))]
        await self.select_answer(target)
        target.scroll_visible(animate=False)

    async def action_previous_answer(self) -> None:
        await self._move_selection(-1)

    async def action_next_answer(self) -> None:
        await self._move_selection(1)

    def action_toggle_passages(self) -> None:
        self.screen.toggle_class("-hide-passages")

    def action_focus_passages(self) -> None:
        """Into the passages list (shown if hidden), where Enter opens an article; from there,
        back to the prompt."""
        listing = self.passages.query_one("#passages-list")
        if listing.has_focus:
            self.query_one(PromptInput).focus()
        elif not self.passages.entries:
            self.notify("No sources yet: they come with an answer.")
        else:
            self.screen.remove_class("-hide-passages")
            listing.focus()

    def action_toggle_keys(self) -> None:
        if self.screen.query(KeysPanel):
            self.screen.query_one(KeysPanel).remove()
        else:
            self.screen.mount(KeysPanel())

