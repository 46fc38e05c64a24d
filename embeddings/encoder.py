"""Sentence encoders: text → L2-normalised float32 vectors.

``sentence_transformers`` (and torch) take ~15 s to import on a 2-core machine,
so they are imported only for bulk encoding (ingest), where they are the faster
engine. Questions and other small batches go through the ONNX export of the same
model (:mod:`embeddings.onnx`), which loads in a fraction of a second; counting
word pieces for chunking uses the model's own ``tokenizers`` file.
"""
from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embeddings.files import ModelFiles
from embeddings.onnx import OnnxEncoder, export, exported

Progress = Callable[[int], None]


class TokenCounter:
    """Counts the word pieces the encoder would see, without loading the encoder."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, excluding the [CLS]/[SEP] pair."""
        return [len(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]


class Encoder(ABC):
    """What the library and retriever need from an embedding model."""

    name: str
    sha256: str
    dim: int
    max_tokens: int  # word pieces the model reads, special tokens included
    abstain_below: float  # best passage cosine under which a question is "not in the articles"

    @abstractmethod
    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        """Normalised vectors, one row per text, float32."""

    @abstractmethod
    def token_counter(self) -> TokenCounter:
        """The tokenizer used to keep chunks within ``max_tokens``."""

    def warm_up(self) -> None:
        """Start loading what encoding a question needs, in the background (optional)."""

    def prepare_bulk(self) -> None:
        """Load what encoding many texts needs, in the calling thread (optional): first-time
        imports racing in two threads can crash CPython 3.11, so a worker must not do them."""


# Up to this many texts, ONNX Runtime (ready in ~0.3 s) beats loading torch (~15 s); bulk
# encoding runs ~25% faster on sentence-transformers once it is loaded.
SMALL_BATCH = 256


class SentenceTransformerEncoder(Encoder):
    """all-MiniLM-L6-v2 from the folder ``files`` names, offline: sentence-transformers for bulk
    encoding, its verified ONNX export for questions and other small batches."""

    def __init__(self, files: ModelFiles) -> None:
        self.files = files
        self.name, self.sha256 = files.name, files.sha256
        self.model_dir = files.folder
        self.dim, self.max_tokens = 384, 256
        # Calibrated on rtqa-2025 (rtqa questions against the seed library): 0.965 of them fall
        # below it against the four seed articles, 0.041 against their own 1,200 articles.
        self.abstain_below = 0.40
        self._model = None
        self._onnx: OnnxEncoder | None = None
        self._counter: TokenCounter | None = None

    def _load(self):
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
            self.max_tokens = self._model.max_seq_length
            if exported(self.files) is None:
                export(self._model, self.files)
        return self._model

    def prepare_bulk(self) -> None:
        self._load()

    def warm_up(self) -> None:
        if self._onnx is None and self._model is None:
            self._onnx = OnnxEncoder.load(self.files, self.max_tokens)

    def _small_batch_engine(self) -> OnnxEncoder | None:
        if self._onnx is None and self._model is None:
            self.warm_up()
            if self._onnx is None:  # no export yet: loading torch once makes one for next time
                self._load()
                self._onnx = OnnxEncoder.load(self.files, self.max_tokens)
        return self._onnx

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        if len(texts) <= SMALL_BATCH and (engine := self._small_batch_engine()) is not None:
            out = engine.encode(texts, batch_size)
            if progress:
                progress(len(texts))
            return out
        model = self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            vecs = model.encode([texts[i] for i in idx], batch_size=batch_size,
                                normalize_embeddings=True, convert_to_numpy=True)
            out[idx] = vecs
            if progress:
                progress(len(idx))
        return out

    def token_counter(self) -> TokenCounter:
        if self._counter is None:
            self._counter = TokenCounter(self.model_dir)
        return self._counter


class EncodingQueue:
    """Encodes texts in one worker thread while the caller goes on producing them.

    At ingest the encoder is the bottleneck (~25 chunks/s on 2 cores): reading, cleaning
    and chunking the next articles happen while the previous chunks are encoded, instead
    of before. Texts go to the worker in batches of ``batch`` (bulk-sized, so they use the
    bulk engine); fewer texts than one batch in all are encoded in the caller's thread.
    Each batch's vectors go to ``on_vectors`` in the order the texts were added, in the
    caller's thread (at the next ``add`` after the batch is done, or in ``finish``), so a
    store can take them while the ingest goes on instead of holding them all to the end."""

    batch = 4 * SMALL_BATCH
    # The first batch goes to the worker as soon as it is large enough for the bulk engine, so
    # the encoder starts after ~260 texts are read and chunked, not 1,024 (on 150 articles, the
    # reading of 90 of them was not hidden behind the encoder: ~4% of the ingest).
    first_batch = SMALL_BATCH + 1

    def __init__(self, encoder: Encoder, progress: Callable[[int, int], None] | None = None,
                 on_vectors: Callable[[np.ndarray], None] | None = None) -> None:
        self._encoder, self._progress, self._on_vectors = encoder, progress, on_vectors
        self._batch = getattr(encoder, "queue_batch", self.batch)  # a cluster encoder wants larger ones
        self._pending: list[str] = []
        self._parts: list[Future] = []
        self._kept: list[np.ndarray] = []  # batches handed over when there is no on_vectors
        self._pool: ThreadPoolExecutor | None = None
        self._queued = self._done = 0
        self._lock = threading.Lock()

    def add(self, texts: Sequence[str]) -> None:
        self._pending += texts
        self._queued += len(texts)
        if len(self._pending) >= (self._batch if self._pool is not None else min(self._batch, self.first_batch)):
            self._submit()
        while self._parts and self._parts[0].done():
            self._hand_over(self._parts.pop(0).result())

    def _hand_over(self, vectors: np.ndarray) -> None:
        if self._on_vectors:
            self._on_vectors(vectors)
        else:
            self._kept.append(vectors)  # for result()

    def _step(self, n: int) -> None:
        with self._lock:
            self._done += n
            if self._progress:
                self._progress(self._done, self._queued)

    def _submit(self) -> None:
        if self._pool is None:
            self._step(0)  # the bar shows before the model loads (torch: ~20 s on 2 cores), not after
            self._encoder.prepare_bulk()
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="qa-encode")
        texts, self._pending = self._pending, []
        self._parts.append(self._pool.submit(self._encoder.encode, texts, progress=self._step))

    def flush(self) -> None:
        """Encode what was added so far and hand every batch not yet handed over to ``on_vectors``,
        in order; more may be added afterwards (a long ingest commits in steps)."""
        if self._pool is None:
            if self._pending:
                self._step(0)
                texts, self._pending = self._pending, []
                self._hand_over(self._encoder.encode(texts, progress=self._step))
            return
        if self._pending:
            self._submit()
        while self._parts:
            self._hand_over(self._parts.pop(0).result())

    def finish(self) -> None:
        """Encode what is left, hand every batch over, and stop the worker."""
        try:
            self.flush()
        finally:
            self.close()

    def result(self) -> np.ndarray:
        """All vectors, in the order the texts were added (a queue made without ``on_vectors``)."""
        self.finish()
        return np.vstack(self._kept) if self._kept else np.zeros((0, self._encoder.dim), np.float32)

    def __enter__(self) -> "EncodingQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (work not started yet is dropped: the ingest was abandoned)."""
        if self._pool is not None:
            for part in self._parts:
                part.cancel()
            self._pool.shutdown(wait=True)
            self._pool = None
