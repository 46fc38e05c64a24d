"""Ingest: read → clean → chunk → encode (a queue, in a worker) → commit, in steps, for every backend.

The files are walked and read (``qa.reading`` cleans them), each new article is
chunked, and its chunks go to the encoder's queue as they come, so reading and
chunking hide behind the encoder. Each encoded batch is offered to the library
(``Library.stage``): a backend that can write rows unseen until its switch (Milvus)
takes them then, so the driver does not hold every vector of a big archive; the
folder keeps them for the commit. Each step (``STEP_S`` seconds of work, and
the rest at the end) is one :class:`Change`: the library holds all of it after
its commit, or none of it; a killed ingest keeps the steps committed before.
Undated articles that are copies of dated ones take their date as their batch is
encoded (``twins.py``).
"""
from __future__ import annotations

import errno
import os
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.encoder import Encoder, EncodingQueue
from qa.reading.chunking import ChunkParams, TitleMixer, chunk_text, encoder_texts
from qa.library.change import Change
from qa.library.reports import IngestReport
from qa.library.twins import TwinDater
from qa.reading import Article, ReadError, file_digest, is_supported, read_file, walk_paths

if TYPE_CHECKING:
    from qa.library.base import Library

# A long ingest commits what it has every STEP_S seconds (each step the same atomic switch as one
# commit), so that a kill loses at most this much work and the next run goes on from there:
# files already read are skipped by their hash, articles already stored by their content's.
STEP_S = 300.0


def ingest(library: "Library", paths: Iterable[str | Path], encoder: Encoder,
           progress: Callable[[str, int, int], None],
           on_error: Callable[[ReadError], None] | None, step_s: float | None = None,
           clock: Callable[[], float] = time.monotonic) -> IngestReport:
    """Add what ``paths`` hold to ``library``, inside its :meth:`~Library.writing` block, committing
    every ``step_s`` (default :data:`STEP_S`) seconds of ``clock`` and at the end."""
    step_s = STEP_S if step_s is None else step_s
    report = IngestReport()
    known = library.known_hashes()
    links = library.file_links()
    seen_files = library.file_hashes()
    params = ChunkParams.from_dict(library.chunking)
    mixer = TitleMixer(params)  # the queue's rows (titles and chunks) -> one vector per chunk
    counter = encoder.token_counter()
    articles: dict[str, Article] = {}
    twins = TwinDater(library)
    position: dict[str, int] = {}  # article id -> its place in report.added
    rows = RowsToChunks()
    step = _Step(0, clock())

    def take(vectors: np.ndarray) -> None:
        vectors = mixer(vectors)
        if not len(vectors):  # a batch that ended on an article's title: its chunks come next
            return
        chunks = step.change.chunks[step.encoded:step.encoded + len(vectors)]
        step.encoded += len(vectors)
        for article in twins.date(chunks, vectors, articles):
            articles[article.id] = report.added[position[article.id]] = article
        if library.stage(chunks, vectors, articles):
            step.change.staged = step.encoded
        else:
            step.kept.append(vectors)

    def commit(change: Change) -> None:
        queue.flush()  # every chunk of the step has its vector (take) before the switch
        change.articles = report.added[step.first:]
        if step.kept:
            change.vectors = np.vstack(step.kept)
        library.commit(change, encoder)

    with EncodingQueue(encoder, lambda done, _: progress("embed", rows.chunks(done), rows.total_chunks),
                       take) as queue:
        now: dict[str, set[str]] = {}  # files read whole: path -> the articles they hold now

        def fail(error: ReadError) -> None:
            report.errors.append(error)
            if on_error:
                on_error(error)

        for item in walk_paths(paths, ignored=report.ignored):
            if isinstance(item, ReadError):
                fail(item)
                continue
            key = file_key(item)
            if isinstance(key, ReadError):
                fail(key)
                continue
            if library.owns(item):  # the library's own files, inside a folder being ingested
                continue
            try:
                digest = file_digest(item) if is_supported(item) and item.is_file() else None
            except OSError as e:
                fail(ReadError(str(item), None, f"cannot read file: {e.strerror or e}"))
                continue
            if digest is not None and seen_files.get(key) == digest[0]:
                report.unchanged.append(str(item))
                report.duplicates += sorted(now.get(key) or links.get(key, ()))
                continue
            holds: set[str] = set()
            whole = True   # False when the file as a whole failed: keep what it gave before
            clean = True   # no errors at all: remember its hash to skip it next time
            for art in read_file(item):
                if isinstance(art, ReadError):
                    fail(art)
                    clean = False
                    whole = whole and art.line is not None
                    continue
                if art.content_hash in known:
                    report.duplicates.append(art.id)
                    holds.add(known[art.content_hash])
                    continue
                pieces = chunk_text(art.id, art.title, art.text, counter, params)
                if not pieces:
                    fail(ReadError(str(item), None, f"{art.id}: no text to index"))
                    clean = False
                    continue
                known[art.content_hash] = art.id
                holds.add(art.id)
                position[art.id] = len(report.added)
                report.added.append(art)
                articles[art.id] = art
                step.change.chunks += pieces
                report.chunks += len(pieces)
                texts = [c.text for c in pieces]
                mixer.expect(art.title, texts)
                queued = encoder_texts(art.title, texts, params)
                rows.add(len(queued), len(texts))
                queue.add(queued)
                progress("read", len(report.added), 0)
                if step.due(clock, step_s):  # a step in a long file: what it gave so far, linked to it
                    step.change.links |= {(key, aid) for aid in holds}
                    commit(step.change)
                    step = _Step(len(report.added), clock())
            step.change.links |= {(key, aid) for aid in holds}
            if whole:
                now[key] = now.get(key, set()) | holds
                if clean and digest is not None:
                    step.change.files[key] = digest
                    seen_files[key] = digest[0]
            if step.due(clock, step_s):
                commit(step.change)
                step = _Step(len(report.added), clock())

        # A file that now holds other articles than before: drop the old links, and the old
        # articles that no file holds any more (replaced by the file's new content).
        change = step.change
        for key, holds in now.items():
            change.unlinks |= {(key, aid) for aid in links.get(key, set()) - holds}
        change.links -= {(p, a) for p, a in change.links if a in links.get(p, set())}
        if change.unlinks:
            still = _linked_articles(links, change)
            change.remove = {aid for _, aid in change.unlinks if aid not in still}
            report.removed = sorted(change.remove)
        if not change.empty:
            commit(change)
        return report


