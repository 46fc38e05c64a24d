"""The folder backend's library class: opening (a generation pinned by ``pinned.py``), reading
and searching the pinned files, and writing the next generation through ``generations.py``. The
layout, how readers and writers share it, and why no file is a pickle: the package's docstring.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from embeddings.encoder import Encoder
from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex
from qa.reading.chunking import ChunkParams
from qa.errors import LibraryError
from qa.library.base import Hits, Library, StoredChunk, day_span
from qa.library.change import Change
from qa.library.filters import Filters
from qa.library.folder import generations
from qa.library.folder.checks import Vanished
from qa.library.folder.doctor import doctor as check_folder
from qa.library.folder.generations import LOCK, checkpoint, holding_write_lock, remove_leftovers
from qa.library.folder.pinned import mapped_index, pin
from qa.library.folder.store import (ChunkOwners, all_articles, article_spans, articles_named, chunk_spans,
                                     chunk_texts, date_bounds, describe_error, file_hashes, ids_by_hash,
                                     links_by_path, read_article, source_paths)
from qa.library.manifest import MANIFEST, check_embedder, doctor_hint, new_manifest, read_manifest
from qa.library.reports import DoctorReport
from qa.reading import Article

if TYPE_CHECKING:
    from filelock import FileLock

OPEN_ATTEMPTS = 5     # re-reads of the manifest when a writer switched generations under a reader
CREATE_WAIT_S = 10.0  # how long creating a library waits for another process creating it
MATCHES_KEPT = 16     # filters whose rows are kept (a chat asks several questions under one filter)


class FolderLibrary(Library):
    """One library directory. Open with :meth:`open` or :meth:`create`."""

    lock_timeout: float = 0  # seconds a write waits for another writer; 0: stop at once with a message

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = self.address = path
        self.manifest = manifest
        self._db: sqlite3.Connection | None = None
        self._index_file: IO[bytes] | None = None
        self._index: VectorIndex | None = None
        self._keywords: KeywordIndex | None = None
        self._articles: dict[str, Article] = {}
        self._owners: ChunkOwners | None = None      # read when a search is first filtered
        self._matches: dict[Filters, np.ndarray] = {}  # rows that pass recent filters
        self._io = threading.Lock()
        self._pinned = False  # the generation's files are open (see _pin); reopened on use after close()

    # -- opening -----------------------------------------------------------------
    @classmethod
    def exists(cls, path: Path | str) -> bool:
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def open(cls, path: Path | str, encoder: Encoder | None = None) -> "FolderLibrary":
        """Open an existing library at its current generation, refusing one made with another
        format or embedder, and one whose files are damaged."""
        path = Path(path)
        for attempt in range(OPEN_ATTEMPTS):
            manifest = read_manifest(path)
            check_embedder(manifest, path, encoder)
            lib = cls(path, manifest)
            checkpoint("manifest-read")
            try:
                lib._pin()
                return lib
            except (Vanished, LibraryError) as e:
                # A writer may have switched generations (and deleted these files) since the
                # manifest was read: if so, read it again; if not, the library is damaged.
                if attempt + 1 < OPEN_ATTEMPTS and read_manifest(path)["generation"] != manifest["generation"]:
                    continue
                if isinstance(e, Vanished):
                    raise LibraryError(f"library file {e} is missing; {doctor_hint(path)}") from None
                raise
        raise AssertionError("unreachable")

    @classmethod
    def create(cls, path: Path | str, encoder: Encoder, params: ChunkParams = ChunkParams()) -> "FolderLibrary":
        """An empty library (generation 0, no files yet), or the existing one at ``path``."""
        path = Path(path)
        if cls.exists(path):
            return cls.open(path, encoder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryError(f"cannot create library folder {path}: {e.strerror or e}") from None
        manifest = new_manifest(encoder, params)
        try:
            with generations.failed_writes_undone(path, ()), cls(path, manifest).lock(CREATE_WAIT_S):
                if not cls.exists(path):
                    generations.write_manifest(path, manifest)
        except Exception as e:
            if not generations.is_lock_timeout(e):
                raise
            if not cls.exists(path):
                raise LibraryError(f"another qa command holds {path / LOCK}; try again when it is done") from None
        return cls.open(path, encoder)

    @classmethod
    def doctor(cls, path: Path | str, repair: bool = True,
               get_encoder: Callable[[], Encoder] | None = None) -> DoctorReport:
        return check_folder(Path(path), repair, get_encoder, cls.lock_timeout, cls)

    def _pin(self) -> None:
        """Open this generation's files now; raises Vanished if one is gone, LibraryError if damaged."""
        self._pinned = True
        if not self.manifest["files"]:
            return
        try:
            self._db, self._index_file, self._keywords = pin(self.path, self.manifest)
        except BaseException:
            self.close()
            raise

    def _switch_to(self, manifest: dict) -> None:
        """Drop what is open and pin ``manifest``'s generation."""
        self.close()
        self.manifest = manifest
        self._pin()

    def refresh(self, encoder: Encoder | None = None) -> bool:
        """Move to the newest generation if another process wrote one; True if it did."""
        manifest = read_manifest(self.path)
        if manifest["generation"] == self.manifest["generation"]:
            return False
        check_embedder(manifest, self.path, encoder)
        fresh = type(self).open(self.path, encoder)
        self.close()
        self._adopt(fresh)
        return True

    def _adopt(self, fresh: "FolderLibrary") -> None:
        """Take over another (just opened) Library's pinned generation."""
        self.manifest, self._db, self._index_file, self._keywords = (
            fresh.manifest, fresh._db, fresh._index_file, fresh._keywords)
        fresh._db = fresh._index_file = None
        fresh._pinned = False
        self._pinned = True

    @property
    def params(self) -> ChunkParams:
        return ChunkParams.from_dict(self.manifest["chunking"])

    @property
    def chunking(self) -> dict:
        return dict(self.manifest["chunking"])

    @property
    def counts(self) -> dict:
        return self.manifest["counts"]

    @property
    def name(self) -> str:
        return self.path.name

    def owns(self, path: Path) -> bool:
        return self.path.resolve() in Path(path).resolve().parents

    # -- reading -----------------------------------------------------------------
    def _ensure(self) -> None:
        """After close(), open the files again: this generation's if they are still there, else the
        current one's."""
        if self._pinned:
            return
        try:
            self._pin()
        except Vanished:
            self._adopt(type(self).open(self.path))

    def _connect(self) -> sqlite3.Connection | None:
        self._ensure()
        return self._db

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise LibraryError(f"library store {self.path / self.manifest['files'].get('store', '?')} "
                               f"is damaged ({describe_error(e)}); {doctor_hint(self.path)}") from None

    @property
    def index(self) -> VectorIndex:
        """The FAISS index of this generation, memory-mapped on first use."""
        if self._index is None:
            self._ensure()
            with self._io:
                if self._index is None:
                    self._index = mapped_index(self.path, self.manifest, self._index_file)
        return self._index

    @property
    def keyword_index(self) -> KeywordIndex:
        self._ensure()
        if self._keywords is None:
            self._keywords = KeywordIndex()
        return self._keywords

    def _matching(self, where: Filters | None) -> np.ndarray | None:
        """The rows that pass ``where``; None when there is nothing to filter."""
        if not where:
            return None
        if where in self._matches:
            return self._matches[where]
        db = self._connect()
        if db is None:
            return np.zeros(0, np.int64)
        with self._reading():
            if self._owners is None:
                self._owners = ChunkOwners(db)
            rows = self._owners.matching(db, where)
        if len(self._matches) >= MATCHES_KEPT:
            self._matches.clear()
        self._matches[where] = rows  # a question searches twice (dense, keywords) with its filters
        return rows

    def dense_search(self, vector: np.ndarray, k: int, where: Filters | None = None) -> Hits:
        scores, rows = self.index.search(vector, k, within=self._matching(where))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def keyword_search(self, query: str, k: int, where: Filters | None = None) -> Hits:
        scores, rows = self.keyword_index.search(query, k, within=self._matching(where))
        return [(int(r), float(s)) for r, s in zip(rows, scores)]

    def vectors(self, rows: list[int]) -> np.ndarray:
        return self.index.vectors(rows)

    def window_vectors(self, where: Filters | None = None) -> tuple[list[str], np.ndarray]:
        db = self._connect()
        if db is None:
            return [], np.zeros((0, self.manifest["embedder"]["dim"]), np.float32)
        with self._reading():
            if self._owners is None:
                self._owners = ChunkOwners(db)
            owners = self._owners
        rows = self._matching(where) if where else owners.rows
        names = list(owners.ids)
        owner = owners.owner[np.searchsorted(owners.rows, rows)]
        return [names[i] for i in owner], self.index.vectors(rows.tolist())

    def chunk_texts(self) -> list[str]:
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            return chunk_texts(db)

    def articles(self) -> list[Article]:
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            return all_articles(db)

    def date_range(self) -> tuple[date, date] | None:
        db = self._connect()
        if db is None:
            return None
        with self._reading():
            bounds = date_bounds(db)
        return day_span(bounds)

    def article(self, article_id: str) -> Article | None:
        if article_id not in self._articles:
            db = self._connect()
            if db is None:
                return None
            with self._reading():
                article = read_article(db, article_id)
            if article is None:
                return None
            self._articles[article_id] = article
        return self._articles[article_id]

    def chunks(self, rows: Iterable[int]) -> list[StoredChunk]:
        rows = [int(r) for r in rows]
        db = self._connect()
        if db is None or not rows:
            return []
        with self._reading():
            found = chunk_spans(db, rows)
        out = []
        for r in rows:
            if r in found:
                aid, s, e = found[r]
                article = self.article(aid)
                if article is not None:
                    out.append(StoredChunk(r, article, s, e))
        return out

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        db = self._connect()
        article = self.article(article_id)
        if db is None or article is None:
            return []
        with self._reading():
            spans = article_spans(db, article_id)
        return [StoredChunk(r, article, s, e) for r, s, e in spans]

    def sources(self, article_id: str) -> list[str]:
        """The files an article was read from (empty for articles ingested before qa recorded them)."""
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            return source_paths(db, article_id)

    def known_hashes(self) -> dict[str, str]:
        db = self._db
        with self._reading():
            return ids_by_hash(db) if db else {}

    def file_links(self) -> dict[str, set[str]]:
        with self._reading():
            return links_by_path(self._db) if self._db else {}

    def file_hashes(self) -> dict[str, str]:
        with self._reading():
            return file_hashes(self._db) if self._db else {}

    def find(self, targets: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
        db = self._db
        found: dict[str, list[str]] = {}
        unknown: list[str] = []
        for target in targets:
            ids: list[str] = []
            if db is not None:
                with self._reading():
                    ids = articles_named(db, target)
            if ids:
                found[target] = sorted(set(ids))
            else:
                unknown.append(target)
        return found, unknown

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._index_file is not None:
            self._index_file.close()
            self._index_file = None
        self._index = None
        self._keywords = None
        self._articles.clear()
        self._owners = None
        self._matches.clear()
        self._pinned = False

    # -- writing -----------------------------------------------------------------
    def lock(self, timeout: float = 0) -> "FileLock":
        return generations.write_lock(self.path, timeout)

    @contextmanager
    def writing(self, encoder: Encoder | None = None) -> Iterator[None]:
        """Hold the write lock and start from the current generation (another process may have
        written since we opened)."""
        with holding_write_lock(self.path, self.lock_timeout):
            try:
                manifest = read_manifest(self.path)
                check_embedder(manifest, self.path, encoder)
                self._switch_to(manifest)
                remove_leftovers(self.path, manifest["files"].values())  # of a killed write, or a failed delete
                try:
                    yield
                except BaseException:
                    try:  # whatever happened, show the generation the manifest names
                        self._switch_to(read_manifest(self.path))
                    except (LibraryError, Vanished):
                        pass
                    raise
            except Vanished as e:  # cannot happen under the lock unless the folder was tampered with
                raise LibraryError(f"library file {e} is missing; {doctor_hint(self.path)}") from None

    def commit(self, change: Change, encoder: Encoder | None = None) -> None:
        """Write generation N+1 with ``change`` applied, sync it, switch the manifest, delete N."""
        with generations.failed_writes_undone(self.path, self.manifest["files"].values()):
            manifest = generations.build_next(self.path, self.manifest, change, encoder)
            self.close()
            generations.write_manifest(self.path, manifest)
        self.manifest = manifest
        self._pin()
        remove_leftovers(self.path, manifest["files"].values())
        checkpoint("old-removed")
