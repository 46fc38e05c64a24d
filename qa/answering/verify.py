"""Verification: the model's reply becomes an Answer whose every [n] marker points at a shown
passage and quotes the sentence behind it.

Small local models invent, so markers that point nowhere are removed; a sentence without a
marker gets the passage whose words it repeats; a sentence no passage supports is dropped; and
when none is left, the evidence itself is quoted.
"""
from __future__ import annotations

import re
from datetime import date

import numpy as np

from qa.answering.answer import ABSTAIN_TEXT, CITATION_MARK, Answer, Check, Citation, Evidence, passage_sources
from qa.answering.prompt import ABSTAIN_MARK
from qa.answering.words import ADDRESSED, STOPWORDS, WORD, content_words, split_sentences
from qa.coverage import named_span
from qa.grammar import as_written, words
from qa.retrieval import Passage

QUOTED_SENTENCES = 2        # quoted when the model's reply has no supported sentence
LEXICAL_SUPPORT = 0.5       # share of a sentence's new words a quote must contain
SEMANTIC_SUPPORT = 0.7      # or this cosine between sentence and quote
JUDGED_SUPPORT = 0.02       # and, where the judge scored the quote, at least this probability that it
                            # answers the question (calibrated on the dev set's tuning half: docs/quality.md)
EXTRACTIVE_LEAD = "The articles may not say it directly; the closest they come: "

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_PLACEHOLDER = re.compile(r"\s*\[n\]", re.I)  # the prompt's "[n]", copied by a small model
_NAME = re.compile(r"(?<![\w'’])(?:[A-Z][\w'’-]*|\d[\d,.]*\d|\d)")


def _support(claim: set[str], ev: Evidence) -> tuple[float, int]:
    """Best share of ``claim`` words any one evidence sentence holds, and that sentence's index."""
    if not claim:
        return 0.0, 0
    shares = [len(claim & content_words(s)) / len(claim) for s in ev.sentences]
    best = max(range(len(shares)), key=lambda i: shares[i])
    title = len(claim & content_words(ev.passage.article.title)) / len(claim)
    return max(shares[best], title), best


def missing_names(claim: str, support: str) -> list[str]:
    """The names and numbers of ``claim`` that ``support`` lacks. A small model writing a summary
    swaps in a neighbouring entity ("a common stand with China" where the article says with
    Washington) while most of its words still match the sentence it paraphrases. A name matches
    a word it begins ("Russia" in "Russian") when it is longer than five letters."""
    have = [w.lower() for w in WORD.findall(support)]
    missing = []
    for name in _NAME.findall(claim):
        key = re.sub(r"['’]s?$", "", name).lower()
        if key in STOPWORDS or not key:
            continue
        if not any(w == key or (len(key) > 5 and w.startswith(key[:6])) for w in have):
            missing.append(name)
    return missing


def another_time(sentence: str, article_date: str | None, span: tuple[date, date] | None) -> bool:
    """Whether a sentence speaks of another time than the one a question names (``span``, from
    ``qa.coverage.named_span``): none of the years it names, nor its article's year, falls in the
    span. "Venice introduced a 5 euro charge in April", in an article of July 2024, does not say
    what Venice charges in 2025; "Russia is now advancing a plan" in an article of 2003 does say
    what Russia proposed in 2003. A sentence with no year and no dated article is given the benefit."""
    if span is None:
        return False
    years = {int(y) for y in _YEAR.findall(sentence)}
    if article_date and article_date[:4].isdigit():
        years.add(int(article_date[:4]))
    return bool(years) and not any(span[0].year <= y <= span[1].year for y in years)


def _verify(body: str, cited: list[int], question_words: set[str], evidence: list[Evidence],
            vector: np.ndarray | None, question: str = "", names: bool = False,
            span: tuple[date, date] | None = None) -> tuple[list[int], float, float, dict[int, int]]:
    """The citations that really support ``body`` (re-citing the best passage when the
    model cited a wrong one), with the support figures and the quoted sentence per citation.
    With ``names``, a citation supports ``body`` only if its quoted sentence (with its title and
    the question) holds every name and number ``body`` gives. ``span``: the time the question
    names (``named_span``, found once per reply); a quote about another time supports nothing."""
    words = content_words(body)
    claim = (words - question_words) or words
    found = {ev.n: _support(claim, ev) for ev in evidence}
    sims: dict[int, tuple[float, int]] = {}
    if vector is not None:
        for ev in evidence:
            if ev.vectors is not None and len(ev.vectors):
                cos = ev.vectors @ vector
                sims[ev.n] = (float(cos.max()), int(cos.argmax()))

    def quote(n: int) -> int:
        return found[n][1] if found[n][0] > 0 or n not in sims else sims[n][1]

    def ok(n: int) -> bool:
        if not (found[n][0] >= LEXICAL_SUPPORT or sims.get(n, (0.0, 0))[0] >= SEMANTIC_SUPPORT):
            return False
        ev = by_n[n]
        if ev.answers and ev.answers[quote(n)] < JUDGED_SUPPORT:
            return False
        if another_time(ev.sentences[quote(n)], ev.passage.article.date, span):
            return False
        return not names or not missing_names(body, f"{ev.sentences[quote(n)]} {ev.passage.article.title} {question}")

    by_n = {ev.n: ev for ev in evidence}
    keep = [n for n in dict.fromkeys(cited) if ok(n)]
    if not keep:
        best = max(found, key=lambda n: (found[n][0], sims.get(n, (0.0, 0))[0]), default=None)
        keep = [best] if best is not None and ok(best) else []
    quotes = {n: quote(n) for n in keep}
    support = max((found[n][0] for n in keep), default=max((f[0] for f in found.values()), default=0.0))
    similarity = max((sims.get(n, (0.0, 0))[0] for n in keep), default=0.0)
    return keep, support, similarity, quotes


