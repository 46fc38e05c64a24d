"""The library store: articles, chunks and their vectors in one directory.

Layout: ``manifest.json`` names the current generation's files
(``store-N.db``: SQLite with articles, chunk spans, and the files each article
came from; ``index-N.faiss``: the vectors, row i = chunk i; ``bm25-N/``: the
keyword index over the same rows). Every write (ingest, remove, doctor) builds
generation N+1 beside N, syncs it to disk, and switches by atomically
replacing the manifest, so a crash at any moment leaves the library as it was
before or after, never half-written. Files of other generations are deleted
after the switch and by the next writer, which holds ``.ingest.lock`` (an
fcntl lock: the kernel drops it when its holder dies, so a killed ingest
never blocks the next one).

Readers open ("pin") the current generation's files when the library is
opened; a switch afterwards does not disturb them (Linux keeps a deleted
file's data while it is open). If the files vanish between reading the
manifest and opening them, the manifest is read again.

Nothing here is a pickle: the manifest is JSON, the store SQLite, the vectors
a FAISS flat index whose header and size are checked before FAISS reads it,
and the keyword index numpy arrays (``allow_pickle=False``) and JSON, checked
before use. A damaged file gives a LibraryError naming it, never a crash.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO
from urllib.parse import quote

import numpy as np
from filelock import FileLock, Timeout

from embeddings.encoder import Encoder, EncodingQueue
from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex, load_array
from qa.chunking import Chunk, ChunkParams, chunk_text, embed_text
from qa.reading import Article, ReadError, file_digest, is_supported, read_file, walk_paths

FORMAT = 1
MANIFEST = "manifest.json"
LOCK = ".ingest.lock"
Progress = Callable[[str, int, int], None]  # (stage, done, total)

OPEN_ATTEMPTS = 5     # re-reads of the manifest when a writer switched generations under a reader
CREATE_WAIT_S = 10.0  # how long creating a library waits for another process creating it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, content_hash TEXT UNIQUE NOT NULL, title TEXT, source TEXT,
    url TEXT, date TEXT, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    start INTEGER NOT NULL, end INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (path, article_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sources_article ON sources(article_id);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL);
"""
_ARTICLE_COLUMNS = "id, content_hash, title, source, url, date, text"

# Names qa writes inside a library folder; only these are ever deleted there.
_GENERATION_NAME = {"store": re.compile(r"store-(\d+)\.db"), "index": re.compile(r"index-(\d+)\.faiss"),
                    "bm25": re.compile(r"bm25-(\d+)")}
_OWN_NAME = re.compile(r"(store-\d+\.db(-journal|-wal|-shm)?|index-\d+\.faiss|bm25-\d+|manifest\.json(\.\d+)?\.tmp)")

# The FAISS IndexFlatIP file: "IxFI", d (int32), ntotal (int64), two int64 fields, is_trained (bool),
# metric (int32, 0 = inner product), then the float count (int64) and the floats.
_FAISS_MAGIC = b"IxFI"
_FAISS_HEADER = struct.Struct("<iqqq?iq")
# The FAISS IndexIVFFlat file (large libraries, see embeddings/index.py): "IwFl", the same header
# without the float count, nlist and nprobe (uint64), the coarse quantizer (a whole IndexFlatIP
# file of nlist centroids), the direct map (type byte, 1 = array; uint64 count; int64 per row:
# list << 32 | offset), then the inverted lists: "ilar", nlist, code size (uint64), "full" and
# nlist sizes or "sprs" and (list, size) pairs, then per non-empty list its codes and int64 ids.
_IVF_MAGIC = b"IwFl"
_IVF_HEADER = struct.Struct("<iqqq?iQQ")
_IVF_LISTS = struct.Struct("<4sQQ4sQ")

_BM25_PARAMS = {"k1": (int, float), "b": (int, float), "delta": (int, float), "method": str,
                "idf_method": (str, type(None)), "dtype": str, "int_dtype": str, "num_docs": int,
                "version": str, "backend": str}
_BM25_METHODS = {"robertson", "atire", "lucene", "bm25l", "bm25+"}
_BM25_ARRAYS = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")

# Test hook: called with the name of each step of a write ("store-copied", "manifest-replaced", ...)
# so that crash tests can kill the process at exact moments. None in normal use.
CHECKPOINT: Callable[[str], None] | None = None


def _checkpoint(step: str) -> None:
    if CHECKPOINT is not None:
        CHECKPOINT(step)


class LibraryError(RuntimeError):
    """A library that is missing, unreadable, damaged, busy, or made with another embedder or format."""


class _FormatError(LibraryError):
    """A library written by another version of qa (not damage: doctor leaves it alone)."""


class _Vanished(Exception):
    """A generation file is gone: a writer may have switched generations since the manifest was read."""


class _Damaged(Exception):
    """A library file that exists but cannot be trusted; the message says why."""


def _missing(path: Path, what: str) -> Exception:
    """A file inside ``path`` was not found: the whole generation vanished (a writer
    switched), or only a part of it is missing (damage)."""
    return _Vanished(path) if not path.exists() else _Damaged(f"{what} is missing")


@dataclass
class IngestReport:
    added: list[Article] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)   # ids of articles already in the library
    errors: list[ReadError] = field(default_factory=list)
    chunks: int = 0
    removed: list[str] = field(default_factory=list)      # ids replaced because their file changed
    unchanged: list[str] = field(default_factory=list)    # files skipped: same bytes as last time
    ignored: list[str] = field(default_factory=list)      # files of unsupported types inside folders

    def summary(self) -> str:
        parts = [f"{len(self.added)} articles added ({self.chunks} chunks)"]
        if self.removed:
            parts.append(f"{len(self.removed)} replaced by a changed file")
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} unchanged files skipped")
        parts.append(f"{len(self.duplicates)} duplicates skipped")
        if self.ignored:
            parts.append(f"{len(self.ignored)} files of other types ignored")
        parts.append(f"{len(self.errors)} failed")
        return ", ".join(parts)


@dataclass
class RemoveReport:
    removed: list[Article] = field(default_factory=list)
    chunks: int = 0


@dataclass
class DoctorReport:
    """What ``qa doctor`` found (``problems``), fixed (``repaired``) and could not fix."""

    path: Path
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StoredChunk:
    row: int
    article: Article
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start:self.end]


