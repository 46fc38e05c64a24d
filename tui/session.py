"""The models behind the chat and the one answer at a time they write, apart from the window.

Opening a library and loading the models take seconds to minutes (the LLM is gigabytes), so
they run in a worker thread while the window is usable; a question asked meanwhile waits for
:attr:`Session.loaded`. An answer streams from ``Conversation.stream`` in another worker thread.
Two locks keep the threads apart: one thread loads the models (``warm_up``), and one answer at
a time uses them (``answer_lock``: a cancelled answer lets go of the model only once its stream
is closed, so the next one waits for it).

:class:`Session` holds this state and the bodies of the workers (:meth:`Session.load`,
:meth:`Session.answer`, and :meth:`Session.list_stories`, the library's current stories a new chat
opens on); the app runs them in Textual thread workers and hears back through :class:`SessionView`,
whose methods the session calls on the UI thread. No Textual here.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from qa.answering import Answer, Sources
from qa.api import Assistant, Conversation
from qa.library import Filters, library_address
from qa.stories import Story

STORIES = 5   # the library's stories a new chat opens on, best covered first
log = logging.getLogger(__name__)


@dataclass(eq=False)
class PendingAnswer:
    """An answer being written: its question, the conversation it continues, its two messages
    (widgets) and the worker writing it."""

    id: int
    question: str
    conversation: Conversation | None
    question_msg: Any
    answer_msg: Any
    worker: Any = None


class SessionView(Protocol):
    """What the session tells the window. The session calls each method through
    :meth:`from_thread`, so it runs on the UI thread."""

    def from_thread(self, callback: Callable, *args) -> object: ...
    def set_status(self, text: str, kind: str = "") -> None: ...
    def set_idle_status(self, text: str, kind: str = "") -> None: ...
    def update_info(self) -> None: ...
    def library_opened(self, assistant: Assistant, new_chat: bool) -> None: ...
    def library_failed(self, error: Exception) -> None: ...
    def models_loading(self) -> None: ...
    def models_ready(self) -> None: ...
    def models_failed(self, error: Exception) -> None: ...
    async def stories_found(self, assistant: Assistant, stories: list[Story]) -> None: ...
    async def passages_found(self, pending: PendingAnswer, found: Sources) -> None: ...
    async def answer_piece(self, pending: PendingAnswer, piece: str) -> None: ...
    async def answer_done(self, pending: PendingAnswer, answer: Answer) -> None: ...
    async def answer_failed(self, pending: PendingAnswer, error: Exception) -> None: ...


class Session:
    """The open library and models, the conversation that follow-up questions lean on, and
    the filters questions are searched in. ``preload``: load the models as soon as the library
    opens (else at the first question)."""

    def __init__(self, view: SessionView, assistant: Assistant | None = None, *,
                 library: Path | str | None = None, model: str | None = None, preload: bool = True) -> None:
        self.view = view
        self.assistant = assistant
        self.library_arg = library_address(library) if library else None
        self.model_arg = model
        self.preload = preload
        self.conversation: Conversation | None = None
        self.filters = Filters()                   # what questions are searched in (palette: Filter)
        self.load_error: str | None = None
        self.stories: list[Story] = []             # the open library's current stories
        self.loaded = threading.Event()            # an assistant is open (or opening it failed)
        self.answer_lock = threading.Lock()        # one answer at a time uses the model
        self._model_lock = threading.Lock()        # one thread loads the models
        self._warm_for: Assistant | None = None    # the assistant whose models are loaded
        self._listing = threading.Event()          # list_stories holds the answer lock

    # -- the library and the models ------------------------------------------------------
    def default_assistant(self) -> Assistant:
        """The assistant ``qa chat`` opens: the library and model it was given (or the defaults);
        the first run's indexing of the sample articles and assembling of the model show their
        progress in the status line."""
        return Assistant(self.library_arg, self.model_arg, progress=self._progress)

    def _progress(self, stage: str, done: int, total: int) -> None:
        if stage == "assemble":
            text = f"Preparing the language model (once, ~{total / 1e9:.1f} GB): {done * 100 // max(total, 1)}%…"
        elif stage == "load":
            text = "Loading the language model…"
        else:
            text = f"Indexing the sample articles: {stage} {done}/{total}…"
        self.view.from_thread(self.view.set_status, text, "busy")

    def is_warm(self, assistant: Assistant | None = None) -> bool:
        """Whether ``assistant``'s (default: the open one's) models are loaded."""
        return self._warm_for is (assistant or self.assistant) and self._warm_for is not None

    def model_name(self) -> str:
        """The LLM's name, without loading it: the loaded one's, else the one asked for."""
        if self.assistant is not None and self.is_warm():
            return self.assistant.llm.name
        return self.model_arg or "default model"

    def warm_up(self, assistant: Assistant) -> None:
        """Load the embedder (its first use imports torch: seconds) and the LLM, once."""
        with self._model_lock:
            if self._warm_for is assistant:
                return
            assistant.encoder.encode(["warm up"])
            assistant.llm  # noqa: B018  (loads it)
            self._warm_for = assistant

    def use(self, assistant: Assistant, questions: list[str]) -> None:
        """Answer with ``assistant`` from now on, continuing a chat of ``questions`` (UI thread)."""
        if assistant is not self.assistant:
            self.stories = []
        self.assistant = assistant
        self.load_error = None
        self.start_conversation(questions)
        self.loaded.set()

    def failed(self, error: Exception) -> None:
        """Opening a library failed: questions are refused with ``error`` until another opens."""
        self.load_error = str(error)
        self.loaded.set()

    def start_conversation(self, questions: list[str]) -> None:
        """A new conversation that knows ``questions`` were asked before (a reopened chat)."""
        self.conversation = self.assistant.chat(questions) if self.assistant is not None else None

    def reopen(self, library: Path | str | None = None,
               model: str | None = None) -> tuple[Callable[[], Assistant], bool]:
        """How to switch to another library or model: a factory for the new assistant, which
        keeps the embedder (and the LLM when only the library changes), and whether the chat
        starts anew (another library's answers cite other articles)."""
        old = self.assistant
        library = library or (old.library.address if old else self.library_arg)
        keep_llm = old is not None and model is None and self.is_warm(old)
        model = model or self.model_arg
        self.library_arg, self.model_arg = library, model
        encoder = old.encoder if old else None
        llm = old.llm if keep_llm else None

        def factory() -> Assistant:
            return Assistant(library, model, encoder=encoder, llm=llm)
        return factory, old is None or library != old.library.address

    def article(self, article_id: str | None):
        """The open library's article ``article_id``, or None (no library, not there)."""
        if self.assistant is None or article_id is None:
            return None
        try:
            return self.assistant.library.article(article_id)
        except Exception:
            return None

    # -- the workers' bodies (each runs in a thread worker) ---------------------------------
    def load(self, factory: Callable[[], Assistant] | None, new_chat: bool = False) -> None:
        """Open the assistant ``factory`` makes (None: keep the open one), then load its models."""
        view = self.view
        if factory is not None:
            self.loaded.clear()
            view.from_thread(view.set_idle_status, "Loading models…", "busy")
            try:
                assistant = factory()
            except Exception as e:  # a missing library, a bad model name: say so, stay usable
                view.from_thread(view.library_failed, e)
                return
            view.from_thread(view.library_opened, assistant, new_chat)
        assistant = self.assistant
        if assistant is None or not self.preload:
            return
        if not self.is_warm(assistant):
            view.from_thread(view.models_loading)
            try:
                self.warm_up(assistant)
            except Exception as e:
                view.from_thread(view.models_failed, e)
                return
        view.from_thread(view.models_ready)
        view.from_thread(view.update_info)

    def list_stories(self, assistant: Assistant) -> None:
        """Find ``assistant``'s library's current stories (its last 7 days, each quoted from its
        most central article: no model call) and hand them to the view. They read the library,
        so they hold the answer lock; a failure is logged and the chat opens without them. Not
        a look that ``qa stories`` remembers: what it marks new stays as it was."""
        try:
            with self.answer_lock:
                self._listing.set()
                try:
                    found = assistant.stories(limit=STORIES, write=False, mark_seen=False).stories
                finally:
                    self._listing.clear()
        except Exception:
            log.warning("Could not list the stories of %s", assistant.library.name, exc_info=True)
            return
        self.view.from_thread(self.view.stories_found, assistant, found)

    def answer(self, pending: PendingAnswer, cancelled: Callable[[], bool]) -> None:
        """Write ``pending``'s answer: wait for the library and the model, search, stream the
        answer's pieces to the view, and stop as soon as ``cancelled()``; a turn cancelled as
        it finished is forgotten (follow-ups must not lean on an answer the user never saw)."""
        view = self.view

        def ui(callback: Callable, *args) -> None:
            if not cancelled():
                view.from_thread(callback, *args)

        if not self.loaded.is_set():
            ui(view.set_status, "Loading models… your question comes next.", "busy")
        while not self.loaded.wait(0.05):
            if cancelled():
                return
        if not self.answer_lock.acquire(timeout=0.05):
            ui(view.set_status, "Waiting for the library's stories…" if self._listing.is_set()
               else "Waiting for the cancelled answer to stop…", "busy")
            while not self.answer_lock.acquire(timeout=0.05):
                if cancelled():
                    return
        try:
            assistant = self.assistant
            conversation = pending.conversation or self.conversation
            if assistant is None or conversation is None:
                ui(view.answer_failed, pending, RuntimeError(self.load_error or "no library is open"))
                return
            if not self.is_warm(assistant):
                ui(view.set_status, "Loading the models…", "busy")
                self.warm_up(assistant)
                ui(view.update_info)
            if cancelled():
                return
            articles = assistant.library.counts.get("articles", 0)
            ui(view.set_status, f"Searching {articles} articles…", "busy")
            stream = conversation.stream(pending.question, where=self.filters)
            answer = None
            try:
                for item in stream:
                    if cancelled():
                        break
                    if isinstance(item, Answer):
                        answer = item
                        ui(view.answer_done, pending, item)
                    elif isinstance(item, Sources):
                        ui(view.passages_found, pending, item)
                    else:
                        if not pending.answer_msg.partial:
                            ui(view.set_status, "Writing…", "busy")
                        ui(view.answer_piece, pending, item)
            finally:
                stream.close()
            if cancelled() and answer is not None:
                conversation.forget_last(answer)
        except Exception as e:
            ui(view.answer_failed, pending, e)
        finally:
            self.answer_lock.release()