def finish(question: str, raw: str, evidence: list[Evidence], passages: list[Passage], model: str,
           encoder=None, names: bool = False) -> Answer:
    """Turn the model's raw reply into an Answer whose every sentence is supported by the
    passage it cites; unsupported sentences are dropped, and if none is left, the evidence
    is quoted instead (``quote_evidence``). ``names``: a sentence must also take every name
    and number from its quote (``missing_names``), for writing that summarises (timelines)."""
    raw = raw.strip()
    if not raw or ABSTAIN_MARK.lower() in raw.lower():
        return quote_evidence(question, evidence, passages, model)
    by_n = {ev.n: ev for ev in evidence}
    parts = []
    for sentence in split_sentences(raw) or [raw]:
        body = _PLACEHOLDER.sub("", CITATION_MARK.sub("", sentence)).strip().lstrip(".,;: ")
        if body and content_words(body) and not ADDRESSED.search(body):
            marks = [int(n) for m in CITATION_MARK.findall(sentence) for n in m.split(",")]
            parts.append((body, [n for n in marks if n in by_n]))
    vectors = encoder.encode([b for b, _ in parts]) if encoder is not None and parts else None
    question_words = content_words(question)
    span = named_span(question)
    kept, checks, quotes = [], [], {}
    for i, (body, cited) in enumerate(parts):
        keep, support, similarity, quoted = _verify(body, cited, question_words, evidence,
                                                    None if vectors is None else vectors[i], question, names, span)
        checks.append(Check(body, keep, bool(keep), round(support, 3), round(similarity, 3)))
        if not keep:
            continue
        for n, idx in quoted.items():
            quotes.setdefault(n, by_n[n].sentences[idx])
        tail = re.search(r"[.!?]+$", body)
        text = body[:tail.start()] if tail else body
        kept.append(f"{text} {''.join(f'[{n}]' for n in keep)}{tail.group() if tail else '.'}")
    if not kept:
        return quote_evidence(question, evidence, passages, model, checks)
    return Answer(question, " ".join(kept), False, _citations(quotes, by_n), passages, model, checks=checks)


def finish_choice(question: str, raw: str, evidence: list[Evidence], passages: list[Passage], model: str,
                  encoder=None) -> Answer:
    """Turn a copied span into an Answer: the span as the best-scored evidence sentence holding
    it writes it (commas kept: the grammar's words have none), cited to that sentence, then
    checked as any answer sentence is (``finish``). A span that only repeats the question's own
    words answers nothing: the evidence is quoted instead."""
    span = " ".join(raw.split()).strip(" .,;:")
    if not span or ABSTAIN_MARK.lower() in span.lower() or not content_words(span) - content_words(question):
        return quote_evidence(question, evidence, passages, model)
    needle = f" {' '.join(words(span))} "
    holding = [(score, ev.n, sentence) for ev in evidence for score, sentence in zip(ev.scores, ev.sentences)
               if needle in f" {' '.join(words(sentence))} "]
    if not holding:
        return quote_evidence(question, evidence, passages, model)
    _, n, sentence = max(holding, key=lambda x: (x[0], x[1]))
    span = as_written(" ".join(words(span)), sentence) or span
    return finish(question, f"{span[0].upper()}{span[1:]} [{n}].", evidence, passages, model, encoder)


def _citations(quotes: dict[int, str], by_n: dict[int, Evidence]) -> list[Citation]:
    citations = []
    for n in sorted(quotes):
        p = by_n[n].passage
        a = p.article
        citations.append(Citation(n, a.id, a.title, a.date, a.source, a.url, quotes[n], passage_sources(p)))
    return citations


def quote_evidence(question: str, evidence: list[Evidence], passages: list[Passage], model: str,
                   checks: list[Check] | None = None) -> Answer:
    """When the model's reply has no supported sentence, answer with the evidence itself.

    Retrieval already judged the passages close enough to the question, and a small
    model often declines (or strays) where its passages do hold the answer. Quoting
    the QUOTED_SENTENCES sentences that bear most on the question, each cited, says
    nothing the articles don't; ``extractive`` marks such an answer. Where the judge scored the
    evidence, only sentences it lets support an answer are quoted, and never one about another
    time than the question names (``another_time``). With none, it abstains."""
    span = named_span(question)
    ranked = sorted(((score, ev.n, sentence) for ev in evidence
                     for score, sentence, judged in zip(ev.scores, ev.sentences, ev.answers or ev.scores)
                     if content_words(sentence) and (not ev.answers or judged >= JUDGED_SUPPORT)
                     and not another_time(sentence, ev.passage.article.date, span)),
                    key=lambda x: -x[0])[:QUOTED_SENTENCES]
    if not ranked:
        return Answer(question, ABSTAIN_TEXT, True, [], passages, model, checks=checks or [])
    quotes: dict[int, str] = {}
    for _, n, sentence in ranked:
        quotes.setdefault(n, sentence)
    text = EXTRACTIVE_LEAD + " ".join(f"“{' '.join(s.split())}” [{n}]" for _, n, s in ranked)
    by_n = {ev.n: ev for ev in evidence}
    return Answer(question, text, False, _citations(quotes, by_n), passages, model, checks=checks or [],
                  extractive=True)
