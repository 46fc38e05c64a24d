"""The local LLM behind a small interface: llama-cpp-python with a GGUF file."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from qa.models import resolve_llm

Messages = list[dict[str, str]]


class LLM(ABC):
    """Streams the reply to a chat, piece by piece."""

    name: str

    @abstractmethod
    def stream(self, messages: Messages, max_tokens: int = 200) -> Iterator[str]:
        """Text pieces of the reply, greedy (deterministic) decoding."""


def cpu_cores() -> int:
    """Cores this process may run on. ``os.cpu_count()`` counts the whole host, and
    llama-cpp-python's default for ``n_threads_batch`` does too: under taskset or a CPU
    set that oversubscribes the cores, and every decode waits for the slowest thread."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        return os.cpu_count() or 2


class LlamaCppLLM(LLM):
    """Keep one object per model for a whole session: llama-cpp-python keeps the KV cache of
    the previous call and re-evaluates only the prompt tokens after the longest common
    prefix, so the system prompt (always first, always byte-identical) is computed once."""

    def __init__(self, path: Path, name: str, n_ctx: int = 2048) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("llama-cpp-python is not installed: pip install llama-cpp-python") from e
        self.name = name
        self.path = path
        cores = cpu_cores()
        # Both thread counts: n_threads drives token-by-token generation, n_threads_batch
        # the prompt; llama-cpp-python would default the latter to the host's CPU count.
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=cores, n_threads_batch=cores,
                          n_batch=512, verbose=False)

    def stream(self, messages: Messages, max_tokens: int = 200) -> Iterator[str]:
        for part in self._llm.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                      temperature=0.0, top_k=1, stream=True):
            piece = part["choices"][0]["delta"].get("content")
            if piece:
                yield piece


def load_llm(model: str | None = None) -> LLM:
    """``model``: None (the default), a models.txt name, or a path to a GGUF file."""
    name, path = resolve_llm(model)
    return LlamaCppLLM(path, name)
