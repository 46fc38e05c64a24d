"""Retrieval with and without the judge's rerank, side by side in one run, on both halves.

    python benchmarks/judge_retrieval.py ../shared/eval/rtqa-2025 --library LIB

Prints recall@1/5/10 (score.py's rule: the correct choice in the first k passages) on the tuning
half (ids with an even crc32), the held-out half and all answerable questions, and the seconds a
search takes (median, p90), for fusion alone and fusion reranked by the judge.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import describe  # noqa: E402
from embeddings.encoder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.judge import load_judge  # noqa: E402
from qa.library import open_library  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402


def recalls(hits: list[list[bool]]) -> str:
    return " / ".join(f"{statistics.mean(any(h[:k]) for h in hits):.3f}" for k in (1, 5, 10)) if hits else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    encoder = load_encoder()
    library = open_library(a.library, encoder)
    questions = evaluation.read_jsonl(a.dataset / "questions.jsonl")
    texts = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))]
    questions = evaluation.answerable(questions, texts)[:a.limit or None]
    judge = load_judge()
    variants = {"fusion (before)": Retriever(library, encoder), "fusion + judge rerank": Retriever(library, encoder, judge=judge)}
    print(describe())
    print(f"{'variant':>24} | tuning R@1/5/10 | held-out R@1/5/10 | all R@1/5/10 | median s | p90 s")
    for name, retriever in variants.items():
        hits: dict[str, list[list[bool]]] = {"tuning": [], "held-out": []}
        times = []
        for q in questions:
            start = time.perf_counter()
            passages = retriever.search(q["question"], 10, today=evaluation.question_date(q))
            times.append(time.perf_counter() - start)
            half = "tuning" if zlib.crc32(q["id"].encode()) % 2 == 0 else "held-out"
            hits[half].append([evaluation.contains(p.text, q["answer"]) for p in passages])
        print(f"{name:>24} | {recalls(hits['tuning'])} | {recalls(hits['held-out'])} | "
              f"{recalls(hits['tuning'] + hits['held-out'])} | {statistics.median(times):.3f} | "
              f"{evaluation.p90(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
