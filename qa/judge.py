"""The judge: a cross-encoder trained here that reads a question and one sentence and says how
likely the sentence answers it.

Cosine and shared words judge a sentence by its topic: "Foreign Minister Sergei Lavrov met…"
scores high for "Who did Lavrov meet?" whether or not it names whom. The judge was trained on
three years of news quizzes to tell the sentence that answers from the ones that only share the
topic (``training/judge``, card in ``qa/weights/JUDGE_MODEL_CARD.md``). It ships with qa as an
int8 ONNX graph, pinned in models.txt and verified before load like every model; its tokenizer is
the embedder's (same vocabulary). Scores are probabilities (a sigmoid of the logit); repeated
(question, sentence) pairs are scored once per question, since reranking, evidence and
verification ask about the same sentences.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.models import ModelSpec, embedder_spec, load_manifest, model_path

MAX_TOKENS = 96  # what it was trained on: question and sentence together
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def judge_spec() -> ModelSpec | None:
    return next((s for s in load_manifest() if s.role == "judge"), None)


class Judge:
    """Scores (question, sentence) pairs; the ONNX session opens in a background thread."""

    def __init__(self, graph: Path, tokenizer_json: Path, name: str = "judge") -> None:
        from tokenizers import Tokenizer

        self.name = name
        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.enable_truncation(MAX_TOKENS, strategy="longest_first")
        self._tok.enable_padding()
        self._session = None
        self._error: BaseException | None = None
        self._cache: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        # Not a daemon: a process leaving while ONNX Runtime starts a session aborts
        # ("terminate called without an active exception"); exit waits for it instead.
        self._loading = threading.Thread(target=self._open, args=(graph,), name="judge-session")
        self._loading.start()

    def _open(self, graph: Path) -> None:
        try:
            from embeddings.onnx import SPINNING, ort  # imported there with ONNX Runtime's telemetry off

            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3
            options.add_session_config_entry(SPINNING, "0")  # two sessions' threads must not spin for the cores
            self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread by scores()
            self._error = e

    def _run(self, pairs: list[tuple[str, str]], batch: int = 32) -> np.ndarray:
        self._loading.join()
        if self._session is None:
            raise RuntimeError(f"ONNX Runtime could not load the judge: {self._error}") from self._error
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = np.zeros(len(pairs), np.float32)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            enc = self._tok.encode_batch([pairs[i] for i in idx])
            feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
            out[idx] = self._session.run(None, feed)[0]
        return 1.0 / (1.0 + np.exp(-out))

    def scores(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """The probability that each sentence answers ``question``, in order. Sentences are keyed
        with their white space folded (word pieces ignore it), so the rerank's and the evidence's
        copies of one sentence are read once."""
        sentences = [" ".join(s.split()) for s in sentences]
        with self._lock:
            if self._cache and next(iter(self._cache))[0] != question:
                self._cache.clear()
            todo = list(dict.fromkeys(s for s in sentences if (question, s) not in self._cache))
            if todo:
                for s, p in zip(todo, self._run([(question, s) for s in todo]).tolist()):
                    self._cache[(question, s)] = p
            return np.array([self._cache[(question, s)] for s in sentences], np.float32)


@lru_cache(maxsize=1)
def load_judge() -> Judge | None:
    """The shipped judge, verified against models.txt; None where models.txt lists none."""
    spec = judge_spec()
    if spec is None:
        return None
    tokenizer = model_path(embedder_spec()).parent / "tokenizer.json"
    return Judge(model_path(spec), tokenizer, spec.name)
