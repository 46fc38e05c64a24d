"""One generation of a folder library opened for reading ("pinned"): its store, FAISS file and
keyword index, each checked against the manifest before anything reads it.

A reader keeps these files open: a writer's later switch to the next generation, which deletes
them, does not disturb it (Linux keeps a deleted file's data while it is open).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import IO, NamedTuple

from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex
from qa.errors import LibraryError
from qa.library.folder.checks import Damaged, Vanished, check_index_file, load_keywords, read_index
from qa.library.folder.store import describe_error, open_store, store_shape
from qa.library.manifest import doctor_hint


class Pinned(NamedTuple):
    db: sqlite3.Connection
    index_file: IO[bytes]
    keywords: KeywordIndex


def pin(path: Path, manifest: dict) -> Pinned:
    """The files of ``manifest``'s generation of the library at ``path``, open and checked. Raises
    Vanished if one is gone (a writer may have switched since the manifest was read), LibraryError
    naming the file if one is damaged; what it opened is closed again."""
    files, counts = manifest["files"], manifest["counts"]
    db = index_file = None
    where = path / files["store"]
    try:
        db = open_store(where)
        n_articles, n_chunks, low, high = store_shape(db)
        if (n_articles, n_chunks) != (counts["articles"], counts["chunks"]) or (
                n_chunks and (low, high) != (0, n_chunks - 1)):
            raise Damaged(f"it holds {n_articles} articles and {n_chunks} chunks (rows {low}..{high}); "
                          f"the manifest says {counts['articles']} and {counts['chunks']}")
        where = path / files["index"]
        try:
            index_file = open(where, "rb")
        except FileNotFoundError:
            raise Vanished(where) from None
        check_index_file(index_file, manifest["embedder"]["dim"], n_chunks)
        where = path / files["bm25"]
        return Pinned(db, index_file, load_keywords(where, n_chunks))
    except BaseException as e:
        for opened in (db, index_file):
            if opened is not None:
                opened.close()
        if isinstance(e, (Damaged, sqlite3.Error, OSError)):
            why = describe_error(e) if isinstance(e, sqlite3.Error) else e
            raise LibraryError(f"library file {where} is damaged ({why}); {doctor_hint(path)}") from None
        raise


def mapped_index(path: Path, manifest: dict, index_file: IO[bytes] | None) -> VectorIndex:
    """The pinned FAISS file's index, memory-mapped (an empty one for a library with no files yet);
    a LibraryError naming the file when FAISS cannot read it."""
    dim = manifest["embedder"]["dim"]
    if index_file is None:
        return VectorIndex(dim)
    try:
        return read_index(index_file, dim, mapped=True)
    except (RuntimeError, OSError, ValueError) as e:
        raise LibraryError(f"library index {path / manifest['files']['index']} "
                           f"is unreadable ({e}); {doctor_hint(path)}") from None
