"""A FAISS inner-product index over normalised vectors (cosine similarity)."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    """Row ``i`` of the index is chunk ``i`` of the library."""

    def __init__(self, dim: int, index=None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexFlatIP(dim)

    def __len__(self) -> int:
        return self._index.ntotal

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids of the ``k`` nearest rows for each query row (-1 where fewer)."""
        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        return self._index.search(q, min(k, max(1, len(self)))) if len(self) else (
            np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64))

    def vectors(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of the given rows."""
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return self._index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        index = faiss.read_index(str(path))
        return cls(index.d, index)
