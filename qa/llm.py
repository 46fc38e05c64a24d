"""The local LLM behind a small interface: llama-cpp-python with a GGUF file."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from qa.models import ModelError, resolve_llm
from qa.paths import cache_dir

STATE_FORMAT = 1

Messages = list[dict[str, str]]
LoadProgress = Callable[[str, int, int], None]  # (stage, done, total): "assemble" in bytes, then "load"


class LLM(ABC):
    """Streams the reply to a chat, piece by piece."""

    name: str
    constrained: bool = False  # whether ``stream`` takes a ``grammar`` that limits what it may write

    @abstractmethod
    def stream(self, messages: Messages, max_tokens: int = 200, grammar: str | None = None) -> Iterator[str]:
        """Text pieces of the reply, greedy (deterministic) decoding; ``grammar`` (GBNF, only where
        ``constrained``) limits the reply to the strings it admits."""

    def usage(self) -> dict[str, float]:
        """What the last reply cost, for a user to tell a slow machine from a long prompt:
        ``prompt_tokens`` (in all), ``prompt_tokens_computed`` (the rest came from a cache),
        ``prompt_tok_s``, ``generated_tokens``, ``gen_tok_s`` (0 where nothing was timed). Empty when
        the backend can't say."""
        return {}


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
    prefix, so the system prompt (always first, always byte-identical) is computed once.

    A new process (each ``qa ask``) would compute it again (~2.6 s for the 1.5B model on 2
    cores), so after the first reply the state of the system prompt (its tokens and their
    KV cache, nothing of the question) is saved in the cache directory, keyed by the model
    file, the context size and the system prompt, and the next process starts from it.
    The file carries its own sha256; one that does not check out, or that llama.cpp
    refuses, is removed and the prompt is computed as usual."""

    constrained = True

    def __init__(self, path: Path, name: str, n_ctx: int = 2048, state_dir: Path | None = None) -> None:
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
        self.n_ctx = n_ctx
        self.state_dir = state_dir or cache_dir() / "llm-state"
        self.restored = 0  # prompt tokens taken from a saved state instead of computed
        self._first = True
        self._usage: dict[str, float] = {}

    def stream(self, messages: Messages, max_tokens: int = 200, grammar: str | None = None) -> Iterator[str]:
        first, self._first = self._first, False
        state = self._state_file(messages) if first else None
        if state is not None and state.exists():
            self.restored = self._restore(state)
        import llama_cpp

        llama_cpp.llama_perf_context_reset(self._llm._ctx.ctx)
        self._usage = {}
        rules = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
        for part in self._llm.create_chat_completion(messages=messages, max_tokens=max_tokens, grammar=rules,
                                                      temperature=0.0, top_k=1, stream=True):
            piece = part["choices"][0]["delta"].get("content")
            if piece:
                yield piece
        self._usage = self._count()
        if state is not None and not self.restored:
            self._save(state, self._system_end(messages[0]["content"]))

    def usage(self) -> dict[str, float]:
        return dict(self._usage)

    def _count(self) -> dict[str, float]:
        """llama.cpp's perf counters of the reply just made: batched decodes are the prompt,
        one-token decodes the generation; every evaluated token is still in the context."""
        import llama_cpp

        perf = llama_cpp.llama_perf_context(self._llm._ctx.ctx)
        return {"prompt_tokens": self._llm.n_tokens - perf.n_eval, "prompt_tokens_computed": perf.n_p_eval,
                "prompt_tok_s": 1000 * perf.n_p_eval / perf.t_p_eval_ms if perf.t_p_eval_ms else 0.0,
                "generated_tokens": perf.n_eval,
                "gen_tok_s": 1000 * perf.n_eval / perf.t_eval_ms if perf.t_eval_ms else 0.0}

    def _state_file(self, messages: Messages) -> Path | None:
        if not messages or messages[0].get("role") != "system":
            return None
        import llama_cpp

        st = self.path.stat()
        key = json.dumps([str(self.path.resolve()), st.st_size, st.st_mtime_ns, self.n_ctx,
                          llama_cpp.__version__, messages[0]["content"]])
        return self.state_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.state"

    def _restore(self, path: Path) -> int:
        """Load a saved state; the number of tokens it holds, 0 if it was unusable (then removed)."""
        import llama_cpp

        llm = self._llm
        try:
            header, _, body = path.read_bytes().partition(b"\n")
            meta = json.loads(header)
            n = int(meta["n_tokens"])
            if meta.get("format") != STATE_FORMAT or hashlib.sha256(body).hexdigest() != meta["sha256"] \
                    or not 0 < n <= self.n_ctx or len(body) <= 4 * n:
                raise ValueError("damaged")
            data = body[4 * n:]
            buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            if llama_cpp.llama_state_set_data(llm._ctx.ctx, buffer, len(data)) != len(data):
                raise ValueError("refused by llama.cpp")
        except (OSError, ValueError, KeyError, TypeError):
            llm.reset()  # n_tokens 0: the next call clears the KV cache and computes everything
            path.unlink(missing_ok=True)
            return 0
        llm.input_ids[:n] = np.frombuffer(body[:4 * n], dtype=np.intc)
        llm.n_tokens = n
        llm._requires_eval = True
        return n

    def _system_end(self, system: str) -> int:
        """How many tokens of the context end with the system prompt's text (0: not found).
        The chat template's tokens around it differ by model; the text's own last tokens do not."""
        tail = self._llm.tokenize(system.encode(), add_bos=False)[-16:]
        ids = self._llm.input_ids[:self._llm.n_tokens].tolist()
        return next((end for end in range(len(tail), len(ids) + 1) if ids[end - len(tail):end] == tail), 0)

    def _save(self, path: Path, keep: int) -> None:
        """Cut the context back to its first ``keep`` tokens and write their tokens and state
        atomically; a cache, so failing is not an error."""
        import llama_cpp

        llm = self._llm
        if not 0 < keep <= llm.n_tokens or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            return
        llm.n_tokens = keep
        llm._requires_eval = True
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llm._ctx.ctx, buffer, size)
        body = np.asarray(llm.input_ids[:llm.n_tokens], dtype=np.intc).tobytes() + bytes(buffer)[:written]
        header = json.dumps({"format": STATE_FORMAT, "n_tokens": llm.n_tokens,
                             "sha256": hashlib.sha256(body).hexdigest()}).encode()
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(header + b"\n" + body)
            os.replace(tmp, path)
        except OSError:
            if tmp:
                Path(tmp).unlink(missing_ok=True)


def load_llm(model: str | None = None, progress: LoadProgress | None = None) -> LLM:
    """``model``: None (the default), a models.txt name, or a path to a GGUF file.
    ``progress`` hears ("assemble", bytes, total) while a first use joins and checks the weight
    parts, then ("load", 0, 1) and ("load", 1, 1) around reading the weights."""
    name, path = resolve_llm(model, None if progress is None else lambda done, total: progress("assemble", done, total))
    if progress:
        progress("load", 0, 1)
    llm = LlamaCppLLM(path, name)
    if progress:
        progress("load", 1, 1)
    return llm
