"""Retrieval: the passages of a library most likely to answer a question."""
from __future__ import annotations

from dataclasses import dataclass

from embeddings.encoder import Encoder
from qa.library import Library, StoredChunk
from qa.reading import Article


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its relevance score (cosine similarity, higher is closer)."""

    chunk: StoredChunk
    score: float

    @property
    def article(self) -> Article:
        return self.chunk.article

    @property
    def text(self) -> str:
        return self.chunk.text


class Retriever:
    """Dense retrieval over the library's FAISS index."""

    def __init__(self, library: Library, encoder: Encoder) -> None:
        self.library = library
        self.encoder = encoder

    def search(self, question: str, k: int = 5) -> list[Passage]:
        """The ``k`` best passages, best first."""
        query = self.encoder.encode([question])
        scores, rows = self.library.index.search(query, k)
        keep = [(float(s), int(r)) for s, r in zip(scores[0], rows[0]) if r >= 0]
        chunks = self.library.chunks(r for _, r in keep)
        return [Passage(c, s) for c, (s, _) in zip(chunks, keep)]
