"""The rows of the passages panel: a passage (:class:`PassageItem`) and a timeline period's
heading (:class:`PeriodItem`).

A passage row shows its citation number, the article's title, date and outlet, the other outlets
that carried the same text, and the passage around its quoted sentence, which is highlighted. A
passage the answer did not cite is shown as an excerpt and marked "not cited".
"""
from __future__ import annotations

from textual.content import Content
from textual.widgets import ListItem, Static

from qa.outlets import also_reported
from tui.widgets.text import QUOTE_STYLE, find_quote

CONTEXT_BEFORE = 90          # passage text shown before and after the quote
CONTEXT_AFTER = 160
EXCERPT_CHARS = 280          # passage text shown for an uncited (closest) passage
CITE_STYLE = "bold $text-accent on $accent-muted"


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


def passage_content(passage: dict) -> Content:
    """One row's text: ``passage`` is a ``Turn.cited_passages()`` entry (n, title, date, source (the
    outlet), also_in, text, quote, and ``cited: False`` for a passage the answer did not cite)."""
    n = passage["n"]
    head = Content.assemble((f"[{n}]", CITE_STYLE), " ",
                            (" ".join((passage.get("title") or "Untitled").split()), "bold"))
    meta = " · ".join(str(x) for x in (passage.get("date"), passage.get("source")) if x) or "undated"
    if passage.get("cited") is False:
        meta += " · not cited"
    others = also_reported(passage.get("source") or "", (a.get("source", "") for a in passage.get("also_in") or ()))
    return Content("\n").join([head, Content.styled(meta, "$text-muted"),
                               *([Content.styled(others, "$text-muted italic")] if others else []),
                               _window(passage.get("text", ""), passage.get("quote") or "")])


class PassageItem(ListItem):
    """A passage in the panel; Enter or a click on it opens its article."""

    def __init__(self, passage: dict) -> None:
        super().__init__(Static(passage_content(passage), classes="passage-text"))
        self.passage = passage


class PeriodItem(ListItem):
    """A timeline period's heading in the panel: not a passage, so it can't be opened."""

    def __init__(self, period: str) -> None:
        super().__init__(Static(Content.styled(period, "bold $text-accent")), disabled=True)
        self.period = period
