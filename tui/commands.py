"""What the chat's keys and command palette do: chats (new, open, clear, export, and saving
each answer) and switching the library, the model or the filters; and how a chat opens: the
welcome text and the library's current stories (:class:`~tui.widgets.StoriesList`), which the
session finds in a worker thread once a library opens, and which go when the first question comes.

:class:`ChatCommands` is a mixin of :class:`tui.app.QAApp`, kept apart so the app module holds
the layout and showing answers, and this one the commands. It uses only the app's public
names (``session``, ``pending``, ``drop_pending``, ``set_status``, ``update_info``, ``load``,
``select_answer``, ``conversation``, ``prompt``, ``turns``, ``chat_id``, ``chat_title``,
``store``) and the session's (:class:`tui.session.Session`).
"""
from __future__ import annotations

import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from textual.app import SystemCommand
from textual.widgets import Static

from qa.api import Assistant
from qa.library import LibraryError, library_address, library_exists
from qa.library.filters import Filters, make_filters
from tui.export import default_export_name, export_chat
from qa.stories import Story
from tui.store import Turn
from tui.widgets import AnswerMessage, ChoiceScreen, PromptScreen, QuestionMessage, StoriesList


class ChatCommands:
    """New, open, clear, save and export chats; switch the library, the model or the filters."""

    WELCOME = ("Ask a question about the articles in this library. Answers cite the passages they "
               "come from as [1], [2]…; the sources panel shows them, and Enter on a source opens "
               "the whole article.\n\nEnter sends · Ctrl+J new line · Esc cancels an answer · "
               "F2 sources · Ctrl+P commands · F1 keys")

    def chat_commands(self) -> Iterator[SystemCommand]:
        """The command palette's entries for these commands."""
        yield SystemCommand("New chat", "Start a new conversation (this one stays saved)", self.action_new_chat)
        yield SystemCommand("Open chat", "Reopen a saved conversation", self.action_open_chat)
        yield SystemCommand("Export chat", "Write this conversation to a Markdown file", self.action_export)
        yield SystemCommand("Switch library", "Answer from another library folder", self.action_switch_library)
        yield SystemCommand("Switch model", "Answer with another LLM from models.txt", self.action_switch_model)
        yield SystemCommand("Filter by date or outlet", "Search only --since/--until a date, or --source outlets",
                            self.action_filter)
        yield SystemCommand("Clear chat", "Delete this conversation and start over", self.action_clear)

    # -- chats ----------------------------------------------------------------------------
    async def remove_welcome(self) -> None:
        """Take away what a chat opens on (the welcome text, the stories): the chat has begun."""
        for w in self.query("#welcome, #stories"):
            await w.remove()

    async def show_welcome(self) -> None:
        """What a chat opens on: the welcome text, then the library's stories if it has some."""
        if not self.query("#welcome"):
            await self.conversation.mount(Static(self.WELCOME, id="welcome"))
        if self.session.stories and not self.query(StoriesList):
            await self.conversation.mount(StoriesList(self.session.stories))

    def focus_opening(self) -> None:
        """The stories list if the chat opens on one, else the question box."""
        (next(iter(self.query(StoriesList)), None) or self.prompt).focus()

    async def stories_found(self, assistant: Assistant, stories: list[Story]) -> None:
        """The library's current stories (SessionView): shown if the chat has not begun, and
        focused unless the user has started typing."""
        if assistant is not self.assistant:
            return
        self.session.stories = stories
        if not stories or self.turns or self.pending is not None:
            return
        await self.show_welcome()
        if self.prompt.has_focus and not self.prompt.text.strip():
            self.focus_opening()

    async def on_stories_list_ask(self, event: StoriesList.Ask) -> None:
        await self.ask(event.question)
        self.prompt.focus()

    def save(self, turn: Turn) -> None:
        """Add ``turn`` to this chat in the store (the first turn creates the chat)."""
        if self.store is None:
            return
        try:
            if self.chat_id is None:
                self.chat_title = " ".join(turn.question.split())[:80]
                library = str(self.assistant.library.address) if self.assistant else None
                self.chat_id = self.store.create_chat(self.chat_title, library, turn.model)
                self.update_info()
            self.store.add_turn(self.chat_id, turn)
        except sqlite3.Error as e:
            self.notify(f"Could not save the chat: {e}", severity="error")

    async def _reset(self) -> None:
        if self.pending is not None:
            await self.drop_pending()
            self.prompt.text = ""
        await self.conversation.remove_children()
        self.turns, self.chat_id, self.chat_title = [], None, None
        self.session.start_conversation([])
        await self.select_answer(None)
        await self.show_welcome()
        self.update_info()

    async def new_chat(self) -> None:
        await self._reset()
        self.set_status("New chat.")
        self.focus_opening()

    async def action_new_chat(self) -> None:
        await self.new_chat()

    async def open_chat(self, chat_id: int) -> None:
        """Show a saved chat; follow-up questions continue it."""
        if self.store is None:
            return
        summary = self.store.chat(chat_id)
        if summary is None:
            self.notify(f"No saved chat {chat_id}.", severity="error")
            return
        turns = self.store.turns(chat_id)
        await self._reset()
        await self.remove_welcome()
        self.turns, self.chat_id, self.chat_title = turns, chat_id, summary.title
        self.session.start_conversation([t.question for t in turns])
        widgets = []
        for i, turn in enumerate(turns, 1):
            widgets += [QuestionMessage(turn.question), AnswerMessage(i, turn)]
        if widgets:
            await self.conversation.mount_all(widgets)
            await self.select_answer(widgets[-1])
        else:
            await self.show_welcome()
        self.conversation.scroll_end(animate=False)
        self.update_info()
        self.set_status(f"Opened “{summary.title}” ({len(turns)} answer{'s' * (len(turns) != 1)}).")
        self.prompt.focus()

    def action_open_chat(self) -> None:
        chats = self.store.list_chats() if self.store else []
        choices = [(str(c.id), f"{c.title} · {c.updated[:16].replace('T', ' ')} · {c.turns} "
                               f"answer{'s' * (c.turns != 1)}") for c in chats]

        async def chosen(chat_id: str | None) -> None:
            if chat_id:
                await self.open_chat(int(chat_id))
        self.push_screen(ChoiceScreen("Open a saved chat", choices, "No saved chats yet."), chosen)

    async def action_clear(self) -> None:
        """Delete this chat (saved turns included) and start over."""
        if self.chat_id is not None and self.store is not None:
            self.store.delete_chat(self.chat_id)
        await self._reset()
        self.set_status("Chat cleared.")

    def export_to(self, path: str | Path | None = None) -> Path:
        library = str(self.assistant.library.address) if self.assistant else None
        model = self.turns[-1].model if self.turns else None
        written = export_chat(self.turns, path, title=self.chat_title, library=library, model=model)
        self.set_status(f"Exported to {written}", "done")
        self.notify(f"Exported to {written}", title="Export")
        return written

    def action_export(self) -> None:
        if not self.turns:
            self.notify("Nothing to export yet: ask a question first.", severity="warning")
            return
        default = Path.cwd() / default_export_name(self.chat_title or self.turns[0].question)

        def chosen(path: str | None) -> None:
            if path:
                try:
                    self.export_to(path)
                except OSError as e:
                    self.set_status(f"Could not export: {e}", "error")
                    self.notify(str(e), title="Could not export", severity="error")
        self.push_screen(PromptScreen("Export this chat to Markdown", str(default)), chosen)

    # -- switching library, model or filters -------------------------------------------------
    def _switch(self, library: Path | str | None = None, model: str | None = None) -> None:
        factory, new_chat = self.session.reopen(library, model)
        self.load(factory, new_chat=new_chat)

    def _busy(self) -> bool:
        if self.pending is not None:
            self.notify("An answer is being written: wait for it or cancel it (Esc) first.", severity="warning")
        return self.pending is not None

    def action_switch_library(self) -> None:
        if self._busy():
            return
        current = str(self.assistant.library.address) if self.assistant else ""

        def chosen(path: str | None) -> None:
            if not path:
                return
            address = library_address(path)
            try:
                found = library_exists(address)
            except LibraryError as e:
                self.notify(str(e), severity="error", timeout=10)
                return
            if not found:
                self.notify(f"No library at {address} (create one with: qa ingest PATH --library {address})",
                            severity="error", timeout=10)
                return
            self._switch(library=address)
        self.push_screen(PromptScreen("Switch library: a folder or milvus://… address", current), chosen)

    def action_filter(self) -> None:
        """Ask for filters in the command line's spelling; empty clears them."""
        session = self.session

        def chosen(text: str | None) -> None:
            if text is None:
                return
            try:
                session.filters = parse_filter_args(text)
            except ValueError as e:
                self.notify(str(e), severity="error", timeout=10)
                return
            self.update_info()
            self.set_status(f"Searching only {session.filters.describe()}." if session.filters else "No filters.")
        self.push_screen(PromptScreen("Filter: --since YYYY[-MM[-DD]] --until … --source NAME (empty: none)",
                                      session.filters.describe(), "--since 2010 --until 2014"), chosen)

    def action_switch_model(self) -> None:
        from qa.models import load_manifest

        if self._busy():
            return
        current = self.session.model_arg
        names = [s.name for s in load_manifest() if s.role == "llm"]
        choices = [(n, f"{n}{'  (current)' if n == current else ''}") for n in names]

        def chosen(name: str | None) -> None:
            if name:
                self._switch(model=name)
        self.push_screen(ChoiceScreen("Switch model", choices), chosen)


def parse_filter_args(text: str) -> Filters:
    """Filters from command-line spelling ("--since 2010 --until 2014 --source voanews.com"), as
    ``Filters.describe`` writes them: the chat's palette takes them as one line of text."""
    values: dict = {"sources": [], "include_undated": False}
    words = shlex.split(text)
    while words:
        word = words.pop(0)
        if word == "--include-undated":
            values["include_undated"] = True
        elif word in ("--since", "--until", "--source") and words:
            value = words.pop(0)
            if word == "--source":
                values["sources"].append(value)
            else:
                values[word[2:]] = value
        else:
            raise ValueError(f"unknown filter {word!r}: use --since YYYY[-MM[-DD]], --until …, --source NAME, "
                             "--include-undated")
    return make_filters(**values)
