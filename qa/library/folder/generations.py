"""How a folder library is written atomically: build generation N+1 beside N, sync, switch, clean up.

Every write (ingest, remove, doctor) copies the store to ``store-N+1.db``,
applies its :class:`Change` there, writes the vectors and keyword index it
changed as ``index-N+1.faiss`` and ``bm25-N+1/``, fsyncs them and the folder,
and only then replaces ``manifest.json`` (write a temporary file, fsync,
``os.replace``, fsync the folder): the one step that switches readers from N
to N+1, as SQLite's journal commit does. A crash at any moment leaves the
library as it was before or after, never half-written. Files of other
generations are deleted after the switch and by the next writer, which holds
``.ingest.lock`` (an fcntl lock: the kernel drops it when its holder dies, so
a killed ingest never blocks the next one).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from embeddings.encoder import Encoder
from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex
from qa.errors import LibraryError
from qa.library.change import Change
from qa.library.folder.checks import load_index_file
from qa.library.folder.store import chunk_pairs, chunk_texts, write_change
from qa.library.manifest import MANIFEST, doctor_hint, read_manifest
from qa.reading.chunking import ChunkParams, chunk_vectors

if TYPE_CHECKING:
    from filelock import FileLock

LOCK = ".ingest.lock"
FULL_BYTES = 1 << 20  # a write that failed with less free space than this failed because the disk is full

# Names qa writes inside a library folder; only these are ever deleted there.
OWN_NAME = re.compile(r"(store-\d+\.db(-journal|-wal|-shm)?|index-\d+\.faiss|bm25-\d+|manifest\.json(\.\d+)?\.tmp)")

# Test hook: called with the name of each step of a write ("store-copied", "manifest-replaced", ...)
# so that crash tests can kill the process at exact moments. None in normal use.
CHECKPOINT: Callable[[str], None] | None = None


def checkpoint(step: str) -> None:
    if CHECKPOINT is not None:
        CHECKPOINT(step)


def fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_IMPORT = threading.Lock()  # filelock is imported by the first writer (readers never lock), once


def write_lock(path: Path, timeout: float = 0) -> "FileLock":
    with _IMPORT:
        from filelock import FileLock
    return FileLock(str(path / LOCK), timeout=timeout)


def is_lock_timeout(error: BaseException) -> bool:
    """Whether ``error`` is filelock's Timeout (filelock is loaded: a lock was made first)."""
    from filelock import Timeout

    return isinstance(error, Timeout)


@contextmanager
def holding_write_lock(path: Path, timeout: float) -> Iterator[None]:
    """The library's write lock, or a LibraryError saying another writer holds it."""
    lock = write_lock(path, timeout)
    from filelock import Timeout

    try:
        lock.acquire()
    except Timeout:
        raise LibraryError(f"another qa command (ingest, remove or doctor) is writing to {path}; "
                           "wait for it to finish and try again") from None
    except OSError as e:  # the lock file cannot be made: a read-only or full disk
        raise LibraryError(f"cannot write to library {path}: {disk_error(path, e)}") from None
    try:
        yield
    finally:
        lock.release()


def write_manifest(path: Path, manifest: dict) -> None:
    """Switch the library to ``manifest``: the commit point of every write."""
    tmp = path / f"{MANIFEST}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    checkpoint("manifest-written")
    os.replace(tmp, path / MANIFEST)
    checkpoint("manifest-replaced")
    fsync(path)


@contextmanager
def failed_writes_undone(path: Path, keep: Iterable[str]) -> Iterator[None]:
    """Around a write: if it fails, delete what it wrote (the files ``keep`` does not name) and
    turn a failure of the disk (read-only, full, gone) into one LibraryError naming the folder."""
    try:
        yield
    except BaseException as e:
        try:
            try:  # the switch may have happened (a failed fsync after it): keep what the manifest names
                keep = read_manifest(path)["files"].values()
            except LibraryError:
                pass
            remove_leftovers(path, keep)
        except OSError:
            pass  # a read-only folder: nothing could be written there either
        if (isinstance(e, OSError) and not is_lock_timeout(e)) or (
                isinstance(e, sqlite3.OperationalError) and "disk" in str(e)):
            raise LibraryError(f"cannot write to library {path}: {disk_error(path, e)}; "
                               "the library is as it was before this write") from None
        raise


