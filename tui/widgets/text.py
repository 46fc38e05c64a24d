"""Text helpers the widgets share: finding a quoted sentence in its article and the style that
marks it, and escaping text for Markdown. Not a widget: the answer, the passage list and the
article screen each use them."""
from __future__ import annotations

import re

QUOTE_STYLE = "bold $text-accent on $accent-muted"  # the quoted sentence, wherever it is shown
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    """``text`` on one line, with Markdown's special characters escaped (a title is not markup)."""
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
