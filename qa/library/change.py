"""One write to a library: the articles, chunks and vectors it adds, and what it drops.

Ingest, remove and doctor each describe their write as a :class:`Change`; a
backend applies it whole or not at all (``Library.commit``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.reading import Article
from qa.reading.chunking import Chunk


@dataclass
class Change:
    """One write: what a new generation adds to and drops from the current one."""

    articles: list[Article] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)          # of new or existing articles
    vectors: np.ndarray | None = None                          # one row per chunk not staged
    staged: int = 0                   # the first chunks, already written by Library.stage
    remove: set[str] = field(default_factory=set)              # article ids
    drop_rows: set[int] = field(default_factory=set)           # chunk rows (doctor)
    links: set[tuple[str, str]] = field(default_factory=set)   # (file path, article id)
    unlinks: set[tuple[str, str]] = field(default_factory=set)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (sha256, size)
    renumber: bool = False            # doctor: rows are not 0..n-1
    reencode: bool = False            # doctor: make every vector again with the encoder
    rebuild_keywords: bool = False    # doctor: rebuild BM25 even if the rows did not change
    manifest_only: bool = False       # doctor: only the manifest (counts) needs rewriting

    @property
    def rows_change(self) -> bool:
        return bool(self.chunks or self.remove or self.drop_rows or self.reencode or self.renumber)

    @property
    def empty(self) -> bool:
        return not (self.rows_change or self.links or self.unlinks or self.files or self.rebuild_keywords
                    or self.manifest_only)