@dataclass
class _Change:
    """One write: what a new generation adds to and drops from the current one."""

    articles: list[Article] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)          # of new or existing articles
    vectors: np.ndarray | None = None                          # one row per chunk
    remove: set[str] = field(default_factory=set)              # article ids
    drop_rows: set[int] = field(default_factory=set)           # chunk rows (doctor)
    links: set[tuple[str, str]] = field(default_factory=set)   # (file path, article id)
    unlinks: set[tuple[str, str]] = field(default_factory=set)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (sha256, size)
    renumber: bool = False            # doctor: rows are not 0..n-1
    reencode: bool = False            # doctor: make every vector again with the encoder
    rebuild_keywords: bool = False    # doctor: rebuild BM25 even if the rows did not change
    manifest_only: bool = False       # doctor: only the manifest (counts) needs rewriting

    @property
    def rows_change(self) -> bool:
        return bool(self.chunks or self.remove or self.drop_rows or self.reencode or self.renumber)

    @property
    def empty(self) -> bool:
        return not (self.rows_change or self.links or self.unlinks or self.files or self.rebuild_keywords
                    or self.manifest_only)


def _fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _doctor_hint(path: Path) -> str:
    return f"run: qa doctor --library {path}"


def _is_int(value, low: int = 0, high: int | None = None) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= low
            and (high is None or value <= high))


