"""Ingest: read → clean → chunk → encode (a queue, in a worker) → one commit, for every backend.

The files are walked and read (``qa.reading`` cleans them), each new article is
chunked, and its chunks go to the encoder's queue as they come, so reading and
chunking hide behind the encoder. Each encoded batch is offered to the library
(``Library.stage``): a backend that can write rows unseen until its switch (Milvus)
takes them then, so the driver does not hold every vector of a big archive; the
folder keeps them for the commit. The whole batch is one :class:`Change`: the
library holds all of it after the commit, or none of it.
Undated articles that are copies of dated ones take their date as their batch is
encoded (``twins.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
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


def ingest(library: "Library", paths: Iterable[str | Path], encoder: Encoder,
           progress: Callable[[str, int, int], None],
           on_error: Callable[[ReadError], None] | None) -> IngestReport:
    """Add what ``paths`` hold to ``library``, inside its :meth:`~Library.writing` block."""
    report = IngestReport()
    known = library.known_hashes()
    links = library.file_links()
    seen_files = library.file_hashes()
    params = ChunkParams.from_dict(library.chunking)
    mixer = TitleMixer(params)  # the queue's rows (titles and chunks) -> one vector per chunk
    change = Change(articles=report.added)
    counter = encoder.token_counter()
    kept: list[np.ndarray] = []  # vectors the library did not stage, for the commit
    encoded = 0
    articles: dict[str, Article] = {}

    twins = TwinDater(library)
    position: dict[str, int] = {}  # article id -> its place in report.added

    def take(vectors: np.ndarray) -> None:
        nonlocal encoded
        vectors = mixer(vectors)
        if not len(vectors):  # a batch that ended on an article's title: its chunks come next
            return
        chunks = change.chunks[encoded:encoded + len(vectors)]
        encoded += len(vectors)
        for article in twins.date(chunks, vectors, articles):
            articles[article.id] = report.added[position[article.id]] = article
        if library.stage(chunks, vectors, articles):
            change.staged = encoded
        else:
            kept.append(vectors)

    with EncodingQueue(encoder, lambda done, total: progress("embed", done, total), take) as queue:
        now: dict[str, set[str]] = {}  # files read whole: path -> the articles they hold now

        def fail(error: ReadError) -> None:
            report.errors.append(error)
            if on_error:
                on_error(error)

        for item in walk_paths(paths, ignored=report.ignored):
            if isinstance(item, ReadError):
                fail(item)
                continue
            key = str(item.resolve())
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
                change.chunks += pieces
                texts = [c.text for c in pieces]
                mixer.expect(art.title, texts)
                queue.add(encoder_texts(art.title, texts, params))
                progress("read", len(report.added), 0)
            change.links |= {(key, aid) for aid in holds}
            if whole:
                now[key] = now.get(key, set()) | holds
                if clean and digest is not None:
                    change.files[key] = digest
                    seen_files[key] = digest[0]
        report.chunks = len(change.chunks)

        # A file that now holds other articles than before: drop the old links, and the old
        # articles that no file holds any more (replaced by the file's new content).
        for key, holds in now.items():
            change.unlinks |= {(key, aid) for aid in links.get(key, set()) - holds}
        change.links -= {(p, a) for p, a in change.links if a in links.get(p, set())}
        if change.unlinks:
            still = _linked_articles(links, change)
            change.remove = {aid for _, aid in change.unlinks if aid not in still}
            report.removed = sorted(change.remove)
        if change.empty:
            return report
        queue.finish()
        if kept:
            change.vectors = np.vstack(kept)
        library.commit(change, encoder)
        return report


def _linked_articles(links: dict[str, set[str]], change: Change) -> set[str]:
    """Articles that some file still holds after the change's unlinks and links."""
    still = {(p, a) for p, ids in links.items() for a in ids}
    still = (still - change.unlinks) | change.links
    return {a for _, a in still}
