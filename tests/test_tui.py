"""The chat app (tui/) driven with Textual's Pilot over a fake streaming model and the
fake encoder: streaming, cancelling, sources, articles, export, saved chats,
abstentions, the command palette and the layout. The real models: one slow test."""
from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from qa.api import Assistant
from qa.library import FolderLibrary
from qa.models import load_manifest
from tui.app import QAApp
from tui.export import chat_markdown
from tui.keymap import load_keymap
from tui.store import ChatStore, Turn
from tui.widgets import (QUOTE_STYLE, AnswerMessage, ArticleScreen, ChoiceScreen, PassageItem, PassagesPanel,
                         PromptInput, PromptScreen, QuestionMessage, answer_markdown)

from conftest import SEEDS
from fakes import GATE_S, FakeEncoder, FakeLLM, GatedLLM

Q2003 = "What did Russia propose in 2003 for North Korea six-sided discussions?"
REPLY = "Russia proposed six-sided discussions with China and Japan [1]."
QUOTE = "He said Russia was now advancing a plan that calls for six-sided discussions"
ABSTAIN_Q = "Who won the 2022 football World Cup final?"
ARTICLE_2003 = "003_c13b77ec0b5e076f"
WAIT_S = 60.0    # how long a test waits for a state before failing; it goes on as soon as the state holds


def build_fake_library(tmp_path_factory) -> Path:
    """The four sample articles indexed with the fake encoder, at a folder named ``lib``."""
    path = tmp_path_factory.mktemp("tui") / "lib"
    encoder = FakeEncoder()
    FolderLibrary.create(path, encoder).add([SEEDS], encoder)
    return path


@pytest.fixture(scope="module")
def fake_library(tmp_path_factory) -> Path:
    return build_fake_library(tmp_path_factory)


def make_app(library: Path, *replies: str, llm=None, **kwargs) -> QAApp:
    assistant = Assistant(library, llm=llm or FakeLLM(*replies), encoder=FakeEncoder())
    kwargs.setdefault("show_timings", False)
    kwargs.setdefault("stories", False)  # the stories list takes the focus: test_tui_stories.py
    return QAApp(assistant, **kwargs)


def run(coro):
    return asyncio.run(coro)


async def wait_for(pilot, condition, timeout: float = WAIT_S, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def workers_done(app, group: str) -> bool:
    """No worker of ``group`` ("load": the models; "answer": an answer) is still running."""
    return not [w for w in app.workers if w.group == group and not w.is_finished]


def answered(app, count: int) -> bool:
    """``count`` answers are final and the worker that wrote the last one has returned: its
    answer is in the conversation, the sources panel and the store, and the status says so."""
    return len(app.turns) == count and workers_done(app, "answer")


def showing(app, message: AnswerMessage) -> bool:
    """The sources panel has finished showing ``message``'s passages: it empties its list,
    refills it, then highlights an entry, so an entry is highlighted only once it is done."""
    panel = app.query_one(PassagesPanel)
    return panel.turn is message.turn and panel.query_one("#passages-list").highlighted_child is not None


def article_shown(app) -> bool:
    """An article screen is up and mounted: its body has the focus (it takes it on mount)."""
    screen = app.screen
    return isinstance(screen, ArticleScreen) and any(body.has_focus for body in screen.query("#article-body"))


async def ready(pilot, timeout: float = WAIT_S) -> None:
    """Wait until the app has loaded its models (its "Ready." comes before anything a test asks)."""
    await wait_for(pilot, lambda: workers_done(pilot.app, "load"), timeout, "the models to load")


async def ask(pilot, question: str, timeout: float = WAIT_S) -> AnswerMessage:
    """Once the models are loaded, type a question, press Enter, and wait until its answer
    is final and shown (the worker that wrote it has returned)."""
    app = pilot.app
    await ready(pilot, timeout)
    before = len(app.turns)
    app.query_one(PromptInput).text = question
    await pilot.press("enter")
    await wait_for(pilot, lambda: answered(app, before + 1) and app.turns[-1].question == question,
                   timeout, "the answer")
    return app.answers()[-1]


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def status(app) -> str:
    return str(app.query_one("#status").content)


# -- asking and streaming -------------------------------------------------------------------------

def test_enter_sends_and_ctrl_j_adds_a_line(fake_library):
    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("h", "ctrl+j", "y")
            await wait_for(pilot, lambda: app.prompt.text == "h\ny", what="the typed lines")
            assert not app.query(QuestionMessage), "a newline must not send"
            app.prompt.text = Q2003
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.turns, what="the answer")
            assert app.prompt.text == ""
            assert [q.question for q in app.query(QuestionMessage)] == [Q2003]
    run(main())


