"""``qa chat``: the full-screen chat over a library of news articles.

Answers stream as the model writes (a thread worker drives the blocking
generator and hands each piece to the UI with ``call_from_thread``); the
sources panel shows the passages behind the selected answer; chats are saved
in ``chats.db`` in the data directory and can be reopened or exported to
Markdown. Models load in the background, so the window is usable at once.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static
from textual.worker import Worker, get_current_worker

from qa.answering import Answer, Sources
from qa.api import Assistant, Conversation
from qa.library import Filters, library_address
from qa.paths import data_dir
from tui.commands import WELCOME, ChatCommands
from tui.keys import KeysPanel
from tui.store import ChatStore, Turn
from tui.widgets import AnswerMessage, ArticleScreen, PromptInput, QuestionMessage, SourcesPanel

KEYMAP_FILE = "keymap.json"


@dataclass(eq=False)
class Generation:
    """An answer being written: its question, its two messages and its worker."""

    id: int
    question: str
    conversation: Conversation | None
    question_msg: QuestionMessage
    answer_msg: AnswerMessage
    worker: Worker | None = None


class QAApp(ChatCommands, App[None]):
    """The chat. ``assistant`` (ready) or ``assistant_factory`` (called in a worker thread)
    injects the backend; by default it is ``Assistant(library, model)``."""

    CSS_PATH = "app.tcss"
    TITLE = "qa"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+n", "new_chat", "New", id="new_chat"),
        Binding("ctrl+o", "open_chat", "Open", id="open_chat"),
        Binding("ctrl+s", "export", "Export", id="export"),
        Binding("f2", "focus_sources", "Sources", id="focus_sources"),
        Binding("f1", "toggle_keys", "Keys", id="keys"),
        Binding("f3", "toggle_sources", "Hide or show sources", id="toggle_sources", show=False),
        Binding("ctrl+up", "previous_answer", "Previous answer", id="previous_answer", show=False),
        Binding("ctrl+down", "next_answer", "Next answer", id="next_answer", show=False),
        Binding("ctrl+l", "clear", "Clear chat", id="clear", show=False),
    ]

    def __init__(self, assistant: Assistant | None = None, *,
                 assistant_factory: Callable[[], Assistant] | None = None,
                 library: Path | str | None = None, model: str | None = None,
                 store: ChatStore | None = None, show_timings: bool = True, preload: bool = True,
                 keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.library_arg = library_address(library) if library else None
        self.model_arg = model
        self._factory = assistant_factory
        self.assistant: Assistant | None = assistant
        self.store = store
        self.show_timings = show_timings
        self.preload = preload
        self._user_keymap = keymap or {}
        self.turns: list[Turn] = []
        self.chat_id: int | None = None
        self.chat_title: str | None = None
        self._conversation: Conversation | None = None
        self._generation: Generation | None = None
        self._selected: AnswerMessage | None = None
        self._articles: dict = {}
        self._ids = count(1)
        self._loaded = threading.Event()           # an assistant is loaded (or loading failed)
        self._model_lock = threading.Lock()       # one thread loads the models
        self._answer_lock = threading.Lock()      # one answer at a time uses the model
        self._warm_for: Assistant | None = None    # the assistant whose models are loaded
        self._load_error: str | None = None
        self.filters = Filters()                   # what questions are searched in (palette: Filter)

    # -- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static("qa · new chat", id="chat-title")
            yield Static("", id="info")
        with Horizontal(id="main"):
            with VerticalScroll(id="conversation"):
                yield Static(WELCOME, id="welcome")
            yield SourcesPanel(id="sources")
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
            self._assistant_ready(self.assistant)
            if self.preload:
                self._load(lambda: self.assistant, preload_only=True)
        else:
            factory = self._factory or (lambda: self._default_assistant())
            self._load(factory)

    def _default_assistant(self) -> Assistant:
        return Assistant(self.library_arg, self.model_arg, progress=self._indexing_progress)

    def _indexing_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "assemble":
            text = f"Preparing the language model (once, ~{total / 1e9:.1f} GB): {done * 100 // max(total, 1)}%…"
        elif stage == "load":
            text = "Loading the language model…"
        else:
            text = f"Indexing the sample articles: {stage} {done}/{total}…"
        self._from_thread(self._set_status, text, "busy")

    @property
    def conversation(self) -> VerticalScroll:
        return self.query_one("#conversation", VerticalScroll)

    @property
    def sources(self) -> SourcesPanel:
        return self.query_one(SourcesPanel)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    def _set_status(self, text: str, kind: str = "") -> None:
        status = self.query_one("#status", Static)
        status.update(text)
        for k in ("busy", "error", "done", "warning"):
            status.set_class(k == kind, f"-{k}")

    def _set_idle_status(self, text: str, kind: str = "") -> None:
        if self._generation is None:
            self._set_status(text, kind)

    def _update_info(self) -> None:
        a = self.assistant
        if a is None:
            info = "no library" if self._load_error else "loading…"
        else:
            model = a.llm.name if self._warm_for is a else (self.model_arg or "default model")
            info = f"{a.library.name} · {a.library.counts.get('articles', 0)} articles · {model}"
            if self.filters:
                info += f" · {self.filters.describe()}"
        self.query_one("#info", Static).update(info)
        self.query_one("#chat-title", Static).update(f"qa · {self.chat_title or 'new chat'}")

    def _from_thread(self, callback: Callable, *args) -> object:
        """Run ``callback`` on the UI thread from a worker; nothing if the app has gone."""
        try:
            return self.call_from_thread(callback, *args)
        except RuntimeError:
            return None

    # -- loading models -------------------------------------------------------------------
    @work(thread=True, group="load", exclusive=True, exit_on_error=False)
    def _load(self, factory: Callable[[], Assistant], preload_only: bool = False,
              new_chat: bool = False) -> None:
        if not preload_only:
            self._loaded.clear()
            self._from_thread(self._set_idle_status, "Loading models…", "busy")
            try:
                assistant = factory()
            except Exception as e:  # a missing library, a bad model name: say so, stay usable
                self._from_thread(self._assistant_failed, e)
                return
            self._from_thread(self._assistant_ready, assistant, new_chat)
        assistant = self.assistant
        if assistant is None or not self.preload:
            return
        if self._warm_for is not assistant:
            self._from_thread(self._say_loading)
            try:
                self._warm_up(assistant)
            except Exception as e:
                self._from_thread(self._llm_failed, e)
                return
        self._from_thread(self._say_ready)
        self._from_thread(self._update_info)

    def _say_loading(self) -> None:
        """The loading status in place of "Ready." (or none); a newer one (a new chat after a switch
        of library, an answer) stays: the warm-up thread may start after it was shown."""
        if str(self.query_one("#status", Static).content) in ("", "Ready."):
            self._set_idle_status("Loading the models… (you can type)", "busy")

    def _say_ready(self) -> None:
        """"Ready." in place of a loading status; whatever came since (an answer, a new chat) stays."""
        if str(self.query_one("#status", Static).content).startswith("Loading"):
            self._set_idle_status("Ready.")

    def _warm_up(self, assistant: Assistant) -> None:
        """Load the embedder (its first use imports torch: seconds) and the LLM, once."""
        with self._model_lock:
            if self._warm_for is assistant:
                return
            assistant.encoder.encode(["warm up"])
            assistant.llm  # noqa: B018  (loads it)
            self._warm_for = assistant

    def _assistant_ready(self, assistant: Assistant, new_chat: bool = False) -> None:
        self.assistant = assistant
        self._load_error = None
        self._conversation = self._seeded_conversation()
        self._loaded.set()
        self._update_info()
        self._set_idle_status("Ready.")
        if new_chat:
            self.call_later(self.new_chat)

    def _assistant_failed(self, error: Exception) -> None:
        self._load_error = str(error)
        self._loaded.set()
        self._update_info()
        self._set_status(f"Could not open the library: {error}", "error")
        self.notify(str(error), title="Could not open the library", severity="error", timeout=10)

    def _llm_failed(self, error: Exception) -> None:
        self._set_idle_status(f"Could not load the model: {error}", "error")
        self.notify(str(error), title="Could not load the model", severity="error", timeout=10)

    def _seeded_conversation(self) -> Conversation | None:
        """A Conversation for this chat that knows its earlier questions (follow-ups)."""
        if self.assistant is None:
            return None
        return self.assistant.chat([t.question for t in self.turns])

    # -- asking -------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        await self.ask(event.text)

    async def ask(self, question: str) -> None:
        question = question.strip()
        if not question:
            return
        if self._generation is not None:
            self.notify("Still answering the last question (Esc cancels it).", severity="warning")
            return
        if self._loaded.is_set() and self.assistant is None:
            self.notify(f"No library is open: {self._load_error}. Use Ctrl+P › Switch library.",
                        severity="error")
            return
        self.prompt.text = ""
        await self._remove_welcome()
        question_msg = QuestionMessage(question)
        answer_msg = AnswerMessage(len(self.turns) + 1)
        await self.conversation.mount_all([question_msg, answer_msg])
        self.conversation.scroll_end(animate=False)
        gen = Generation(next(self._ids), question, self._conversation, question_msg, answer_msg)
        self._generation = gen
        gen.worker = self._answer(gen)
        self.refresh_bindings()

    @work(thread=True, group="answer", exit_on_error=False)
    def _answer(self, gen: Generation) -> None:
        worker = get_current_worker()

        def ui(callback: Callable, *args) -> None:
            if not worker.is_cancelled:
                self._from_thread(callback, *args)

        if not self._loaded.is_set():
            ui(self._set_status, "Loading models… your question comes next.", "busy")
        while not self._loaded.wait(0.05):
            if worker.is_cancelled:
                return
        if not self._answer_lock.acquire(timeout=0.05):
            ui(self._set_status, "Waiting for the cancelled answer to stop…", "busy")
            while not self._answer_lock.acquire(timeout=0.05):
                if worker.is_cancelled:
                    return
        try:
            assistant = self.assistant
            conversation = gen.conversation or self._conversation
            if assistant is None or conversation is None:
                ui(self._answer_failed, gen, RuntimeError(self._load_error or "no library is open"))
                return
            if self._warm_for is not assistant:
                ui(self._set_status, "Loading the models…", "busy")
                self._warm_up(assistant)
                ui(self._update_info)
            if worker.is_cancelled:
                return
            articles = assistant.library.counts.get("articles", 0)
            ui(self._set_status, f"Searching {articles} articles…", "busy")
            stream = conversation.stream(gen.question, where=self.filters)
            answer = None
            try:
                for item in stream:
                    if worker.is_cancelled:
                        break
                    if isinstance(item, Answer):
                        answer = item
                        ui(self._answer_done, gen, item)
                    elif isinstance(item, Sources):
                        ui(self._sources_found, gen, item)
                    else:
                        if not gen.answer_msg.partial:
                            ui(self._set_status, "Writing…", "busy")
                        ui(self._answer_piece, gen, item)
            finally:
                stream.close()
            if worker.is_cancelled and answer is not None and conversation.turns \
                    and conversation.turns[-1][1] is answer:
                conversation.turns.pop()     # cancelled as it finished: forget that turn
        except Exception as e:
            ui(self._answer_failed, gen, e)
        finally:
            self._answer_lock.release()

    async def _sources_found(self, gen: Generation, found: Sources) -> None:
        """The passages, in the panel while the model reads them (seconds on a CPU)."""
        if gen is not self._generation:
            return
        self._set_status(f"Found {len(found.passages)} passages · the model is reading them…", "busy")
        pending = Turn.from_answer(Answer(found.question, "", False, [], found.passages, ""))
        await self.sources.show(pending, gen.answer_msg.number, found=True)

    async def _answer_piece(self, gen: Generation, piece: str) -> None:
        if gen is not self._generation:
            return
        await gen.answer_msg.append(piece)
        self.conversation.scroll_end(animate=False)

    async def _answer_done(self, gen: Generation, answer: Answer) -> None:
        if gen is not self._generation:
            return
        turn = Turn.from_answer(answer)
        for p in answer.passages:
            self._articles[p.article.id] = p.article
        await gen.answer_msg.finish(turn)
        self.turns.append(turn)
        self._save(turn)
        self._generation = None
        self.refresh_bindings()
        await self.select_answer(gen.answer_msg)
        self.conversation.scroll_end(animate=False)
        self._set_status(self._done_text(turn), "warning" if turn.abstained else "done")

    def _done_text(self, turn: Turn) -> str:
        what = "Not in the articles — the closest passages are in the sources panel." if turn.abstained \
            else f"Answered with {len(turn.citations)} cited passage{'s' * (len(turn.citations) != 1)}."
        if not self.show_timings:
            return what
        t = turn.timings
        return (f"{what} {t.get('total_s', 0):.1f} s (search {t.get('retrieve_s', 0):.1f} s, "
                f"writing {t.get('generate_s', 0):.1f} s)")

    async def _answer_failed(self, gen: Generation, error: Exception) -> None:
        if gen is not self._generation:
            return
        await self._drop_generation(gen)
        self._set_status(f"Could not answer: {error}", "error")
        self.notify(str(error), title="Could not answer", severity="error", timeout=10)

    async def _drop_generation(self, gen: Generation) -> None:
        """Remove an unfinished answer and its question; the question goes back to the box."""
        self._generation = None
        if gen.worker is not None:
            gen.worker.cancel()
        await gen.answer_msg.stop_stream()
        await gen.question_msg.remove()
        await gen.answer_msg.remove()
        typed = self.prompt.text.strip()
        self.prompt.set_question(gen.question + (f"\n{typed}" if typed else ""))
        self.prompt.focus()
        if not self.turns:
            await self._show_welcome()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self._generation is not None
        return True

    async def action_cancel(self) -> None:
        gen = self._generation
        if gen is None:
            return
        await self._drop_generation(gen)
        self._set_status("Cancelled — your question is back in the box.")

    def _save(self, turn: Turn) -> None:
        if self.store is None:
            return
        try:
            if self.chat_id is None:
                self.chat_title = " ".join(turn.question.split())[:80]
                library = str(self.assistant.library.address) if self.assistant else None
                self.chat_id = self.store.create_chat(self.chat_title, library, turn.model)
                self._update_info()
            self.store.add_turn(self.chat_id, turn)
        except sqlite3.Error as e:
            self.notify(f"Could not save the chat: {e}", severity="error")

    # -- answers and sources ---------------------------------------------------------------
    def answers(self) -> list[AnswerMessage]:
        return [m for m in self.query(AnswerMessage) if m.turn is not None]

    async def select_answer(self, message: AnswerMessage | None) -> None:
        self._selected = message
        for m in self.query(AnswerMessage):
            m.set_class(m is message, "-selected")
        await self.sources.show(message.turn if message else None, message.number if message else None)

    @on(AnswerMessage.Selected)
    async def _answer_selected(self, event: AnswerMessage.Selected) -> None:
        if event.message is not self._selected:
            await self.select_answer(event.message)

    @on(Markdown.LinkClicked)
    async def _link_clicked(self, event: Markdown.LinkClicked) -> None:
        """A citation marker [n]: select its answer and highlight source n."""
        event.stop()
        if not event.href.startswith("cite:"):
            self.open_url(event.href)
            return
        message = next((a for a in event.markdown.ancestors if isinstance(a, AnswerMessage)), None)
        if message is None or message.turn is None:
            return
        if message is not self._selected:
            await self.select_answer(message)
        self.screen.remove_class("-hide-sources")
        self.sources.highlight(int(event.href.split(":", 1)[1]))

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

    def action_toggle_sources(self) -> None:
        self.screen.toggle_class("-hide-sources")

    def action_focus_sources(self) -> None:
        """Into the sources list (shown if hidden), where Enter opens an article; from there,
        back to the prompt."""
        listing = self.sources.query_one("#sources-list")
        if listing.has_focus:
            self.query_one(PromptInput).focus()
        elif not self.sources.entries:
            self.notify("No sources yet: they come with an answer.")
        else:
            self.screen.remove_class("-hide-sources")
            listing.focus()

    def action_toggle_keys(self) -> None:
        if self.screen.query(KeysPanel):
            self.screen.query_one(KeysPanel).remove()
        else:
            self.screen.mount(KeysPanel())

    @on(SourcesPanel.Open)
    def _open_source(self, event: SourcesPanel.Open) -> None:
        self.open_article(event.source)

    def open_article(self, source: dict) -> None:
        """The whole article behind a source, scrolled to its quote."""
        article = self._articles.get(source.get("article_id"))
        if article is None and self.assistant is not None:
            try:
                article = self.assistant.library.article(source.get("article_id"))
            except Exception:
                article = None
        span = (source["start"], source["end"]) if "start" in source and "end" in source else None
        if article is not None:
            title, text, note = article.title, article.text, ""
            meta = [article.date, article.source, article.url]
        else:
            title, text, span = source.get("title") or "Untitled", source.get("text", ""), None
            meta = [source.get("date"), source.get("source"), source.get("url")]
            note = "This article is not in the open library; showing the passage only."
        self.push_screen(ArticleScreen(title, " · ".join(str(m) for m in meta if m) or "undated", text,
                                       source.get("quote") or "", span, note))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New chat", "Start a new conversation (this one stays saved)", self.action_new_chat)
        yield SystemCommand("Open chat", "Reopen a saved conversation", self.action_open_chat)
        yield SystemCommand("Export chat", "Write this conversation to a Markdown file", self.action_export)
        yield SystemCommand("Switch library", "Answer from another library folder", self.action_switch_library)
        yield SystemCommand("Switch model", "Answer with another LLM from models.txt", self.action_switch_model)
        yield SystemCommand("Filter by date or outlet", "Search only --since/--until a date, or --source outlets",
                            self.action_filter)
        yield SystemCommand("Clear chat", "Delete this conversation and start over", self.action_clear)


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Key remappings from ``keymap.json`` in the data directory: {"binding id": "keys"}."""
    path = path or data_dir() / KEYMAP_FILE
    try:
        keymap = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in keymap.items()} if isinstance(keymap, dict) else {}


def run_app(library: Path | None = None, model: str | None = None) -> None:
    """``qa chat``: open the chat over ``library`` (default: the sample articles)."""
    QAApp(library=library, model=model, keymap=load_keymap()).run()
