"""``qa eval``: ask a dataset's questions through the same path as ``qa ask`` and
score them the way the reference scorer (shared/eval/score.py) does.

A dataset directory holds ``corpus.jsonl[.gz]`` and ``questions.jsonl``
(``{"id", "date", "question", "choices", "answer_index", "answer"}``).
"""
from __future__ import annotations

import gzip
import json
import math
import re
import statistics
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from qa.answering import CITATION_MARK
from qa.library.filters import Filters

_PUNCT = set(string.punctuation) | set("‘’“”–—")


def normalize(s: str) -> str:
    """SQuAD normalisation: lower case, no punctuation or articles, folded spaces."""
    s = "".join(" " if ch in _PUNCT else ch for ch in s.lower())
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def contains(text: str, answer: str) -> bool:
    a = normalize(answer)
    return bool(a) and f" {a} " in f" {normalize(text)} "


def without_citations(text: str) -> str:
    """An answer's text without its citation marks ("$5 million [1]." → "$5 million."), as a
    prediction carries it: the marks are listed under "citations", and their digits would
    count as answer tokens for score.py's F1 ("[1]" ties "$5 million" with "$1 million")."""
    return CITATION_MARK.sub("", text)


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def corpus_path(dataset: Path) -> Path:
    for name in ("corpus.jsonl.gz", "corpus.jsonl"):
        if (dataset / name).exists():
            return dataset / name
    raise FileNotFoundError(f"no corpus.jsonl[.gz] in {dataset}")


def answerable(questions: Iterable[dict], corpus_texts: Iterable[str]) -> list[dict]:
    """The questions whose correct choice occurs in the corpus text (score.py's rule)."""
    full = " " + " ".join(normalize(t) for t in corpus_texts) + " "
    return [q for q in questions if f" {normalize(q['answer'])} " in full]


def is_correct(question: dict, answer: str, abstained: bool = False) -> bool:
    """score.py's rule for one answer: the choice closest to it by token F1 is the right one
    (an abstention, or an answer sharing no token with any choice, is wrong)."""
    if abstained or not answer:
        return False
    scores = [f1(answer, c) for c in question["choices"]]
    best = max(range(len(scores)), key=lambda i: scores[i])
    return scores[best] > 0 and best == question["answer_index"]


def score(questions: Iterable[dict], corpus_texts: Iterable[str], predictions: Iterable[dict]) -> dict:
    """recall@1/5/10, accuracy and abstained, defined exactly as in score.py."""
    qs = {q["id"]: q for q in questions}
    preds = [p for p in predictions if p["id"] in qs]
    found = {q["id"] for q in answerable([qs[p["id"]] for p in preds], corpus_texts)}
    answerable_preds = [p for p in preds if p["id"] in found]
    out: dict = {"questions": len(preds), "answerable": len(answerable_preds)}
    for k in (1, 5, 10):
        hits = [any(contains(t, qs[p["id"]]["answer"]) for t in p.get("passages", [])[:k]) for p in answerable_preds]
        out[f"recall@{k}"] = round(sum(hits) / max(1, len(hits)), 4)
    correct = sum(is_correct(qs[p["id"]], p.get("answer", ""), bool(p.get("abstained")))
                  for p in answerable_preds)
    out["accuracy"] = round(correct / max(1, len(answerable_preds)), 4)
    out["abstained"] = round(sum(bool(p.get("abstained")) for p in preds) / max(1, len(preds)), 4)
    return out


def run(assistant, questions: list[dict], out: Path | None = None, retrieval_only: bool = False,
        progress: Callable[[int], None] | None = None, where: Filters | None = None,
        window_days: int | None = None) -> tuple[list[dict], list[float]]:
    """Ask every question; returns the predictions (score.py's format) and answer times.

    The assistant's ``k`` sets how many passages each prediction lists (recall@10 needs 10).
    ``where`` filters every question's search; ``window_days`` asks each one as a reader would
    "this week": only articles from its date back ``window_days`` days (with ``where``'s outlets)."""
    predictions, times = [], []
    sink = open(out, "w", encoding="utf-8") if out else None
    try:
        for q in questions:
            today = question_date(q)
            scope = question_window(where, today, window_days)
            if retrieval_only:
                start = time.perf_counter()
                passages = assistant.retriever.search(q["question"], assistant.k, today=today, where=scope)
                pred = {"id": q["id"], "answer": "", "abstained": False, "passages": [p.text for p in passages]}
                times.append(time.perf_counter() - start)
            else:
                answer = assistant.ask(q["question"], today=today, where=scope, timeline=False)
                pred = {"id": q["id"], "answer": without_citations(answer.text), "abstained": answer.abstained,
                        "passages": [p.text for p in answer.passages], "extractive": answer.extractive,
                        "citations": [{"n": c.n, "article_id": c.article_id, "quote": c.quote}
                                      for c in answer.citations],
                        "timings": {k: round(v, 3) for k, v in answer.timings.items()}}
                times.append(answer.timings.get("total_s", 0.0))
            predictions.append(pred)
            if sink:
                sink.write(json.dumps(pred, ensure_ascii=False) + "\n")
                sink.flush()
            if progress:
                progress(len(predictions))
    finally:
        if sink:
            sink.close()
    return predictions, times


def question_window(where: Filters | None, today: date | None, window_days: int | None) -> Filters | None:
    """The filters one question is asked under: ``where``, narrowed to the ``window_days`` up to
    its date when both are given."""
    if window_days is None or today is None:
        return where or None
    base = where or Filters()
    return replace(base, since=today - timedelta(days=window_days), until=today)


def question_date(q: dict) -> date | None:
    """When the question was asked: relative phrases ("this week") resolve against it."""
    try:
        return date.fromisoformat(q["date"]) if q.get("date") else None
    except ValueError:
        return None


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile: one of the values, defined for a handful of them too."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def timing_summary(times: list[float]) -> dict:
    if not times:
        return {}
    return {"median_s": round(statistics.median(times), 3), "p90_s": round(p90(times), 3)}
