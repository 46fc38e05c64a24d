"""The chat app's widgets: the prompt, question and answer messages, the sources
panel, the article screen, and two small dialogs (a text prompt and a list to
choose from)."""
from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.events import Key
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, ListItem, ListView, Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from qa.outlets import also_reported
from tui.export import ABSTAIN_LINE
from tui.store import Turn

CONTEXT_BEFORE = 90          # passage text shown before and after the quote in the panel
CONTEXT_AFTER = 160
EXCERPT_CHARS = 280          # passage text shown for an uncited (closest) passage
QUOTE_STYLE = "bold $text-accent on $accent-muted"
PASSAGE_STYLE = "on $boost"
CITE_STYLE = "bold $text-accent on $accent-muted"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def find_quote(text: str, quote: str, start: int = 0) -> tuple[int, int] | None:
    """The span of ``quote`` in ``text`` (whitespace-insensitive), preferring one at or
    after ``start``."""
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    m = pattern.search(text, start) or pattern.search(text)
    return (m.start(), m.end()) if m else None


def answer_markdown(turn: Turn) -> str:
    """The answer as Markdown, each [n] marker a link to source n in the panel."""
    if turn.abstained:
        lines, groups = [ABSTAIN_LINE, ""], {}
        for src in turn.sources():     # one line per article, with all its passage numbers
            groups.setdefault(src.get("article_id") or src["n"], []).append(src)
        for group in groups.values():
            marks = "".join(f"[\\[{s['n']}\\]](cite:{s['n']})" for s in group)
            first = group[0]
            title = first.get("title") or "Untitled"
            when = f" ({first['date']})" if first.get("date") and first["date"] not in title else ""
            lines.append(f"- {marks} {md_escape(title)}{when}")
        return "\n".join(lines)
    cited = {c["n"] for c in turn.citations}

    def links(text: str) -> str:
        return re.sub(r"\[(\d+)\]", lambda m: f"[\\[{m[1]}\\]](cite:{m[1]})" if int(m[1]) in cited else m[0],
                      text)

    if turn.timeline:
        return "\n".join(f"- **{md_escape(e['period'])}**{_day(e)} — {links(e['text'])}" for e in turn.timeline)
    return links(turn.text)


def _day(entry: dict) -> str:
    """A timeline entry's date, where it says more than its period ("2003" → " · 2003-04-08")."""
    day = entry.get("date") or ""
    return f" · {day}" if day and day != entry["period"] and day.startswith(entry["period"]) else ""


def _window(text: str, quote: str) -> Content:
    """The passage text around the quote, the quote highlighted."""
    flat = " ".join(text.split())
    span = find_quote(flat, quote) if quote else None
    if span is None:
        if len(flat) <= EXCERPT_CHARS:
            return Content(flat)
        cut = flat.rfind(" ", 0, EXCERPT_CHARS)
        return Content(flat[:cut if cut > 0 else EXCERPT_CHARS] + "…")
    qs, qe = span
    start = max(0, qs - CONTEXT_BEFORE)
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < qs else start
    end = min(len(flat), qe + CONTEXT_AFTER)
    if end < len(flat):
        space = flat.rfind(" ", qe, end)
        end = space if space > qe else end
    prefix, suffix = ("…" if start else ""), ("…" if end < len(flat) else "")
    body = Content(prefix + flat[start:end] + suffix)
    offset = len(prefix) - start
    return body.stylize(QUOTE_STYLE, qs + offset, qe + offset)


def source_content(src: dict) -> Content:
    n = src["n"]
    head = Content.assemble((f"[{n}]", CITE_STYLE), " ",
                            (" ".join((src.get("title") or "Untitled").split()), "bold"))
    meta = " · ".join(str(x) for x in (src.get("date"), src.get("source")) if x) or "undated"
    if src.get("cited") is False:
        meta += " · not cited"
    others = also_reported(src.get("source") or "", (a.get("source", "") for a in src.get("also_in") or ()))
    return Content("\n").join([head, Content.styled(meta, "$text-muted"),
                               *([Content.styled(others, "$text-muted italic")] if others else []),
                               _window(src.get("text", ""), src.get("quote") or "")])


