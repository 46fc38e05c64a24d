"""Retrieval and evidence with and without the judge, side by side in one run, on both halves.

    python benchmarks/suite/judge.py ../shared/eval/rtqa-2025 --library LIB [--judge-graph RUN/judge-int8.onnx]

Per variant, on the tuning half (ids with an even crc32), the held-out half and all answerable
questions: recall@1/5/10 (score.py's rule: the correct choice in the first k passages), the
share whose evidence sentences (what the model reads) hold the answer, and the seconds a search
plus evidence selection take (median, p90), and what the judge adds to each question (the
variants alternate question by question, so that a shared machine's load falls on each alike;
one question of no set is asked first, untimed, so that sessions are open), also as CPU time of
all threads, which a shared machine's load changes less than the wall clock. Also the judge's
best evidence probability on each answerable question, for calibrating ``ANSWERS_BELOW``
(printed as quantiles). No LLM runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.common import describe  # noqa: E402
from qa.embedder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.answering import close_enough, select_evidence  # noqa: E402
from qa.judge import Judge, load_judge  # noqa: E402
from qa.models import embedder_spec, model_path  # noqa: E402
from qa.library import open_library  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402


WARM_UP = "What did the government announce this week?"


def recalls(hits: list[list[bool]]) -> str:
    return " / ".join(f"{statistics.mean(any(h[:k]) for h in hits):.3f}" for k in (1, 5, 10)) if hits else "-"


def share(flags: list[bool]) -> str:
    return f"{statistics.mean(flags):.3f}" if flags else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed-library", type=Path, help="the four sample articles: calibrate the judge's abstain line")
    ap.add_argument("--judge-graph", type=Path,
                    help="also measure this judge (a training run's judge-int8.onnx) beside the shipped one")
    a = ap.parse_args()
    encoder = load_encoder()
    library = open_library(a.library, encoder)
    questions = evaluation.read_jsonl(a.dataset / "questions.jsonl")
    texts = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))]
    questions = evaluation.answerable(questions, texts)[:a.limit or None]
    judge = load_judge()
    variants = {"before (fusion, cosine)": (Retriever(library, encoder), None),
                "judge (rerank, evidence)": (Retriever(library, encoder, judge=judge), judge)}
    if a.judge_graph:
        candidate = Judge(a.judge_graph, model_path(embedder_spec()).parent / "tokenizer.json", a.judge_graph.name)
        variants[f"candidate {a.judge_graph.name}"] = (Retriever(library, encoder, judge=candidate), candidate)
    print(describe())
    hits: dict[str, dict[str, list[list[bool]]]] = {name: {"tuning": [], "held-out": []} for name in variants}
    prompt: dict[str, dict[str, list[bool]]] = {name: {"tuning": [], "held-out": []} for name in variants}
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}  # all threads': what load does not change
    bests: dict[str, list[float]] = {name: [] for name in variants}
    for retriever, judged in variants.values():  # untimed: sessions open, first runs out of the way
        select_evidence(WARM_UP, retriever.search(WARM_UP, 10), encoder, judge=judged)
    for q in questions:  # the variants alternate per question, so machine load falls on each alike
        half = "tuning" if zlib.crc32(q["id"].encode()) % 2 == 0 else "held-out"
        for name, (retriever, judged) in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            passages = retriever.search(q["question"], 10, today=evaluation.question_date(q))
            evidence = select_evidence(q["question"], passages[:5], encoder, judge=judged)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            hits[name][half].append([evaluation.contains(p.text, q["answer"]) for p in passages])
            prompt[name][half].append(any(evaluation.contains(s, q["answer"]) for ev in evidence for s in ev.sentences))
            bests[name].append(max((p for ev in evidence for p in ev.answers), default=0.0)
                               if close_enough(passages, encoder) else 0.0)
    print(f"{'variant':>26} | half | R@1/5/10 | answer in prompt | median s | p90 s")
    baseline = next(iter(variants))
    for name, (_, judged) in variants.items():
        best = bests[name]
        for half in ("tuning", "held-out"):
            print(f"{name:>26} | {half} | {recalls(hits[name][half])} | {share(prompt[name][half])}")
        print(f"{name:>26} | all | {recalls(hits[name]['tuning'] + hits[name]['held-out'])} | "
              f"{share(prompt[name]['tuning'] + prompt[name]['held-out'])} | {statistics.median(times[name]):.3f} | "
              f"{evaluation.p90(times[name]):.3f}", flush=True)
        if name != baseline:
            added = [t - b for t, b in zip(times[name], times[baseline])]
            added_cpu = [t - b for t, b in zip(cpu[name], cpu[baseline])]
            print(f"{name:>26} | adds to a question, paired with {baseline}: median {statistics.median(added):.3f} s, "
                  f"p90 {evaluation.p90(added):.3f} s; CPU time (all threads) median "
                  f"{statistics.median(added_cpu):.3f} s, p90 {evaluation.p90(added_cpu):.3f} s")
        if judged is not None:
            judge = judged  # the abstain line below is calibrated for the last judge measured
            qs = np.quantile(best, [0.02, 0.05, 0.1, 0.25, 0.5])
            print(f"judge's best evidence probability on answerable questions, quantiles 2/5/10/25/50%: "
                  f"{' '.join(f'{v:.3f}' for v in qs)}")
    if a.seed_library:
        calibrate(a.dataset, a.seed_library, encoder, judge, best, questions)


def calibrate(dataset: Path, seed_library: Path, encoder, judge, best: list[float], answerable: list[dict]) -> None:
    """Every question of the set asked of the sample articles (where declining is right) against
    its answerable questions asked of their own library: the share declined at each line."""
    retriever = Retriever(open_library(seed_library, encoder), encoder, judge=judge)
    off = []
    for q in evaluation.read_jsonl(dataset / "questions.jsonl"):
        passages = retriever.search(q["question"], 5, today=evaluation.question_date(q))
        if not close_enough(passages, encoder):
            off.append(0.0)
            continue
        evidence = select_evidence(q["question"], passages, encoder, judge=judge)
        off.append(max((p for ev in evidence for p in ev.answers), default=0.0))
    held = {"tuning": [], "held-out": []}
    for q, b in zip(answerable, best):
        held["tuning" if zlib.crc32(q["id"].encode()) % 2 == 0 else "held-out"].append(b)
    print(f"abstain line | declined on the sample articles ({len(off)}) | answerable declined: tuning / held-out")
    print(f"{'cosine only':>12} | {statistics.mean(b == 0.0 for b in off):.3f} | "
          f"{statistics.mean(b == 0.0 for b in held['tuning']):.3f} / {statistics.mean(b == 0.0 for b in held['held-out']):.3f}")
    for line in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3):
        print(f"{line:>12} | {statistics.mean(b < line for b in off):.3f} | "
              f"{statistics.mean(b < line for b in held['tuning']):.3f} / {statistics.mean(b < line for b in held['held-out']):.3f}")


if __name__ == "__main__":
    main()
