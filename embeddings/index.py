"""A FAISS inner-product index over normalised vectors (cosine similarity), exact or IVF by size.

Exact search (``IndexFlatIP``) scans every vector: ~0.18 ms per 1,000 rows for one
384-dimensional query on one core here, so ~9 ms at 50k rows but ~18 ms at 100k and
~180 ms at 1M (``benchmarks/suite/scale.py``). Up to :attr:`VectorIndex.exact_max_rows` rows
the index stays exact, so small libraries search exactly as before. Above it the
vectors go into an inverted-file index (``IVF{nlist},Flat``): k-means cells, and a
query scans only the ``nprobe`` cells nearest to it. The vectors are kept unquantised
(Flat), so :meth:`VectorIndex.vectors` returns them exactly (a direct map finds row
``i``) and a rebuilt generation carries them over without loss; SQ8/PQ would save
memory but make every carried-over vector lossy. ``nprobe`` is stored in the FAISS
file, so it survives save/load.

Row ``i`` of the index is chunk ``i`` of the library, for both kinds (IVF adds
rows with sequential ids and keeps them).
"""
from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

_TRAIN_PER_LIST = 40  # k-means points per cell; FAISS warns below 39
_KMEANS_ITERATIONS = 10  # FAISS's default 25 takes 2.5x as long to train for no measurable recall here


def _power_of_two(x: float) -> int:
    return 2 ** max(0, round(math.log2(max(x, 1))))


def ivf_lists(rows: int) -> int:
    """Cells for ``rows`` vectors: about sqrt(rows), a power of two (so the index is retrained
    only when the library has roughly quadrupled or shrunk to a quarter), and never fewer than
    ``_TRAIN_PER_LIST`` vectors per cell to train on. The usual 4·sqrt(rows) scans fewer vectors
    a query but k-means and assigning every row cost 4x as much: at 1M rows on 2 busy cores
    building took many minutes, while sqrt(rows) cells already answer in a few ms."""
    return max(1, min(_power_of_two(math.sqrt(rows)), 2 ** int(math.log2(max(rows // _TRAIN_PER_LIST, 1)))))


def ivf_probes(lists: int) -> int:
    """Cells a query scans: 1/32 of them, at least 16 (recall@10 >= 0.95 against exact search
    at 100k and 1M rows of real MiniLM vectors, ``benchmarks/suite/scale.py``)."""
    return min(lists, max(16, lists // 32))


class VectorIndex:
    """Row ``i`` of the index is chunk ``i`` of the library.

    The kind follows the row count after every :meth:`add`: exact up to
    ``exact_max_rows`` rows, ``IVF{ivf_lists(n)},Flat`` with ``nprobe = ivf_probes(nlist)``
    above. An index opened memory-mapped (``mapped=True``) is read-only: FAISS aborts the
    process when a mapped index grows, so :meth:`add` refuses.
    """

    exact_max_rows: int = 50_000

    def __init__(self, dim: int, index: faiss.Index | None = None, mapped: bool = False) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexFlatIP(dim)
        self._mapped = mapped

    def __len__(self) -> int:
        return self._index.ntotal

    @property
    def kind(self) -> str:
        """``"flat"`` or ``"IVF{nlist},Flat"``."""
        ivf = self._ivf()
        return "flat" if ivf is None else f"IVF{ivf.nlist},Flat"

    @property
    def nprobe(self) -> int | None:
        """Cells an IVF query scans; None for exact search."""
        ivf = self._ivf()
        return None if ivf is None else ivf.nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        ivf = self._ivf()
        if ivf is None:
            raise ValueError("an exact index has no nprobe")
        ivf.nprobe = value

    def _ivf(self) -> faiss.IndexIVF | None:
        return faiss.try_extract_index_ivf(self._index)

    def empty_like(self) -> "VectorIndex":
        """An empty index of the same kind and training (an IVF keeps its cells), so rebuilding a
        large generation without some rows does not train k-means again."""
        ivf = self._ivf()
        if ivf is None:
            return VectorIndex(self.dim)
        empty = faiss.IndexIVFFlat(faiss.clone_index(ivf.quantizer), self.dim, ivf.nlist, faiss.METRIC_INNER_PRODUCT)
        empty.nprobe = ivf.nprobe
        empty.make_direct_map()
        return VectorIndex(self.dim, empty)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows, then switch kind (or IVF cell count) if the new row count calls for it."""
        if self._mapped:
            raise ValueError("a memory-mapped index is read-only")
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self._fit()

    def _fit(self) -> None:
        rows = len(self)
        lists = ivf_lists(rows) if rows > self.exact_max_rows else 0
        ivf = self._ivf()
        if lists == (0 if ivf is None else ivf.nlist):
            return
        vectors = self._index.reconstruct_n(0, rows)
        if not lists:
            self._index = faiss.IndexFlatIP(self.dim)
            self._index.add(vectors)
            return
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = _KMEANS_ITERATIONS
        sample = np.random.default_rng(0).choice(rows, min(rows, lists * _TRAIN_PER_LIST), replace=False)
        index.train(vectors[np.sort(sample)])
        index.make_direct_map()
        index.add(vectors)
        index.nprobe = ivf_probes(lists)
        self._index = index

    def search(self, query: np.ndarray, k: int, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids of the ``k`` nearest rows for each query row (-1 where fewer).
        ``within``: only these rows compete (a filter); k of them come back whenever k exist:
        an exact index searches through an id selector, an IVF one scans the rows themselves
        when they are few enough to scan (its cells might hold fewer than k of them) and
        searches its cells through the selector otherwise."""
        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        none = (np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64))
        if within is None:
            return self._index.search(q, min(k, max(1, len(self)))) if len(self) else none
        within = np.ascontiguousarray(within, dtype=np.int64)
        if not len(within):
            return none
        k = min(k, len(within))
        ivf = self._ivf()
        if ivf is not None and len(within) <= self.exact_max_rows:
            scores = q @ self.vectors(within.tolist()).T
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            return np.take_along_axis(scores, top, axis=1), within[top]
        selector = faiss.IDSelectorBatch(within)
        params = (faiss.SearchParameters(sel=selector) if ivf is None
                  else faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe))
        return self._index.search(q, k, params=params)

    def vectors(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of the given rows (exact for both kinds)."""
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return self._index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, mapped: bool = False) -> "VectorIndex":
        """Read a saved index; ``mapped`` memory-maps its vectors (``IO_FLAG_MMAP_IFC``: the flat
        vectors, or the IVF cells' vectors and ids) instead of copying them into memory. The IVF
        centroids and direct map (8 bytes a row) are always read into memory."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mapped else 0)
        return cls(index.d, index, mapped)
