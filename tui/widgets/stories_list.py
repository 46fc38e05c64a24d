"""What is happening in the library: its current stories, which a new chat opens on.

A story is many articles about one event (``qa stories``, :mod:`qa.stories`). Each row shows the
story's line (quoted from its most central article), how many articles and which outlets carried
it, and its first and last days; "new" marks a story with articles the last ``qa stories`` did not
see. A large event's other pieces (stories of one event, ``Story.event``) follow its first piece,
indented and marked "also", as ``qa stories`` prints them. Enter asks the chat "What happened with
<the central article's title>?"; t asks for its timeline. The list does not ask itself: it posts :class:`StoriesList.Ask` and the app asks.
Esc, or typing, goes to the question box.
"""
from __future__ import annotations

import re

from textual import on
from textual.binding import Binding
from textual.content import Content
from textual.events import Key
from textual.message import Message
from textual.widgets import ListItem, ListView, Static

from qa.stories import Story, by_event
from tui.widgets.prompt_input import PromptInput, type_into_prompt

_MARKS = re.compile(r"\s*\[\d+\]")


def story_subject(story: Story) -> str:
    """What a question about ``story`` names: its most central article's title (its line when the
    title is empty), on one line."""
    return " ".join((story.articles[0].title or _MARKS.sub("", story.text)).split())


def story_content(story: Story, piece: bool = False) -> Content:
    """A row: the story's line without its citation marks, then its size, outlets and days;
    ``piece``: marked "also", another piece of the event of the row above."""
    line = Content.styled(" ".join(_MARKS.sub("", story.text).split()) or story_subject(story), "bold")
    if story.new:
        line = Content.assemble(("new", "bold $text-success"), " ", line)
    if piece:
        line = Content.assemble(("also", "$text-muted"), " ", line)
    count = len(story.all_articles)
    meta = [f"{count} article{'s' * (count != 1)}", ", ".join(story.outlets), story.days]
    return Content("\n").join([line, Content.styled(" · ".join(m for m in meta if m), "$text-muted")])


class StoryItem(ListItem):
    """One story in the list."""

    def __init__(self, story: Story, piece: bool = False) -> None:
        super().__init__(Static(story_content(story, piece)), classes="piece" if piece else None)
        self.story = story


class StoriesList(ListView):
    """The library's current stories, best covered first: Enter asks what happened, t asks for
    the timeline, Esc or typing goes to the question box."""

    DEFAULT_CSS = """
    StoriesList {
        height: auto;
        max-height: 16;
        margin: 0 1 1 1;
        border: round $secondary 60%;
        border-title-color: $text-secondary;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: transparent;
        scrollbar-size-vertical: 1;

        &:focus {
            border: round $secondary;
        }
        & > StoryItem {
            padding: 0 1 1 1;
        }
        & > StoryItem.piece {
            padding-left: 4;
        }
        & > StoryItem:last-child {
            padding-bottom: 0;
        }
    }
    """

    BINDINGS = [
        Binding("t", "timeline", "Timeline", id="story_timeline", priority=True),
        Binding("escape", "leave", "Ask your own", id="leave_stories"),
    ]

    class Ask(Message):
        """Ask ``question`` in the chat (a story was chosen)."""

        def __init__(self, question: str) -> None:
            super().__init__()
            self.question = question

    def __init__(self, stories: list[Story]) -> None:
        super().__init__(*(StoryItem(story, piece=n > 0) for event in by_event(stories)
                           for n, (_, story) in enumerate(event)), id="stories")
        self.border_title = "What happened lately"
        self.border_subtitle = "Enter: what happened · t: timeline · Esc: ask your own"

    @property
    def stories(self) -> list[Story]:
        return [item.story for item in self.query(StoryItem)]

    def _chosen(self) -> Story | None:
        item = self.highlighted_child
        return item.story if isinstance(item, StoryItem) else None

    @on(ListView.Selected)
    def _what_happened(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, StoryItem):
            self.post_message(self.Ask(f"What happened with {story_subject(event.item.story)}?"))

    def action_timeline(self) -> None:
        story = self._chosen()
        if story is not None:
            self.post_message(self.Ask(f"Timeline of {story_subject(story)}"))

    def action_leave(self) -> None:
        self.app.query_one(PromptInput).focus()

    def on_key(self, event: Key) -> None:
        """Typing on the list goes to the question box."""
        type_into_prompt(self, event)
