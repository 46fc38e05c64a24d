"""The fakes logic tests run on: a queued LLM, a gated one that holds the model as long as a test
needs, and a bag-of-words encoder. Instant and deterministic; the real models are tested
separately (test_integration.py, test_real_llm.py, test_onnx.py)."""
from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator

import numpy as np

from embeddings.encoder import Encoder, TokenCounter
from qa.llm import LLM, Messages

GATE_S = 120.0  # a gated model opens by itself after this, only so that a failed test cannot hang


class FakeLLM(LLM):
    """Replies with queued texts, word by word, and records the prompts it saw."""

    name = "fake"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.prompts: list[Messages] = []

    def stream(self, messages: Messages, max_tokens: int = 200) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else "NOT IN ARTICLES"
        for i, word in enumerate(reply.split(" ")):
            yield word if i == 0 else " " + word


class GatedLLM(FakeLLM):
    """Streams its reply word by word and stops at the gate, after ``gate_after`` pieces (None:
    after the whole reply), until ``gate`` is set. ``tick``: while stopped, write " ." every
    ``tick`` seconds, as a model still writing does (a server notices a client that left only
    when it writes); else wait in silence. ``started``: a stream began; ``waiting``: it reached
    the gate; ``closed``: it was closed before it finished (a cancelled answer); ``finished``:
    streams that ran to their end."""

    def __init__(self, *replies: str, gate_after: int | None = 2, tick: float | None = None) -> None:
        super().__init__(*replies)
        self.gate_after, self.tick = gate_after, tick
        self.started, self.waiting, self.gate, self.closed = (threading.Event() for _ in range(4))
        self.finished = 0

    def stream(self, messages: Messages, max_tokens: int = 200) -> Iterator[str]:
        self.started.set()
        try:
            pieces = list(super().stream(messages, max_tokens))
            for i, piece in enumerate(pieces):
                if i == self.gate_after:
                    yield from self._stop()
                time.sleep(0.002)
                yield piece
            if self.gate_after is None:
                yield from self._stop()
        except GeneratorExit:
            self.closed.set()
            raise
        self.finished += 1

    def _stop(self) -> Iterator[str]:
        self.waiting.set()
        if self.tick is None:
            self.gate.wait(GATE_S)
            return
        for _ in range(int(GATE_S / self.tick)):
            if self.gate.wait(self.tick):
                return
            yield " ."


class FakeEncoder(Encoder):
    """Hashed bag-of-words vectors: instant, deterministic, and similar texts score high.
    For logic tests only; the real encoder is tested in test_integration.py."""

    name, sha256, dim, max_tokens, abstain_below = "fake-bow", "0" * 64, 384, 256, 0.30

    def __init__(self) -> None:
        from qa.models import embedder_spec, model_path

        self._counter = TokenCounter(model_path(embedder_spec()).parent)

    def encode(self, texts, batch_size=32, progress=None):
        from qa.answering import STOPWORDS, WORD  # when first used: a driver importing the fakes stays light

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in {w.lower() for w in WORD.findall(text)} - STOPWORDS:
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out / np.where(norms == 0, 1, norms)

    def token_counter(self):
        return self._counter


def loads(llm: LLM) -> Callable[..., LLM]:
    """An LLM loader for ``loaders.use(llm=…)`` that hands out ``llm`` whichever model is asked for."""
    return lambda model=None, progress=None: llm
