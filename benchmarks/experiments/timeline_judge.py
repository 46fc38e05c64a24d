"""Which sentences each timeline entry's evidence holds, without and with the judge, and what the judge costs.

    python benchmarks/experiments/timeline_judge.py LIBRARY [--question Q ...] [--repeat 3]

For each question the periods are found once (the shipped Assistant: its judge reranks retrieval),
then each period's evidence is chosen by ``entry_evidence`` with cosine and shared words alone
(``--judge off``) and with the judge blended in (``--judge on``), both by default. Each entry's
sentences are printed in text order, the one it quotes when the model's line fails its check (the
highest scored) marked ``*``; then the seconds choosing all entries' evidence took (median of
``--repeat``, the judge's cache as retrieval left it before each run). No LLM runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from qa.api import Assistant
from qa.answering.timeline import asks_how_it_changed, entry_evidence, subject

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import describe  # noqa: E402

QUESTIONS = (
    "How did the planned New York City congestion pricing toll change over the years?",
    "How did the Los Angeles wildfires develop over time?",
    "How did the TikTok ban in the United States change over time?",
    "How did US aid to Ukraine change over the years?",
    "Timeline of the TikTok ban in the United States",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("library", type=Path, help="a library folder (copy a read-only one first: opening may write)")
    ap.add_argument("--question", action="append", help="a timeline question (repeatable; default: five)")
    ap.add_argument("--judge", choices=("off", "on", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    assistant = Assistant(a.library, llm=None)
    judge = assistant.judge
    variants = [v for v in ("off", "on") if a.judge in (v, "both")]
    print(f"machine: {describe()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for question in a.question or QUESTIONS:
        groups = assistant.periods(question)
        topic, figures = subject(question), asks_how_it_changed(question)
        cache = dict(judge._cache) if judge is not None else {}
        print(f"\n## {question}\n   topic: {topic!r}; amounts: {figures}; periods: {[p.label for p, _ in groups]}")
        for variant in variants:
            options = {"judge": judge, "asked": question} if variant == "on" else {}
            seconds = []
            for _ in range(a.repeat):
                if judge is not None:
                    judge._cache = dict(cache)
                start = time.perf_counter()
                chosen = [(period, entry_evidence(topic, mine, assistant.encoder, figures, **options))
                          for period, mine in groups]
                seconds.append(time.perf_counter() - start)
            print(f"\n   judge {variant}: {statistics.median(seconds):.2f} s choosing every entry's evidence")
            for period, evidence in chosen:
                best = max((score for ev in evidence for score in ev.scores), default=None)
                print(f"   {period.label}:")
                for ev in evidence:
                    for sentence, score in zip(ev.sentences, ev.scores):
                        mark = "*" if score == best else " "
                        print(f"     {mark}[{ev.n}] {score:5.2f} {' '.join(sentence.split())[:220]}")


if __name__ == "__main__":
    main()
