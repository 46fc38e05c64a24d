"""Training pairs for the judge, by distant supervision from past news quizzes.

Each quiz question comes with its own week's search results and its correct choice. A sentence
of those articles that holds the correct choice (SQuAD-normalised, word-bounded) and shares a
content word with the question is a positive: it answers. The quiz's own ``evidence`` sentence is
a clean positive. Negatives are the same articles' sentences without the answer, hardest first:
those sharing most words with the question, those naming a wrong choice (the quiz's own
distractors: "Russia" where the answer is "John Kerry"), and a few at random.

The question's ``date`` and the articles' ``publish_date`` are never shown to the model: the
evaluation sets have no dates, and product libraries infer them.
"""
from __future__ import annotations

import gzip
import json
import random
import re
import string
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.words import content_words
from qa.chunking import sentence_spans

_PUNCT = set(string.punctuation) | set("‘’“”–—")
MIN_WORDS, MAX_CHARS = 4, 600
POSITIVES, HARD, DISTRACTORS, RANDOM = 3, 8, 3, 2


def normalize(text: str) -> str:
    """SQuAD normalisation, as ``../shared/eval/score.py`` compares answers."""
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def holds(sentence_norm: str, answer_norm: str) -> bool:
    return bool(answer_norm) and f" {answer_norm} " in f" {sentence_norm} "


@dataclass
class Group:
    """One question's candidates: ``labels[i]`` is 1 where ``texts[i]`` answers it."""

    qid: str
    date: str
    question: str
    texts: list[str]
    labels: list[int]


def sentences(article: dict) -> list[str]:
    text = article.get("text") or ""
    out = []
    for a, b in sentence_spans(text):
        s = " ".join(text[a:b].split())
        if len(s.split()) >= MIN_WORDS and len(s) <= MAX_CHARS and not s.endswith("?"):
            out.append(s)
    return out


def build_group(q: dict, corpus: dict[str, dict], rng: random.Random) -> Group | None:
    answer = normalize(q["answer"])
    wrong = [normalize(c) for i, c in enumerate(q["choices"]) if i != q["answer_index"]]
    qwords = content_words(q["question"])
    pos, neg, distract = [], [], []
    seen: set[str] = set()
    for aid in q["articles"]:
        for s in sentences(corpus.get(aid, {})):
            if s in seen:
                continue
            seen.add(s)
            norm = normalize(s)
            shared = len(qwords & content_words(s)) / max(1, len(qwords))
            if holds(norm, answer):
                if shared > 0:
                    pos.append((shared, s))
            elif any(holds(norm, w) for w in wrong if w):
                distract.append((shared, s))
            else:
                neg.append((shared, s))
    evidence = " ".join((q.get("evidence") or "").split())
    positives = [s for _, s in sorted(pos, key=lambda x: -x[0])[:POSITIVES]]
    if evidence and holds(normalize(evidence), answer) and evidence not in positives:
        positives.append(evidence)
    if not positives or not neg:
        return None
    neg.sort(key=lambda x: -x[0])
    hard = [s for _, s in neg[:HARD]]
    rest = [s for _, s in neg[HARD:]]
    negatives = hard + [s for _, s in sorted(distract, key=lambda x: -x[0])[:DISTRACTORS]]
    negatives += rng.sample(rest, min(RANDOM, len(rest)))
    return Group(q["id"], q["date"], q["question"], positives + negatives,
                 [1] * len(positives) + [0] * len(negatives))


def load_corpus(path: Path, wanted: set[str]) -> dict[str, dict]:
    corpus = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["id"] in wanted:
                corpus[rec["id"]] = rec
    return corpus


def build(data: Path, seed: int = 13, limit: int = 0) -> Iterator[Group]:
    """The groups of every question in ``data`` (``questions.jsonl`` and ``corpus.jsonl.gz``);
    ``limit``: of about that many questions spread over all weeks (a smoke run still validates)."""
    questions = [json.loads(line) for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    if limit:
        questions = questions[::max(1, len(questions) // limit)]
    corpus = load_corpus(data / "corpus.jsonl.gz", {a for q in questions for a in q["articles"]})
    rng = random.Random(seed)
    for q in questions:
        group = build_group(q, corpus, rng)
        if group is not None:
            yield group


def write(groups: Iterator[Group], out: Path) -> int:
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for g in groups:
            f.write(json.dumps(asdict(g), ensure_ascii=False) + "\n")
            n += 1
    return n


def read(path: Path) -> list[Group]:
    return [Group(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