class PromptInput(TextArea):
    """The question box: Enter sends, Shift+Enter or Ctrl+J starts a new line."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding("shift+enter,ctrl+j", "newline", "New line", id="newline", priority=True, show=False),
    ]

    class Submitted(Message):
        def __init__(self, prompt: "PromptInput", text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")

    def set_question(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)


class QuestionMessage(Static):
    """A question the user asked."""

    def __init__(self, question: str) -> None:
        super().__init__(Content(question.strip()), classes="question")
        self.question = question
        self.border_title = "You"


class AnswerMessage(Vertical, can_focus=True):
    """An answer: streamed as Markdown while the model writes, then the checked answer
    with its [n] markers linked to the sources panel. Focus or click selects it."""

    class Selected(Message):
        def __init__(self, message: "AnswerMessage") -> None:
            super().__init__()
            self.message = message

    def __init__(self, number: int, turn: Turn | None = None) -> None:
        super().__init__(classes="answer")
        self.number = number
        self.turn = turn
        self.partial = ""
        self._stream = None
        self.border_title = f"Answer {number}"
        if turn is None:
            self.add_class("-streaming")

    def compose(self) -> ComposeResult:
        yield Markdown(answer_markdown(self.turn) if self.turn else "", open_links=False)

    def on_mount(self) -> None:
        if self.turn is not None:
            self._decorate(self.turn)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    async def append(self, piece: str) -> None:
        """Add a piece of the text the model is writing."""
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        self.partial += piece
        await self._stream.write(piece)

    async def stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def finish(self, turn: Turn) -> None:
        """Replace the streamed text with the checked answer."""
        await self.stop_stream()
        self.turn = turn
        self.remove_class("-streaming")
        await self.markdown.update(answer_markdown(turn))
        self._decorate(turn)

    def _decorate(self, turn: Turn) -> None:
        self.set_class(turn.abstained, "-abstained")
        self.border_title = f"Answer {self.number}" + (" · ⚠ not in the articles" if turn.abstained else "")
        self.border_subtitle = turn.model or ""

    def on_focus(self) -> None:
        if self.turn is not None:
            self.post_message(self.Selected(self))

    def on_click(self) -> None:
        if self.turn is not None:
            self.post_message(self.Selected(self))

    def on_key(self, event: Key) -> None:
        """Typing on a selected answer goes to the question box."""
        if event.is_printable and event.character:
            prompt = self.app.query_one(PromptInput)
            prompt.focus()
            prompt.insert(event.character)
            event.stop()


def marked_sources(turn: Turn) -> list[dict]:
    """The panel's entries: for an answer that cites, its sources and then every other passage
    found, marked ``cited: False`` (the panel listed them all while the model read them);
    otherwise ``Turn.sources()``."""
    sources = turn.sources()
    if turn.abstained or not turn.citations:
        return sources
    cited = {s["n"] for s in sources}
    return sources + [{**p, "n": n, "quote": "", "cited": False}
                      for n, p in enumerate(turn.passages, 1) if n not in cited]


class SourceItem(ListItem):
    def __init__(self, source: dict) -> None:
        super().__init__(Static(source_content(source), classes="source-text"), classes="source")
        self.source = source


class PeriodItem(ListItem):
    """A timeline period's heading in the sources panel: not a source, so it can't be opened."""

    def __init__(self, period: str) -> None:
        super().__init__(Static(Content.styled(period, "bold $text-accent")), classes="period", disabled=True)
        self.period = period


def _grouped(sources: list[dict]) -> list[ListItem]:
    """The panel's items: the sources, under a heading per period when they come from a timeline."""
    items: list[ListItem] = []
    current = None
    for src in sources:
        if "period" in src and src["period"] != current:
            current = src["period"]
            items.append(PeriodItem(current))
        items.append(SourceItem(src))
    return items


