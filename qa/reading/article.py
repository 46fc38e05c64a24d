"""What reading makes: an ``Article`` ready for indexing, or a ``ReadError`` saying what could not be read."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One article ready for indexing; `text` is cleaned and `content_hash` identifies duplicates."""

    id: str
    content_hash: str
    title: str
    text: str
    source: str
    url: str
    date: str | None
    # How ``date`` was found: one of qa.reading.dates.DATE_SOURCES, or None (undated, or stored before
    # qa recorded it). A default, so code that builds Articles without it keeps working.
    date_source: str | None = None

    def to_dict(self, text: bool = True) -> dict:
        """The article as JSON (``qa list --json`` without ``text``, the server's and MCP's article):
        every field but ``content_hash``, which only ingest compares."""
        return {"id": self.id, "title": self.title, "date": self.date, "date_source": self.date_source,
                "source": self.source, "url": self.url, **({"text": self.text} if text else {})}


@dataclass(frozen=True)
class ReadError:
    """A file or record that could not be read, reported instead of raised."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"