def test_answer_streams_into_the_conversation_then_is_final(fake_library):
    llm = GatedLLM(REPLY, gate_after=3)

    async def main():
        app = make_app(fake_library, llm=llm)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            app.prompt.text = Q2003
            await pilot.press("enter")
            # The model stops at the gate only once the UI has taken each piece before it.
            await wait_for(pilot, lambda: llm.waiting.is_set(), what="the model to reach the gate")
            message = app.query_one(AnswerMessage)
            # Part of the answer is on screen while the model is still writing.
            assert message.partial == "Russia proposed six-sided"
            assert message.has_class("-streaming") and message.turn is None
            await wait_for(pilot, lambda: "Russia proposed six-sided" in screen_text(app),
                           what="the streamed words on the screen")
            assert "discussions with China" not in screen_text(app)
            assert status(app) == "Writing…"
            assert app.turns == []
            llm.gate.set()
            await wait_for(pilot, lambda: answered(app, 1), what="the final answer")
            assert message.turn is not None and not message.has_class("-streaming")
            assert message.turn.text == REPLY
            assert "[\\[1\\]](cite:1)" in message.markdown.source
            await wait_for(pilot, lambda: "discussions with China and Japan [1]." in screen_text(app),
                           what="the final answer on the screen")
            assert status(app).startswith("Answered with 1 cited passage")
            assert len(app.turns) == 1 and len(app.session.conversation.turns) == 1
            chats = app.store.list_chats()
            assert [(c.title, c.turns) for c in chats] == [(Q2003, 1)]
    run(main())


