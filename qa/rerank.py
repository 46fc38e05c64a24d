"""Reranking the fused candidates with the judge, before passages are cut.

Dense and keyword search rank an article by how much it is *about* the question; the judge
reads its sentences and ranks it by whether one of them *answers*. Reading every sentence of
50 articles would cost seconds on two cores, so each of the first RERANK_ARTICLES articles
offers the SENTENCES_PER_ARTICLE sentences of its retrieved chunks that share most words with
the question, and the article takes its best sentence's probability, blended with where fusion
ranked it (FUSION_WEIGHT: a judge trained on quizzes is not right every time). The chunk holding
that sentence leads the article's chunks, so the passage cut around it keeps the sentence.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.judge import Judge
from qa.library import StoredChunk
from qa.words import overlap

RERANK_ARTICLES = 12
CHUNKS_PER_ARTICLE = 2
SENTENCES_PER_ARTICLE = 4
FUSION_WEIGHT = 0.6   # times 1 / (1 + fused place / 10): the first article gets 0.6, the tenth 0.3
# Both chosen on the dev set's tuning half (docs/quality.md): 12 articles and 0.6 gave recall@1/5
# 0.444 / 0.667 there, against 0.349 / 0.651 for 20 and 0.3, and 0.397 / 0.667 for 12 and 1.0.


@dataclass
class Judged:
    """One article's retrieved chunks, best first, with the judge's verdict on the article."""

    chunks: list[tuple[StoredChunk, float, float]]  # (chunk, cosine, fused score)
    best: float = 0.0            # the judge's probability for the article's best sentence


# A full stop, question or exclamation mark, then space and what starts a sentence; or a line break.
# Cruder than syntok (qa.reading.chunking), which a cold ``qa ask --no-llm`` does not import: the
# judge only needs the sentences roughly; the evidence the model reads is cut by syntok.
_SENTENCE_END = re.compile(r"(?<=[.!?\"”’)])\s+(?=[\"“‘(A-Z0-9])|\n+")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]{0,2}|(?:[A-Z]\.)+[A-Z]?)\.$")  # Mr. Jan. U.S.


def candidate_sentences(chunk: StoredChunk) -> list[str]:
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(chunk.text):
        piece = " ".join(piece.split())
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] += f" {piece}"
        elif piece:
            sentences.append(piece)
    return [s for s in sentences if len(s.split()) >= 3 and not s.endswith("?")]


def rerank(question: str, scored: list[tuple[StoredChunk, float, float]], judge: Judge,
           key: Callable[[StoredChunk], int] = lambda c: 0) -> list[tuple[StoredChunk, float, float]]:
    """``scored`` (chunk, cosine, fused) in fused order → the same rows, articles reordered by
    (``key``, blended judge score); the rest follow in their order. ``key`` keeps a date span's
    articles first where the question names a time."""
    groups: dict[str, Judged] = {}
    for item in scored:
        groups.setdefault(item[0].article.id, Judged([])).chunks.append(item)
    heads = list(groups.values())[:RERANK_ARTICLES]
    chosen: list[tuple[int, int, str]] = []  # (article, chunk, sentence), the most lexical per article
    for g, judged in enumerate(heads):
        offered = [(g, c, s) for c, (chunk, _, _) in enumerate(judged.chunks[:CHUNKS_PER_ARTICLE])
                   for s in candidate_sentences(chunk)]
        chosen += sorted(offered, key=lambda x: -overlap(question, x[2]))[:SENTENCES_PER_ARTICLE]
    probs = judge.scores(question, [s for _, _, s in chosen]) if chosen else []
    lead: dict[int, int] = {}
    for (g, c, _), p in zip(chosen, probs):
        if g not in lead or p > heads[g].best:
            heads[g].best, lead[g] = float(p), c
    for g, c in lead.items():
        chunks = heads[g].chunks
        chunks.insert(0, chunks.pop(c))
    order = sorted(range(len(heads)), key=lambda g: (key(heads[g].chunks[0][0]),
                                                     -(heads[g].best + FUSION_WEIGHT / (1 + g / 10))))
    tail = list(groups.values())[RERANK_ARTICLES:]
    return [item for g in order for item in heads[g].chunks] + [item for j in tail for item in j.chunks]
