"""LLM speed: the product's answer path against bare llama-cpp-python, and KV-cache reuse in chat.

    python benchmarks/suite/llm.py [--library LIB] [--model NAME] [--reps 3]

LIB: a library of rtqa-2025's corpus (default: the one ``qa eval`` builds).

The prompt is the product's own: ``build_messages`` over the evidence retrieved from
the library for the first dev question of rtqa-2025 that does not abstain. The product
side is ``answer_stream`` with the real ``LlamaCppLLM``; the bare side is a second
``Llama`` on the same file, fed the same chat-template tokens through ``Llama.generate``.
Both decode greedily, so they produce the same tokens, and the runs alternate so that
the noise of a shared machine falls on both.

Two measures per side, kept apart because they answer different questions:
  * llama.cpp's perf counters: prompt = batched decodes (``n_p_eval``/``t_p_eval_ms``),
    generation = one-token decodes (``n_eval``/``t_eval_ms``). Pure compute: they show
    whether the threads and batch settings match.
  * wall clock: prompt phase = time to the first token (template, tokenizing, prompt
    decode, first sample); generation = ``n_eval`` decodes from the first token to the
    end of the stream, so the per-token Python cost of streaming counts.

The chat section answers two different questions with one LlamaCppLLM, then the second
again after clearing the cache, and compares what llama.cpp had to evaluate.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from qa.embedder import load_encoder
from qa import evaluation
from qa.answering import Answer, answer_stream, build_messages, close_enough, select_evidence
from qa.library import open_library
from qa.llm import LLM, LlamaCppLLM, Messages, cpu_cores
from qa.models import resolve_llm
from qa.retrieval import Passage, Retriever

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe, dev_library, split  # noqa: E402

MAX_TOKENS = 200  # LLM.stream's default: what an answer may use


def machine() -> str:
    """The shared machine line, plus what decides LLM speed: usable cores and llama.cpp's version."""
    return f"{describe()}, {cpu_cores()} cores usable by this process, llama-cpp-python {llama_cpp.__version__}"


def dev_questions(dataset: Path = DATASET) -> list[dict]:
    """The dev half of the dataset, split by id hash as every benchmark does (``common.split``)."""
    return split(evaluation.read_jsonl(dataset / "questions.jsonl"), "dev")


@dataclass
class Run:
    """One answer's figures; ``prompt_*`` and ``gen_*`` come from llama.cpp's perf counters."""

    prompt_tokens: int
    prompt_ms: float
    gen_tokens: int
    gen_ms: float
    first_token_s: float  # wall: call → first streamed token
    stream_s: float  # wall: first token → end of the stream
    text: str

    @property
    def prompt_tps(self) -> float:
        return self.prompt_tokens / self.prompt_ms * 1000 if self.prompt_ms else 0.0

    @property
    def gen_tps(self) -> float:
        return self.gen_tokens / self.gen_ms * 1000 if self.gen_ms else 0.0

    @property
    def wall_gen_tps(self) -> float:
        return self.gen_tokens / self.stream_s if self.stream_s else 0.0


def _perf(llama: llama_cpp.Llama) -> llama_cpp.llama_perf_context_data:
    return llama_cpp.llama_perf_context(llama._ctx.ctx)


def _reset_perf(llama: llama_cpp.Llama) -> None:
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)


def _run(llama: llama_cpp.Llama, pieces: Iterator[str], clock: list[float]) -> Run:
    """Drain ``pieces``; ``clock[0]`` is set by the caller to the moment the LLM was called."""
    _reset_perf(llama)
    text, first = [], None
    for piece in pieces:
        if first is None:
            first = time.perf_counter()
        text.append(piece)
    end = time.perf_counter()
    p = _perf(llama)
    first = first or end
    return Run(p.n_p_eval, p.t_p_eval_ms, p.n_eval, p.t_eval_ms, first - clock[0], end - first, "".join(text))


class _Clocked(LLM):
    """The product LLM, noting when ``answer_stream`` calls it, so that the wall prompt
    phase excludes evidence selection (which the bare side does not do)."""

    def __init__(self, inner: LlamaCppLLM, clock: list[float]) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name

    def stream(self, messages: Messages, max_tokens: int = MAX_TOKENS) -> Iterator[str]:
        self.clock[0] = time.perf_counter()
        yield from self.inner.stream(messages, max_tokens)


def product_run(llm: LlamaCppLLM, question: str, passages: list[Passage], encoder, cold: bool = True) -> Run:
    """One answer through ``answer_stream``; ``cold`` clears the KV cache first."""
    if cold:
        llm._llm.reset()
    clock = [time.perf_counter()]
    pieces = (x for x in answer_stream(question, passages, _Clocked(llm, clock), encoder) if not isinstance(x, Answer))
    return _run(llm._llm, pieces, clock)


def chat_tokens(llama: llama_cpp.Llama, messages: Messages) -> list[int]:
    """The prompt tokens ``create_chat_completion`` builds from the GGUF chat template."""
    formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama._model.token_get_text(llama.token_eos()),
        bos_token=llama._model.token_get_text(llama.token_bos()))
    result = formatter(messages=messages)
    return llama.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True)