def test_status_line_says_what_is_happening(fake_library):
    llm = GatedLLM(REPLY, gate_after=0)

    async def main():
        app = make_app(fake_library, llm=llm, show_timings=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            app.prompt.text = Q2003
            await pilot.press("enter")
            await wait_for(pilot, llm.waiting.is_set, what="the model to start")
            await wait_for(pilot, lambda: status(app).startswith("Found"), what="the search status")
            found = status(app)
            llm.gate.set()
            await wait_for(pilot, lambda: answered(app, 1), what="the answer")
            assert found == f"Found {len(app.turns[0].passages)} passages · the model is reading them…"
            assert re.fullmatch(r"Answered with 1 cited passage\. \d+\.\d s \(search \d+\.\d s, "
                                r"writing \d+\.\d s\)", status(app)), status(app)
    run(main())


def test_escape_cancels_restores_the_question_and_saves_nothing(fake_library):
    llm = GatedLLM("Russia proposed six-sided talks with many nations [1].", REPLY, gate_after=2)

    async def main():
        app = make_app(fake_library, llm=llm)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            app.prompt.text = Q2003
            await pilot.press("enter")
            await wait_for(pilot, lambda: llm.waiting.is_set(), what="the model to reach the gate")
            assert app.query_one(AnswerMessage).partial == "Russia proposed"
            assert app.pending is not None
            worker = app.pending.worker
            await pilot.press("escape")
            # Cancelling removes the messages, puts the question back, then says so.
            await wait_for(pilot, lambda: status(app).startswith("Cancelled"), what="the cancellation")
            assert not app.query(AnswerMessage) and not app.query(QuestionMessage)
            assert app.prompt.text == Q2003
            assert app.pending is None and worker.is_cancelled
            llm.gate.set()                       # let the cancelled stream go on: the worker stops it
            # The worker closes the model's stream before it lets go of the model.
            await wait_for(pilot, lambda: not app.session.answer_lock.locked(), what="the cancelled worker")
            assert llm.finished == 0, "the model's stream was closed, not run to the end"
            assert app.turns == [] and app.session.conversation.turns == []
            assert app.store.list_chats() == []
            assert not app.query(AnswerMessage), "nothing of the cancelled answer comes back"
            # The app still answers afterwards (the question is in the box: Enter sends it).
            await pilot.press("enter")
            await wait_for(pilot, lambda: answered(app, 1), what="the second answer")
            assert app.turns[0].text == REPLY
            assert len(app.query(AnswerMessage)) == 1
            assert [c.turns for c in app.store.list_chats()] == [1]
    run(main())


def test_a_failing_model_is_reported_and_the_question_kept(fake_library):
    class Broken(FakeLLM):
        def stream(self, messages, max_tokens=200):
            yield "Russia"
            raise RuntimeError("the model fell over")

    async def main():
        app = make_app(fake_library, llm=Broken())
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            app.prompt.text = Q2003
            await pilot.press("enter")
            await wait_for(pilot, lambda: status(app).startswith("Could not answer"), what="the error")
            assert "the model fell over" in status(app)
            assert app.prompt.text == Q2003 and not app.query(AnswerMessage)
            assert app.turns == [] and app.store.list_chats() == []
    run(main())


def test_the_app_is_usable_while_models_load(fake_library):
    release = threading.Event()

    def slow_factory() -> Assistant:
        release.wait(GATE_S)
        return Assistant(fake_library, llm=FakeLLM(REPLY), encoder=FakeEncoder())

    async def main():
        app = QAApp(assistant_factory=slow_factory, show_timings=False, stories=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: status(app) == "Loading models…", what="the loading status")
            await pilot.press("o", "k")                       # typing works meanwhile
            await wait_for(pilot, lambda: app.prompt.text == "ok", what="the typed text")
            app.prompt.text = Q2003
            await pilot.press("enter")                        # asked before the models are there
            await wait_for(pilot, lambda: "your question comes next" in status(app), what="the queued question")
            assert app.query(QuestionMessage)
            assert not release.is_set() and app.assistant is None, "still loading"
            release.set()
            await wait_for(pilot, lambda: answered(app, 1), what="the answer after loading")
            assert app.turns[0].text == REPLY
            await wait_for(pilot, lambda: "lib · 4 articles · fake" in str(app.query_one("#info").content),
                           what="the library and model in the top bar")
    run(main())


# -- sources and articles -----------------------------------------------------------------------------

def test_sources_panel_shows_the_cited_passage_with_its_quote(fake_library):
    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(120, 36)) as pilot:
            await ask(pilot, Q2003)
            panel = app.query_one(PassagesPanel)
            first = panel.entries[0]
            assert first["n"] == 1 and ARTICLE_2003 in first["article_id"]
            assert first["title"].startswith("Russia Urges Washington, Pyongyang")
            assert first["date"] == "2003-04-08"
            assert first["quote"].startswith(QUOTE)
            assert str(panel.border_title) == "Sources · answer 1"
            # The quote is highlighted inside the passage text shown.
            content = panel.query_one(PassageItem).query_one(".passage-text").content
            plain = content.plain
            assert plain.startswith("[1] Russia Urges Washington")
            assert "2003-04-08 · 003_c13b77ec0b5e076f.txt" in plain
            highlighted = [plain[s.start:s.end] for s in content.spans if s.style == QUOTE_STYLE]
            assert highlighted[-1] == first["quote"] and plain.index(first["quote"]) > plain.index("\n")
            assert len(plain) > len(first["quote"]) + 40, "the quote is shown inside its passage"
            await wait_for(pilot, lambda: "[1] Russia Urges Washington" in screen_text(app)
                           and "Sources · answer 1" in screen_text(app), what="the source on the screen")
    run(main())


def test_sources_panel_fills_before_the_first_word_and_marks_what_the_answer_cites(fake_library):
    llm = GatedLLM(REPLY, gate_after=0)

    async def main():
        app = make_app(fake_library, llm=llm)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            app.prompt.text = Q2003
            await pilot.press("enter")
            await wait_for(pilot, llm.waiting.is_set, what="the model to start")
            panel = app.query_one(PassagesPanel)
            await wait_for(pilot, lambda: str(panel.border_title) == "Passages found · answer 1",
                           what="the passages in the panel")
            found = [e["n"] for e in panel.entries]
            assert len(found) > 1 and found == list(range(1, len(found) + 1))
            assert ARTICLE_2003 in panel.entries[0]["article_id"]
            assert app.query_one(AnswerMessage).partial == "", "no word of the answer yet"
            llm.gate.set()
            await wait_for(pilot, lambda: answered(app, 1), what="the answer")
            entries = panel.entries
            assert str(panel.border_title) == "Sources · answer 1"
            assert entries[0]["n"] == 1 and entries[0]["quote"].startswith(QUOTE) and "cited" not in entries[0]
            assert [e["n"] for e in entries[1:]] == found[1:] and all(e["cited"] is False for e in entries[1:])
            await wait_for(pilot, lambda: "not cited" in screen_text(app), what="the uncited passages marked")
    run(main())


