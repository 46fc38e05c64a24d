"""Where recall and accuracy are lost: answers the corpus states beside the story, and
answers it only mentions in passing.

    python benchmarks/experiments/answer_support.py [DATASET] [--library LIB] [--predictions PRED.jsonl]

score.py counts a question as answerable when its correct choice occurs anywhere in the
corpus. For a short answer ("India", "Paris", "AI", "300") that occurrence is often in an
article about something else, and no retriever should rank that article first. For
each answerable question this script takes the occurrence of the answer whose surroundings
(1,000 characters each side, normalised as score.py does) hold the largest share of the
words of the quiz's own explanation (its ``evidence``; the question when it has none).
It then splits the questions by that share, and prints the scores of each side: recall@5
and recall@10, and accuracy too when ``--predictions`` (from ``qa eval --out``) is given.
Without predictions it runs the shipped retrieval. The share is a heuristic. A story told
in other words scores low, and a long article can score high by chance. So the split
gives bounds, not labels. No LLM runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa import evaluation
from qa.answering import content_words
from qa.api import Assistant

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe, dev_library  # noqa: E402

REACH = 1000  # characters each side of the answer
THRESHOLDS = (0.4, 0.5, 0.6)


def support(question: dict, corpus: list[str]) -> float:
    """The largest share of the explanation's words (less the answer's own) found within
    REACH characters of one occurrence of the answer; ``corpus`` is normalised text."""
    answer = evaluation.normalize(question["answer"])
    wanted = content_words(question.get("evidence") or question["question"]) - content_words(answer)
    if not answer or not wanted:
        return 0.0
    needle, best = f" {answer} ", 0.0
    for text in corpus:
        at = text.find(needle)
        while at >= 0:
            near = content_words(text[max(0, at - REACH): at + len(needle) + REACH])
            best = max(best, len(wanted & near) / len(wanted))
            at = text.find(needle, at + 1)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, nargs="?", default=DATASET)
    ap.add_argument("--library", type=Path, default=None, help="the dataset's library (without --predictions)")
    ap.add_argument("--predictions", type=Path, default=None, help="a qa eval --out file to score instead")
    a = ap.parse_args()
    rows = evaluation.read_jsonl(evaluation.corpus_path(a.dataset))
    texts = [r["text"] for r in rows]
    corpus = [f" {evaluation.normalize(t)} " for t in texts]
    questions = evaluation.answerable(evaluation.read_jsonl(a.dataset / "questions.jsonl"), texts)
    if a.predictions:
        predictions = evaluation.read_jsonl(a.predictions)
    else:  # as `qa eval --no-llm` does
        predictions, _ = evaluation.run(Assistant(a.library or dev_library(), k=10), questions, retrieval_only=True)
    shares = {q["id"]: support(q, corpus) for q in questions}
    print(describe())
    print(f"{len(questions)} answerable questions; share of the explanation's words within "
          f"{REACH} characters of the answer")
    metrics = ["recall@5", "recall@10"] + (["accuracy"] if a.predictions else [])
    print(f"{'questions':>24} | {'n':>4} | " + " | ".join(f"{m:>9}" for m in metrics))
    for threshold in THRESHOLDS:
        for label, keep in ((f"share >= {threshold}", True), (f"share < {threshold}", False)):
            part = [q for q in questions if (shares[q["id"]] >= threshold) == keep]
            s = evaluation.score(part, texts, predictions)
            print(f"{label:>24} | {len(part):>4} | " + " | ".join(f"{s[m]:>9.3f}" for m in metrics))


if __name__ == "__main__":
    main()
