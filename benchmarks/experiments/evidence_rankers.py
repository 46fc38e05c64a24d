"""Ways to rank evidence sentences, against the shipped score, at the same prompt length.

    python benchmarks/experiments/evidence_rankers.py [DATASET] [--library LIB] [--words 125]

The reader can only pick an answer its prompt holds, and the prompt is what an answer's time
goes on (~31 prompt tokens a sentence), so a ranker is judged by the share of answerable
questions whose correct choice is in the sentences it picks within a budget of words
(``--words``: the shipped five sentences' median), on the tuning half, the held-out half and
all. Every variant ranks all sentences of the top 4 passages (``select_evidence`` also
prefilters by shared words), at most 3 from one passage. The learned ranker is fitted on one
half and scored on the other (listwise logistic regression over the features below), so
both of its figures are out of sample. No LLM runs.
"""
from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from qa.embedder import load_encoder
from qa import answering, evaluation
from qa.reading.chunking import sentence_spans
from qa.library import open_library
from qa.question_kind import asks_for_entity, question_names
from qa.retrieval import Retriever

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe, dev_library, split  # noqa: E402

_NUM_Q = re.compile(r"\b(how\s+(many|much|old|long|far)|percent|percentage|share|number|amount|price|fee|cost|"
                    r"rate|age|total|score)\b", re.I)
_DATE_Q = re.compile(r"\b(when|(what|which)\s+(year|month|day|date))\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|"
                     r"million|billion|half|dozen)\b", re.I)
_DAY = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d|\b\d{4}\b|"
                  r"\b(mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I)
_CAP = re.compile(r"(?<=[\s\"“(])([A-Z][\w'’.&-]+)")