def test_selecting_an_earlier_answer_or_its_marker_switches_the_panel(fake_library):
    async def main():
        app = make_app(fake_library, REPLY, "Lavrov agreed with Washington [1].")
        async with app.run_test(size=(120, 40)) as pilot:
            first = await ask(pilot, Q2003)
            second = await ask(pilot, "What did Lavrov say in London about North Korea and Washington?")
            panel = app.query_one(PassagesPanel)
            assert panel.turn is second.turn and second.has_class("-selected")
            await pilot.click(first)
            await wait_for(pilot, lambda: showing(app, first), what="the first answer's sources")
            assert panel.turn is first.turn and panel.number == 1
            assert first.has_class("-selected") and not second.has_class("-selected")
            assert str(panel.border_title) == "Sources · answer 1"
            # A citation marker selects its answer and highlights its source.
            cited = second.turn.citations[0]["n"]
            second.markdown.post_message(second.markdown.LinkClicked(second.markdown, f"cite:{cited}"))
            await wait_for(pilot, lambda: showing(app, second), what="the second answer's sources")
            assert panel.turn is second.turn
            listing = panel.query_one("#passages-list")
            assert listing.highlighted_child.passage["n"] == cited
            await pilot.press("ctrl+up")
            await wait_for(pilot, lambda: showing(app, first), what="the previous answer's sources")
            assert panel.turn is first.turn
    run(main())


def test_opening_a_source_shows_the_whole_article_at_the_quote(fake_library):
    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(100, 24)) as pilot:
            await ask(pilot, Q2003)
            source = app.query_one(PassagesPanel).entries[0]
            app.query_one("#passages-list").focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: article_shown(app), what="the article")
            screen = app.screen
            article = FolderLibrary.open(fake_library).article(source["article_id"])
            assert screen.article_text == article.text
            quote_par = screen.query_one(".-quote")
            assert source["quote"] in quote_par.content.plain
            highlighted = [quote_par.content.plain[s.start:s.end] for s in quote_par.content.spans
                           if s.style == QUOTE_STYLE]
            assert highlighted == [source["quote"]]
            body = screen.query_one("#article-body")
            # It scrolls to the quote after its first refresh.
            await wait_for(pilot, lambda: body.scroll_y > 0 and quote_par.region.area > 0,
                           what="the article scrolled down to the quote")
            assert body.region.contains_region(quote_par.region), "the quote is in view"
            await wait_for(pilot, lambda: "He said Russia was now advancing" in screen_text(app),
                           what="the quote on the screen")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ArticleScreen), what="the article to close")
            # A click on an entry opens it too.
            await pilot.click(PassageItem)
            await wait_for(pilot, lambda: article_shown(app), what="the article (click)")
    run(main())


def test_abstention_looks_different_and_lists_the_closest_passages(fake_library):
    llm = FakeLLM("The 2022 World Cup was won by Argentina [1].")

    async def main():
        app = make_app(fake_library, llm=llm)
        async with app.run_test(size=(120, 36)) as pilot:
            message = await ask(pilot, ABSTAIN_Q)
            assert llm.prompts == [], "the model is not even asked"
            assert message.has_class("-abstained") and message.turn.abstained
            assert message.markdown.source.startswith("The articles don't say — closest passages:")
            assert "not in the articles" in str(message.border_title)
            panel = app.query_one(PassagesPanel)
            assert panel.has_class("-abstained")
            assert str(panel.border_title).startswith("Closest passages")
            assert [e["n"] for e in panel.entries] == list(range(1, len(message.turn.passages) + 1))
            assert all(e["quote"] == "" for e in panel.entries)
            await wait_for(pilot, lambda: "The articles don't say — closest passages:" in screen_text(app),
                           what="the abstention on the screen")
            assert "Argentina" not in screen_text(app)
            assert status(app).startswith("Not in the articles")
    run(main())


# -- saving, reopening, exporting ---------------------------------------------------------------------