class SourcesPanel(Vertical):
    """The passages behind the selected answer: [n], title, date, source, and the quote
    highlighted inside its passage. Enter or a click opens the whole article."""

    class Open(Message):
        def __init__(self, source: dict) -> None:
            super().__init__()
            self.source = source

    EMPTY = "The passages behind an answer appear here."

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.turn: Turn | None = None
        self.number: int | None = None
        self.border_title = "Sources"
        self.add_class("-empty")

    def compose(self) -> ComposeResult:
        yield ListView(id="sources-list")
        yield Static(self.EMPTY, id="sources-hint")

    @property
    def entries(self) -> list[dict]:
        return [item.source for item in self.query(SourceItem)]

    async def show(self, turn: Turn | None, number: int | None = None, found: bool = False) -> None:
        """``turn``'s sources; ``found``: the passages of an answer still being written."""
        self.turn, self.number = turn, number
        listing = self.query_one(ListView)
        await listing.clear()
        hint = self.query_one("#sources-hint", Static)
        if turn is None:
            self.border_title, self.border_subtitle = "Sources", ""
            self.remove_class("-has-sources", "-abstained")
            self.add_class("-empty")
            hint.update(self.EMPTY)
            return
        sources = marked_sources(turn)
        closest = turn.abstained or not turn.citations
        heading = "Passages found" if found else "Closest passages" if closest else "Sources"
        self.border_title = f"{heading} · answer {number}"
        self.set_class(turn.abstained, "-abstained")
        await listing.extend(_grouped(sources))
        first = next((i for i, item in enumerate(listing.children) if isinstance(item, SourceItem)), None)
        listing.index = first
        listing.scroll_home(animate=False)
        self.set_class(bool(sources), "-has-sources")
        self.set_class(not sources, "-empty")
        self.border_subtitle = "Enter/click: open article" if sources else ""
        hint.update("No passages were retrieved.")

    def highlight(self, n: int) -> None:
        listing = self.query_one(ListView)
        for i, item in enumerate(listing.children):
            if isinstance(item, SourceItem) and item.source["n"] == n:
                listing.index = i
                item.scroll_visible(animate=False)
                return

    @on(ListView.Selected, "#sources-list")
    def _open(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, SourceItem):
            self.post_message(self.Open(event.item.source))


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Character spans of the blank-line separated paragraphs of ``text``."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text)]


class ArticleScreen(ModalScreen[None]):
    """A whole article, scrolled to the quoted sentence, which is highlighted (the rest of
    the cited passage tinted)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="close_article")]

    def __init__(self, title: str, meta: str, text: str, quote: str = "",
                 span: tuple[int, int] | None = None, note: str = "") -> None:
        super().__init__()
        self.article_title = title
        self.meta = meta
        self.article_text = text
        self.quote = quote
        self.span = span
        self.note = note
        start = span[0] if span else 0
        self.quote_span = find_quote(text, quote, start) if quote else None

    def compose(self) -> ComposeResult:
        with Vertical(id="article-dialog") as dialog:
            dialog.border_title = " ".join(self.article_title.split())
            dialog.border_subtitle = "Esc close"
            yield Label(self.meta, id="article-meta")
            if self.note:
                yield Label(self.note, id="article-note")
            with VerticalScroll(id="article-body"):
                for start, end in paragraphs(self.article_text):
                    yield self._paragraph(start, end)

    def _paragraph(self, start: int, end: int) -> Static:
        content = Content(self.article_text[start:end])
        classes = "paragraph"
        if self.span and self.span[0] < end and self.span[1] > start:
            content = content.stylize(PASSAGE_STYLE, max(self.span[0], start) - start, min(self.span[1], end) - start)
        if self.quote_span and self.quote_span[0] < end and self.quote_span[1] > start:
            qs, qe = self.quote_span
            content = content.stylize(QUOTE_STYLE, max(qs, start) - start, min(qe, end) - start)
            classes += " -quote"
        return Static(content, classes=classes)

    def on_mount(self) -> None:
        body = self.query_one("#article-body")
        body.focus()
        target = next(iter(self.query(".-quote")), None)
        if target is not None:
            self.call_after_refresh(body.scroll_to_widget, target, animate=False, center=True)

    def action_close(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a path): Enter accepts (empty text too: ""), Esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_prompt")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.prompt_title = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.prompt_title
            dialog.border_subtitle = "Enter accept · Esc cancel"
            yield Input(self.value, placeholder=self.placeholder)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """Choose one of a list (saved chats, models): Enter chooses, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_choice")]

    def __init__(self, title: str, choices: list[tuple[str, str]], empty: str = "Nothing here yet.") -> None:
        super().__init__(classes="dialog-screen")
        self.choice_title = title
        self.choices = choices
        self.empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.choice_title
            dialog.border_subtitle = "Enter choose · Esc cancel"
            if self.choices:
                yield OptionList(*(Option(Content(label), id=key) for key, label in self.choices))
            else:
                yield Label(self.empty)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