def _validate_manifest(manifest, path: Path) -> dict:
    """The manifest if every field has the shape qa wrote; a LibraryError naming the first that does not."""
    where = path / MANIFEST

    def bad(what: str) -> LibraryError:
        return LibraryError(f"library manifest {where} is damaged ({what}); {_doctor_hint(path)}")

    if not isinstance(manifest, dict):
        raise bad(f"a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT:
        raise _FormatError(f"library {path} has format {manifest.get('format')!r}; this qa reads format {FORMAT}")
    gen = manifest.get("generation")
    if not _is_int(gen):
        raise bad("no generation number")
    files = manifest.get("files")
    if not isinstance(files, dict) or (files and set(files) != set(_GENERATION_NAME)):
        raise bad("'files' must name a store, an index and a bm25 folder, or nothing")
    for kind, name in files.items():
        m = _GENERATION_NAME[kind].fullmatch(name) if isinstance(name, str) else None
        if not m or int(m.group(1)) > gen:
            raise bad(f"unexpected {kind} file name {name!r}")
    embedder = manifest.get("embedder")
    if (not isinstance(embedder, dict) or not isinstance(embedder.get("name"), str)
            or not isinstance(embedder.get("sha256"), str) or not _is_int(embedder.get("dim"), 1, 65536)):
        raise bad("'embedder' needs a name, a sha256 and a dimension")
    chunking = manifest.get("chunking")
    if (not isinstance(chunking, dict) or set(chunking) != set(ChunkParams().to_dict())
            or not all(_is_int(v, 0, 1_000_000) for v in chunking.values())
            or chunking["max_tokens"] < 16 or not 1 <= chunking["target_tokens"]):
        raise bad("'chunking' parameters")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not _is_int(counts.get("articles")) or not _is_int(counts.get("chunks")):
        raise bad("'counts'")
    if not files and (counts["articles"] or counts["chunks"]):
        raise bad("counts without files")
    return manifest


def _read_manifest(path: Path) -> dict:
    try:
        text = (path / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LibraryError(f"no library at {path} (no {MANIFEST}); create one with: qa ingest PATH --library {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LibraryError(f"unreadable library manifest {path / MANIFEST}: {e}; {_doctor_hint(path)}") from None
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise LibraryError(f"library manifest {path / MANIFEST} is damaged (not JSON: {e}); "
                           f"{_doctor_hint(path)}") from None
    return _validate_manifest(manifest, path)


def _check_embedder(manifest: dict, path: Path, encoder: Encoder | None) -> None:
    if encoder is None:
        return
    made = manifest["embedder"]
    if made["name"] != encoder.name or made["sha256"] != encoder.sha256:
        raise LibraryError(f"library {path} was built with embedder {made['name']!r} "
                           f"(sha256 {made['sha256'][:12]}…); this qa uses {encoder.name!r}. "
                           "Re-ingest the articles into a new library.")


# -- checking the files of a generation -------------------------------------------------------------
def _open_store(path: Path) -> sqlite3.Connection:
    """A read-only connection to a store; the file is opened now and stays usable if unlinked."""
    if not path.is_file():
        raise _Vanished(path)
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    except sqlite3.Error:
        if not path.exists():
            raise _Vanished(path) from None
        raise
    try:
        db.execute("PRAGMA trusted_schema = OFF")
    except sqlite3.Error:
        pass
    return db


def _store_shape(db: sqlite3.Connection) -> tuple[int, int, int | None, int | None]:
    """(articles, chunks, lowest row, highest row); raises sqlite3.Error on a damaged store."""
    n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    n_chunks, low, high = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
    db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles LIMIT 1").fetchall()
    db.execute("SELECT row, article_id, start, end FROM chunks LIMIT 1").fetchall()
    return n_articles, n_chunks, low, high


def _check_index_file(stream: IO[bytes], dim: int, rows: int | None) -> int:
    """Check a FAISS index file (flat, or IVF for large libraries) against its own size, the
    embedder's dimension and (if given) the number of chunks, before FAISS allocates anything;
    returns its row count."""
    stream.seek(0)
    size = os.fstat(stream.fileno()).st_size
    magic = stream.read(4)
    if magic == _IVF_MAGIC:
        ntotal = _check_ivf_file(stream, dim, size)
    elif magic == _FAISS_MAGIC:
        ntotal = _check_flat_file(stream, dim, size - 4, nothing_after=True)
    else:
        raise _Damaged("not a FAISS inner-product flat or IVF index (wrong header)")
    if rows is not None and ntotal != rows:
        raise _Damaged(f"{ntotal} vectors for {rows} chunks")
    return ntotal


def _check_flat_file(stream: IO[bytes], dim: int, left: int, nothing_after: bool) -> int:
    """Check an IndexFlatIP after its magic (``left`` bytes remain in the file); returns its row
    count and leaves the stream after its floats."""
    head = stream.read(_FAISS_HEADER.size)
    if len(head) < _FAISS_HEADER.size:
        raise _Damaged("not a FAISS inner-product flat index (wrong header)")
    d, ntotal, _, _, _, metric, floats = _FAISS_HEADER.unpack(head)
    if d != dim:
        raise _Damaged(f"vectors have {d} dimensions, the embedder makes {dim}")
    if metric != 0 or ntotal < 0 or floats != ntotal * d:
        raise _Damaged("inconsistent header")
    want = _FAISS_HEADER.size + 4 * floats
    if left != want if nothing_after else left < want:
        raise _Damaged(f"{left + 4} bytes where {ntotal} vectors take {want + 4} (truncated?)")
    stream.seek(4 * floats, os.SEEK_CUR)
    return ntotal


def _read_exactly(stream: IO[bytes], n: int, left: int, what: str) -> bytes:
    if n > left:
        raise _Damaged(f"{what} runs past the end of the file (truncated?)")
    data = stream.read(n)
    if len(data) != n:
        raise _Damaged(f"{what} runs past the end of the file (truncated?)")
    return data


def _check_ivf_file(stream: IO[bytes], dim: int, size: int) -> int:
    """Walk an IndexIVFFlat file after its magic: every count against the bytes left, every row id
    in range and agreeing with the direct map (so ids are rows 0..n-1, each once, and
    reconstructing a row reads inside its list). Returns its row count."""
    def left() -> int:
        return size - stream.tell()

    d, ntotal, _, _, trained, metric, nlist, nprobe = _IVF_HEADER.unpack(
        _read_exactly(stream, _IVF_HEADER.size, left(), "the header"))
    if d != dim:
        raise _Damaged(f"vectors have {d} dimensions, the embedder makes {dim}")
    if metric != 0 or ntotal < 0 or not trained or not 1 <= nprobe <= nlist or nlist * 4 * d > left():
        raise _Damaged("inconsistent header")
    if _read_exactly(stream, 4, left(), "the centroids") != _FAISS_MAGIC or _check_flat_file(
            stream, dim, left(), nothing_after=False) != nlist:
        raise _Damaged("inconsistent centroids")
    kind, count = struct.unpack("<bQ", _read_exactly(stream, 9, left(), "the direct map"))
    if kind != 1 or count != ntotal:
        raise _Damaged("no direct map from rows to lists")
    direct = np.frombuffer(_read_exactly(stream, 8 * count, left(), "the direct map"), np.int64)
    magic, lists, code_size, layout, count = _IVF_LISTS.unpack(
        _read_exactly(stream, _IVF_LISTS.size, left(), "the inverted lists"))
    if magic != b"ilar" or lists != nlist or code_size != 4 * d or layout not in (b"full", b"sprs"):
        raise _Damaged("inconsistent inverted lists")
    if count > left() // 8:
        raise _Damaged("the inverted lists run past the end of the file (truncated?)")
    counts = np.frombuffer(_read_exactly(stream, 8 * count, left(), "the list sizes"), np.uint64)
    if layout == b"full":
        if count != nlist:
            raise _Damaged("inconsistent inverted lists")
        sizes = counts
    else:
        numbers, nonzero = counts[0::2], counts[1::2]
        if count % 2 or np.any(numbers >= nlist) or len(np.unique(numbers)) != len(numbers):
            raise _Damaged("inconsistent inverted lists")
        sizes = np.zeros(nlist, np.uint64)
        sizes[numbers.astype(np.int64)] = nonzero
    if np.any(sizes > ntotal) or int(sizes.sum()) != ntotal:
        raise _Damaged(f"the lists hold {int(sizes.sum())} vectors, the header says {ntotal}")
    want = int(sizes.sum()) * (code_size + 8)
    if left() != want:
        raise _Damaged(f"{size} bytes where {ntotal} vectors take {size - left() + want} (truncated?)")
    for number in np.flatnonzero(sizes):
        n = int(sizes[number])
        stream.seek(n * code_size, os.SEEK_CUR)
        ids = np.frombuffer(stream.read(8 * n), np.int64)
        if len(ids) != n or np.any(ids < 0) or np.any(ids >= ntotal):
            raise _Damaged("row ids out of range")
        if np.any(direct[ids] != (int(number) << 32) + np.arange(n, dtype=np.int64)):
            raise _Damaged("row ids disagree with the direct map")
    return ntotal


def _check_keyword_dir(path: Path, rows: int | None) -> int:
    """Check a bm25s folder (JSON and numpy arrays only) before bm25s loads it; returns its row count."""
    if not path.is_dir():
        raise _Vanished(path)
    params_file = path / "params.index.json"
    if not params_file.exists():
        if rows:
            raise _Damaged("params.index.json is missing")
        return 0
    try:
        params = json.loads(params_file.read_text(encoding="utf-8"))
        vocab = json.loads((path / "vocab.index.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _missing(path, "vocab.index.json") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _Damaged(f"not JSON ({e})") from None
    if not isinstance(params, dict) or set(params) - set(_BM25_PARAMS) or "num_docs" not in params:
        raise _Damaged("unexpected parameters")
    for key, value in params.items():
        if not isinstance(value, _BM25_PARAMS[key]) or isinstance(value, bool):
            raise _Damaged(f"parameter {key!r} has the wrong type")
    if (params.get("backend", "numpy") != "numpy" or params.get("method", "lucene") not in _BM25_METHODS
            or params.get("idf_method") not in _BM25_METHODS | {None}
            or params.get("dtype", "float32") not in ("float32", "float64")
            or params.get("int_dtype", "int32") not in ("int32", "int64")):
        raise _Damaged("unexpected parameters")
    docs = params["num_docs"]
    if docs < 0 or (rows is not None and docs != rows):
        raise _Damaged(f"{docs} documents for {rows} chunks")
    if not isinstance(vocab, dict) or not all(isinstance(k, str) and _is_int(v) for k, v in vocab.items()):
        raise _Damaged("vocabulary is not a word -> number object")
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise _Damaged("vocabulary numbers are not 0..n-1")
    try:
        data, indices, indptr = (load_array(path / name) for name in _BM25_ARRAYS)
    except FileNotFoundError:
        raise _missing(path, "an array file") from None
    except (ValueError, OSError, EOFError) as e:
        raise _Damaged(f"unreadable array ({e})") from None
    if any(a.ndim != 1 for a in (data, indices, indptr)):
        raise _Damaged("arrays are not flat")
    if data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise _Damaged("arrays have the wrong types")
    # bm25s keeps a column per word except its empty-string entry: len(vocab) or len(vocab) + 1 pointers
    if not len(vocab) <= len(indptr) <= len(vocab) + 1 or len(data) != len(indices) or (len(indptr) and (
            indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0))):
        raise _Damaged("arrays do not agree with each other")
    if len(indices) and (indices.min() < 0 or indices.max() >= docs):
        raise _Damaged("rows out of range")
    if not np.all(np.isfinite(data)):
        raise _Damaged("scores are not finite")
    if params.get("method") in ("bm25l", "bm25+"):
        try:
            nnoc = load_array(path / "nonoccurrence_array.index.npy")
        except (ValueError, OSError, EOFError) as e:
            raise _Damaged(f"unreadable array ({e})") from None
        if nnoc.ndim != 1 or nnoc.dtype.kind != "f" or len(nnoc) != docs:
            raise _Damaged("non-occurrence array does not fit")
    return docs


def _load_keywords(path: Path, rows: int) -> KeywordIndex:
    _check_keyword_dir(path, rows)
    try:
        keywords = KeywordIndex.load(path, rows)
        if rows and keywords.size != rows:  # KeywordIndex.load finds an empty folder empty
            raise FileNotFoundError(path)
        return keywords
    except FileNotFoundError:
        raise _missing(path, "a file") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise _Damaged(str(e)) from None


def _read_index(stream: IO[bytes], dim: int, mapped: bool = False) -> VectorIndex:
    """The index in a checked file. ``mapped``: memory-map it (read-only; readers) through
    /proc/self/fd, which reaches the pinned file even after a newer generation deleted its name;
    where there is no /proc/self/fd (not Linux), FAISS reads a copy through the stream instead.
    Writers read a copy: FAISS cannot add to a mapped index."""
    import faiss

    by_descriptor = Path(f"/proc/self/fd/{stream.fileno()}")
    if mapped and by_descriptor.exists():
        return VectorIndex.load(by_descriptor, mapped=True)
    stream.seek(0)
    return VectorIndex(dim, faiss.read_index(faiss.PyCallbackIOReader(stream.read)))


def _load_index_file(path: Path, dim: int, rows: int | None) -> VectorIndex:
    with open(path, "rb") as stream:
        _check_index_file(stream, dim, rows)
        return _read_index(stream, dim)


class Library:
    """One library directory. Open with :meth:`open` or :meth:`create`."""

    lock_timeout: float = 0  # seconds a write waits for another writer; 0: stop at once with a message

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest
        self._db: sqlite3.Connection | None = None
        self._index_file: IO[bytes] | None = None
        self._index: VectorIndex | None = None
        self._keywords: KeywordIndex | None = None
        self._articles: dict[str, Article] = {}
        self._io = threading.Lock()
        self._pinned = False  # the generation's files are open (see _pin); reopened on use after close()

    # -- opening -----------------------------------------------------------------
    @classmethod
    def exists(cls, path: Path) -> bool:
        return (Path(path) / MANIFEST).is_file()

    @classmethod
    def open(cls, path: Path | str, encoder: Encoder | None = None) -> "Library":
        """Open an existing library at its current generation, refusing one made with another
        format or embedder, and one whose files are damaged."""
        path = Path(path)
        for attempt in range(OPEN_ATTEMPTS):
            manifest = _read_manifest(path)
            _check_embedder(manifest, path, encoder)
            lib = cls(path, manifest)
            _checkpoint("manifest-read")
            try:
                lib._pin()
                return lib
            except (_Vanished, LibraryError) as e:
                # A writer may have switched generations (and deleted these files) since the
                # manifest was read: if so, read it again; if not, the library is damaged.
                if attempt + 1 < OPEN_ATTEMPTS and _read_manifest(path)["generation"] != manifest["generation"]:
                    continue
                if isinstance(e, _Vanished):
                    raise LibraryError(f"library file {e} is missing; {_doctor_hint(path)}") from None
                raise
        raise AssertionError("unreachable")

    @classmethod
    def create(cls, path: Path | str, encoder: Encoder, params: ChunkParams = ChunkParams()) -> "Library":
        """An empty library (generation 0, no files yet), or the existing one at ``path``."""
        path = Path(path)
        if cls.exists(path):
            return cls.open(path, encoder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryError(f"cannot create library folder {path}: {e.strerror or e}") from None
        manifest = {"format": FORMAT, "generation": 0, "files": {},
                    "embedder": {"name": encoder.name, "sha256": encoder.sha256, "dim": encoder.dim},
                    "chunking": params.to_dict(), "counts": {"articles": 0, "chunks": 0}}
        lib = cls(path, manifest)
        try:
            with lib.lock(CREATE_WAIT_S):
                if not cls.exists(path):
                    lib._write_manifest(manifest)
        except Timeout:
            if not cls.exists(path):
                raise LibraryError(f"another qa command holds {path / LOCK}; try again when it is done") from None
        return cls.open(path, encoder)

    def _pin(self) -> None:
        """Open this generation's files now; raises _Vanished if one is gone, LibraryError if damaged."""
        files, counts = self.manifest["files"], self.manifest["counts"]
        self._pinned = True
        if not files:
            return
        where = self.path / files["store"]
        try:
            self._db = _open_store(where)
            n_articles, n_chunks, low, high = _store_shape(self._db)
            if (n_articles, n_chunks) != (counts["articles"], counts["chunks"]) or (
                    n_chunks and (low, high) != (0, n_chunks - 1)):
                raise _Damaged(f"it holds {n_articles} articles and {n_chunks} chunks (rows {low}..{high}); "
                               f"the manifest says {counts['articles']} and {counts['chunks']}")
            where = self.path / files["index"]
            try:
                self._index_file = open(where, "rb")
            except FileNotFoundError:
                raise _Vanished(where) from None
            _check_index_file(self._index_file, self.manifest["embedder"]["dim"], n_chunks)
            where = self.path / files["bm25"]
            self._keywords = _load_keywords(where, n_chunks)
        except (_Damaged, sqlite3.Error, OSError) as e:
            self.close()
            raise LibraryError(f"library file {where} is damaged ({e}); {_doctor_hint(self.path)}") from None
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
        manifest = _read_manifest(self.path)
        if manifest["generation"] == self.manifest["generation"]:
            return False
        _check_embedder(manifest, self.path, encoder)
        fresh = type(self).open(self.path, encoder)
        self.close()
        self._adopt(fresh)
        return True

    def _adopt(self, fresh: "Library") -> None:
        """Take over another (just opened) Library's pinned generation."""
        self.manifest, self._db, self._index_file, self._keywords = (
            fresh.manifest, fresh._db, fresh._index_file, fresh._keywords)
        fresh._db = fresh._index_file = None
        fresh._pinned = False
        self._pinned = True

    @property
    def params(self) -> ChunkParams:
        return ChunkParams(**self.manifest["chunking"])

    @property
    def counts(self) -> dict:
        return self.manifest["counts"]

    # -- reading -----------------------------------------------------------------
    def _ensure(self) -> None:
        """After close(), open the files again: this generation's if they are still there, else the
        current one's."""
        if self._pinned:
            return
        try:
            self._pin()
        except _Vanished:
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
                               f"is damaged ({e}); {_doctor_hint(self.path)}") from None

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            self._ensure()
            with self._io:
                if self._index is None:
                    dim = self.manifest["embedder"]["dim"]
                    if self._index_file is None:
                        self._index = VectorIndex(dim)
                    else:
                        try:
                            self._index = _read_index(self._index_file, dim, mapped=True)
                        except (RuntimeError, OSError, ValueError) as e:
                            raise LibraryError(f"library index {self.path / self.manifest['files']['index']} "
                                               f"is unreadable ({e}); {_doctor_hint(self.path)}") from None
        return self._index

    @property
    def keyword_index(self) -> KeywordIndex:
        self._ensure()
        if self._keywords is None:
            self._keywords = KeywordIndex()
        return self._keywords

    def chunk_texts(self) -> list[str]:
        """What was embedded for every chunk, in row order (title + chunk text)."""
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            return self._chunk_texts(db)

    @staticmethod
    def _chunk_texts(db: sqlite3.Connection) -> list[str]:
        rows = db.execute("SELECT a.title, substr(a.text, c.start + 1, c.end - c.start) FROM chunks c "
                          "JOIN articles a ON a.id = c.article_id ORDER BY c.row")
        return [embed_text(title or "", text or "") for title, text in rows]

    @staticmethod
    def _article(row: tuple) -> Article:
        aid, chash, title, source, url, date, text = row
        return Article(id=aid, content_hash=chash, title=title, text=text, source=source, url=url, date=date)

    def articles(self) -> list[Article]:
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            rows = db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles "
                              "ORDER BY date IS NULL, date, title").fetchall()
        return [self._article(r) for r in rows]

    def article(self, article_id: str) -> Article | None:
        if article_id not in self._articles:
            db = self._connect()
            if db is None:
                return None
            with self._reading():
                row = db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
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
        found: dict[int, tuple[str, int, int]] = {}
        with self._reading():
            for i in range(0, len(rows), 500):
                part = rows[i:i + 500]
                marks = ",".join("?" * len(part))
                found.update({r: (a, s, e) for r, a, s, e in
                              db.execute(f"SELECT row, article_id, start, end FROM chunks WHERE row IN ({marks})",
                                         part)})
        out = []
        for r in rows:
            if r in found:
                aid, s, e = found[r]
                article = self.article(aid)
                if article is not None:
                    out.append(StoredChunk(r, article, s, e))
        return out

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        """All chunks of one article, in text order."""
        db = self._connect()
        article = self.article(article_id)
        if db is None or article is None:
            return []
        with self._reading():
            rows = db.execute("SELECT row, start, end FROM chunks WHERE article_id = ? ORDER BY start, row",
                              (article_id,)).fetchall()
        return [StoredChunk(r, article, s, e) for r, s, e in rows]

    def sources(self, article_id: str) -> list[str]:
        """The files an article was read from (empty for articles ingested before qa recorded them)."""
        db = self._connect()
        if db is None:
            return []
        with self._reading():
            if not _has_table(db, "sources"):
                return []
            return [p for (p,) in db.execute("SELECT path FROM sources WHERE article_id = ? ORDER BY path",
                                             (article_id,))]

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
        self._pinned = False

    # -- writing -----------------------------------------------------------------
    def lock(self, timeout: float = 0) -> FileLock:
        return FileLock(str(self.path / LOCK), timeout=timeout)

    @contextmanager
    def _writing(self, encoder: Encoder | None = None) -> Iterator[None]:
        """Hold the write lock and start from the current generation (another process may have
        written since we opened)."""
        lock = self.lock(self.lock_timeout)
        try:
            lock.acquire()
        except Timeout:
            raise LibraryError(f"another qa command (ingest, remove or doctor) is writing to {self.path}; "
                               "wait for it to finish and try again") from None
        try:
            manifest = _read_manifest(self.path)
            _check_embedder(manifest, self.path, encoder)
            self._switch_to(manifest)
            self._remove_leftovers(manifest["files"].values())  # of a killed write, or a failed delete
            try:
                yield
            except BaseException:
                try:  # whatever happened, show the generation the manifest names
                    self._switch_to(_read_manifest(self.path))
                except (LibraryError, _Vanished):
                    pass
                raise
        except _Vanished as e:  # cannot happen under the lock unless the folder was tampered with
            raise LibraryError(f"library file {e} is missing; {_doctor_hint(self.path)}") from None
        finally:
            lock.release()

    def _write_manifest(self, manifest: dict) -> None:
        tmp = self.path / f"{MANIFEST}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        _checkpoint("manifest-written")
        os.replace(tmp, self.path / MANIFEST)
        _checkpoint("manifest-replaced")
        _fsync(self.path)
        self.manifest = manifest

    def _remove_leftovers(self, keep: Iterable[str]) -> list[str]:
        """Delete files qa wrote that the manifest does not name (old generations, crashed writes)."""
        keep = set(keep) | {MANIFEST}
        removed = []
        for entry in sorted(self.path.iterdir()):
            if entry.name in keep or not _OWN_NAME.fullmatch(entry.name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
        return removed

    def add(self, paths: Iterable[str | Path], encoder: Encoder, progress: Progress | None = None,
            on_error: Callable[[ReadError], None] | None = None) -> IngestReport:
        """Read, chunk, embed and store articles. The same text goes in once; a file whose bytes
        did not change since it was last ingested is skipped; a file that changed replaces the
        articles it gave before. Bad files and lines are reported, not raised."""
        progress = progress or (lambda stage, done, total: None)
        with self._writing(encoder):
            return self._add_locked(paths, encoder, progress, on_error)

    def _add_locked(self, paths, encoder: Encoder, progress: Progress, on_error) -> IngestReport:
        report = IngestReport()
        db = self._db
        with self._reading():
            known = dict(db.execute("SELECT content_hash, id FROM articles")) if db else {}
            links = _links_by_path(db) if db else {}
            seen_files = _file_hashes(db) if db else {}
        change = _Change()
        counter = encoder.token_counter()
        # Chunks are encoded in a worker as they come, so reading and chunking hide behind the encoder.
        with EncodingQueue(encoder, lambda done, total: progress("embed", done, total)) as queue:
            now: dict[str, set[str]] = {}  # files read whole: path -> the articles they hold now
            own = self.path.resolve()

            def fail(error: ReadError) -> None:
                report.errors.append(error)
                if on_error:
                    on_error(error)

            for item in walk_paths(paths, ignored=report.ignored):
                if isinstance(item, ReadError):
                    fail(item)
                    continue
                key = str(item.resolve())
                if own in item.resolve().parents:  # the library's own files, inside a folder being ingested
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
                    pieces = chunk_text(art.id, art.title, art.text, counter, self.params)
                    if not pieces:
                        fail(ReadError(str(item), None, f"{art.id}: no text to index"))
                        clean = False
                        continue
                    known[art.content_hash] = art.id
                    holds.add(art.id)
                    report.added.append(art)
                    change.chunks += pieces
                    queue.add([embed_text(art.title, c.text) for c in pieces])
                    progress("read", len(report.added), 0)
                change.links |= {(key, aid) for aid in holds}
                if whole:
                    now[key] = now.get(key, set()) | holds
                    if clean and digest is not None:
                        change.files[key] = digest
                        seen_files[key] = digest[0]
            change.articles = report.added
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
            if change.chunks:
                change.vectors = queue.result()
            self._commit(change, encoder)
            return report

    def find(self, targets: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
        """Article ids for each target (an article id, a URL, or a file or folder that was
        ingested), and the targets that match nothing."""
        db = self._db
        found: dict[str, list[str]] = {}
        unknown: list[str] = []
        for target in targets:
            ids: list[str] = []
            if db is not None:
                with self._reading():
                    ids = [a for (a,) in db.execute("SELECT id FROM articles WHERE id = ? OR url = ?",
                                                    (target, target))]
                    key = str(Path(target).expanduser().resolve())
                    pattern = key.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
                    if _has_table(db, "sources"):
                        ids += [a for (a,) in db.execute(
                            "SELECT DISTINCT article_id FROM sources WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                            (key, pattern))]
                    else:  # a store from before sources were kept: files are known by their url
                        ids += [a for (a,) in db.execute(
                            "SELECT id FROM articles WHERE url = ? OR url LIKE ? ESCAPE '\\'", (key, pattern))]
            if ids:
                found[target] = sorted(set(ids))
            else:
                unknown.append(target)
        return found, unknown

    def remove(self, targets: Iterable[str]) -> RemoveReport:
        """Remove articles by id, URL, or the file or folder they were ingested from. Every
        target must match something, or nothing is removed."""
        targets = list(targets)
        with self._writing():
            found, unknown = self.find(targets)
            if unknown:
                raise LibraryError(f"nothing in library {self.path} matches: {', '.join(unknown)} "
                                   "(give an article id from `qa list`, a URL, or an ingested file or folder)")
            ids = sorted({aid for group in found.values() for aid in group})
            report = RemoveReport(removed=[a for a in (self.article(i) for i in ids) if a is not None])
            with self._reading():
                report.chunks = sum(self._db.execute("SELECT count(*) FROM chunks WHERE article_id = ?",
                                                     (i,)).fetchone()[0] for i in ids)
            self._commit(_Change(remove=set(ids)))
            return report

    def _commit(self, change: _Change, encoder: Encoder | None = None) -> None:
        """Write generation N+1 with ``change`` applied, sync it, switch the manifest, delete N."""
        old = dict(self.manifest["files"])
        gen = self.manifest["generation"] + 1
        dim = self.manifest["embedder"]["dim"]
        self._remove_leftovers(old.values())
        _checkpoint("commit-start")
        store = f"store-{gen}.db"
        if old:
            shutil.copyfile(self.path / old["store"], self.path / store)
        _checkpoint("store-copied")
        db = sqlite3.connect(self.path / store)
        try:
            db.execute("PRAGMA journal_mode = OFF")  # a private file until the manifest names it
            db.execute("PRAGMA synchronous = OFF")   # synced below, before the switch
            db.execute("PRAGMA trusted_schema = OFF")
            _migrate(db)
            before = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            kept = _apply_removals(db, change)
            first_row = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            db.executemany(f"INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(a.id, a.content_hash, a.title, a.source, a.url, a.date, a.text)
                            for a in change.articles])
            db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?)",
                           [(first_row + i, c.article_id, c.start, c.end) for i, c in enumerate(change.chunks)])
            db.executemany("DELETE FROM sources WHERE path = ? AND article_id = ?", sorted(change.unlinks))
            db.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?)", sorted(change.links))
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                           [(p, sha, size) for p, (sha, size) in sorted(change.files.items())])
            db.commit()
            n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            n_chunks, low, high = db.execute("SELECT count(*), min(row), max(row) FROM chunks").fetchone()
            if n_chunks and (low, high) != (0, n_chunks - 1):
                raise LibraryError(f"library {self.path}: chunk rows are not 0..{n_chunks - 1} after the write; "
                                   f"nothing was changed. {_doctor_hint(self.path)}")
            texts = self._chunk_texts(db) if change.rows_change or change.rebuild_keywords or not old else None
        finally:
            db.close()
        _checkpoint("store-written")
        files = {"store": store, "index": old.get("index"), "bm25": old.get("bm25")}
        if change.rows_change or not old:
            index = VectorIndex(dim)
            if change.reencode:
                if texts:
                    index.add(encoder.encode(texts))
            else:
                if old and (kept is None or kept):
                    previous = _load_index_file(self.path / old["index"], dim, None)
                    if len(previous) != before:
                        raise LibraryError(f"library {self.path} is inconsistent: {before} chunks stored, "
                                           f"{len(previous)} vectors indexed; {_doctor_hint(self.path)}")
                    index = previous if kept is None else previous.empty_like()
                    if kept is not None:
                        index.add(previous.vectors(kept))
                if change.vectors is not None:
                    index.add(change.vectors)
            if len(index) != n_chunks:
                raise LibraryError(f"library {self.path}: {len(index)} vectors for {n_chunks} chunks; "
                                   "nothing was changed")
            files["index"] = f"index-{gen}.faiss"
            index.save(self.path / files["index"])
            _checkpoint("index-saved")
        if texts is not None:
            files["bm25"] = f"bm25-{gen}"
            _build_keywords(texts).save(self.path / files["bm25"])
            _checkpoint("bm25-saved")
        for name in (files["store"], files["index"]):
            _fsync(self.path / name)
        if files["bm25"] != old.get("bm25"):
            bm25_dir = self.path / files["bm25"]
            for entry in bm25_dir.iterdir():
                _fsync(entry)
            _fsync(bm25_dir)
        _fsync(self.path)  # the new names are on disk before the manifest that points at them
        _checkpoint("synced")
        manifest = dict(self.manifest, generation=gen, files=files,
                        counts={"articles": n_articles, "chunks": n_chunks},
                        updated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.close()
        self._write_manifest(manifest)
        self._pin()
        self._remove_leftovers(files.values())
        _checkpoint("old-removed")


# -- store helpers ------------------------------------------------------------------------------
def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a store copy up to the current schema; articles of older stores are linked to the
    file their url names (a local file's url is its path)."""
    had_sources = _has_table(db, "sources")
    db.executescript(_SCHEMA)
    if not had_sources:
        db.execute("INSERT OR IGNORE INTO sources SELECT url, id FROM articles WHERE url LIKE '/%'")


def _links_by_path(db: sqlite3.Connection) -> dict[str, set[str]]:
    links: dict[str, set[str]] = {}
    query = ("SELECT path, article_id FROM sources" if _has_table(db, "sources")
             else "SELECT url, id FROM articles WHERE url LIKE '/%'")
    for path, aid in db.execute(query):
        links.setdefault(path, set()).add(aid)
    return links


def _file_hashes(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT path, sha256 FROM files")) if _has_table(db, "files") else {}


def _linked_articles(links: dict[str, set[str]], change: _Change) -> set[str]:
    """Articles that some file still holds after the change's unlinks and links."""
    still = {(p, a) for p, ids in links.items() for a in ids}
    still = (still - change.unlinks) | change.links
    return {a for _, a in still}


def _apply_removals(db: sqlite3.Connection, change: _Change) -> list[int] | None:
    """Delete removed articles (with their chunks, links and file hashes) and dropped rows, then
    renumber the chunks 0..n-1 in their old order. Returns the old rows kept, or None if none went."""
    if not change.remove and not change.drop_rows and not change.renumber:
        return None
    db.execute("CREATE TEMP TABLE gone (id TEXT PRIMARY KEY)")
    db.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(a,) for a in change.remove])
    db.execute("DELETE FROM files WHERE path IN (SELECT path FROM sources WHERE article_id IN (SELECT id FROM gone))")
    db.execute("DELETE FROM sources WHERE article_id IN (SELECT id FROM gone)")
    db.execute("DELETE FROM chunks WHERE article_id IN (SELECT id FROM gone)")
    db.execute("DELETE FROM articles WHERE id IN (SELECT id FROM gone)")
    db.executemany("DELETE FROM chunks WHERE row = ?", [(r,) for r in sorted(change.drop_rows)])
    db.execute("DROP TABLE gone")
    kept = [r for (r,) in db.execute("SELECT row FROM chunks ORDER BY row")]
    # Ascending, each row moves down to its rank; the rank is never taken by a row not yet moved.
    db.executemany("UPDATE chunks SET row = ? WHERE row = ?", [(i, r) for i, r in enumerate(kept) if i != r])
    return kept


# -- doctor ---------------------------------------------------------------------------------------
def _default_encoder() -> Encoder:
    import embeddings.encoder

    return embeddings.encoder.load_encoder()


def doctor(path: Path | str, repair: bool = True, get_encoder: Callable[[], Encoder] | None = None) -> DoctorReport:
    """Check that a library's manifest, store, vectors and keyword index agree, and (``repair``)
    fix what can be fixed in a new generation: the keyword index and the counts are rebuilt from
    the store; broken chunk rows are dropped; vectors are re-made with the encoder (loaded only
    if needed) when the index is missing, damaged or out of step; leftover files are deleted."""
    path = Path(path)
    has_store = path.is_dir() and any(_GENERATION_NAME["store"].fullmatch(e.name) for e in path.iterdir())
    if not (path / MANIFEST).exists() and not has_store:
        raise LibraryError(f"no library at {path} (no {MANIFEST})")
    report = DoctorReport(path)
    loaded: list[Encoder] = []

    def encoder() -> Encoder:
        if not loaded:
            loaded.append((get_encoder or _default_encoder)())
        return loaded[0]

    lock = FileLock(str(path / LOCK), timeout=Library.lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LibraryError(f"another qa command (ingest, remove or doctor) is writing to {path}; "
                           "wait for it to finish and try again") from None
    try:
        _doctor_locked(path, report, repair, encoder)
    finally:
        lock.release()
    return report


def _doctor_locked(path: Path, report: DoctorReport, repair: bool, encoder: Callable[[], Encoder]) -> None:
    change = _Change()
    recovered = False
    try:
        manifest = _read_manifest(path)
        report.checked.append(f"{MANIFEST}: generation {manifest['generation']}, "
                              f"{manifest['counts']['articles']} articles, {manifest['counts']['chunks']} chunks")
    except _FormatError:
        raise
    except LibraryError as e:
        report.problems.append(str(e))
        manifest = _recover_manifest(path, report, encoder) if repair else None
        if manifest is None:
            report.unrepaired.append(f"{MANIFEST} cannot be rebuilt" + (
                "" if repair else " (checked only)") + "; re-ingest the articles into a new library")
            return
        recovered = change.manifest_only = True
    files, counts, dim = manifest["files"], manifest["counts"], manifest["embedder"]["dim"]
    lib = Library(path, manifest)
    leftovers = sorted(e.name for e in path.iterdir()
                       if _OWN_NAME.fullmatch(e.name) and e.name not in set(files.values()))
    if leftovers:
        report.problems.append(f"files left by an interrupted write: {', '.join(leftovers)}")
    if not files:
        report.checked.append("empty library (no articles yet)")
        if leftovers and repair:
            lib._remove_leftovers(())
            report.repaired.append(f"deleted {len(leftovers)} leftover files")
        return

    # The store: everything else is rebuilt from it, so it must be readable.
    store = path / files["store"]
    try:
        db = _open_store(store)
        try:
            integrity = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
            if integrity != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(integrity[:3]))
            n_articles, n_chunks, low, high = _store_shape(db)
            orphans = [r for (r,) in db.execute(
                "SELECT row FROM chunks WHERE article_id NOT IN (SELECT id FROM articles)")]
            bad_spans = [r for (r,) in db.execute(
                "SELECT c.row FROM chunks c JOIN articles a ON a.id = c.article_id "
                "WHERE c.start < 0 OR c.end <= c.start OR c.end > length(a.text)")]
            chunkless = [Library._article(r) for r in db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id NOT IN (SELECT article_id FROM chunks)")]
            dangling = (set(db.execute("SELECT path, article_id FROM sources "
                                       "WHERE article_id NOT IN (SELECT id FROM articles)"))
                        if _has_table(db, "sources") else set())
        finally:
            db.close()
    except (_Vanished, sqlite3.Error, OSError) as e:
        why = "is missing" if isinstance(e, _Vanished) else f"cannot be read ({e})"
        report.problems.append(f"store {store.name} {why}")
        report.unrepaired.append("the article store is the library's only copy of the articles; "
                                 "re-ingest them into a new library")
        return
    report.checked.append(f"{store.name}: {n_articles} articles, {n_chunks} chunks, integrity ok")
    if (n_articles, n_chunks) != (counts["articles"], counts["chunks"]):
        report.problems.append(f"{MANIFEST} counts {counts['articles']} articles and {counts['chunks']} chunks; "
                               f"the store holds {n_articles} and {n_chunks}")
        change.manifest_only = True
    if n_chunks and (low, high) != (0, n_chunks - 1):
        report.problems.append(f"chunk rows run {low}..{high}, not 0..{n_chunks - 1}")
        change.renumber = change.reencode = True
    if orphans:
        report.problems.append(f"{len(orphans)} chunks belong to no stored article")
        change.drop_rows |= set(orphans)
    if bad_spans:
        report.problems.append(f"{len(bad_spans)} chunks point outside their article's text")
        change.drop_rows |= set(bad_spans)
    if dangling:
        report.problems.append(f"{len(dangling)} file links name articles that are gone")
        change.unlinks |= dangling
    if chunkless:
        report.problems.append(f"{len(chunkless)} articles have no chunks: {', '.join(a.id for a in chunkless[:5])}")

    # The vectors: one per chunk, readable, of the embedder's dimension.
    index_path = path / files["index"]
    try:
        index = _load_index_file(index_path, dim, None)
        if len(index) != n_chunks:
            raise _Damaged(f"{len(index)} vectors for {n_chunks} chunks")
        if n_chunks and not np.all(np.isfinite(index.vectors(list(range(n_chunks))))):
            raise _Damaged("vectors that are not finite numbers")
        report.checked.append(f"{index_path.name}: {len(index)} vectors of {dim} dimensions")
    except FileNotFoundError:
        report.problems.append(f"index {index_path.name} is missing")
        change.reencode = True
    except (_Damaged, RuntimeError, OSError, ValueError) as e:
        report.problems.append(f"index {index_path.name} is damaged ({e})")
        change.reencode = True

    # The keyword index: one document per chunk.
    bm25_path = path / files["bm25"]
    try:
        _load_keywords(bm25_path, n_chunks)
        report.checked.append(f"{bm25_path.name}: {n_chunks} documents")
    except _Vanished:
        report.problems.append(f"keyword index {bm25_path.name} is missing")
        change.rebuild_keywords = True
    except _Damaged as e:
        report.problems.append(f"keyword index {bm25_path.name} is damaged ({e})")
        change.rebuild_keywords = True

    if not repair:
        if report.problems:
            report.unrepaired.append("nothing was changed (checked only)")
        return
    if leftovers:
        lib._remove_leftovers(files.values())
        report.repaired.append(f"deleted {len(leftovers)} leftover files")
    enc = None
    if change.reencode or chunkless:
        try:
            enc = encoder()
            _check_embedder(manifest, path, enc)
        except Exception as e:  # no usable encoder here: fix what does not need one
            report.unrepaired.append(f"vectors must be made with the library's embedder, which is not usable: {e}")
            if change.reencode:
                return  # without vectors there is no consistent generation to write
            enc, chunkless = None, []
    if chunkless:
        counter = enc.token_counter()
        for article in chunkless:
            change.chunks += chunk_text(article.id, article.title, article.text, counter, lib.params)
        if change.chunks and not change.reencode:
            titles = {a.id: a.title for a in chunkless}
            change.vectors = enc.encode([embed_text(titles[c.article_id], c.text) for c in change.chunks])
    if change.empty:
        return
    try:
        lib._commit(change, enc)
    except (LibraryError, sqlite3.Error, OSError, RuntimeError, ValueError) as e:
        report.unrepaired.append(f"the repair failed, nothing was changed: {e}")
        return
    finally:
        lib.close()
    new = lib.manifest
    done = []
    if recovered:
        done.append(f"rebuilt {MANIFEST} from {files['store']} (embedder {new['embedder']['name']})")
    if change.drop_rows:
        done.append(f"dropped {len(change.drop_rows)} broken chunks")
    if change.unlinks:
        done.append(f"dropped {len(change.unlinks)} dangling file links")
    if chunkless and change.chunks:
        done.append(f"chunked and embedded {len(chunkless)} articles that had no chunks")
    if change.reencode:
        done.append(f"re-made {new['counts']['chunks']} vectors with {new['embedder']['name']} "
                    f"({new['files']['index']})")
    elif change.rows_change:
        done.append(f"rebuilt the vector index without the dropped rows ({new['files']['index']})")
    if change.rows_change or change.rebuild_keywords:
        done.append(f"rebuilt the keyword index from the store ({new['files']['bm25']})")
    if change.manifest_only and not recovered:
        done.append(f"corrected the counts in {MANIFEST}")
    report.repaired += done
    try:
        Library.open(path).close()
    except LibraryError as e:
        report.unrepaired.append(f"the repaired library still fails to open: {e}")


def _recover_manifest(path: Path, report: DoctorReport, encoder: Callable[[], Encoder]) -> dict | None:
    """A manifest for the newest generation whose store reads, assuming this qa's embedder
    (the vectors are checked against its dimension, and re-made if they do not fit)."""
    generations = sorted((int(m.group(1)) for e in path.iterdir()
                          if (m := _GENERATION_NAME["store"].fullmatch(e.name))), reverse=True)
    for gen in generations:
        try:
            db = _open_store(path / f"store-{gen}.db")
            try:
                if [r[0] for r in db.execute("PRAGMA quick_check")] != ["ok"]:
                    continue
                n_articles, n_chunks, _, _ = _store_shape(db)
            finally:
                db.close()
        except (_Vanished, sqlite3.Error, OSError):
            continue
        try:
            enc = encoder()
        except Exception as e:
            report.unrepaired.append(f"rebuilding {MANIFEST} needs the embedder: {e}")
            return None
        return {"format": FORMAT, "generation": gen,
                "files": {"store": f"store-{gen}.db", "index": f"index-{gen}.faiss", "bm25": f"bm25-{gen}"},
                "embedder": {"name": enc.name, "sha256": enc.sha256, "dim": enc.dim},
                "chunking": ChunkParams().to_dict(), "counts": {"articles": n_articles, "chunks": n_chunks}}
    return None


def _build_keywords(texts: list[str]) -> KeywordIndex:
    """BM25 over the chunk texts (row i = chunk i)."""
    return KeywordIndex.build(texts)
