"""The whole article behind a passage, over the chat.

Opened from the passages panel (Enter, a click) as a modal screen: the article's paragraphs, the
cited passage tinted and its quoted sentence highlighted, scrolled so the quote is in the middle.
Esc or q closes it and the focus goes back where it was.
"""
from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from qa.reading import Article
from tui.widgets.text import QUOTE_STYLE, find_quote

PASSAGE_STYLE = "on $boost"


def _joined(meta: list) -> str:
    return " · ".join(str(m) for m in meta if m) or "undated"


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Character spans of the blank-line separated paragraphs of ``text``."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text)]


class ArticleScreen(ModalScreen[None]):
    """A whole article, scrolled to the quoted sentence, which is highlighted (the rest of
    the cited passage tinted). ``span``: the passage's characters in ``text``; ``note``: a
    warning above the text (the article is not in the open library)."""

    DEFAULT_CSS = """
    ArticleScreen {
        align: center middle;

        & #article-dialog {
            width: 92%;
            max-width: 120;
            height: 92%;
            border: round $primary;
            border-title-color: $text-primary;
            border-title-style: bold;
            border-subtitle-color: $text-muted;
            background: $surface;
            padding: 0 1;
        }
        & #article-meta {
            color: $text-muted;
            margin: 0 0 1 0;
        }
        & #article-note {
            color: $text-warning;
            margin: 0 0 1 0;
        }
        & #article-body {
            height: 1fr;
            scrollbar-size-vertical: 1;
        }
        & #article-body > .paragraph {
            margin: 0 1 1 0;
        }
    }
    """

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

    @classmethod
    def of_passage(cls, passage: dict, article: Article | None) -> "ArticleScreen":
        """The screen for a passage (a panel entry): its ``article`` scrolled to the quote, or,
        when the open library lacks the article (a chat saved over another), the passage alone."""
        if article is None:
            meta = [passage.get("date"), passage.get("source"), passage.get("url")]
            return cls(passage.get("title") or "Untitled", _joined(meta), passage.get("text", ""),
                       passage.get("quote") or "", None,
                       "This article is not in the open library; showing the passage only.")
        span = (passage["start"], passage["end"]) if "start" in passage and "end" in passage else None
        return cls(article.title, _joined([article.date, article.source, article.url]), article.text,
                   passage.get("quote") or "", span)

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
