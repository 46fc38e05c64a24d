"""Byte-level checks of a generation's vector and keyword files, before FAISS or bm25s reads them.

FAISS aborts the process (or allocates what a header claims) on a damaged file,
and bm25s trusts its arrays; so every header, count and size is checked against
the file's own length, the embedder's dimension and the store's chunk count
first. A damaged file raises :class:`Damaged` saying why; a missing one
:class:`Vanished` (a writer may have switched generations).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import IO

import numpy as np

from embeddings.index import VectorIndex
from qa.bm25 import KeywordIndex, load_array

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


class Vanished(Exception):
    """A generation file is gone: a writer may have switched generations since the manifest was read."""


class Damaged(Exception):
    """A library file that exists but cannot be trusted; the message says why."""


def missing(path: Path, what: str) -> Exception:
    """A file inside ``path`` was not found: the whole generation vanished (a writer
    switched), or only a part of it is missing (damage)."""
    return Vanished(path) if not path.exists() else Damaged(f"{what} is missing")


def check_index_file(stream: IO[bytes], dim: int, rows: int | None) -> int:
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
        raise Damaged("not a FAISS inner-product flat or IVF index (wrong header)")
    if rows is not None and ntotal != rows:
        raise Damaged(f"{ntotal} vectors for {rows} chunks")
    return ntotal


def _check_flat_file(stream: IO[bytes], dim: int, left: int, nothing_after: bool) -> int:
    """Check an IndexFlatIP after its magic (``left`` bytes remain in the file); returns its row
    count and leaves the stream after its floats."""
    head = stream.read(_FAISS_HEADER.size)
    if len(head) < _FAISS_HEADER.size:
        raise Damaged("not a FAISS inner-product flat index (wrong header)")
    d, ntotal, _, _, _, metric, floats = _FAISS_HEADER.unpack(head)
    if d != dim:
        raise Damaged(f"vectors have {d} dimensions, the embedder makes {dim}")
    if metric != 0 or ntotal < 0 or floats != ntotal * d:
        raise Damaged("inconsistent header")
    want = _FAISS_HEADER.size + 4 * floats
    if left != want if nothing_after else left < want:
        raise Damaged(f"{left + 4} bytes where {ntotal} vectors take {want + 4} (truncated?)")
    stream.seek(4 * floats, os.SEEK_CUR)
    return ntotal


def _read_exactly(stream: IO[bytes], n: int, left: int, what: str) -> bytes:
    if n > left:
        raise Damaged(f"{what} runs past the end of the file (truncated?)")
    data = stream.read(n)
    if len(data) != n:
        raise Damaged(f"{what} runs past the end of the file (truncated?)")
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
        raise Damaged(f"vectors have {d} dimensions, the embedder makes {dim}")
    if metric != 0 or ntotal < 0 or not trained or not 1 <= nprobe <= nlist or nlist * 4 * d > left():
        raise Damaged("inconsistent header")
    if _read_exactly(stream, 4, left(), "the centroids") != _FAISS_MAGIC or _check_flat_file(
            stream, dim, left(), nothing_after=False) != nlist:
        raise Damaged("inconsistent centroids")
    kind, count = struct.unpack("<bQ", _read_exactly(stream, 9, left(), "the direct map"))
    if kind != 1 or count != ntotal:
        raise Damaged("no direct map from rows to lists")
    direct = np.frombuffer(_read_exactly(stream, 8 * count, left(), "the direct map"), np.int64)
    magic, lists, code_size, layout, count = _IVF_LISTS.unpack(
        _read_exactly(stream, _IVF_LISTS.size, left(), "the inverted lists"))
    if magic != b"ilar" or lists != nlist or code_size != 4 * d or layout not in (b"full", b"sprs"):
        raise Damaged("inconsistent inverted lists")
    if count > left() // 8:
        raise Damaged("the inverted lists run past the end of the file (truncated?)")
    counts = np.frombuffer(_read_exactly(stream, 8 * count, left(), "the list sizes"), np.uint64)
    if layout == b"full":
        if count != nlist:
            raise Damaged("inconsistent inverted lists")
        sizes = counts
    else:
        numbers, nonzero = counts[0::2], counts[1::2]
        if count % 2 or np.any(numbers >= nlist) or len(np.unique(numbers)) != len(numbers):
            raise Damaged("inconsistent inverted lists")
        sizes = np.zeros(nlist, np.uint64)
        sizes[numbers.astype(np.int64)] = nonzero
    if np.any(sizes > ntotal) or int(sizes.sum()) != ntotal:
        raise Damaged(f"the lists hold {int(sizes.sum())} vectors, the header says {ntotal}")
    want = int(sizes.sum()) * (code_size + 8)
    if left() != want:
        raise Damaged(f"{size} bytes where {ntotal} vectors take {size - left() + want} (truncated?)")
    for number in np.flatnonzero(sizes):
        n = int(sizes[number])
        stream.seek(n * code_size, os.SEEK_CUR)
        ids = np.frombuffer(stream.read(8 * n), np.int64)
        if len(ids) != n or np.any(ids < 0) or np.any(ids >= ntotal):
            raise Damaged("row ids out of range")
        if np.any(direct[ids] != (int(number) << 32) + np.arange(n, dtype=np.int64)):
            raise Damaged("row ids disagree with the direct map")
    return ntotal


def check_keyword_dir(path: Path, rows: int | None) -> int:
    """Check a bm25s folder (JSON and numpy arrays only) before bm25s loads it; returns its row count."""
    return _check_keyword_dir(path, rows)[0]


def _check_keyword_dir(path: Path, rows: int | None) -> tuple[int, dict | None]:
    """The row count and the checked vocabulary (None for an empty index): loading hands the
    vocabulary on to bm25s, which would parse its ~0.6 MB of JSON a second time."""
    if not path.is_dir():
        raise Vanished(path)
    params_file = path / "params.index.json"
    if not params_file.exists():
        if rows:
            raise Damaged("params.index.json is missing")
        return 0, None
    try:
        params = json.loads(params_file.read_text(encoding="utf-8"))
        vocab = json.loads((path / "vocab.index.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise missing(path, "vocab.index.json") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise Damaged(f"not JSON ({e})") from None
    if not isinstance(params, dict) or set(params) - set(_BM25_PARAMS) or "num_docs" not in params:
        raise Damaged("unexpected parameters")
    for key, value in params.items():
        if not isinstance(value, _BM25_PARAMS[key]) or isinstance(value, bool):
            raise Damaged(f"parameter {key!r} has the wrong type")
    if (params.get("backend", "numpy") != "numpy" or params.get("method", "lucene") not in _BM25_METHODS
            or params.get("idf_method") not in _BM25_METHODS | {None}
            or params.get("dtype", "float32") not in ("float32", "float64")
            or params.get("int_dtype", "int32") not in ("int32", "int64")):
        raise Damaged("unexpected parameters")
    docs = params["num_docs"]
    if docs < 0 or (rows is not None and docs != rows):
        raise Damaged(f"{docs} documents for {rows} chunks")
    # Checked in C-speed steps (every cold ask opens this; a library holds ~40k words): JSON keys are
    # always strings, and type() is exact (a bool is not an int here).
    numbers = list(vocab.values()) if isinstance(vocab, dict) else None
    if numbers is None or set(map(type, numbers)) - {int}:
        raise Damaged("vocabulary is not a word -> number object")
    if len(set(numbers)) != len(numbers) or (numbers and (min(numbers) != 0 or max(numbers) != len(numbers) - 1)):
        raise Damaged("vocabulary numbers are not 0..n-1")
    try:
        data, indices, indptr = (load_array(path / name) for name in _BM25_ARRAYS)
    except FileNotFoundError:
        raise missing(path, "an array file") from None
    except (ValueError, OSError, EOFError) as e:
        raise Damaged(f"unreadable array ({e})") from None
    if any(a.ndim != 1 for a in (data, indices, indptr)):
        raise Damaged("arrays are not flat")
    if data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise Damaged("arrays have the wrong types")
    # bm25s keeps a column per word except its empty-string entry: len(vocab) or len(vocab) + 1 pointers
    if not len(vocab) <= len(indptr) <= len(vocab) + 1 or len(data) != len(indices) or (len(indptr) and (
            indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0))):
        raise Damaged("arrays do not agree with each other")
    if len(indices) and (indices.min() < 0 or indices.max() >= docs):
        raise Damaged("rows out of range")
    if not np.all(np.isfinite(data)):
        raise Damaged("scores are not finite")
    if params.get("method") in ("bm25l", "bm25+"):
        try:
            nnoc = load_array(path / "nonoccurrence_array.index.npy")
        except (ValueError, OSError, EOFError) as e:
            raise Damaged(f"unreadable array ({e})") from None
        if nnoc.ndim != 1 or nnoc.dtype.kind != "f" or len(nnoc) != docs:
            raise Damaged("non-occurrence array does not fit")
    return docs, vocab


def load_keywords(path: Path, rows: int) -> KeywordIndex:
    _, vocab = _check_keyword_dir(path, rows)
    try:
        keywords = KeywordIndex.load(path, rows, vocab)
        if rows and keywords.size != rows:  # KeywordIndex.load finds an empty folder empty
            raise FileNotFoundError(path)
        return keywords
    except FileNotFoundError:
        raise missing(path, "a file") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise Damaged(str(e)) from None


def read_index(stream: IO[bytes], dim: int, mapped: bool = False) -> VectorIndex:
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


def load_index_file(path: Path, dim: int, rows: int | None) -> VectorIndex:
    with open(path, "rb") as stream:
        check_index_file(stream, dim, rows)
        return read_index(stream, dim)


