"""The Milvus backend's library class: opening, reading, searching and versioned writes.

The layout (three collections, versioned rows) is in the package's docstring
(``qa/library/milvus/__init__.py``); the rows themselves in ``versions.py``, filter
expressions in ``expressions.py``, the write lease in ``lease.py``, addresses, clients and
schemas in ``client.py``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from qa.errors import LibraryError
from qa.library.base import Hits, Library, StoredChunk, day_span
from qa.library.change import Change
from qa.library.filters import Filters
from qa.library.manifest import check_embedder, new_manifest
from qa.library.milvus.client import Collections, client_for, parse_address
from qa.library.milvus.expressions import date_expr, live, quote, source_expr, url_expr
from qa.library.milvus.lease import write_lease
from qa.reading.chunking import Chunk, ChunkParams
from qa.library.milvus.versions import (ARTICLE_FIELDS, apply_to_files, article_rows, articles_from, chunk_rows,
                                        file_key, manifest_key)
from qa.library.reports import DoctorReport
from qa.reading import Article

VECTOR_CACHE = 50_000  # chunk vectors kept between calls (~80 MB), dropped whole when exceeded


class MilvusLibrary(Library):
    """A library in Milvus collections; see the package docstring for the layout."""

    def __init__(self, address: str, collections: Collections, name: str, manifest: dict) -> None:
        self.address = address
        self.db, self._name = collections, name
        self.manifest = manifest
        self._articles: dict[str, Article] = {}
        self._vectors: dict[int, np.ndarray] = {}  # fetched with article_chunks, for retrieval's next step
        self._cleared: int | None = None  # the pending generation whose leftovers this write deleted

    @cached_property
    def _month_field(self) -> dict | None:
        """The chunks' ``month`` field as Milvus describes it; None in libraries made before it."""
        fields = self.db.call("describe_collection", self.db.chunks)["fields"]
        return next((f for f in fields if f["name"] == "month"), None)

    @property
    def _months(self) -> bool:
        """Whether date filters name the months too: only where ``month`` is the partition key. On
        Milvus Lite (a plain field) the month terms made filtered search slower, with or without
        an INVERTED index on them (docs/benchmarks.md), so there the dates alone filter."""
        return bool(self._month_field and self._month_field.get("is_partition_key"))

    def _live(self, generation: int | None = None) -> str:
        return live(self.manifest["generation"] if generation is None else generation)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def _connect(cls, address: str) -> tuple[Collections, str, bool]:
        uri, name, lite = parse_address(address)
        return Collections(client_for(uri, lite), name, address), name, lite

    @classmethod
    def exists(cls, address: str) -> bool:
        return cls._connect(address)[0].newest_manifest() is not None

    @classmethod
    def open(cls, address: str, encoder: Encoder | None = None) -> "MilvusLibrary":
        collections, name, _ = cls._connect(address)
        manifest = collections.newest_manifest()
        if manifest is None:
            raise LibraryError(f"no library at {address}; create one with: qa ingest PATH --library {address}")
        check_embedder(manifest, address, encoder)
        return cls(address, collections, name, manifest)

    @classmethod
    def create(cls, address: str, encoder: Encoder) -> "MilvusLibrary":
        collections, name, lite = cls._connect(address)
        if collections.newest_manifest() is not None:
            return cls.open(address, encoder)
        lib = cls(address, collections, name, new_manifest(encoder, ChunkParams()))
        lib.db.create(encoder.dim, lite)
        lib.db.put_meta(manifest_key(0), lib.manifest)
        return lib

    @classmethod
    def doctor(cls, address: str, repair: bool = True,
               get_encoder: Callable[[], Encoder] | None = None) -> DoctorReport:
        """Check that the manifest's counts match the live rows and that no chunk lacks its
        article; with ``repair``, drop such chunks, rows of interrupted writes, and fix the counts."""
        lib = cls.open(address)
        report = DoctorReport(address)
        with lib.writing():
            lib._checkup(report, repair)
        return report

    def _checkup(self, report: DoctorReport, repair: bool) -> None:
        g = self.manifest["generation"]
        counts = self.manifest["counts"]
        report.checked.append(f"manifest: generation {g}, {counts['articles']} articles, {counts['chunks']} chunks")
        articles = {r["article_id"] for r in self.db.query(self.db.articles, f"part == 0 and {self._live()}",
                                                           ["article_id"])}
        chunks = self.db.query(self.db.chunks, self._live(), ["id", "article_id"])
        orphans = {r["id"] for r in chunks if r["article_id"] not in articles}
        stale = self.db.count(self.db.chunks, f"added > {g}") + self.db.count(self.db.articles, f"added > {g}")
        change = Change(drop_rows=orphans)
        if orphans:
            report.problems.append(f"{len(orphans)} chunks belong to no stored article")
        if stale:
            report.problems.append(f"{stale} rows left by an interrupted write")
        if (len(articles), len(chunks) - len(orphans)) != (counts["articles"], counts["chunks"]):
            report.problems.append(f"the manifest counts {counts['articles']} articles and {counts['chunks']} "
                                   f"chunks; the library holds {len(articles)} and {len(chunks)}")
            change.manifest_only = True
        if not report.problems:
            report.checked.append(f"{len(articles)} articles, {len(chunks)} chunks, every chunk's article present")
            return
        if not repair:
            report.unrepaired.append("nothing was changed (checked only)")
            return
        self.commit(change)
        report.repaired.append(f"dropped {len(orphans)} broken chunks and {stale} leftover rows; "
                               f"counts are {self.counts['articles']} articles, {self.counts['chunks']} chunks")

    def refresh(self, encoder: Encoder | None = None) -> bool:
        manifest = self.db.newest_manifest()
        if manifest is None:
            raise LibraryError(f"Milvus library {self.address} is gone")
        if manifest["generation"] == self.manifest["generation"]:
            return False
        check_embedder(manifest, self.address, encoder)
        self.manifest = manifest
        self._articles.clear()
        self._vectors.clear()
        return True

    def close(self) -> None:
        self._articles.clear()  # the client stays: it is shared by this process's libraries
        self._vectors.clear()

    # -- reading --------------------------------------------------------------------------
    @property
    def counts(self) -> dict:
        return self.manifest["counts"]

    @property
    def name(self) -> str:
        return self._name

    @property
    def chunking(self) -> dict:
        return dict(self.manifest["chunking"])

    @cached_property
    def _article_fields(self) -> list[str]:
        """The article fields to read and write: ``date_source`` only where the collection has it
        (one made before it existed opens as it is; Milvus cannot add a field to it)."""
        described = self.db.call("describe_collection", self.db.articles)
        return ARTICLE_FIELDS + ["date_source"] * any(f["name"] == "date_source" for f in described["fields"])

    def _load_articles(self, ids: Iterable[str]) -> None:
        wanted = sorted(set(ids) - set(self._articles))
        for i in range(0, len(wanted), 200):
            part = wanted[i:i + 200]
            self._articles.update(articles_from(self.db.few(
                self.db.articles, f"article_id in {json.dumps(part)} and {self._live()}", self._article_fields)))

    def article(self, article_id: str) -> Article | None:
        self._load_articles([article_id])
        return self._articles.get(article_id)

    def articles(self) -> list[Article]:
        found = articles_from(self.db.query(self.db.articles, self._live(), self._article_fields))
        return sorted(found.values(), key=lambda a: (a.date is None, a.date or "", a.title))

    def date_range(self) -> tuple[date, date] | None:
        """Milvus has no MIN/MAX: the date field alone of the articles' first text parts."""
        rows = self.db.query(self.db.articles, f'part == 0 and date != "" and {self._live()}', ["date"])
        return day_span(r["date"] for r in rows)

    def sources(self, article_id: str) -> list[str]:
        return sorted(path for path, ids in self.file_links().items() if article_id in ids)

    def chunks(self, rows: Iterable[int]) -> list[StoredChunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return []
        found = {r["id"]: r for r in self.db.call("get", self.db.chunks, ids=rows,
                                                  output_fields=["article_id", "start", "end", "added", "removed"])
                 if self._visible(r)}
        self._load_articles(r["article_id"] for r in found.values())
        out = []
        for row in rows:
            r = found.get(row)
            article = self._articles.get(r["article_id"]) if r else None
            if article is not None:
                out.append(StoredChunk(row, article, r["start"], r["end"]))
        return out

    def _visible(self, row: dict) -> bool:
        g = self.manifest["generation"]
        return row["added"] <= g and (row["removed"] == 0 or row["removed"] > g)

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        article = self.article(article_id)
        if article is None:
            return []
        rows = self.db.few(self.db.chunks, f"article_id == {quote(article_id)} and {self._live()}",
                           ["id", "start", "end", "vector"])
        self._remember(rows)
        return [StoredChunk(r["id"], article, r["start"], r["end"])
                for r in sorted(rows, key=lambda r: (r["start"], r["id"]))]

    def chunk_texts(self) -> list[str]:
        rows = self.db.query(self.db.chunks, self._live(), ["id", "text"])
        return [r["text"] for r in sorted(rows, key=lambda r: r["id"])]

    def vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.manifest["embedder"]["dim"]), np.float32)
        missing = sorted({int(r) for r in rows} - set(self._vectors))
        if missing:
            self._remember(self.db.call("get", self.db.chunks, ids=missing, output_fields=["vector"]))
        return np.asarray([self._vectors[int(r)] for r in rows], np.float32)

    def window_vectors(self, where: Filters | None = None) -> tuple[list[str], np.ndarray]:
        expr = " and ".join(e for e in (self._live(), self._expr(where)) if e)
        rows = sorted(self.db.query(self.db.chunks, expr, ["id", "article_id", "vector"]), key=lambda r: r["id"])
        vectors = np.asarray([r["vector"] for r in rows], np.float32)
        return [r["article_id"] for r in rows], vectors.reshape(len(rows), self.manifest["embedder"]["dim"])

    def _remember(self, rows: list[dict]) -> None:
        if len(self._vectors) > VECTOR_CACHE:
            self._vectors.clear()
        self._vectors.update((r["id"], np.asarray(r["vector"], np.float32)) for r in rows)

    def _expr(self, where: Filters | None) -> str:
        """``where`` as a Milvus boolean expression over the chunk fields. An outlet matches the
        chunks' ``source_key``; a domain, the articles whose url is on it (looked up once)."""
        if not where:
            return ""
        terms = [date_expr(where, self._months)] if where.dated else []
        if where.sources:
            urls = url_expr(where.sources)
            ids = sorted({r["article_id"] for r in self.db.query(
                self.db.articles, f"part == 0 and ({urls}) and {self._live()}", ["article_id"])}) if urls else []
            terms.append(source_expr(where.sources, ids))
        return " and ".join(t for t in terms if t)

    def _search(self, data, field: str, metric: str, k: int, where: Filters | None) -> Hits:
        if not self.counts["chunks"]:
            return []
        expr = " and ".join(e for e in (self._live(), self._expr(where)) if e)
        hits = self.db.call("search", self.db.chunks, data=[data], anns_field=field, limit=k, filter=expr,
                            search_params={"metric_type": metric})[0]
        return [(int(h["id"]), float(h["distance"])) for h in hits]

    def dense_search(self, vector: np.ndarray, k: int, where: Filters | None = None) -> Hits:
        return self._search(np.asarray(vector, np.float32).ravel().tolist(), "vector", "IP", k, where)

    def keyword_search(self, query: str, k: int, where: Filters | None = None) -> Hits:
        return [(r, s) for r, s in self._search(query, "sparse", "BM25", k, where) if s > 0]

    def find(self, targets: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
        files = self.file_links()
        found: dict[str, list[str]] = {}
        unknown: list[str] = []
        for target in targets:
            rows = self.db.query(self.db.articles, f"part == 0 and (article_id == {quote(target)} or "
                                                   f"url == {quote(target)}) and {self._live()}", ["article_id"])
            ids = {r["article_id"] for r in rows}
            key = str(Path(target).expanduser().resolve())
            for path, holds in files.items():
                if path == key or path.startswith(key.rstrip("/") + "/"):
                    ids |= holds
            if ids:
                found[target] = sorted(ids)
            else:
                unknown.append(target)
        return found, unknown

    def known_hashes(self) -> dict[str, str]:
        rows = self.db.query(self.db.articles, f"part == 0 and {self._live()}", ["content_hash", "article_id"])
        return {r["content_hash"]: r["article_id"] for r in rows}

    def _file_records(self) -> dict[str, dict]:
        rows = self.db.query(self.db.meta, 'key like "file:%"', ["value"])
        return {rec["path"]: rec for rec in (json.loads(r["value"]) for r in rows)}

    def file_links(self) -> dict[str, set[str]]:
        return {path: set(rec["articles"]) for path, rec in self._file_records().items() if rec["articles"]}

    def file_hashes(self) -> dict[str, str]:
        return {path: rec["sha256"] for path, rec in self._file_records().items() if rec.get("sha256")}

    def _lease(self) -> dict | None:
        rows = self.db.call("get", self.db.meta, ids=["lease"], output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else None

    @contextmanager
    def writing(self, encoder: Encoder | None = None) -> Iterator[None]:
        """Hold the library's write lease (``lease.py``) and start from the newest generation."""
        with write_lease(self._lease, lambda value: self.db.put_meta("lease", value),
                         lambda: self.db.call("delete", self.db.meta, ids=["lease"]), self.address):
            self.refresh(encoder)
            check_embedder(self.manifest, self.address, encoder)
            self._cleared = None  # rows under N+1 may be an earlier, failed write's: delete them first
            yield

    def _pending(self) -> int:
        """The generation this write adds (N+1); the first call of a write deletes what a write
        that died before its switch left under it."""
        new = self.manifest["generation"] + 1
        if self._cleared != new:
            for c in (self.db.chunks, self.db.articles):
                self.db.call("delete", c, filter=f"added > {new - 1}")
            self._cleared = new
        return new

    def stage(self, chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article]) -> bool:
        """Write the chunks' rows now, under the pending generation: readers pinned at N do not see
        them, commit's switch makes them live, and a write that dies first leaves rows that the
        next writer deletes. So ingest hands its vectors over as they are made, not all at the end."""
        rows = chunk_rows(chunks, vectors, articles, self._pending(), bool(self._month_field))
        self.db.upsert(self.db.chunks, rows)
        return True

    def commit(self, change: Change, encoder: Encoder | None = None) -> None:
        """Write generation N+1's rows (those ``stage`` did not), mark the dropped ones, then switch
        by upserting the manifest."""
        new = self._pending()
        if change.remove or change.drop_rows:
            gone = (f"article_id in {json.dumps(sorted(change.remove))}" if change.remove else "")
            drop = (f"id in {json.dumps(sorted(change.drop_rows))}" if change.drop_rows else "")
            where = " or ".join(e for e in (gone, drop) if e)
            fields = ["id", "vector", "text", "article_id", "start", "end", "added", "date", "source_key",
                      *(["month"] if self._month_field else [])]
            self.db.upsert(self.db.chunks, [dict(r, removed=new) for r in
                                            self.db.query(self.db.chunks, f"({where}) and {self._live()}", fields)])
            if change.remove:
                fields = ["key", "v", "added", *self._article_fields]
                self.db.upsert(self.db.articles, [dict(r, removed=new) for r in self.db.query(
                    self.db.articles, f"{gone} and {self._live()}", fields)])
        self.db.upsert(self.db.articles, article_rows(change.articles, new, "date_source" in self._article_fields))
        unstaged = change.chunks[change.staged:]
        if unstaged:
            known = {a.id: a for a in change.articles}
            self._load_articles(c.article_id for c in unstaged if c.article_id not in known)
            known.update(self._articles)
            rows = chunk_rows(unstaged, change.vectors, known, new, bool(self._month_field))
            self.db.upsert(self.db.chunks, rows)
        self._write_files(change)
        counts = {"articles": self.db.count(self.db.articles, f"part == 0 and {self._live(new)}"),
                  "chunks": self.db.count(self.db.chunks, self._live(new))}
        manifest = dict(self.manifest, generation=new, counts=counts,
                        updated=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
        self.db.put_meta(manifest_key(new), manifest)  # the switch
        self.db.call("delete", self.db.meta, ids=[manifest_key(new - 1), "manifest"])  # (the key before versions)
        self.manifest = manifest
        self._articles.clear()
        self._vectors.clear()
        for c in (self.db.chunks, self.db.articles):
            self.db.call("delete", c, filter=f"removed != 0 and removed < {new}")

    def _write_files(self, change: Change) -> None:
        """Apply the change's file links and hashes to the NAME_meta file records."""
        records = self._file_records()
        for path in sorted(apply_to_files(records, change)):
            if records[path]["articles"] or records[path]["sha256"]:
                self.db.put_meta(file_key(path), records[path])
            else:
                self.db.call("delete", self.db.meta, ids=[file_key(path)])
