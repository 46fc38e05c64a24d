"""The passages panel, beside the conversation (below it on a narrow terminal).

It shows the passages behind the selected answer: first every passage retrieval found, while the
model reads them (seconds on a CPU), then, once the answer is final, the passages it cites followed
by the others, marked "not cited". A timeline answer's passages come under a heading per period.
Its title says which: "Passages found", "Sources" or "Closest passages" (an abstention). Enter or
a click on a passage posts :class:`PassagesPanel.Open`; the app opens the whole article.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ListItem, ListView, Static

from tui.store import Turn
from tui.widgets.passage_item import PassageItem, PeriodItem


def panel_passages(turn: Turn) -> list[dict]:
    """The panel's entries: for an answer that cites, its cited passages and then every other
    passage found, marked ``cited: False`` (the panel listed them all while the model read them);
    otherwise ``Turn.cited_passages()``."""
    cited_passages = turn.cited_passages()
    if turn.abstained or not turn.citations:
        return cited_passages
    cited = {s["n"] for s in cited_passages}
    return cited_passages + [{**p, "n": n, "quote": "", "cited": False}
                             for n, p in enumerate(turn.passages, 1) if n not in cited]


def _grouped(passages: list[dict]) -> list[ListItem]:
    """The panel's rows: the passages, under a heading per period when they come from a timeline."""
    items: list[ListItem] = []
    current = None
    for passage in passages:
        if "period" in passage and passage["period"] != current:
            current = passage["period"]
            items.append(PeriodItem(current))
        items.append(PassageItem(passage))
    return items


class PassagesPanel(Vertical):
    """The passages behind the selected answer: [n], title, date, outlet, and the quote
    highlighted inside its passage. Enter or a click opens the whole article."""

    DEFAULT_CSS = """
    PassagesPanel {
        border: round $primary 50%;
        border-title-color: $text-primary;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0;

        &.-abstained {
            border: round $warning 50%;
            border-title-color: $text-warning;
        }
        & #passages-list {
            height: 1fr;
            background: transparent;
            scrollbar-size-vertical: 1;
        }
        & #passages-list > ListItem {
            padding: 0 1 1 1;
            background: transparent;
        }
        &.-has-passages #passages-hint {
            display: none;
        }
        & #passages-hint {
            height: auto;
            padding: 0 1;
            color: $text-muted;
        }
        &.-empty #passages-list {
            display: none;
        }
    }
    """

    class Open(Message):
        """Open the article of ``passage`` (a panel entry)."""

        def __init__(self, passage: dict) -> None:
            super().__init__()
            self.passage = passage

    EMPTY = "The passages behind an answer appear here."

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.turn: Turn | None = None
        self.number: int | None = None
        self.border_title = "Sources"
        self.add_class("-empty")

    def compose(self) -> ComposeResult:
        yield ListView(id="passages-list")
        yield Static(self.EMPTY, id="passages-hint")

    @property
    def entries(self) -> list[dict]:
        """The passages listed, in order."""
        return [item.passage for item in self.query(PassageItem)]

    async def show(self, turn: Turn | None, number: int | None = None, found: bool = False) -> None:
        """``turn``'s passages (none: the empty hint); ``found``: those of an answer still being written."""
        self.turn, self.number = turn, number
        listing = self.query_one(ListView)
        await listing.clear()
        hint = self.query_one("#passages-hint", Static)
        if turn is None:
            self.border_title, self.border_subtitle = "Sources", ""
            self.remove_class("-has-passages", "-abstained")
            self.add_class("-empty")
            hint.update(self.EMPTY)
            return
        passages = panel_passages(turn)
        closest = turn.abstained or not turn.citations
        heading = "Passages found" if found else "Closest passages" if closest else "Sources"
        self.border_title = f"{heading} · answer {number}"
        self.set_class(turn.abstained, "-abstained")
        await listing.extend(_grouped(passages))
        first = next((i for i, item in enumerate(listing.children) if isinstance(item, PassageItem)), None)
        listing.index = first
        listing.scroll_home(animate=False)
        self.set_class(bool(passages), "-has-passages")
        self.set_class(not passages, "-empty")
        self.border_subtitle = "Enter/click: open article" if passages else ""
        hint.update("No passages were retrieved.")

    def highlight(self, n: int) -> None:
        """Move the cursor to passage ``n`` (a clicked citation marker)."""
        listing = self.query_one(ListView)
        for i, item in enumerate(listing.children):
            if isinstance(item, PassageItem) and item.passage["n"] == n:
                listing.index = i
                item.scroll_visible(animate=False)
                return

    @on(ListView.Selected, "#passages-list")
    def _open(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, PassageItem):
            self.post_message(self.Open(event.item.passage))
