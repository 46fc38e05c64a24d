"""The reader: from the passages retrieval found to the answer, variant against variant.

    python benchmarks/experiments/reader.py [DATASET] --library LIB [--half tuning|held-out|all]
        [--variants today,reader] [--judge] [--limit N] [--out DIR]

Retrieval runs once per question (as ``qa eval`` does: the question's date as ``today``, top
10); then every variant answers it with the same passages, one after the other, so answer
times are compared side by side under the same load. Each variant has its own model object
(llama.cpp maps the weights once), so each keeps its own prompt cache as a session would.

Per variant, over the answerable questions of the half: the share whose correct choice is in
what the model reads (``in prompt``), accuracy (score.py's rule: the choice closest to the
answer by token F1), accuracy on the questions whose answer is in the top 5 passages, how
often the answer is quoted evidence, and the median and p90 answer time (evidence selection,
prompt, generation and verification). ``--out`` appends each variant's predictions to DIR/VARIANT.jsonl as they come.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from qa.embedder import load_encoder
from qa.judge import load_judge
from qa import answering, evaluation
from qa.library import open_library
from qa.llm import load_llm
from qa.retrieval import Retriever

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe, dev_library, split  # noqa: E402

HALVES = {"tuning": "dev", "held-out": "holdout", "all": "all"}


def _today(question: str, passages, llm, encoder) -> tuple[answering.Answer, list[str]]:
    """The reader before #18: five evidence sentences, a one-sentence answer, verified."""
    evidence = answering.select_evidence(question, passages, encoder)
    raw = "".join(llm.stream(answering.build_messages(question, evidence)))
    return answering.finish(question, raw, evidence, passages, llm.name, encoder), _read(evidence)


def _reader(question: str, passages, llm, encoder, pointer=None,
            settings: answering.ReaderSettings = answering.SHIPPED, judge=None) -> tuple[answering.Answer, list[str]]:
    """The shipped reader (``answering.answer_stream``), noting the evidence it showed the model."""
    shown: list[answering.Evidence] = []
    answer = [x for x in answering.answer_stream(question, passages, llm, encoder, pointer, settings, shown.extend,
                                                 judge=judge)
              if isinstance(x, answering.Answer)][-1]
    return answer, _read(shown)


def _read(evidence: list[answering.Evidence]) -> list[str]:
    return [s for ev in evidence for s in ev.sentences]


# name: the reader settings it answers with, for the shipped reader's variants. The variants that
# measured switches since taken out of answering (reader7/8, next6/7, noban, asking, qfirst, and
# small10-25 without titles) are gone; their figures stay in docs/quality.md.
SETTINGS = {"reader": answering.SHIPPED,
            "sentences8": answering.ReaderSettings(prompt_sentences=8, choice_sentences=8)}
# name: the model that copies spans, for variants where it is not the default model
POINTERS = {}
for n in (10, 15, 20, 25):
    SETTINGS[f"pointer{n}"] = answering.ReaderSettings(choice_sentences=n, evidence_sentences=max(3, -(-n // 3)),
                                                       candidate_sentences=max(10, n))
    POINTERS[f"pointer{n}"] = "qwen2.5-coder-0.5b-instruct"
VARIANTS = ["today", *SETTINGS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, nargs="?", default=DATASET)
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--half", choices=list(HALVES), default="tuning")
    ap.add_argument("--variants", default="today,reader", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--limit", type=int, default=None, help="the first N answerable questions only")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N (to resume a run)")
    ap.add_argument("--judge", action="store_true",
                    help="the shipped judge reranks and chooses the evidence, as qa does (not for the 'today' variant)")
    ap.add_argument("--out", type=Path, default=None, help="a folder for each variant's predictions")
    a = ap.parse_args()
    names = a.variants.split(",")
    if unknown := set(names) - set(VARIANTS):
        ap.error(f"unknown variants {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    encoder = load_encoder()
    library = open_library(a.library or dev_library(), encoder)
    judge = load_judge() if a.judge else None
    retriever = Retriever(library, encoder, judge=judge)
    corpus = [r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset))]
    questions = split(evaluation.answerable(evaluation.read_jsonl(a.dataset / "questions.jsonl"), corpus),
                      HALVES[a.half])[a.skip:a.limit]
    llms = {name: load_llm() for name in names}
    pointers = {name: load_llm(POINTERS[name]) for name in names if name in POINTERS}
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
    sinks = {name: open(a.out / f"{name}.jsonl", "a") for name in names} if a.out else {}
    rows: dict[str, list[dict]] = {name: [] for name in names}
    print(describe())
    print(f"{len(questions)} answerable questions ({a.half}), library {library.counts}", flush=True)
    for i, q in enumerate(questions, 1):
        passages = retriever.search(q["question"], 10, today=evaluation.question_date(q))
        top5 = any(evaluation.contains(p.text, q["answer"]) for p in passages[:5])
        for name in names:
            start = time.perf_counter()
            if name == "today":
                answer, read = _today(q["question"], passages, llms[name], encoder)
            else:
                answer, read = _reader(q["question"], passages, llms[name], encoder, pointers.get(name), SETTINGS[name],
                                       judge)
            seconds = time.perf_counter() - start
            correct = evaluation.is_correct(q, evaluation.without_citations(answer.text), answer.abstained)
            rows[name].append({"id": q["id"], "answer": answer.text, "abstained": answer.abstained,
                               "extractive": answer.extractive, "correct": correct, "top5": top5,
                               "in_prompt": any(evaluation.contains(s, q["answer"]) for s in read),
                               "seconds": round(seconds, 2), "usage": llms[name].usage()})
            if a.out:
                sinks[name].write(json.dumps(rows[name][-1]) + "\n")
                sinks[name].flush()
        print(f"{i}/{len(questions)} " + " ".join(f"{n}={'+' if rows[n][-1]['correct'] else '-'}"
                                                   f"{rows[n][-1]['seconds']:.1f}s" for n in names), flush=True)
    print(f"{'variant':>10} | in prompt | accuracy | right when in top 5 | quoted | median s | p90 s | prompt tokens")
    for name in names:
        r = rows[name]
        in5 = [x for x in r if x["top5"]]
        secs = [x["seconds"] for x in r]
        tokens = statistics.median(x["usage"].get("prompt_tokens", 0) for x in r)
        print(f"{name:>10} | {sum(x['in_prompt'] for x in r) / len(r):.3f} | {sum(x['correct'] for x in r) / len(r):.3f}"
              f" | {sum(x['correct'] for x in in5)}/{len(in5)} = {sum(x['correct'] for x in in5) / max(1, len(in5)):.3f}"
              f" | {sum(x['extractive'] for x in r) / len(r):.3f} | {statistics.median(secs):.2f}"
              f" | {evaluation.p90(secs):.2f} | {tokens:.0f}")


if __name__ == "__main__":
    main()
