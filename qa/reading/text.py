"""Bytes and HTML to text, as files.py and web.py both need it: UTF-8 that tolerates a few bad
bytes but refuses binary data, the text a reader would see on a page, a url's host."""
from __future__ import annotations

import re
from urllib.parse import urlparse

BINARY_SNIFF_BYTES = 8192
MAX_UNDECODABLE_SHARE = 0.05
_CONTROL_CHARS = frozenset(chr(code) for code in range(32)) - set("\t\n\r\f")
_HTML_DROPPED_TAGS = (
    "script", "style", "noscript", "template", "svg", "title", "nav", "header", "footer", "aside", "form",
)
_HTML_BLOCK_TAGS = (
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
)
_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class NotText(ValueError):
    """Bytes that are binary rather than (mostly) UTF-8 text (a file in files.py, a page in web.py)."""


def decode_text(data: bytes) -> str:
    """Decode UTF-8, tolerating a few bad bytes in otherwise textual data (e.g. stray Latin-1)."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise NotText("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
        sample = text[:BINARY_SNIFF_BYTES]  # valid UTF-8 can still be control bytes
        if sum(char in _CONTROL_CHARS for char in sample) > MAX_UNDECODABLE_SHARE * len(sample):
            raise NotText("binary file (control characters)")
        return text
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
    bad = text.count("\ufffd") + sum(char in _CONTROL_CHARS for char in text)
    if bad > MAX_UNDECODABLE_SHARE * len(text):
        raise NotText("binary file (not UTF-8 text)")
    return text


def url_host(url: str) -> str:
    """The host of ``url`` without ``www.`` ("" when it has none): an article's outlet when no
    source is given."""
    try:
        host = urlparse(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def visible_text(html: str) -> str:
    """Text a reader would see, minus scripts, styles and page chrome elements."""
    import lxml.html
    from lxml.etree import ParserError

    html = _XML_INCOMPATIBLE.sub(" ", html)  # lxml refuses control characters anywhere in the tree
    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return ""
    for element in list(root.iter(*_HTML_DROPPED_TAGS)):
        element.drop_tree()
    for element in root.iter(*_HTML_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return root.text_content()
