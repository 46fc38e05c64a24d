"""How often the prompt's evidence holds the answer, for several prompt sizes.

    python benchmarks/experiments/evidence.py [DATASET] [--library LIB] [--sizes 4,5,6,8,12]

The model can only phrase what its prompt holds, and every 100 prompt tokens cost
the default 1.5B model ~2.7 s on 2 cores, so the number of evidence sentences
trades answer time against answers. For each size this prints the share of
answerable questions whose correct choice text (normalised as score.py does) is
in one of the evidence sentences ``select_evidence`` picks, and the median prompt
length in words, on the tuning half, the held-out half and all questions. The
last line is the ceiling: the whole text of the top passages the sentences are drawn from.
No LLM runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from qa.answering import MAX_PASSAGES_IN_PROMPT, ReaderSettings, select_evidence
from qa.embedder import load_encoder
from qa import evaluation
from qa.library import open_library
from qa.retrieval import Retriever

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe, dev_library, split  # noqa: E402


class _Memo:
    """The encoder, each text encoded once: every size and bonus ranks the same sentences."""

    def __init__(self, encoder) -> None:
        self.encoder, self.seen = encoder, {}

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode(self, texts: list[str]):
        new = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if new:
            self.seen.update(zip(new, self.encoder.encode(new)))
        return np.stack([self.seen[t] for t in texts])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, nargs="?", default=DATASET)
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--sizes", default="4,5,6,8,12", help="evidence sentences in the prompt, comma-separated")
    a = ap.parse_args()
    encoder = _Memo(load_encoder())
    library = open_library(a.library or dev_library(), encoder)
    retriever = Retriever(library, encoder)
    questions = evaluation.answerable(evaluation.read_jsonl(a.dataset / "questions.jsonl"),
                                      (r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))))
    passages = {q["id"]: retriever.search(q["question"], 5, today=evaluation.question_date(q)) for q in questions}
    halves = {"tuning": split(questions, "dev"), "held-out": split(questions, "holdout"), "all": questions}
    print(describe())
    print(f"{len(questions)} answerable questions, library {library.counts}")
    print(f"{'evidence':>22} | " + " | ".join(f"{h} ({len(qs)})" for h, qs in halves.items()) + " | words")
    for size in (int(s) for s in a.sizes.split(",")):
        settings = ReaderSettings(prompt_sentences=size)
        evidence = {q["id"]: select_evidence(q["question"], passages[q["id"]], encoder, settings=settings)
                    for q in questions}
        held = {q["id"]: any(evaluation.contains(s, q["answer"]) for ev in evidence[q["id"]] for s in ev.sentences)
                for q in questions}
        words = statistics.median(sum(len(s.split()) for ev in evidence[q["id"]] for s in ev.sentences)
                                  for q in questions)
        shares = [sum(held[q["id"]] for q in qs) / len(qs) for qs in halves.values()]
        print(f"{f'{size} sentences':>22} | " + " | ".join(f"{s:.3f}" for s in shares) + f" | {words:.0f}")
    top = MAX_PASSAGES_IN_PROMPT
    ceiling = {q["id"]: any(evaluation.contains(p.text, q["answer"]) for p in passages[q["id"]][:top])
               for q in questions}
    shares = [sum(ceiling[q["id"]] for q in qs) / len(qs) for qs in halves.values()]
    print(f"{f'top {top} passages, whole':>22} | " + " | ".join(f"{s:.3f}" for s in shares))


if __name__ == "__main__":
    main()
