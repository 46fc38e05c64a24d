"""The local LLM behind a small interface: llama-cpp-python with a GGUF file."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from qa.models import ModelError, resolve_llm

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


def llm_threads() -> int:
    """Threads for the LLM: ``QA_THREADS`` if set, else every core this process may use.
    llama.cpp's threads spin while they wait for each other, so on a machine where other
    work holds cores, fewer threads than cores is much faster (measured: 1 thread gave
    ~13 tokens/s where 2 gave 0.3 beside a busy process on 2 cores)."""
    value = os.environ.get("QA_THREADS", "").strip()
    if not value:
        return cpu_cores()
    if not value.isdigit() or int(value) < 1:
        raise ModelError(f"QA_THREADS must be a whole number of threads, 1 or more; it is {value!r}")
    return int(value)


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
        threads = llm_threads()
        # Both thread counts: n_threads drives token-by-token generation, n_threads_batch
        # the prompt; llama-cpp-python would default the latter to the host's CPU count.
        self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
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