@dataclass
class _Step:
    """The part of an ingest not committed yet: one :class:`Change`, switched to whole."""

    first: int  # the place of its first article in the report's list
    started: float  # by the ingest's clock
    change: Change = field(default_factory=Change)
    kept: list[np.ndarray] = field(default_factory=list)  # vectors the library did not stage
    encoded: int = 0  # its chunks with vectors so far

    def due(self, clock: Callable[[], float], step_s: float) -> bool:
        return not self.change.empty and clock() - self.started >= step_s


class RowsToChunks:
    """Counts the encoder's rows (a title row, then the chunks, per article) as chunks, so that
    the progress bar ends at the number of chunks the summary gives, not at chunks + titles."""

    def __init__(self) -> None:
        self._starts: list[tuple[int, int, int, int]] = []  # per article: first row, first chunk, titles, chunks
        self.total_rows = self.total_chunks = 0

    def add(self, n_rows: int, n_chunks: int) -> None:
        self._starts.append((self.total_rows, self.total_chunks, n_rows - n_chunks, n_chunks))
        self.total_rows += n_rows
        self.total_chunks += n_chunks

    def chunks(self, rows_done: int) -> int:
        """How many chunks the first ``rows_done`` rows hold (called from the encoder's thread)."""
        i = bisect_right(self._starts, rows_done, key=lambda s: s[0]) - 1
        if i < 0:
            return 0
        row, chunk, titles, n = self._starts[i]
        return chunk + max(0, min(n, rows_done - row - titles))


def file_key(path: Path) -> str | ReadError:
    """The name a file is known by (its resolved path), or why it cannot be ingested: a name that
    is not UTF-8 cannot be stored (SQLite, JSON and the terminal take text), and a symlink loop
    leads to no file."""
    shown = printable_path(path)
    if shown != str(path):
        return ReadError(shown, None, "file name is not valid UTF-8; rename the file to ingest it")
    try:
        return str(path.resolve())
    except (RuntimeError, OSError) as e:  # 3.11 says RuntimeError("Symlink loop ..."), later ones ELOOP
        why = "symlink loop" if isinstance(e, RuntimeError) or e.errno == errno.ELOOP else e.strerror or str(e)
        return ReadError(str(path), None, f"cannot read file: {why}")


def printable_path(path: Path | str) -> str:
    """``path`` as text that prints: bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _linked_articles(links: dict[str, set[str]], change: Change) -> set[str]:
    """Articles that some file still holds after the change's unlinks and links."""
    still = {(p, a) for p, ids in links.items() for a in ids}
    still = (still - change.unlinks) | change.links
    return {a for _, a in still}
