"""The keyword side of hybrid retrieval: a BM25 index (bm25s) over the library's chunks.

Dense vectors miss exact names, numbers and rare words that news questions
hinge on; BM25 catches them. Row i is chunk i, as in the FAISS index. Saved
as numpy arrays and JSON (no pickles) beside the vectors.

Imports are at module level on purpose: CPython 3.11 can fail with "AST
constructor recursion depth mismatch" when two threads import (compile) the
same module for the first time, as a reader and a writer thread would.
"""
from __future__ import annotations

import re
import threading
import tokenize
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN


_NO_WORDS = "qaemptydocument"
# numpy parses .npy headers with ast.literal_eval, and CPython 3.11 can fail with
# "AST constructor recursion depth mismatch" when two threads do that at once
# (a reader opening the library while an ingest validates its new files).
_NPY_LOCK = threading.RLock()


def load_array(path: Path) -> np.ndarray:
    """A memory-mapped, pickle-free .npy array, one parse at a time. A damaged header is a
    ValueError, whatever numpy's parse of it (Python literals, through ``ast``) raised."""
    with _NPY_LOCK:
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, EOFError, ValueError):
            raise
        except (SyntaxError, TypeError, MemoryError, RecursionError, tokenize.TokenError) as e:
            raise ValueError(f"{path.name}: damaged header ({type(e).__name__}: {e})") from None


def _stemmer():
    return Stemmer.Stemmer("english")


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False,
                          show_progress=False)


_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default token pattern
_STOPWORDS = frozenset(STOPWORDS_EN)


def query_tokens(text: str) -> list[str]:
    """``_tokens([text])[0]`` for one text, without bm25s.tokenize's progress bars: even
    disabled, each one creates tqdm's multiprocessing lock (~10 ms a process, per question's
    first search). Same steps: lowercase, bm25s's word pattern, its English stopwords, the stemmer."""
    words = _WORD.findall(text.lower())
    return _stemmer().stemWords([w for w in words if w not in _STOPWORDS])


class KeywordIndex:
    def __init__(self, retriever=None, size: int = 0) -> None:
        self._bm25 = retriever
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> "KeywordIndex":
        if not texts:
            return cls(None, 0)
        retriever = bm25s.BM25()
        try:
            retriever.index(_tokens(texts), show_progress=False)
        except ValueError:
            # No text holds an indexable word (only stopwords or symbols): bm25s refuses to
            # build. A word no query can contain keeps row i = chunk i and changes no score.
            retriever.index(_tokens([f"{t} {_NO_WORDS}" for t in texts]), show_progress=False)
        return cls(retriever, len(texts))

    def search(self, query: str, k: int, within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the ``k`` best chunks (only those sharing a word with the query).
        ``within``: only these rows compete (bm25s's weight mask zeroes the others' scores before
        it takes the top k, so a filter still gives k rows when k match)."""
        empty = (np.zeros(0, np.float32), np.zeros(0, np.int64))
        if self._bm25 is None or (within is not None and not len(within)):
            return empty
        tokens = [t for t in query_tokens(query) if t in self._bm25.vocab_dict and t != _NO_WORDS]
        if not tokens:
            return empty
        mask = None
        if within is not None:
            mask = np.zeros(self.size, np.float32)
            mask[within] = 1
        # What BM25.retrieve does for one query, without its thread pool and progress bar (whose
        # multiprocessing lock costs a cold question ~10 ms): score every row, take the top k.
        scores, rows = bm25s.selection.topk(self._bm25.get_scores(tokens, weight_mask=mask), min(k, self.size),
                                            sorted=True)
        keep = scores > 0
        return scores[keep], rows[keep].astype(np.int64)

    def save(self, path: Path) -> None:
        if self._bm25 is not None:
            self._bm25.save(str(path), allow_pickle=False, show_progress=False)
        else:
            path.mkdir(parents=True, exist_ok=True)

    @classmethod
    def load(cls, path: Path, size: int, vocab: dict[str, int] | None = None) -> "KeywordIndex":
        """The index saved at ``path``; ``vocab``: its vocabulary, already parsed (and checked),
        set as bm25s's own load sets it."""
        if not (path / "params.index.json").exists():
            return cls(None, 0)
        with _NPY_LOCK:
            retriever = bm25s.BM25.load(str(path), mmap=True, allow_pickle=False, load_vocab=vocab is None)
        if vocab is not None:
            retriever.vocab_dict = vocab
            retriever.unique_token_ids_set = set(vocab.values())
        return cls(retriever, size)
