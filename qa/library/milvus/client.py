"""Connecting to Milvus: library addresses, one client per URI and process, a library's collections
(their schemas, and :class:`Collections`, the calls a library makes on them).

Milvus Lite lets one process open a file, and two pymilvus clients of one process on
the same URI share a connection (closing one breaks the other), so every library
object of a process shares one client per URI; :func:`disconnect_all` closes them.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import warnings
from pathlib import Path

from qa.errors import LibraryError

TIMEOUT_S = 30.0  # every call: a server that went away fails in seconds, not after minutes of retries
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def load_pymilvus():
    """pymilvus, or a LibraryError naming the extra to install."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            import pymilvus
        # Milvus Lite keeps no server timestamps; the iterator says so on every query, harmlessly.
        logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)
    except ImportError:
        raise LibraryError("Milvus libraries need the milvus extra: pip install 'qa-news[milvus]'") from None
    return pymilvus


def parse_address(address: str) -> tuple[str, str, bool]:
    """(client URI, library name, whether it is a Milvus Lite file) for a ``milvus://`` address."""
    scheme, _, rest = str(address).partition("://")
    where, _, name = rest.rstrip("/").rpartition("/")
    if not _NAME.fullmatch(name or ""):
        raise LibraryError(f"library address {address!r} must end in /NAME (letters, digits, underscores)")
    if where.startswith("/"):
        if scheme.lower() != "milvus" or not where.endswith(".db"):
            raise LibraryError(f"Milvus Lite address {address!r} must look like milvus:///ABSOLUTE/PATH.db/NAME")
        return where, name, True
    if not where:
        raise LibraryError(f"library address {address!r} names no server (milvus://HOST:PORT/NAME)")
    return f"{'https' if scheme.lower() == 'milvuss' else 'http'}://{where}", name, False


def client_for(uri: str, lite: bool):
    with _clients_lock:
        if uri in _clients:
            return _clients[uri]
        pymilvus = load_pymilvus()
        if lite and not Path(uri).parent.is_dir():
            raise LibraryError(f"no folder for the Milvus Lite file {uri}: create {Path(uri).parent} first")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                client = pymilvus.MilvusClient(uri=uri, token=os.environ.get("QA_MILVUS_TOKEN", ""),
                                               timeout=10)
        except pymilvus.MilvusException as e:
            busy = " (another process has it open: Milvus Lite allows one)" if lite else ""
            raise LibraryError(f"cannot reach Milvus at {uri}{busy}: {e.message}") from None
        _clients[uri] = client
        return client


def disconnect_all() -> None:
    """Close every client this process opened, and stop its Milvus Lite engines (freeing their
    files for other processes)."""
    with _clients_lock:
        for uri, client in _clients.items():
            client.close()
            if uri.startswith("/"):
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)
        _clients.clear()


UNDATED = "undated"  # the month of an undated chunk (a partition key may not be empty)
PARTITIONS = 64      # on a server: a year's 12 months touch at most 12 of them


def partition_keys(client, lite: bool) -> bool:
    """Whether the engine behind ``client`` can filter a collection with a partition key. Milvus
    Lite 2.5 fails every filter on one (milvus-io/milvus#43163), in a file or served on a port by
    ``milvus_lite.server``, and is known by not answering GetVersion, which a server does."""
    if lite:
        return False
    log = logging.getLogger("pymilvus.decorators")  # which logs the refusal as an error
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        client.get_server_version(timeout=10)
    except Exception:  # grpc's UNIMPLEMENTED, which pymilvus passes through unwrapped
        return False
    finally:
        log.setLevel(level)
    return True


