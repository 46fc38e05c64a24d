"""``qa chat`` opens on the library's current stories: the list appears over a library with stories
(issue 28's week: the bridge collapse and the teachers' strike), Enter asks what happened, t asks
for the timeline, Esc and typing go to the question box; an empty library, or stories that fail,
show no list and the chat works as before. Fakes: the bag-of-words encoder and a queued LLM."""
from __future__ import annotations

import pytest
from textual.widgets import Static

from qa import stories
from qa.answering.timeline import is_timeline_question
from qa.api import Assistant
from qa.library import FolderLibrary
from tui.app import QAApp
from tui.widgets import PromptInput, QuestionMessage, StoriesList, StoryItem

from fakes import FakeEncoder, FakeLLM
from test_stories import week
from test_tui import REPLY, answered, ready, run, screen_text, wait_for, workers_done

BRIDGE = "Harbour bridge collapses in storm"
STRIKE = "Riverton teachers strike over pay"


@pytest.fixture(scope="module")
def week_library(tmp_path_factory):
    """Issue 28's small week (tests/test_stories.py): two stories of January 2025 and a garden show."""
    folder = tmp_path_factory.mktemp("tui_stories")
    encoder = FakeEncoder()
    FolderLibrary.create(folder / "lib", encoder).add([week(folder / "week.jsonl")], encoder)
    return folder / "lib"


def stories_app(library, *replies: str, assistant_class=Assistant) -> QAApp:
    return QAApp(assistant_class(library, llm=FakeLLM(*replies), encoder=FakeEncoder()), show_timings=False)


async def stories_listed(pilot) -> None:
    """Wait until the stories worker has finished (and whatever it found is shown)."""
    await ready(pilot)
    await wait_for(pilot, lambda: workers_done(pilot.app, "stories"), what="the stories")
    await pilot.pause()


def test_the_chat_opens_on_the_librarys_stories_and_enter_asks_what_happened(week_library):
    async def main():
        app = stories_app(week_library, REPLY)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: app.query(StoriesList) and app.query_one(StoriesList).has_focus,
                           what="the stories list, focused")
            listed = app.query_one(StoriesList)
            titles = [s.articles[0].title for s in listed.stories]
            assert titles[:2] == [BRIDGE, STRIKE], titles
            rows = [item.query_one(Static).content.plain for item in listed.query(StoryItem)]
            assert rows[0] == f"{BRIDGE}\n4 articles · Coast Herald, Harbour Times, Valley Post, Wire Digest · " \
                              "2025-01-07 – 2025-01-09"
            await wait_for(pilot, lambda: BRIDGE in screen_text(app) and "What happened lately" in screen_text(app),
                           what="the stories on the screen")
            await pilot.press("enter")
            question = f"What happened with {BRIDGE}?"
            await wait_for(pilot, lambda: answered(app, 1), what="the answer to the story's question")
            assert [q.question for q in app.query(QuestionMessage)] == [question]
            assert app.turns[0].question == question and app.turns[0].passages
            assert not app.query(StoriesList) and app.query_one(PromptInput).has_focus
    run(main())


def test_an_events_other_pieces_follow_its_first_marked_also(week_library, monkeypatch):
    monkeypatch.setattr(stories, "EVENT_COSINE", 0.0)  # every centroid close enough: the week's two stories one event

    async def main():
        app = stories_app(week_library)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: app.query(StoriesList) and app.query_one(StoriesList).has_focus,
                           what="the stories list, focused")
            items = list(app.query_one(StoriesList).query(StoryItem))
            assert [item.story.event for item in items] == [1, 1]
            assert [item.has_class("piece") for item in items] == [False, True]
            rows = [item.query_one(Static).content.plain for item in items]
            assert rows[0].startswith(BRIDGE) and rows[1].startswith("also Riverton teachers"), rows
    run(main())


def test_t_asks_for_the_storys_timeline_and_escape_goes_to_the_prompt(week_library):
    async def main():
        app = stories_app(week_library)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: app.query(StoriesList) and app.query_one(StoriesList).has_focus,
                           what="the stories list, focused")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.prompt.has_focus, what="Esc to the question box")
            app.query_one(StoriesList).focus()
            await pilot.press("w")                      # typing goes to the question box
            await wait_for(pilot, lambda: app.prompt.has_focus and app.prompt.text == "w", what="the typed w")
            assert app.query(StoriesList), "typing keeps the list"
            app.prompt.text = ""
            app.query_one(StoriesList).focus()
            await pilot.press("down", "t")
            await wait_for(pilot, lambda: app.query(QuestionMessage), what="the timeline question")
            question = app.query_one(QuestionMessage).question
            assert question == f"Timeline of {STRIKE}" and is_timeline_question(question)
            await wait_for(pilot, lambda: workers_done(app, "answer"), what="the timeline to finish")
    run(main())


def test_an_empty_library_opens_without_a_list(tmp_path):
    encoder = FakeEncoder()
    FolderLibrary.create(tmp_path / "empty", encoder)

    async def main():
        app = stories_app(tmp_path / "empty")
        async with app.run_test(size=(120, 36)) as pilot:
            await stories_listed(pilot)
            assert not app.query(StoriesList) and app.session.stories == []
            assert app.prompt.has_focus and app.query("#welcome")
    run(main())


class BrokenStories(Assistant):
    def stories(self, *args, **kwargs):
        raise RuntimeError("the stories fell over")


def test_stories_that_fail_are_hidden_and_the_chat_still_answers(week_library):
    async def main():
        app = stories_app(week_library, REPLY, assistant_class=BrokenStories)
        async with app.run_test(size=(120, 36)) as pilot:
            await stories_listed(pilot)
            assert not app.query(StoriesList) and app.prompt.has_focus
            app.prompt.text = f"What happened to the {BRIDGE.lower()}?"
            await pilot.press("enter")
            await wait_for(pilot, lambda: answered(app, 1), what="the answer")
    run(main())