def test_a_saved_chat_reopens_in_a_new_app_and_continues(fake_library):
    q2 = "What did Lavrov say in London about North Korea and Washington?"

    async def first_session():
        app = make_app(fake_library, REPLY, "Lavrov agreed with Washington [1].")
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, Q2003)
            await ask(pilot, q2)
            return app.chat_id

    async def second_session(chat_id):
        llm = FakeLLM("He also warned against military moves [1].")
        app = make_app(fake_library, llm=llm)
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+o")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen) and app.screen.query("OptionList"),
                           what="the chat list")
            options = app.screen.query_one("OptionList")
            assert options.option_count == 1
            assert str(options.get_option_at_index(0).prompt).startswith(Q2003)
            await pilot.press("enter")
            # Opening a chat ends by saying so in the status line.
            await wait_for(pilot, lambda: app.chat_id == chat_id and status(app).startswith("Opened"),
                           what="the chat to open")
            assert [q.question for q in app.query(QuestionMessage)] == [Q2003, q2]
            answers = app.answers()
            assert [a.turn.text for a in answers] == [REPLY, "Lavrov agreed with Washington [1]."]
            assert app.turns[0].citations[0]["quote"].startswith(QUOTE)
            assert showing(app, answers[-1])
            await wait_for(pilot, lambda: "Lavrov agreed with Washington [1]." in screen_text(app),
                           what="the reopened answers on the screen")
            # Follow-ups continue the conversation (its questions are retrieval context) and the chat.
            assert app.session.conversation.context_for("And what did he warn?") == f"{Q2003} {q2}"
            await ask(pilot, "And what did he warn?")
            assert [c.turns for c in app.store.list_chats()] == [3]
            # Opening the article of a reopened answer works from the stored ids.
            app.open_article(app.query_one(PassagesPanel).entries[0])
            await wait_for(pilot, lambda: article_shown(app), what="the article")
            assert not app.screen.note

    chat_id = run(first_session())
    assert chat_id is not None
    store = ChatStore()
    assert store.turns(chat_id)[0].question == Q2003
    run(second_session(chat_id))


def test_new_chat_starts_over_and_the_old_one_stays_saved(fake_library):
    async def main():
        app = make_app(fake_library, REPLY, REPLY)
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, Q2003)
            first = app.chat_id
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: status(app) == "New chat.", what="the new chat")
            assert not app.query(AnswerMessage) and app.turns == [] and app.session.conversation.turns == []
            assert app.query_one(PassagesPanel).turn is None
            await ask(pilot, Q2003)
            assert app.chat_id != first
            assert sorted(c.turns for c in app.store.list_chats()) == [1, 1]
            await app.action_clear()              # returns once the chat is deleted
            assert [c.id for c in app.store.list_chats()] == [first]
    run(main())


def test_export_writes_questions_answers_and_sources(fake_library, tmp_path):
    target = tmp_path / "out" / "chat.md"

    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, Q2003)
            await ask(pilot, ABSTAIN_Q)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen) and app.screen.query("Input"),
                           what="the export prompt")
            field = app.screen.query_one("Input")
            assert field.value.endswith(".md") and Path(field.value).parent == Path.cwd()
            field.value = str(target)
            await pilot.press("enter")
            await wait_for(pilot, target.exists, what="the export file")
            assert status(app) == f"Exported to {target.resolve()}"
            return len(app.turns[1].passages)

    closest = run(main())
    text = target.read_text(encoding="utf-8")
    article = FolderLibrary.open(fake_library).articles()
    article = next(a for a in article if ARTICLE_2003 in a.id)
    assert f"## 1. {Q2003}" in text
    assert REPLY in text
    assert "Sources:" in text
    source_line = next(line for line in text.splitlines() if line.startswith("- [1] **Russia Urges"))
    assert "2003-04-08" in source_line and article.source in source_line and f"<{article.url}>" in source_line
    assert f"  > {QUOTE}" in text
    assert f"## 2. {ABSTAIN_Q}" in text
    abstention = text[text.index(f"## 2. {ABSTAIN_Q}"):]
    assert "*The articles don't say — closest passages:*" in abstention
    assert abstention.count("\n- [") == closest > 0 and "Sources:" not in abstention


