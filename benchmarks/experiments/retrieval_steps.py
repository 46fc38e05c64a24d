"""Recall@1/5/10 of each retrieval step on an eval dataset, scored like score.py.

    python benchmarks/experiments/retrieval_steps.py ../shared/eval/rtqa-2025 --library LIB [--split dev|holdout|all]

Steps: dense only; BM25 only; both fused (RRF); + question dates; + near-duplicate
collapsing; + one passage per article, the run of 1, 3 or 5 chunks closest to the
question (5 is the shipped configuration). The questions are split by id hash into a
tuning half and a held-out half, so a method tuned on one can be confirmed on the other.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import split  # noqa: E402
from qa.embedder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.library import open_library  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

STEPS = {
    "dense": dict(keywords=False, dates=False, dedup=False, window=None),
    "bm25": dict(dense=False, dates=False, dedup=False, window=None),
    "dense+bm25 (RRF)": dict(dates=False, dedup=False, window=None),
    "+ dates": dict(dedup=False, window=None),
    "+ near-duplicates": dict(window=None),
    "+ one passage per article, its closest chunk": dict(window=0),
    "+ one passage per article, its closest run of 3 chunks": dict(window=1),
    "+ one passage per article, its closest run of 5 chunks (shipped)": dict(),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--split", choices=["dev", "holdout", "all"], default="all")
    ap.add_argument("--k", type=int, default=10)
    a = ap.parse_args()
    encoder = load_encoder()
    library = open_library(a.library, encoder)
    questions = split(evaluation.read_jsonl(a.dataset / "questions.jsonl"), a.split)
    texts = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))]
    encoder.encode(["warm up"])
    print(f"{len(questions)} questions ({a.split}), library {library.counts}")
    for name, switches in STEPS.items():
        retriever = Retriever(library, encoder, **switches)
        start = time.perf_counter()
        preds = [{"id": q["id"], "answer": "", "passages": [p.text for p in retriever.search(
            q["question"], a.k, today=evaluation.question_date(q))]} for q in questions]
        per_q = (time.perf_counter() - start) / max(1, len(questions))
        s = evaluation.score(questions, texts, preds)
        print(f"{name:66} r@1 {s['recall@1']:.3f}  r@5 {s['recall@5']:.3f}  r@10 {s['recall@10']:.3f}  "
              f"({per_q * 1000:.0f} ms/question)")
    print(json.dumps({"answerable": s["answerable"]}))


if __name__ == "__main__":
    main()