def schemas(dim: int, keyed: bool):
    """The schemas of a library's chunks, articles and meta collections, for ``dim``-wide vectors.

    ``month`` ("YYYY-MM" of the chunk's date, or ``UNDATED``) lets a date-filtered search skip
    what lies outside its months: with ``keyed`` (``partition_keys``) it is the partition key,
    so Milvus searches only the partitions of the filter's months; elsewhere (Milvus Lite) it is
    a plain field, stored so that every library has one schema, and not filtered on."""
    pymilvus = load_pymilvus()
    DataType, MilvusClient = pymilvus.DataType, pymilvus.MilvusClient
    chunks = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    chunks.add_field("id", DataType.INT64, is_primary=True)
    chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    chunks.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                     analyzer_params={"type": "english"})
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_field("article_id", DataType.VARCHAR, max_length=512)
    for field in ("start", "end", "added", "removed"):
        chunks.add_field(field, DataType.INT64)
    chunks.add_field("date", DataType.VARCHAR, max_length=64)
    chunks.add_field("source_key", DataType.VARCHAR, max_length=1024)
    chunks.add_field("month", DataType.VARCHAR, max_length=16, is_partition_key=keyed)
    chunks.add_function(pymilvus.Function(name="text_bm25", function_type=pymilvus.FunctionType.BM25,
                                          input_field_names=["text"], output_field_names=["sparse"]))
    articles = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    articles.add_field("key", DataType.VARCHAR, max_length=600, is_primary=True)
    articles.add_field("article_id", DataType.VARCHAR, max_length=512)
    articles.add_field("part", DataType.INT64)
    for field in ("content_hash", "title", "source", "url", "date"):
        articles.add_field(field, DataType.VARCHAR, max_length=8192)
    articles.add_field("text", DataType.VARCHAR, max_length=65_535)
    # How the date was found (qa.reading.dates.DATE_SOURCES). Collections made before it have no such
    # field: the backend checks the collection's fields and reads their date_source as None.
    articles.add_field("date_source", DataType.VARCHAR, max_length=32)
    articles.add_field("added", DataType.INT64)
    articles.add_field("removed", DataType.INT64)
    articles.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
    meta = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    meta.add_field("key", DataType.VARCHAR, max_length=600, is_primary=True)
    meta.add_field("value", DataType.VARCHAR, max_length=65_535)
    meta.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    return chunks, articles, meta


class Collections:
    """A library's three collections (``NAME_chunks``, ``NAME_articles``, ``NAME_meta``) on one
    client: every call is bounded by ``TIMEOUT_S``, and a Milvus error becomes a LibraryError
    naming the library's address."""

    def __init__(self, client, name: str, address: str) -> None:
        self.client, self.address = client, address
        self.chunks, self.articles, self.meta = f"{name}_chunks", f"{name}_articles", f"{name}_meta"

    def call(self, method: str, *args, **kwargs):
        pymilvus = load_pymilvus()
        try:
            return getattr(self.client, method)(*args, timeout=TIMEOUT_S, **kwargs)
        except pymilvus.MilvusException as e:
            raise LibraryError(f"Milvus library {self.address}: {method} failed: {e.message}") from None

    def few(self, collection: str, where: str, fields: list[str]) -> list[dict]:
        """The rows that match, in one call: for selections bounded well below Milvus's window
        of 16,384 rows (an article's chunks, 200 articles' text parts)."""
        return self.call("query", collection, filter=where, output_fields=fields, limit=16_384)

    def query(self, collection: str, where: str, fields: list[str]) -> list[dict]:
        """Every row that matches, in pages (a single query stops at Milvus's window of 16,384)."""
        pymilvus = load_pymilvus()
        try:
            it = self.client.query_iterator(collection, batch_size=1000, filter=where, output_fields=fields,
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

    def count(self, collection: str, where: str) -> int:
        return int(self.call("query", collection, filter=where, output_fields=["count(*)"])[0]["count(*)"])

    def upsert(self, collection: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), 500):
            self.call("upsert", collection, rows[i:i + 500])

    def put_meta(self, key: str, value: dict) -> None:
        self.call("upsert", self.meta, [{"key": key, "value": json.dumps(value), "v": [0.0, 0.0]}])

    def newest_manifest(self) -> dict | None:
        """The manifest of the newest generation; None where there is no library."""
        pymilvus = load_pymilvus()
        try:
            if not self.client.has_collection(self.meta, timeout=TIMEOUT_S):
                return None
            rows = self.client.query(self.meta, filter='key like "manifest%"', output_fields=["value"],
                                     timeout=TIMEOUT_S)
        except pymilvus.MilvusException as e:
            raise LibraryError(f"Milvus library {self.address}: cannot read its manifest: {e.message}") from None
        return max((json.loads(r["value"]) for r in rows), key=lambda m: m["generation"], default=None)

    def create(self, dim: int, lite: bool) -> None:
        """Create the collections that are not there yet, with their indexes, for ``dim``-wide vectors."""
        keyed = partition_keys(self.client, lite)
        chunks, articles, meta = schemas(dim, keyed)
        pymilvus = load_pymilvus()
        for collection, schema, field, kind, metric in (
                (self.chunks, chunks, "vector", "FLAT" if lite else "AUTOINDEX", "IP"),
                (self.articles, articles, "v", "FLAT", "L2"), (self.meta, meta, "v", "FLAT", "L2")):
            if self.client.has_collection(collection, timeout=TIMEOUT_S):
                continue
            index = pymilvus.MilvusClient.prepare_index_params()
            index.add_index(field_name=field, index_type=kind, metric_type=metric)
            options = {}
            if collection == self.chunks:
                index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                if keyed:
                    options["num_partitions"] = PARTITIONS
            self.call("create_collection", collection, schema=schema, index_params=index,
                      consistency_level="Strong", **options)
