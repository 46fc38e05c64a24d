"""``qa chat``: the full-screen chat over a library of news articles.

:class:`QAApp` is the window: a top bar (the chat's title, the library and model), the
conversation beside the passages panel, a status line and the question box. What it does is
split three ways:

- :mod:`tui.session`: the library and models, loaded in a worker thread so the window is usable
  at once, and the answer worker, which streams an answer's pieces here with ``call_from_thread``;
- this module: the layout, the key bindings (remapped by ``keymap.json``: :mod:`tui.keymap`), and
  showing what the session reports (the passages found, the streamed words, the final answer, errors);
- :mod:`tui.commands`: chats (new, open, clear, export; saved in ``chats.db``) and switching
  library, model or filters, through this module's public methods only.

The widgets, each with its CSS, are in :mod:`tui.widgets`; ``app.tcss`` is the layout.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from functools import partial
from itertools import count
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static
from textual.worker import get_current_worker

from qa.answering import Answer, Sources
from qa.api import Assistant
from tui.commands import ChatCommands
from tui.keymap import load_keymap
from tui.navigation import AnswerNavigation
from tui.session import PendingAnswer, Session
from tui.store import ChatStore, Turn
from tui.widgets import AnswerMessage, ArticleScreen, PassagesPanel, PromptInput, QuestionMessage

class QAApp(ChatCommands, AnswerNavigation, App[None]):
    """The chat. ``assistant`` (ready) or ``assistant_factory`` (called in a worker thread)
    injects the backend; by default it is ``Assistant(library, model)``. ``stories``: open on
    the library's current stories (they take the focus; tests of other things turn them off)."""

    CSS_PATH = "app.tcss"
    TITLE = "qa"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    # The ids are what keymap.json names: they stay as they were when the panel was "sources".
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+n", "new_chat", "New", id="new_chat"),
        Binding("ctrl+o", "open_chat", "Open", id="open_chat"),
        Binding("ctrl+s", "export", "Export", id="export"),
        Binding("f2", "focus_passages", "Sources", id="focus_sources"),
        Binding("f1", "toggle_keys", "Keys", id="keys"),
        Binding("f3", "toggle_passages", "Hide or show sources", id="toggle_sources", show=False),
        Binding("ctrl+up", "previous_answer", "Previous answer", id="previous_answer", show=False),
        Binding("ctrl+down", "next_answer", "Next answer", id="next_answer", show=False),
        Binding("ctrl+l", "clear", "Clear chat", id="clear", show=False),
    ]

    def __init__(self, assistant: Assistant | None = None, *,
                 assistant_factory: Callable[[], Assistant] | None = None,
                 library: Path | str | None = None, model: str | None = None,
                 store: ChatStore | None = None, show_timings: bool = True, preload: bool = True,
                 keymap: dict[str, str] | None = None, stories: bool = True) -> None:
        super().__init__()
        self.open_on_stories = stories  # a new chat shows the library's current stories
        self.session = Session(self, assistant, library=library, model=model, preload=preload)
        self._factory = assistant_factory
        self.store = store
        self.show_timings = show_timings
        self._user_keymap = keymap or {}
        self.turns: list[Turn] = []
        self.chat_id: int | None = None
        self.chat_title: str | None = None
        self.pending: PendingAnswer | None = None   # the answer being written, if any
        self._selected: AnswerMessage | None = None
        self._articles: dict = {}
        self._ids = count(1)

    @property
    def assistant(self) -> Assistant | None:
        return self.session.assistant

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static("qa · new chat", id="chat-title")
            yield Static("", id="info")
        with Horizontal(id="main"):
            with VerticalScroll(id="conversation"):
                yield Static(self.WELCOME, id="welcome")
            yield PassagesPanel(id="passages")
        yield Static("", id="status")
        yield PromptInput(id="prompt", placeholder="Ask about the articles…", soft_wrap=True,
                          show_line_numbers=False)
        yield Footer()

    def on_mount(self) -> None:
        if self._user_keymap:
            self.set_keymap(self._user_keymap)
        if self.store is None:
            try:
                self.store = ChatStore()
            except (OSError, sqlite3.Error) as e:
                self.notify(f"Chats will not be saved: {e}", severity="warning")
        self.query_one(PromptInput).focus()
        if self.assistant is not None:
            self.library_opened(self.assistant)
            if self.session.preload:
                self.load(None)
        else:
            self.load(self._factory or self.session.default_assistant)

    @property
    def conversation(self) -> VerticalScroll:
        return self.query_one("#conversation", VerticalScroll)

    @property
    def passages(self) -> PassagesPanel:
        return self.query_one(PassagesPanel)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    def set_status(self, text: str, kind: str = "") -> None:
        """The status line: ``kind`` "busy", "error", "done", "warning" or "" colours it."""
        status = self.query_one("#status", Static)
        status.update(text)
        for k in ("busy", "error", "done", "warning"):
            status.set_class(k == kind, f"-{k}")

    def set_idle_status(self, text: str, kind: str = "") -> None:
        """The status line, unless an answer is being written (its status matters more)."""
        if self.pending is None:
            self.set_status(text, kind)

    def update_info(self) -> None:
        """The top bar: the chat's title; the library, its size, the model and the filters."""
        a = self.assistant
        if a is None:
            info = "no library" if self.session.load_error else "loading…"
        else:
            info = f"{a.library.name} · {a.library.counts.get('articles', 0)} articles · {self.session.model_name()}"
            if self.session.filters:
                info += f" · {self.session.filters.describe()}"
        self.query_one("#info", Static).update(info)
        self.query_one("#chat-title", Static).update(f"qa · {self.chat_title or 'new chat'}")

    def from_thread(self, callback: Callable, *args) -> object:
        """Run ``callback`` on the UI thread from a worker; nothing if the app has gone."""
        try:
            return self.call_from_thread(callback, *args)
        except RuntimeError:
            return None

    # -- what the session reports (SessionView) -------------------------------------------
    def load(self, factory: Callable[[], Assistant] | None, new_chat: bool = False) -> None:
        """Open the assistant ``factory`` makes (None: the open one) and load its models, in a
        worker thread; a newer load cancels an older one."""
        self.run_worker(partial(self.session.load, factory, new_chat),
                        thread=True, group="load", exclusive=True, exit_on_error=False)

    def library_opened(self, assistant: Assistant, new_chat: bool = False) -> None:
        self.session.use(assistant, [t.question for t in self.turns])
        if self.open_on_stories:
            self.run_worker(partial(self.session.list_stories, assistant), thread=True, group="stories",
                            exclusive=True, exit_on_error=False)
        self.update_info()
        self.set_idle_status("Ready.")
        if new_chat:
            self.call_later(self.new_chat)

    def library_failed(self, error: Exception) -> None:
        self.session.failed(error)
        self.update_info()
        self.set_status(f"Could not open the library: {error}", "error")
        self.notify(str(error), title="Could not open the library", severity="error", timeout=10)

    def models_loading(self) -> None:
        """The loading status in place of "Ready." (or none); a newer one (a new chat after a switch
        of library, an answer) stays: the warm-up thread may start after it was shown."""
        if str(self.query_one("#status", Static).content) in ("", "Ready."):
            self.set_idle_status("Loading the models… (you can type)", "busy")

    def models_ready(self) -> None:
        """"Ready." in place of a loading status; whatever came since (an answer, a new chat) stays."""
        if str(self.query_one("#status", Static).content).startswith("Loading"):
            self.set_idle_status("Ready.")

    def models_failed(self, error: Exception) -> None:
        self.set_idle_status(f"Could not load the model: {error}", "error")
        self.notify(str(error), title="Could not load the model", severity="error", timeout=10)

    async def passages_found(self, pending: PendingAnswer, found: Sources) -> None:
        """The passages, in the panel while the model reads them (seconds on a CPU)."""
        if pending is not self.pending:
            return
        self.set_status(f"Found {len(found.passages)} passages · the model is reading them…", "busy")
        reading = Turn.from_answer(Answer(found.question, "", False, [], found.passages, ""))
        await self.passages.show(reading, pending.answer_msg.number, found=True)

    async def answer_piece(self, pending: PendingAnswer, piece: str) -> None:
        if pending is not self.pending:
            return
        await pending.answer_msg.append(piece)
        self.conversation.scroll_end(animate=False)

    async def answer_done(self, pending: PendingAnswer, answer: Answer) -> None:
        if pending is not self.pending:
            return
        turn = Turn.from_answer(answer)
        for p in answer.passages:
            self._articles[p.article.id] = p.article
        await pending.answer_msg.finish(turn)
        self.turns.append(turn)
        self.save(turn)
        self.pending = None
        self.refresh_bindings()
        await self.select_answer(pending.answer_msg)
        self.conversation.scroll_end(animate=False)
        self.set_status(self._done_text(turn), "warning" if turn.abstained else "done")

    def _done_text(self, turn: Turn) -> str:
        what = "Not in the articles — the closest passages are in the sources panel." if turn.abstained \
            else f"Answered with {len(turn.citations)} cited passage{'s' * (len(turn.citations) != 1)}."
        if not self.show_timings:
            return what
        t = turn.timings
        return (f"{what} {t.get('total_s', 0):.1f} s (search {t.get('retrieve_s', 0):.1f} s, "
                f"writing {t.get('generate_s', 0):.1f} s)")

    async def answer_failed(self, pending: PendingAnswer, error: Exception) -> None:
        if pending is not self.pending:
            return
        await self.drop_pending()
        self.set_status(f"Could not answer: {error}", "error")
        self.notify(str(error), title="Could not answer", severity="error", timeout=10)

    # -- asking -------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        await self.ask(event.text)

    async def ask(self, question: str) -> None:
        """Ask ``question`` in this chat: its messages appear and a worker writes the answer."""
        question = question.strip()
        if not question:
            return
        if self.pending is not None:
            self.notify("Still answering the last question (Esc cancels it).", severity="warning")
            return
        if self.session.loaded.is_set() and self.assistant is None:
            self.notify(f"No library is open: {self.session.load_error}. Use Ctrl+P › Switch library.",
                        severity="error")
            return
        self.prompt.text = ""
        await self.remove_welcome()
        question_msg = QuestionMessage(question)
        answer_msg = AnswerMessage(len(self.turns) + 1)
        await self.conversation.mount_all([question_msg, answer_msg])
        self.conversation.scroll_end(animate=False)
        pending = PendingAnswer(next(self._ids), question, self.session.conversation, question_msg, answer_msg)
        self.pending = pending
        pending.worker = self.run_worker(partial(self._write_answer, pending), thread=True, group="answer",
                                         exit_on_error=False)
        self.refresh_bindings()

    def _write_answer(self, pending: PendingAnswer) -> None:
        worker = get_current_worker()
        self.session.answer(pending, lambda: worker.is_cancelled)

    async def drop_pending(self) -> None:
        """Remove the unfinished answer and its question; the question goes back to the box."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        if pending.worker is not None:
            pending.worker.cancel()
        await pending.answer_msg.stop_stream()
        await pending.question_msg.remove()
        await pending.answer_msg.remove()
        typed = self.prompt.text.strip()
        self.prompt.set_question(pending.question + (f"\n{typed}" if typed else ""))
        self.prompt.focus()
        if not self.turns:
            await self.show_welcome()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.pending is not None
        return True

    async def action_cancel(self) -> None:
        if self.pending is None:
            return
        await self.drop_pending()
        self.set_status("Cancelled — your question is back in the box.")

    # -- answers and their passages ---------------------------------------------------------
    @on(AnswerMessage.Selected)
    async def _answer_selected(self, event: AnswerMessage.Selected) -> None:
        if event.message is not self._selected:
            await self.select_answer(event.message)

    @on(Markdown.LinkClicked)
    async def _link_clicked(self, event: Markdown.LinkClicked) -> None:
        """A citation marker [n]: select its answer and highlight passage n."""
        event.stop()
        if not event.href.startswith("cite:"):
            self.open_url(event.href)
            return
        message = next((a for a in event.markdown.ancestors if isinstance(a, AnswerMessage)), None)
        if message is None or message.turn is None:
            return
        if message is not self._selected:
            await self.select_answer(message)
        self.screen.remove_class("-hide-passages")
        self.passages.highlight(int(event.href.split(":", 1)[1]))

    @on(PassagesPanel.Open)
    def _open_passage(self, event: PassagesPanel.Open) -> None:
        self.open_article(event.passage)

    def open_article(self, passage: dict) -> None:
        """The whole article behind a passage, scrolled to its quote."""
        article = self._articles.get(passage.get("article_id")) or self.session.article(passage.get("article_id"))
        self.push_screen(ArticleScreen.of_passage(passage, article))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self.chat_commands()


def run_app(library: Path | None = None, model: str | None = None) -> None:
    """``qa chat``: open the chat over ``library`` (default: the sample articles)."""
    QAApp(library=library, model=model, keymap=load_keymap()).run()
