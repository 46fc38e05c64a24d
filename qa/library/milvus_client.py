"""Connecting to Milvus: library addresses, one client per URI and process, a library's collections.

Milvus Lite lets one process open a file, and two pymilvus clients of one process on
the same URI share a connection (closing one breaks the other), so every library
object of a process shares one client per URI; :func:`disconnect_all` closes them.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from pathlib import Path

from qa.errors import LibraryError

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
    # How the date was found (qa.dates.DATE_SOURCES). Collections made before it have no such
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