def test_export_and_store_without_the_app(tmp_path):
    turn = Turn("Q?", "An answer [1].", False,
                [{"n": 1, "article_id": "a1", "title": "T", "date": "2003-01-02", "source": "S",
                  "url": "http://x", "quote": "The quote."}],
                [{"article_id": "a1", "title": "T", "date": "2003-01-02", "source": "S", "url": "http://x",
                  "text": "Before. The quote. After.", "score": 0.5, "start": 0, "end": 25}], "m", {})
    md = chat_markdown([turn], "Q?")
    assert "## 1. Q?" in md and "- [1] **T** — 2003-01-02 · S — <http://x>" in md and "  > The quote." in md
    assert answer_markdown(turn) == "An answer [\\[1\\]](cite:1)."
    store = ChatStore(tmp_path / "chats.db")
    chat = store.create_chat("Q?", "/lib", "m")
    store.add_turn(chat, turn)
    assert ChatStore(tmp_path / "chats.db").turns(chat) == [turn]
    raw = store.db.execute("SELECT question, answer, abstained, citations, passages FROM turns").fetchone()
    assert raw[:3] == ("Q?", "An answer [1].", 0) and '"quote": "The quote."' in raw[3] and '"start": 0' in raw[4]


# -- palette, keys, layout -------------------------------------------------------------------------------

def test_palette_switches_the_model(fake_library, use_loaders):
    class Named(FakeLLM):
        def __init__(self, name):
            super().__init__(REPLY)
            self.name = name

    loaded = []
    use_loaders(llm=lambda model=None, progress=None: loaded.append(model) or Named(model))
    names = [s.name for s in load_manifest() if s.role == "llm"]

    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(100, 30)) as pilot:
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for wanted in ("New chat", "Open chat", "Export chat", "Switch library", "Switch model", "Clear chat"):
                assert wanted in titles
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
            app.screen.query_one(Input).value = "switch model"
            await wait_for(pilot, lambda: "Switch model" in screen_text(app), what="the command")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceScreen) and app.screen.query("OptionList"),
                           what="the model list")
            options = app.screen.query_one("OptionList")
            assert [options.get_option_at_index(i).id for i in range(options.option_count)] == names
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: loaded and app.assistant.llm.name == names[1], what="the new model")
            assert app.session.model_arg == names[1]
            message = await ask(pilot, Q2003)
            assert message.turn.model == names[1]
            await wait_for(pilot, lambda: names[1] in str(app.query_one("#info").content), what="info")
    run(main())


def test_switch_library_opens_another_folder(fake_library, tmp_path):
    other = tmp_path / "other"
    encoder = FakeEncoder()
    FolderLibrary.create(other, encoder).add([SEEDS / "000_8e1adf5baa08f22c.txt"], encoder)

    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(100, 30)) as pilot:
            await ask(pilot, Q2003)
            app.action_switch_library()
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen) and app.screen.query("Input"),
                           what="the path prompt")
            app.screen.query_one("Input").value = str(other)
            await pilot.press("enter")
            # The new chat it starts says so last.
            await wait_for(pilot, lambda: app.assistant.library.path == other and status(app) == "New chat.",
                           what="the other library")
            assert not app.turns and not app.query(AnswerMessage)
            await wait_for(pilot, lambda: "other · 1 articles" in str(app.query_one("#info").content),
                           what="the other library in the top bar")
    run(main())


def test_bindings_have_ids_and_can_be_remapped(fake_library, qa_home):
    ids = {b.id for b in QAApp.BINDINGS}
    assert {"cancel", "new_chat", "open_chat", "export", "toggle_sources", "keys"} <= ids
    assert all(b.id for b in QAApp.BINDINGS) and all(b.id for b in PromptInput.BINDINGS)

    async def main():
        app = make_app(fake_library, REPLY, keymap=load_keymap())
        async with app.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            await pilot.press("f5")
            await wait_for(pilot, lambda: app.screen.has_class("-hide-passages"), what="f5 to hide the sources")
            await pilot.press("f3", "f1")                            # f3: remapped away
            # Keys are handled in order: once F1's help is up, F3 has been handled too.
            await wait_for(pilot, lambda: app.screen.query("KeysPanel"), what="the keys panel")
            assert app.screen.has_class("-hide-passages")
            await pilot.press("f1")
            await wait_for(pilot, lambda: not app.screen.query("KeysPanel"), what="the keys panel to close")

    (qa_home / "keymap.json").write_text('{"toggle_sources": "f5"}')
    assert load_keymap() == {"toggle_sources": "f5"}
    run(main())


