"""The Milvus backend: a library kept in Milvus, so any number of machines can ask and ingest.

Addresses: ``milvus://HOST:PORT/NAME`` (a server or cluster; ``milvuss://`` for TLS,
``QA_MILVUS_TOKEN`` for auth) and ``milvus:///ABSOLUTE/PATH.db/NAME`` (Milvus Lite: the
same engine in a local file, one process at a time).

Three collections per library: ``NAME_chunks`` (the vector, the embedded text with
Milvus's own BM25 function over it, the article id, span, date, month and outlet of
every chunk; ``month`` is the partition key where the engine can filter on one, and
date-filtered searches there name the months; libraries made before it have only ``date``),
``NAME_articles`` (the articles' metadata and text, in parts of at most
``TEXT_PART`` characters: a Milvus string holds 64 KiB) and ``NAME_meta`` (the manifest,
the files each article came from, and the write lease). Everything a question needs is
there; a client keeps only the models.

Writes are versioned like the folder's generations: every row carries the generation
that ``added`` it and the one that ``removed`` it (0: live). A write adds its rows under
generation N+1, marks what it drops, and switches by inserting generation N+1's manifest
row (a reader takes the newest manifest row), one atomic write; a reader pinned at N
filters on ``added <= N and (removed == 0 or removed > N)``, so it sees the library
before or after a write, never between. Ingest writes the new chunk rows while it
encodes (``stage``), before the switch, so a big ingest's vectors need not all wait in
memory. Rows of a crashed write (added > N) and rows removed before N are deleted by
the next writer.
Chunk ids are derived from the article id and the chunk's span, so re-ingesting upserts
the same rows instead of adding duplicates.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from qa.chunking import Chunk, ChunkParams, embed_text
from qa.errors import LibraryError
from qa.library.base import Hits, Library, StoredChunk
from qa.library.change import Change
from qa.library.filters import Filters, host_patterns, next_day
from qa.library.manifest import check_embedder, new_manifest
from qa.library.milvus_client import (PARTITIONS, UNDATED, client_for, load_pymilvus, parse_address,
                                      partition_keys, schemas)
from qa.library.reports import DoctorReport
from qa.reading import Article

TEXT_PART = 16_000   # characters per article-text row (UTF-8 at most 4 bytes each: under 64 KiB)
TIMEOUT_S = 30.0     # every call: a server that went away fails in seconds, not after minutes of retries
LEASE_S = 120.0      # a writer's lease, renewed while it writes; a killed writer's lapses after this
VECTOR_CACHE = 50_000  # chunk vectors kept between calls (~80 MB), dropped whole when exceeded


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _date_expr(where: Filters, months: bool) -> str:
    """``where``'s date bounds as a Milvus expression over the ``date`` field ("" when undated);
    with ``months`` (the collection has a ``month`` field), led by the months the dates fall in,
    which a partition key or the month index turns into a small candidate set before the date
    strings are compared."""
    terms = [_month_expr(where)] if months and where.dated else []
    if where.since is not None:
        terms.append(f"date >= {_quote(where.since.isoformat())}")
    if where.until is not None:
        terms.append(f'date != "" and date < {_quote(next_day(where.until))}')
    if not terms:
        return ""
    return f'(({" and ".join(terms)}) or date == "")' if where.include_undated else " and ".join(terms)


def month(day: str | None) -> str:
    """The ``month`` field of a chunk dated ``day`` (ISO, maybe with a time)."""
    return day[:7] if day else UNDATED


MONTH_LIST = 600  # bounded ranges up to 50 years are listed (a partition key prunes on == and in only)


def _month_expr(where: Filters) -> str:
    """Months that hold every date the filter admits (implied by its date terms, so it never
    changes what matches): a list when both bounds are set, else a range."""
    low = month(where.since.isoformat()) if where.since else None
    high = month(where.until.isoformat()) if where.until else None  # stored dates are ISO days
    if low and high:
        first, last = (int(m[:4]) * 12 + int(m[5:]) - 1 for m in (low, high))
        if last - first < MONTH_LIST:
            return f"month in {json.dumps([f'{i // 12:04d}-{i % 12 + 1:02d}' for i in range(first, last + 1)])}"
    return " and ".join(t for t in (low and f"month >= {_quote(low)}", high and f"month <= {_quote(high)}") if t)


def _manifest_key(generation: int) -> str:
    """Each generation's manifest is a row of its own: a reader during the switch finds the old
    row or both (and takes the newest), never none, as it could while one row was upserted (an
    upsert is a delete and an insert, and a reader can fall between them)."""
    return f"manifest/{generation:012d}"


def chunk_id(article_id: str, start: int, end: int) -> int:
    """A chunk's id: the same article text always gives the same ids (re-ingest upserts)."""
    digest = hashlib.blake2b(f"{article_id}:{start}:{end}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2 ** 63 - 1)


class MilvusLibrary(Library):
    """A library in Milvus collections; see the module docstring for the layout."""

    def __init__(self, address: str, client, name: str, lite: bool, manifest: dict) -> None:
        self.address = address
        self._client, self._name, self._lite = client, name, lite
        self.manifest = manifest
        self._articles: dict[str, Article] = {}
        self._vectors: dict[int, np.ndarray] = {}  # fetched with article_chunks, for retrieval's next step
        self._cleared: int | None = None  # the pending generation whose leftovers this write deleted

    @cached_property
    def _month_field(self) -> dict | None:
        """The chunks' ``month`` field as Milvus describes it; None in libraries made before it."""
        fields = self._call("describe_collection", self._chunks_c)["fields"]
        return next((f for f in fields if f["name"] == "month"), None)

    @property
    def _months(self) -> bool:
        """Whether date filters name the months too: only where ``month`` is the partition key. On
        Milvus Lite (a plain field) the month terms made filtered search slower, with or without
        an INVERTED index on them (docs/benchmarks.md), so there the dates alone filter."""
        return bool(self._month_field and self._month_field.get("is_partition_key"))

    # -- collections ---------------------------------------------------------------------
    @property
    def _chunks_c(self) -> str:
        return f"{self._name}_chunks"

    @property
    def _articles_c(self) -> str:
        return f"{self._name}_articles"

    @property
    def _meta_c(self) -> str:
        return f"{self._name}_meta"

    def _call(self, method: str, *args, **kwargs):
        pymilvus = load_pymilvus()
        try:
            return getattr(self._client, method)(*args, timeout=TIMEOUT_S, **kwargs)
        except pymilvus.MilvusException as e:
            raise LibraryError(f"Milvus library {self.address}: {method} failed: {e.message}") from None

    def _live(self, generation: int | None = None) -> str:
        g = self.manifest["generation"] if generation is None else generation
        return f"added <= {g} and (removed == 0 or removed > {g})"

    def _few(self, collection: str, where: str, fields: list[str]) -> list[dict]:
        """The rows that match, in one call: for selections bounded well below Milvus's window
        of 16,384 rows (an article's chunks, 200 articles' text parts)."""
        return self._call("query", collection, filter=where, output_fields=fields, limit=16_384)

    def _query(self, collection: str, where: str, fields: list[str]) -> list[dict]:
        """Every row that matches, in pages (a single query stops at Milvus's window of 16,384)."""
        pymilvus = load_pymilvus()
        try:
            it = self._client.query_iterator(collection, batch_size=1000, filter=where, output_fields=fields,
                                             timeout=TIMEOUT_S)
        except pymilvus.MilvusException as e:
            raise LibraryError(f"Milvus library {self.address}: query failed: {e.message}") from None
        rows: list[dict] = []
        try:
            while page := it.next():
                rows += page
        finally:
            it.close()
        return rows

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def _connect(cls, address: str):
        uri, name, lite = parse_address(address)
        return client_for(uri, lite), name, lite

    @classmethod
    def _read_manifest(cls, client, name: str, address: str) -> dict | None:
        pymilvus = load_pymilvus()
        try:
            if not client.has_collection(f"{name}_meta", timeout=TIMEOUT_S):
                return None
            rows = client.query(f"{name}_meta", filter='key like "manifest%"', output_fields=["value"],
                                timeout=TIMEOUT_S)
        except pymilvus.MilvusException as e:
            raise LibraryError(f"Milvus library {address}: cannot read its manifest: {e.message}") from None
        return max((json.loads(r["value"]) for r in rows), key=lambda m: m["generation"], default=None)

    @classmethod
    def exists(cls, address: str) -> bool:
        client, name, _ = cls._connect(address)
        return cls._read_manifest(client, name, address) is not None

    @classmethod
    def open(cls, address: str, encoder: Encoder | None = None) -> "MilvusLibrary":
        client, name, lite = cls._connect(address)
        manifest = cls._read_manifest(client, name, address)
        if manifest is None:
            raise LibraryError(f"no library at {address}; create one with: qa ingest PATH --library {address}")
        check_embedder(manifest, address, encoder)
        return cls(address, client, name, lite, manifest)

    @classmethod
    def create(cls, address: str, encoder: Encoder) -> "MilvusLibrary":
        client, name, lite = cls._connect(address)
        if cls._read_manifest(client, name, address) is not None:
            return cls.open(address, encoder)
        lib = cls(address, client, name, lite, new_manifest(encoder, ChunkParams()))
        keyed = partition_keys(client, lite)
        chunks, articles, meta = schemas(encoder.dim, keyed)
        pymilvus = load_pymilvus()
        for collection, schema, field, kind, metric in (
                (lib._chunks_c, chunks, "vector", "FLAT" if lite else "AUTOINDEX", "IP"),
                (lib._articles_c, articles, "v", "FLAT", "L2"), (lib._meta_c, meta, "v", "FLAT", "L2")):
            if client.has_collection(collection, timeout=TIMEOUT_S):
                continue
            index = pymilvus.MilvusClient.prepare_index_params()
            index.add_index(field_name=field, index_type=kind, metric_type=metric)
            options = {}
            if collection == lib._chunks_c:
                index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                if keyed:
                    options["num_partitions"] = PARTITIONS
            lib._call("create_collection", collection, schema=schema, index_params=index,
                      consistency_level="Strong", **options)
        lib._put_meta(_manifest_key(0), lib.manifest)
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
        articles = {r["article_id"] for r in self._query(self._articles_c, f"part == 0 and {self._live()}",
                                                         ["article_id"])}
        chunks = self._query(self._chunks_c, self._live(), ["id", "article_id"])
        orphans = {r["id"] for r in chunks if r["article_id"] not in articles}
        stale = self._count(self._chunks_c, f"added > {g}") + self._count(self._articles_c, f"added > {g}")
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
        manifest = self._read_manifest(self._client, self._name, self.address)
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

    def _count(self, collection: str, where: str) -> int:
        return int(self._call("query", collection, filter=where, output_fields=["count(*)"])[0]["count(*)"])

    @staticmethod
    def _articles_from(rows: list[dict]) -> dict[str, Article]:
        """Articles from their text-part rows (in any order), by id."""
        grouped: dict[str, list[dict]] = {}
        for r in rows:
            grouped.setdefault(r["article_id"], []).append(r)
        found = {}
        for aid, parts in grouped.items():
            parts.sort(key=lambda r: r["part"])
            first = parts[0]
            found[aid] = Article(id=aid, content_hash=first["content_hash"], title=first["title"],
                                 text="".join(p["text"] for p in parts), source=first["source"],
                                 url=first["url"], date=first["date"] or None,
                                 date_source=first.get("date_source") or None)
        return found

    _ARTICLE_FIELDS = ["article_id", "part", "content_hash", "title", "source", "url", "date", "text"]

    @cached_property
    def _article_fields(self) -> list[str]:
        """The article fields to read and write: ``date_source`` only where the collection has it
        (one made before it existed opens as it is; Milvus cannot add a field to it)."""
        described = self._call("describe_collection", self._articles_c)
        return self._ARTICLE_FIELDS + ["date_source"] * any(f["name"] == "date_source" for f in described["fields"])

    def _load_articles(self, ids: Iterable[str]) -> None:
        wanted = sorted(set(ids) - set(self._articles))
        for i in range(0, len(wanted), 200):
            part = wanted[i:i + 200]
            self._articles.update(self._articles_from(self._few(
                self._articles_c, f"article_id in {json.dumps(part)} and {self._live()}", self._article_fields)))

    def article(self, article_id: str) -> Article | None:
        self._load_articles([article_id])
        return self._articles.get(article_id)

    def articles(self) -> list[Article]:
        found = self._articles_from(self._query(self._articles_c, self._live(), self._article_fields))
        return sorted(found.values(), key=lambda a: (a.date is None, a.date or "", a.title))

    def sources(self, article_id: str) -> list[str]:
        return sorted(path for path, ids in self.file_links().items() if article_id in ids)

    def chunks(self, rows: Iterable[int]) -> list[StoredChunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return []
        found = {r["id"]: r for r in self._call("get", self._chunks_c, ids=rows,
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
        rows = self._few(self._chunks_c, f"article_id == {_quote(article_id)} and {self._live()}",
                         ["id", "start", "end", "vector"])
        self._remember(rows)
        return [StoredChunk(r["id"], article, r["start"], r["end"])
                for r in sorted(rows, key=lambda r: (r["start"], r["id"]))]

    def chunk_texts(self) -> list[str]:
        rows = self._query(self._chunks_c, self._live(), ["id", "text"])
        return [r["text"] for r in sorted(rows, key=lambda r: r["id"])]

    def vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.manifest["embedder"]["dim"]), np.float32)
        missing = sorted({int(r) for r in rows} - set(self._vectors))
        if missing:
            self._remember(self._call("get", self._chunks_c, ids=missing, output_fields=["vector"]))
        return np.asarray([self._vectors[int(r)] for r in rows], np.float32)

    def window_vectors(self, where: Filters | None = None) -> tuple[list[str], np.ndarray]:
        expr = " and ".join(e for e in (self._live(), self._expr(where)) if e)
        rows = sorted(self._query(self._chunks_c, expr, ["id", "article_id", "vector"]), key=lambda r: r["id"])
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
        terms = [_date_expr(where, self._months)] if where.dated else []
        if where.sources:
            ors = [f"source_key in {json.dumps([s.lower() for s in where.sources], ensure_ascii=False)}"]
            hosts = [p for s in where.sources for p in host_patterns(s)]
            if hosts:
                urls = " or ".join(f"url like {_quote(p)}" for p in hosts)
                ids = sorted({r["article_id"] for r in self._query(
                    self._articles_c, f"part == 0 and ({urls}) and {self._live()}", ["article_id"])})
                if ids:
                    ors.append(f"article_id in {json.dumps(ids, ensure_ascii=False)}")
            terms.append(f"({' or '.join(ors)})")
        return " and ".join(t for t in terms if t)

    def _search(self, data, field: str, metric: str, k: int, where: Filters | None) -> Hits:
        if not self.counts["chunks"]:
            return []
        expr = " and ".join(e for e in (self._live(), self._expr(where)) if e)
        hits = self._call("search", self._chunks_c, data=[data], anns_field=field, limit=k, filter=expr,
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
            rows = self._query(self._articles_c, f"part == 0 and (article_id == {_quote(target)} or "
                                                 f"url == {_quote(target)}) and {self._live()}", ["article_id"])
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
        rows = self._query(self._articles_c, f"part == 0 and {self._live()}", ["content_hash", "article_id"])
        return {r["content_hash"]: r["article_id"] for r in rows}

    def _file_records(self) -> dict[str, dict]:
        rows = self._query(self._meta_c, 'key like "file:%"', ["value"])
        return {rec["path"]: rec for rec in (json.loads(r["value"]) for r in rows)}

    def file_links(self) -> dict[str, set[str]]:
        return {path: set(rec["articles"]) for path, rec in self._file_records().items() if rec["articles"]}

    def file_hashes(self) -> dict[str, str]:
        return {path: rec["sha256"] for path, rec in self._file_records().items() if rec.get("sha256")}

    # -- writing --------------------------------------------------------------------------
    def _put_meta(self, key: str, value: dict) -> None:
        self._call("upsert", self._meta_c, [{"key": key, "value": json.dumps(value), "v": [0.0, 0.0]}])

    @contextmanager
    def writing(self, encoder: Encoder | None = None) -> Iterator[None]:
        """Hold the library's write lease (a row in NAME_meta, renewed while the write runs) and
        start from the newest generation."""
        me = uuid.uuid4().hex
        rows = self._call("get", self._meta_c, ids=["lease"], output_fields=["value"])
        held = json.loads(rows[0]["value"]) if rows else None
        if held and held["until"] > time.time():
            raise LibraryError(f"another qa command (ingest, remove or doctor) is writing to {self.address}; "
                               "wait for it to finish and try again")
        self._put_meta("lease", {"owner": me, "until": time.time() + LEASE_S})
        rows = self._call("get", self._meta_c, ids=["lease"], output_fields=["value"])
        if not rows or json.loads(rows[0]["value"])["owner"] != me:
            raise LibraryError(f"another qa command started writing to {self.address} at the same moment; "
                               "try again when it is done")
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_S / 4):
                self._put_meta("lease", {"owner": me, "until": time.time() + LEASE_S})

        renewer = threading.Thread(target=renew, daemon=True, name="qa-milvus-lease")
        renewer.start()
        try:
            self.refresh(encoder)
            check_embedder(self.manifest, self.address, encoder)
            self._cleared = None  # rows under N+1 may be an earlier, failed write's: delete them first
            yield
        finally:
            stop.set()
            renewer.join()
            self._call("delete", self._meta_c, ids=["lease"])

    def _pending(self) -> int:
        """The generation this write adds (N+1); the first call of a write deletes what a write
        that died before its switch left under it."""
        new = self.manifest["generation"] + 1
        if self._cleared != new:
            for c in (self._chunks_c, self._articles_c):
                self._call("delete", c, filter=f"added > {new - 1}")
            self._cleared = new
        return new

    def stage(self, chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article]) -> bool:
        """Write the chunks' rows now, under the pending generation: readers pinned at N do not see
        them, commit's switch makes them live, and a write that dies first leaves rows that the
        next writer deletes. So ingest hands its vectors over as they are made, not all at the end."""
        self._upsert(self._chunks_c, self._chunk_rows(chunks, vectors, articles, self._pending()))
        return True

    def _chunk_rows(self, chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article],
                    generation: int) -> list[dict]:
        rows = []
        for c, v in zip(chunks, vectors):
            a = articles[c.article_id]
            row = {"id": chunk_id(c.article_id, c.start, c.end), "vector": v.tolist(),
                   "text": embed_text(a.title, c.text), "article_id": c.article_id, "start": c.start,
                   "end": c.end, "added": generation, "removed": 0, "date": a.date or "",
                   "source_key": (a.source or "").lower()}
            if self._month_field:
                row["month"] = month(a.date)
            rows.append(row)
        return rows

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
            self._upsert(self._chunks_c, [dict(r, removed=new) for r in
                                          self._query(self._chunks_c, f"({where}) and {self._live()}", fields)])
            if change.remove:
                fields = ["key", "v", "added", *self._article_fields]
                self._upsert(self._articles_c, [dict(r, removed=new) for r in self._query(
                    self._articles_c, f"{gone} and {self._live()}", fields)])
        self._upsert(self._articles_c, [
            {"key": f"{a.id}/{i}", "article_id": a.id, "part": i, "content_hash": a.content_hash,
             "title": a.title or "", "source": a.source or "", "url": a.url or "", "date": a.date or "",
             "text": a.text[i * TEXT_PART:(i + 1) * TEXT_PART], "added": new, "removed": 0, "v": [0.0, 0.0],
             **({"date_source": a.date_source or ""} if "date_source" in self._article_fields else {})}
            for a in change.articles for i in range(max(1, -(-len(a.text) // TEXT_PART)))])
        unstaged = change.chunks[change.staged:]
        if unstaged:
            known = {a.id: a for a in change.articles}
            self._load_articles(c.article_id for c in unstaged if c.article_id not in known)
            known.update(self._articles)
            self._upsert(self._chunks_c, self._chunk_rows(unstaged, change.vectors, known, new))
        self._write_files(change)
        counts = {"articles": self._count(self._articles_c, f"part == 0 and {self._live(new)}"),
                  "chunks": self._count(self._chunks_c, self._live(new))}
        manifest = dict(self.manifest, generation=new, counts=counts,
                        updated=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))
        self._put_meta(_manifest_key(new), manifest)  # the switch
        self._call("delete", self._meta_c, ids=[_manifest_key(new - 1), "manifest"])  # (the key before versions)
        self.manifest = manifest
        self._articles.clear()
        self._vectors.clear()
        for c in (self._chunks_c, self._articles_c):
            self._call("delete", c, filter=f"removed != 0 and removed < {new}")

    def _upsert(self, collection: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), 500):
            self._call("upsert", collection, rows[i:i + 500])

    def _write_files(self, change: Change) -> None:
        """Apply the change's file links and hashes to the NAME_meta file records."""
        records = self._file_records()
        touched = {p for p, _ in change.links | change.unlinks} | set(change.files)
        for path, rec in records.items():
            if change.remove & set(rec["articles"]):
                rec["articles"] = sorted(set(rec["articles"]) - change.remove)
                rec["sha256"] = ""  # read it again next time: what it gave is gone
                touched.add(path)
        for path in touched:
            rec = records.setdefault(path, {"path": path, "sha256": "", "size": 0, "articles": []})
            held = (set(rec["articles"]) - {a for p, a in change.unlinks if p == path}) | {
                a for p, a in change.links if p == path}
            rec["articles"] = sorted(held)
            if path in change.files:
                rec["sha256"], rec["size"] = change.files[path]
        for path in sorted(touched):
            key = "file:" + hashlib.sha1(path.encode()).hexdigest()
            if records[path]["articles"] or records[path]["sha256"]:
                self._put_meta(key, records[path])
            else:
                self._call("delete", self._meta_c, ids=[key])