def disk_error(path: Path, error: BaseException) -> str:
    """What stopped a write, in words: the errno's text, or for errors without one (numpy's
    "N requested and M written", SQLite's "database or disk is full") what the disk says."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.strerror or str(error)
    try:
        if shutil.disk_usage(path).free < FULL_BYTES:
            return "no space left on device"
    except OSError:
        pass
    return str(error)


def remove_leftovers(path: Path, keep: Iterable[str]) -> list[str]:
    """Delete files qa wrote that the manifest does not name (old generations, crashed writes)."""
    keep = set(keep) | {MANIFEST}
    removed = []
    for entry in sorted(path.iterdir()):
        if entry.name in keep or not OWN_NAME.fullmatch(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def remove_new_library(path: Path, folder_too: bool) -> None:
    """Delete a library that was created empty by this command and given nothing (generation 0:
    a manifest and a lock, no data), and its folder if the command made that too."""
    with holding_write_lock(path, 0):  # another command may be writing its first articles
        if read_manifest(path)["generation"]:
            return
        (path / MANIFEST).unlink()
    (path / LOCK).unlink(missing_ok=True)
    if folder_too:
        try:
            path.rmdir()
        except OSError:
            pass  # something else was put there meanwhile: leave it


def build_next(path: Path, manifest: dict, change: Change, encoder: Encoder | None = None) -> dict:
    """Write generation N+1 with ``change`` applied beside N and sync it; returns the manifest
    that names it (not yet written: :func:`write_manifest` switches to it)."""
    old = dict(manifest["files"])
    gen = manifest["generation"] + 1
    dim = manifest["embedder"]["dim"]
    remove_leftovers(path, old.values())
    checkpoint("commit-start")
    store = f"store-{gen}.db"
    if old:
        shutil.copyfile(path / old["store"], path / store)
    checkpoint("store-copied")
    db = sqlite3.connect(path / store)
    try:
        db.execute("PRAGMA journal_mode = OFF")  # a private file until the manifest names it
        db.execute("PRAGMA synchronous = OFF")   # synced below, before the switch
        db.execute("PRAGMA trusted_schema = OFF")
        before = db.execute("SELECT count(*) FROM chunks").fetchone()[0] if old else 0
        kept = write_change(db, change)
        n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        n_chunks, low, high = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
        if n_chunks and (low, high) != (0, n_chunks - 1):
            raise LibraryError(f"library {path}: chunk rows are not 0..{n_chunks - 1} after the write; "
                               f"nothing was changed. {doctor_hint(path)}")
        texts = chunk_texts(db) if change.rows_change or change.rebuild_keywords or not old else None
        pairs = chunk_pairs(db) if change.reencode else None
    finally:
        db.close()
    checkpoint("store-written")
    files = {"store": store, "index": old.get("index"), "bm25": old.get("bm25")}
    if change.rows_change or not old:
        index = _next_index(path, old, dim, before, kept, change, pairs, encoder,
                             ChunkParams.from_dict(manifest["chunking"]))
        if len(index) != n_chunks:
            raise LibraryError(f"library {path}: {len(index)} vectors for {n_chunks} chunks; "
                               "nothing was changed")
        files["index"] = f"index-{gen}.faiss"
        index.save(path / files["index"])
        checkpoint("index-saved")
    if texts is not None:
        files["bm25"] = f"bm25-{gen}"
        KeywordIndex.build(texts).save(path / files["bm25"])
        checkpoint("bm25-saved")
    for name in (files["store"], files["index"]):
        fsync(path / name)
    if files["bm25"] != old.get("bm25"):
        bm25_dir = path / files["bm25"]
        for entry in bm25_dir.iterdir():
            fsync(entry)
        fsync(bm25_dir)
    fsync(path)  # the new names are on disk before the manifest that points at them
    checkpoint("synced")
    return dict(manifest, generation=gen, files=files,
                counts={"articles": n_articles, "chunks": n_chunks},
                updated=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _next_index(path: Path, old: dict, dim: int, before: int, kept: list[int] | None, change: Change,
                pairs: list[tuple[str, str]] | None, encoder: Encoder | None, params: ChunkParams) -> VectorIndex:
    """Generation N+1's vectors: all re-made (doctor: from ``pairs``, as the library's chunking
    params make them), or N's rows that were kept plus the new ones."""
    index = VectorIndex(dim)
    if change.reencode:
        if pairs:
            index.add(chunk_vectors(encoder, pairs, params))
        return index
    if old and (kept is None or kept):
        previous = load_index_file(path / old["index"], dim, None)
        if len(previous) != before:
            raise LibraryError(f"library {path} is inconsistent: {before} chunks stored, "
                               f"{len(previous)} vectors indexed; {doctor_hint(path)}")
        index = previous if kept is None else previous.empty_like()
        if kept is not None:
            index.add(previous.vectors(kept))
    if change.vectors is not None:
        index.add(change.vectors)
    return index