@pytest.mark.parametrize("size, beside", [((140, 40), True), ((80, 24), False)])
def test_sources_beside_on_wide_and_below_on_narrow_terminals(fake_library, size, beside):
    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=size) as pilot:
            await ask(pilot, Q2003)
            await wait_for(pilot, lambda: all(w in screen_text(app) for w in ("Answer 1", "[1]", "Send")),
                           what="the answer and its sources on the screen")

            def placed() -> bool:
                conversation = app.query_one("#conversation").region
                panel = app.query_one(PassagesPanel).region
                if beside:
                    where = panel.x >= conversation.right and panel.y == conversation.y
                else:
                    where = panel.y >= conversation.bottom and panel.width == conversation.width
                return where and panel.height >= 6 and conversation.height >= 6
            await wait_for(pilot, placed, what=f"the sources {'beside' if beside else 'below'} the conversation")
            await pilot.press("f3")
            await wait_for(pilot, lambda: app.query_one(PassagesPanel).region.area == 0, what="f3 to hide the sources")
    run(main())


# -- the real models ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_models_answer_in_the_app(seed_library, encoder):
    async def main():
        app = QAApp(assistant_factory=lambda: Assistant(seed_library, encoder=encoder), stories=False)
        async with app.run_test(size=(140, 40)) as pilot:
            message = await ask(pilot, "What did Russia propose in 2003?", timeout=600)
            assert message.turn.text.strip()
            ids = [e["article_id"] for e in app.query_one(PassagesPanel).entries]
            assert any(ARTICLE_2003 in i for i in ids), ids
            assert status(app).startswith(("Answered", "Not in the articles"))
    run(main())


# -- timelines and filters ----------------------------------------------------------------------------

TIMELINE_Q = "How did Russia's stance on North Korea change from 2003 to 2024?"


def test_a_timeline_answer_shows_dated_entries_and_sources_by_period(fake_library, tmp_path):
    replies = ["Russia called on the United States and North Korea to take urgent steps to defuse tensions [1].",
               "Lavrov warned against heating up the North Korea crisis with military maneuvers [2]."]

    encoder = FakeEncoder()
    encoder.abstain_below = 0.1  # bags of words: a whole passage shares few of the subject's words

    async def main():
        app = QAApp(Assistant(fake_library, llm=FakeLLM(*replies), encoder=encoder), show_timings=False,
                    store=ChatStore(tmp_path / "chats.db"), stories=False)
        async with app.run_test(size=(140, 40)) as pilot:
            message = await ask(pilot, TIMELINE_Q)
            turn = message.turn
            await wait_for(pilot, lambda: showing(app, message), what="the sources")
            assert [e["period"] for e in turn.timeline][:2] == ["2003", "2013"]
            source = message.markdown.source
            assert source.startswith("- **2003** · 2003-04-08 — Russia called on the United States")
            assert "- **2013** · 2013-04-10 — Lavrov warned" in source
            listing = app.query_one("#passages-list")
            headings = [item.period for item in listing.children if not isinstance(item, PassageItem)]
            assert headings[:2] == ["2003", "2013"]
            assert isinstance(listing.highlighted_child, PassageItem)  # a heading is never selected
            saved = ChatStore(tmp_path / "chats.db").turns(app.chat_id)[-1]
            assert saved.timeline == turn.timeline  # a reopened chat shows the same timeline
    run(main())


def test_the_filter_command_restricts_the_next_questions(fake_library):
    async def main():
        app = make_app(fake_library, "Lavrov said there were no differences with the United States [1].")
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            assert "Filter by date or outlet" in [c.title for c in app.get_system_commands(app.screen)]
            app.action_filter()
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen) and app.screen.query("Input"),
                           what="the filter prompt")
            app.screen.query_one(Input).value = "--since 2010 --until 2014"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.session.filters.since is not None, what="the filters")
            assert "--since 2010-01-01 --until 2014-12-31" in str(app.query_one("#info").content)
            message = await ask(pilot, "What did Lavrov say about North Korea?")
            assert message.turn.passages and all(p["date"].startswith("2013") for p in message.turn.passages)
            app.action_filter()
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen) and app.screen.query("Input"),
                           what="the filter prompt")
            app.screen.query_one(Input).value = "--since soon"
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen), what="the prompt to close")
            assert app.session.filters.since.year == 2010  # a bad filter is refused, the old one kept
            app.action_filter()
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen) and app.screen.query("Input"),
                           what="the filter prompt")
            app.screen.query_one(Input).value = ""
            await pilot.press("enter")
            await wait_for(pilot, lambda: not app.session.filters, what="the filters cleared")
    run(main())
