"""The storage seam: what a library is, whatever keeps it.

A library holds articles, their chunks (row ids, spans of the article's text),
one vector per chunk and a keyword index over the same chunks. Retrieval,
answering, the API, the TUI and ``qa doctor`` reach it only through
:class:`Library`, so a backend is a subclass that implements the abstract
methods below; ingest and remove are written once, here, on top of them.

A backend must:

* apply each :class:`~qa.library.change.Change` whole or not at all, under a
  lock that stops a second writer (``writing``/``commit``), so a reader (another
  object, another process) sees the library before or after a write, never between
  (rows a backend takes early through ``stage`` stay invisible until the commit);
* give every chunk an integer id (``row``) unique in the library, that ``chunks`` and
  ``vectors`` accept for as long as the chunk is there (the folder backend numbers them
  0..n-1 and renumbers after a removal; a server backend may derive them from the
  article id and the chunk's position);
* filter inside the search (``dense_search``/``keyword_search`` with
  :class:`~qa.library.filters.Filters`): k hits whenever k chunks match.

``tests/test_library_contract.py`` is the contract: run it over a new backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from qa.errors import LibraryError
from qa.library.change import Change
from qa.library.filters import Filters
from qa.library.ingest import ingest
from qa.library.reports import DoctorReport, IngestReport, RemoveReport
from qa.reading import Article, ReadError
from qa.reading.chunking import Chunk

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Hits = list[tuple[int, float]]               # (chunk row, score), best first


@dataclass(frozen=True)
class StoredChunk:
    row: int
    article: Article
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start:self.end]


def day_span(days: Iterable[str | None]) -> tuple[date, date] | None:
    """The first and last of ISO ``days`` (times and unreadable values ignored), or None."""
    found = []
    for day in days:
        try:
            found.append(date.fromisoformat(day[:10]))
        except (TypeError, ValueError):
            continue
    return (min(found), max(found)) if found else None


class Library(ABC):
    """One library. Open one with :func:`qa.library.open_library` (the backend follows the address)."""

    #: where it lives: a folder, or a URI naming a server and collection
    address: str | Path

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def exists(cls, address) -> bool:
        """Whether a library lives at ``address``."""

    @classmethod
    @abstractmethod
    def open(cls, address, encoder: Encoder | None = None) -> "Library":
        """The library at ``address``; a LibraryError if it is missing, damaged, or was made with
        another embedder than ``encoder`` (when given)."""

    @classmethod
    @abstractmethod
    def create(cls, address, encoder: Encoder) -> "Library":
        """An empty library made for ``encoder``'s vectors, or the existing one at ``address``."""

    @classmethod
    @abstractmethod
    def doctor(cls, address, repair: bool = True,
               get_encoder: Callable[[], Encoder] | None = None) -> DoctorReport:
        """Check the library's parts agree (and, with ``repair``, fix what can be fixed); works on a
        library too damaged to open."""

    @abstractmethod
    def refresh(self, encoder: Encoder | None = None) -> bool:
        """Move to what another process wrote since this one opened; True if anything changed."""

    @abstractmethod
    def close(self) -> None:
        """Let go of files and connections (a later read opens them again)."""

    # -- reading --------------------------------------------------------------------------------
    @property
    @abstractmethod
    def counts(self) -> dict:
        """``{"articles": n, "chunks": m}``."""

    @property
    @abstractmethod
    def name(self) -> str:
        """A short name for people (the folder's or collection's name)."""

    @abstractmethod
    def articles(self) -> list[Article]:
        """Every article, oldest first (undated last)."""

    @abstractmethod
    def date_range(self) -> tuple[date, date] | None:
        """The first and last days of the library's dated articles, None if none is dated: what a
        question naming another time is told ("Your library has nothing after …"). Cheap: the
        store's own minimum and maximum, not every article read."""

    @abstractmethod
    def article(self, article_id: str) -> Article | None: ...

    @abstractmethod
    def sources(self, article_id: str) -> list[str]:
        """The files an article was read from."""

    @abstractmethod
    def chunks(self, rows: Iterable[int]) -> list[StoredChunk]:
        """The chunks with these rows, in the order given (unknown rows left out)."""

    @abstractmethod
    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        """All chunks of one article, in text order."""

    @abstractmethod
    def chunk_texts(self) -> list[str]:
        """Every chunk with its title before it (``chunking.embed_text``: what the keyword index
        reads), in ``row`` order. What the encoder read depends on the library's chunking params
        (``chunking.encoder_texts``)."""

    @abstractmethod
    def vectors(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of these rows, exactly (float32, one row each)."""

    @abstractmethod
    def window_vectors(self, where: Filters | None = None) -> tuple[list[str], np.ndarray]:
        """Every chunk of the articles that pass ``where`` (all articles when None): its article's id
        and its stored vector, row for row. What ``qa stories`` groups: one read of a date window,
        not a search per article (Milvus: one query by the filter's expression)."""

    @abstractmethod
    def dense_search(self, vector: np.ndarray, k: int, where: Filters | None = None) -> Hits:
        """The ``k`` chunks nearest to ``vector`` by cosine, among those that pass ``where``."""

    @abstractmethod
    def keyword_search(self, query: str, k: int, where: Filters | None = None) -> Hits:
        """The ``k`` best chunks by BM25 that share a word with ``query`` and pass ``where``."""

    @abstractmethod
    def find(self, targets: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
        """Article ids for each target (an article id, a URL, or an ingested file or folder),
        and the targets that match nothing."""

    # -- writing --------------------------------------------------------------------------------
    @abstractmethod
    def writing(self, encoder: Encoder | None = None) -> AbstractContextManager[None]:
        """Hold the write lock and start from the newest state; inside it, reads see that state."""

    @abstractmethod
    def commit(self, change: Change, encoder: Encoder | None = None) -> None:
        """Apply ``change`` whole, inside :meth:`writing`; afterwards this object reads the result."""

    def stage(self, chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article]) -> bool:
        """Take encoded chunks of the write in progress before its commit (ingest hands over each
        batch as it is encoded, in order; ``articles`` holds the chunks' articles). True: the backend
        wrote them where no reader sees them before commit's switch, and commit gets only the
        chunks after them (``Change.staged``); a backend takes every batch or none. False (this
        default, the folder's): the caller keeps them, and commit writes them with the rest."""
        return False

    @property
    @abstractmethod
    def chunking(self) -> dict:
        """The chunking parameters the library was made with (``ChunkParams`` fields)."""

    @abstractmethod
    def known_hashes(self) -> dict[str, str]:
        """content hash -> article id, for every article (duplicates go in once)."""

    @abstractmethod
    def file_links(self) -> dict[str, set[str]]:
        """file path -> the ids of the articles it gave."""

    @abstractmethod
    def file_hashes(self) -> dict[str, str]:
        """file path -> sha256 of the bytes last ingested whole (unchanged files are skipped)."""

    def owns(self, path: Path) -> bool:
        """Whether ``path`` is one of the library's own files (ingest skips them)."""
        return False

    # -- written once for every backend ---------------------------------------------------------
    def add(self, paths: Iterable[str | Path], encoder: Encoder, progress: Progress | None = None,
            on_error: Callable[[ReadError], None] | None = None) -> IngestReport:
        """Read, chunk, embed and store articles. The same text goes in once; a file whose bytes
        did not change since it was last ingested is skipped; a file that changed replaces the
        articles it gave before. Bad files and lines are reported, not raised."""
        with self.writing(encoder):
            return ingest(self, paths, encoder, progress or (lambda stage, done, total: None), on_error)

    def remove(self, targets: Iterable[str]) -> RemoveReport:
        """Remove articles by id, URL, or the file or folder they were ingested from. Every
        target must match something, or nothing is removed."""
        targets = list(targets)
        with self.writing():
            found, unknown = self.find(targets)
            if unknown:
                raise LibraryError(f"nothing in library {self.address} matches: {', '.join(unknown)} "
                                   "(give an article id from `qa list`, a URL, or an ingested file or folder)")
            ids = sorted({aid for group in found.values() for aid in group})
            report = RemoveReport(removed=[a for a in (self.article(i) for i in ids) if a is not None])
            report.chunks = sum(len(self.article_chunks(i)) for i in ids)
            self.commit(Change(remove=set(ids)))
            return report