def bare_run(llama: llama_cpp.Llama, tokens: list[int]) -> Run:
    """Greedy ``Llama.generate`` from an empty cache, stopping where the product stops."""
    llama.reset()
    clock = [time.perf_counter()]

    def pieces() -> Iterator[str]:
        for i, token in enumerate(llama.generate(tokens, top_k=1, temp=0.0, repeat_penalty=1.0)):
            if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token) or i == MAX_TOKENS:
                return
            yield llama.detokenize([token]).decode(errors="replace")

    return _run(llama, pieces(), clock)


def _answerable(retriever: Retriever, encoder, questions: list[dict], count: int) -> list[tuple[str, list[Passage]]]:
    """The first ``count`` questions whose passages clear the abstention bar (so the LLM runs)."""
    out = []
    for q in questions:
        passages = retriever.search(q["question"], 5, today=evaluation.question_date(q))
        if close_enough(passages, encoder):
            out.append((q["question"], passages))
            if len(out) == count:
                break
    return out


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def run(library: Path | None = None, model: str | None = None, reps: int = 3) -> str:
    """Markdown: throughput of product vs bare, and the second chat question with and without reuse."""
    encoder = load_encoder()
    retriever = Retriever(open_library(library or dev_library(), encoder), encoder)
    (q1, passages1), (q2, passages2) = _answerable(retriever, encoder, dev_questions(), 2)
    name, path = resolve_llm(model)
    product = LlamaCppLLM(path, name)
    cores = cpu_cores()
    bare = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=cores, n_threads_batch=cores,
                           n_batch=512, verbose=False)
    messages = build_messages(q1, select_evidence(q1, passages1, encoder))
    tokens = chat_tokens(bare, messages)

    product_run(product, q1, passages1, encoder)  # warm-up: pages in the weights both objects map
    prod_runs, bare_runs = [], []
    for _ in range(reps):
        prod_runs.append(product_run(product, q1, passages1, encoder))
        bare_runs.append(bare_run(bare, tokens))
    same = all(p.prompt_tokens == b.prompt_tokens == len(tokens) and p.gen_tokens == b.gen_tokens
               for p, b in zip(prod_runs, bare_runs))

    # Chat: q1 then q2 on one object (reuse), against q2 after clearing the cache.
    reused, fresh = [], []
    for _ in range(reps):
        product_run(product, q1, passages1, encoder)
        reused.append(product_run(product, q2, passages2, encoder, cold=False))
        fresh.append(product_run(product, q2, passages2, encoder))
    tokens2 = chat_tokens(bare, build_messages(q2, select_evidence(q2, passages2, encoder)))
    prefix = len(os.path.commonprefix([tokens, tokens2]))

    def row(label: str, attr: str, fmt: str) -> str:
        p, b = _median(prod_runs, attr), _median(bare_runs, attr)
        ratio = (b / p if attr == "first_token_s" else p / b) if p and b else 0.0
        return f"| {label} | {p:{fmt}} | {b:{fmt}} | {ratio:.3f} |"

    lines = [
        "## LLM throughput", "",
        f"Machine: {machine()}; model {name}; threads {product._llm.n_threads}/{product._llm.n_threads_batch} "
        f"(generation/batch) in the product, {bare.n_threads}/{bare.n_threads_batch} bare.",
        f"Prompt: {len(tokens)} tokens (build_messages over retrieved evidence for {q1!r}); "
        f"median of {reps} alternating cold-cache runs; same tokens in and out on both sides: {same}.", "",
        "| measure | product | bare | product/bare (speed) |", "|---|---:|---:|---:|",
        row("prompt tok/s (llama.cpp counters)", "prompt_tps", ".1f"),
        row("generation tok/s (llama.cpp counters)", "gen_tps", ".1f"),
        row("time to first token, s (wall)", "first_token_s", ".3f"),
        row("generation tok/s (wall, streamed)", "wall_gen_tps", ".1f"), "",
        f"Generated {prod_runs[0].gen_tokens} one-token decodes: {prod_runs[0].text!r}", "",
        "## KV cache reuse in chat", "",
        f"Second question {q2!r} ({len(tokens2)} prompt tokens, {prefix} shared with the first prompt), "
        f"median of {reps}:", "",
        "| second question | prompt tokens evaluated | prompt eval ms | time to first token, s |",
        "|---|---:|---:|---:|",
        f"| after the first, same LlamaCppLLM | {_median(reused, 'prompt_tokens'):.0f} | "
        f"{_median(reused, 'prompt_ms'):.0f} | {_median(reused, 'first_token_s'):.3f} |",
        f"| cache cleared | {_median(fresh, 'prompt_tokens'):.0f} | {_median(fresh, 'prompt_ms'):.0f} | "
        f"{_median(fresh, 'first_token_s'):.3f} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, default=dev_library())
    ap.add_argument("--model", help="a models.txt name or a GGUF path (default: the default LLM)")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    print(run(a.library, a.model, a.reps))
