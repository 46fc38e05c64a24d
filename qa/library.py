"""The library store: articles, chunks and their vectors in one directory.

Layout: ``manifest.json`` names the current generation's files
(``store-N.db``: SQLite with articles and chunk spans; ``index-N.faiss``: the
vectors, row i = chunk i; ``bm25-N/``: the keyword index over the same rows). An ingest writes generation N+1 beside N and
switches by atomically replacing the manifest, so a crash at any moment
leaves the library as it was before or after, never half-written. Nothing
here is a pickle.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from embeddings.encoder import Encoder
from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex
from qa.chunking import Chunk, ChunkParams, chunk_text, embed_text
from qa.reading import Article, ReadError, read_paths

FORMAT = 1
MANIFEST = "manifest.json"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, content_hash TEXT UNIQUE NOT NULL, title TEXT, source TEXT,
    url TEXT, date TEXT, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL, end INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
"""


class LibraryError(RuntimeError):
    """A library that is missing, unreadable, or made with another embedder or format."""


@dataclass
class IngestReport:
    added: list[Article] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    chunks: int = 0


@dataclass(frozen=True)
class StoredChunk:
    row: int
    article: Article
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start:self.end]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Library:
    """One library directory. Open with :meth:`open` or :meth:`create`."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest
        self._db: sqlite3.Connection | None = None
        self._index: VectorIndex | None = None
        self._keywords: KeywordIndex | None = None
        self._articles: dict[str, Article] = {}

    # -- opening -----------------------------------------------------------------
    @classmethod
    def exists(cls, path: Path) -> bool:
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def open(cls, path: Path | str, encoder: Encoder | None = None) -> "Library":
        """Open an existing library, refusing one made with another format or embedder."""
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LibraryError(f"no library at {path} (no {MANIFEST}); create one with: qa ingest PATH --library {path}") from None
        except (OSError, ValueError) as e:
            raise LibraryError(f"unreadable library manifest {path / MANIFEST}: {e}") from None
        if manifest.get("format") != FORMAT:
            raise LibraryError(f"library {path} has format {manifest.get('format')!r}; this qa reads format {FORMAT}")
        if encoder is not None:
            made = manifest.get("embedder", {})
            if made.get("name") != encoder.name or made.get("sha256") != encoder.sha256:
                raise LibraryError(f"library {path} was built with embedder {made.get('name')!r} "
                                   f"(sha256 {str(made.get('sha256'))[:12]}…); this qa uses {encoder.name!r}. "
                                   "Re-ingest the articles into a new library.")
        return cls(path, manifest)

    @classmethod
    def create(cls, path: Path | str, encoder: Encoder, params: ChunkParams = ChunkParams()) -> "Library":
        """An empty library (generation 0, no files yet)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if cls.exists(path):
            return cls.open(path, encoder)
        manifest = {"format": FORMAT, "generation": 0, "files": {},
                    "embedder": {"name": encoder.name, "sha256": encoder.sha256, "dim": encoder.dim},
                    "chunking": params.to_dict(), "counts": {"articles": 0, "chunks": 0}}
        lib = cls(path, manifest)
        lib._write_manifest(manifest)
        return lib

    @property
    def params(self) -> ChunkParams:
        return ChunkParams(**self.manifest["chunking"])

    @property
    def counts(self) -> dict:
        return self.manifest["counts"]

    # -- reading -----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        name = self.manifest["files"].get("store")
        if not name:
            return None
        if self._db is None:
            uri = f"file:{self.path / name}?mode=ro"
            try:
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                self._db.execute("SELECT count(*) FROM articles").fetchone()
            except sqlite3.Error as e:
                raise LibraryError(f"library store {self.path / name} is unreadable: {e}") from None
        return self._db

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            name = self.manifest["files"].get("index")
            if not name:
                self._index = VectorIndex(self.manifest["embedder"]["dim"])
            else:
                try:
                    self._index = VectorIndex.load(self.path / name)
                except RuntimeError as e:
                    raise LibraryError(f"library index {self.path / name} is unreadable: {e}") from None
        return self._index

    @property
    def keyword_index(self) -> KeywordIndex:
        if self._keywords is None:
            name = self.manifest["files"].get("bm25")
            try:
                self._keywords = (KeywordIndex.load(self.path / name, self.counts["chunks"]) if name
                                  else KeywordIndex())
            except (OSError, ValueError) as e:
                raise LibraryError(f"library keyword index {self.path / name} is unreadable: {e}") from None
        return self._keywords

    def chunk_texts(self) -> list[str]:
        """What was embedded for every chunk, in row order (title + chunk text)."""
        db = self._connect()
        if db is None:
            return []
        return self._chunk_texts(db)

    @staticmethod
    def _chunk_texts(db: sqlite3.Connection) -> list[str]:
        rows = db.execute("SELECT a.title, substr(a.text, c.start + 1, c.end - c.start) FROM chunks c "
                          "JOIN articles a ON a.id = c.article_id ORDER BY c.row")
        return [embed_text(title, text) for title, text in rows]

    @staticmethod
    def _article(row: tuple) -> Article:
        aid, chash, title, source, url, date, text = row
        return Article(id=aid, content_hash=chash, title=title, text=text, source=source, url=url, date=date)

    def articles(self) -> list[Article]:
        db = self._connect()
        if db is None:
            return []
        rows = db.execute("SELECT id, content_hash, title, source, url, date, text FROM articles "
                          "ORDER BY date IS NULL, date, title").fetchall()
        return [self._article(r) for r in rows]

    def article(self, article_id: str) -> Article | None:
        if article_id not in self._articles:
            db = self._connect()
            row = db and db.execute("SELECT id, content_hash, title, source, url, date, text FROM articles "
                                    "WHERE id = ?", (article_id,)).fetchone()
            if not row:
                return None
            self._articles[article_id] = self._article(row)
        return self._articles[article_id]

    def chunks(self, rows: Iterable[int]) -> list[StoredChunk]:
        """The stored chunks for FAISS row ids, in the order given."""
        rows = [int(r) for r in rows]
        db = self._connect()
        if db is None or not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {r: (a, s, e) for r, a, s, e in
                 db.execute(f"SELECT row, article_id, start, end FROM chunks WHERE row IN ({marks})", rows)}
        out = []
        for r in rows:
            if r in found:
                aid, s, e = found[r]
                out.append(StoredChunk(r, self.article(aid), s, e))
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- writing -----------------------------------------------------------------
    def _reload(self, encoder: Encoder) -> None:
        """Re-read the manifest: another process may have ingested since we opened."""
        self.close()
        self.manifest = self.open(self.path, encoder).manifest
        self._index = None
        self._keywords = None
        self._articles.clear()

    def _write_manifest(self, manifest: dict) -> None:
        tmp = self.path / f"{MANIFEST}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / MANIFEST)
        _fsync_dir(self.path)
        self.manifest = manifest

    def lock(self, timeout: float = 0) -> FileLock:
        return FileLock(str(self.path / ".ingest.lock"), timeout=timeout)

    def add(self, paths: Iterable[str | Path], encoder: Encoder, progress: Progress | None = None,
            on_error: Callable[[ReadError], None] | None = None) -> IngestReport:
        """Read, chunk, embed and store new articles; duplicates (same content hash) go in once."""
        progress = progress or (lambda stage, done, total: None)
        try:
            with self.lock():
                return self._add_locked(paths, encoder, progress, on_error)
        except Timeout:
            raise LibraryError(f"another qa ingest is writing to {self.path}; wait for it to finish") from None

    def _add_locked(self, paths, encoder: Encoder, progress: Progress, on_error) -> IngestReport:
        self._reload(encoder)
        report = IngestReport()
        db = self._connect()
        known = set(r[0] for r in db.execute("SELECT content_hash FROM articles")) if db else set()
        counter = encoder.token_counter()
        chunks: list[Chunk] = []
        titles: dict[str, str] = {}
        for item in read_paths(paths):
            if isinstance(item, ReadError):
                report.errors.append(item)
                if on_error:
                    on_error(item)
                continue
            if item.content_hash in known:
                report.duplicates.append(item.id)
                continue
            known.add(item.content_hash)
            report.added.append(item)
            titles[item.id] = item.title
            chunks += chunk_text(item.id, item.title, item.text, counter, self.params)
            progress("read", len(report.added), 0)
        report.chunks = len(chunks)
        if not report.added:
            return report
        vectors = encoder.encode([embed_text(titles[c.article_id], c.text) for c in chunks],
                                 progress=_counting(progress, "embed", len(chunks)))
        self._commit(report.added, chunks, vectors)
        return report

    def _commit(self, articles: list[Article], chunks: list[Chunk], vectors: np.ndarray) -> None:
        gen = self.manifest["generation"] + 1
        old = dict(self.manifest["files"])
        store, index_name, bm25_name = f"store-{gen}.db", f"index-{gen}.faiss", f"bm25-{gen}"
        for leftover in self.path.glob(f"*-{gen}*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        if old.get("store"):
            shutil.copyfile(self.path / old["store"], self.path / store)
        db = sqlite3.connect(self.path / store)
        try:
            db.executescript(_SCHEMA)
            first_row = db.execute("SELECT coalesce(max(row) + 1, 0) FROM chunks").fetchone()[0]
            index = self.index
            if first_row != len(index):
                raise LibraryError(f"library {self.path} is inconsistent: {first_row} chunks stored, "
                                   f"{len(index)} vectors indexed")
            db.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(a.id, a.content_hash, a.title, a.source, a.url, a.date, a.text) for a in articles])
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                           [(first_row + i, c.article_id, c.start, c.end) for i, c in enumerate(chunks)])
            db.commit()
            n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            texts = self._chunk_texts(db)
        finally:
            db.close()
        index.add(vectors)
        index.save(self.path / index_name)
        KeywordIndex.build(texts).save(self.path / bm25_name)
        written = [self.path / store, self.path / index_name, *(self.path / bm25_name).iterdir()]
        for path in written:
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        _fsync_dir(self.path / bm25_name)
        manifest = dict(self.manifest, generation=gen,
                        files={"store": store, "index": index_name, "bm25": bm25_name},
                        counts={"articles": n_articles, "chunks": len(index)},
                        updated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.close()
        self._write_manifest(manifest)
        self._articles.clear()
        for name in old.values():
            stale = self.path / name
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def _counting(progress: Progress, stage: str, total: int) -> Callable[[int], None]:
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(stage, done, total)
    return step