def _new_names(question: str, sentence: str) -> list[str]:
    given = question_names(question) | {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    return [w for w in _CAP.findall(" " + sentence) if re.sub(r"['’]s?$", "", w).rstrip(".").lower() not in given]


def _typed(question: str, sentence: str) -> bool:
    """Whether the sentence holds something of the kind the question asks for."""
    if _NUM_Q.search(question):
        return bool(_NUMBER.search(sentence))
    if _DATE_Q.search(question):
        return bool(_DAY.search(sentence))
    return not asks_for_entity(question) or bool(_new_names(question, sentence))


def _declarative(question: str) -> str:
    """The question as a statement missing its answer ("Which app surged…?" → "The app surged…")."""
    s = re.sub(r"^(which|what)\s+", "The ", question.strip().rstrip("?"), flags=re.I)
    s = re.sub(r"\b(which|what)\s+", "the ", s, flags=re.I)
    s = re.sub(r"^(who|whom)\s+|\bhow (many|much)\s+", "", s, flags=re.I)
    return re.sub(r"^(when|where)\s+(did|does|do|is|was|will|are|were)\s+", "", s, flags=re.I) + "."


class Case:
    """One question: every sentence of its top 4 passages, their vectors and features."""

    def __init__(self, q: dict, passages, encoder, library) -> None:
        self.q, self.question = q, q["question"]
        self.sents = [(n, p.text[a:b]) for n, p in enumerate(passages[:4]) for a, b in sentence_spans(p.text)]
        vecs = encoder.encode([self.question, _declarative(self.question)] + [s for _, s in self.sents]
                              + [p.article.title for p in passages[:4]])
        self.qv, self.dv, self.sv = vecs[0], vecs[1], vecs[2:2 + len(self.sents)]
        self.tv = vecs[2 + len(self.sents):]
        self.chunk_cos = []
        for n, p in enumerate(passages[:4]):
            chunks = library.article_chunks(p.article.id)
            cos = library.vectors([c.row for c in chunks]) @ self.qv
            for a, _ in sentence_spans(p.text):
                at = p.chunk.start + a
                self.chunk_cos.append(float(cos[next((j for j, c in enumerate(chunks) if c.start <= at < c.end),
                                                     len(chunks) - 1)]))
        self.chunk_cos = np.array(self.chunk_cos)
        self.held = np.array([evaluation.contains(s, q["answer"]) for _, s in self.sents], float)
        self.best_chunk_held = any(evaluation.contains(library.chunks([p.chunk.row])[0].text, q["answer"])
                                   for p in passages[:4])
        self.shipped = np.array([c + 0.5 * answering.overlap(self.question, s) - answering.RANK_PRIOR * n
                                 for (n, s), c in zip(self.sents, self.sv @ self.qv)])
        self.asking = np.array([bool(answering.ASKING.search(s)) for _, s in self.sents], float)
        self.features = self._features()

    def _features(self) -> np.ndarray:
        cos, rows = self.sv @ self.qv, []
        for i, (n, s) in enumerate(self.sents):
            words = len(s.split())
            after = i > 0 and self.sents[i - 1][0] == n
            rows.append([cos[i], answering.overlap(self.question, s), n, self.asking[i], math.log(1 + words),
                         float(words < 8), float(_typed(self.question, s)),
                         min(len(_new_names(self.question, s)), 4) / 4, cos[i - 1] if after else 0.0,
                         float(self.sv[i] @ self.tv[n]), float(self.tv[n] @ self.qv), self.chunk_cos[i]])
        return np.array(rows)


def _pick(case: Case, scores: np.ndarray, budget: int, redundancy: float = 0.0) -> list[int]:
    """The best-scored sentences that fit ``budget`` words, ≤ 3 a passage; with ``redundancy``,
    each pays that much per unit of cosine to the closest one already picked (MMR)."""
    chosen: list[int] = []
    per: dict[int, int] = {}
    used, left = 0, list(range(len(scores)))
    while left and len(chosen) < 12:
        adjusted = scores[left] - (redundancy * (case.sv[left] @ case.sv[chosen].T).max(1) if chosen and redundancy
                                   else 0.0)
        for j in np.argsort(-adjusted):
            i = left[j]
            n, words = case.sents[i][0], len(case.sents[i][1].split())
            if per.get(n, 0) < 3 and used + words <= budget:
                chosen.append(i)
                per[n], used = per.get(n, 0) + 1, used + words
                left.remove(i)
                break
        else:
            break
    return chosen


def _fit(cases: list[Case]) -> np.ndarray:
    """Weights maximising, per question, the softmax mass on its answer-holding sentences."""
    def loss(w):
        total, grad = 0.0, np.zeros_like(w)
        for c in cases:
            z = c.features @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            mass = (p * c.held).sum()
            total -= math.log(mass + 1e-12)
            grad -= c.features.T @ (p * c.held / (mass + 1e-12) - p)
        return total + 0.01 * w @ w, grad + 0.02 * w
    start = np.zeros(cases[0].features.shape[1])
    start[:2] = 1.0, 0.5
    return minimize(loss, start, jac=True, method="L-BFGS-B").x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, nargs="?", default=DATASET)
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--words", type=int, default=125, help="the prompt's budget of evidence words")
    a = ap.parse_args()
    encoder = load_encoder()
    library = open_library(a.library or dev_library(), encoder)
    retriever = Retriever(library, encoder)
    corpus = (r["text"] for r in evaluation.read_jsonl(evaluation.corpus_path(a.dataset)))
    questions = evaluation.answerable(evaluation.read_jsonl(a.dataset / "questions.jsonl"), corpus)
    cases = [Case(q, retriever.search(q["question"], 5, today=evaluation.question_date(q)), encoder, library)
             for q in questions]
    tuning = {q["id"] for q in split(questions, "dev")}
    halves = {"tuning": [c for c in cases if c.q["id"] in tuning],
              "held-out": [c for c in cases if c.q["id"] not in tuning]}
    learned = {}
    for half, other in (("tuning", "held-out"), ("held-out", "tuning")):
        w = _fit([c for c in halves[other] if c.held.any()])
        learned.update({id(c): c.features @ w for c in halves[half]})
    B = a.words
    variants = {
        f"shipped score, {B} words": (lambda c: c.shipped, B, 0.0),
        "+ sentences that ask left out": (lambda c: c.shipped - c.asking, B, 0.0),
        "+ 0.2 off a sentence without the asked kind": (
            lambda c: c.shipped - c.asking - 0.2 * (1 - c.features[:, 6]), B, 0.0),
        "+ 0.25 × the cosine of the sentence's chunk": (lambda c: c.shipped + 0.25 * c.chunk_cos, B, 0.0),
        "cosine to the question as a statement (mean)": (
            lambda c: c.shipped + 0.5 * (c.sv @ c.dv - c.sv @ c.qv), B, 0.0),
        "shipped score, redundancy 0.3 (MMR)": (lambda c: c.shipped, B, 0.3),
        "learned ranker (12 features, other half)": (lambda c: learned[id(c)], B, 0.0),
        "learned ranker, redundancy 1.0": (lambda c: learned[id(c)], B, 1.0),
        f"shipped score, {int(B * 1.44)} words": (lambda c: c.shipped, int(B * 1.44), 0.0),
        f"shipped score, {B * 2} words": (lambda c: c.shipped, B * 2, 0.0),
    }
    print(describe())
    print(f"{len(cases)} answerable questions, library {library.counts}")
    print(f"{'ranker':>46} | tuning ({len(halves['tuning'])}) | held-out ({len(halves['held-out'])}) | all")
    for name, (score, budget, redundancy) in variants.items():
        held = {h: [any(c.held[i] for i in _pick(c, score(c), budget, redundancy)) for c in cs]
                for h, cs in halves.items()}
        shares = [statistics.mean(held["tuning"]), statistics.mean(held["held-out"]),
                  statistics.mean(held["tuning"] + held["held-out"])]
        print(f"{name:>46} | " + " | ".join(f"{s:.3f}" for s in shares))
    for name, test in (("the best chunk of each of the top 4 passages", lambda c: c.best_chunk_held),
                       ("the top 4 passages, whole", lambda c: bool(c.held.any()))):
        shares = [statistics.mean(test(c) for c in cs) for cs in (halves["tuning"], halves["held-out"], cases)]
        print(f"{name:>46} | " + " | ".join(f"{s:.3f}" for s in shares))


if __name__ == "__main__":
    main()
