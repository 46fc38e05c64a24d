"""What answering hands back: the Answer, its citations, the checks behind them, a timeline's
entries, the evidence shown to the model, the passages found first, and their JSON.

Every other module of ``qa.answering`` builds these; this one only imports ``words``.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from qa.answering.words import best_sentence
from qa.library.filters import Filters
from qa.retrieval import Passage

ABSTAIN_TEXT = "The articles don't answer that. The closest passages are listed below."
CITATION_MARK = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")  # [2], or [1, 3]


@dataclass
class Citation:
    n: int
    article_id: str
    title: str
    date: str | None
    source: str
    url: str
    quote: str
    also_in: list[dict] = field(default_factory=list)  # the same story from other outlets


def passage_sources(passage: Passage) -> list[dict]:
    """The other outlets' copies of a passage's story, as JSON objects."""
    return [{"article_id": a.id, "title": a.title, "date": a.date, "source": a.source, "url": a.url}
            for a in passage.also_in]


@dataclass
class Evidence:
    """The sentences of one passage shown to the model as passage [n]."""

    n: int
    passage: Passage
    sentences: list[str]
    vectors: np.ndarray | None = None  # of ``sentences``, when an encoder was at hand
    scores: list[float] = field(default_factory=list)  # how closely each sentence bears on the question
    answers: list[float] = field(default_factory=list)  # the judge's probability that each answers it


@dataclass
class Check:
    """How one answer sentence was verified against the passages."""

    sentence: str
    citations: list[int]
    verified: bool
    support: float  # share of the sentence's new words (not in the question) found in the quote
    similarity: float  # cosine between the sentence and the quote (0 without an encoder)


@dataclass
class TimelineEntry:
    """One dated entry: ``date`` is its first cited article's; ``citations`` index the answer's passages."""

    period: str
    date: str | None
    text: str
    citations: list[int] = field(default_factory=list)
    extractive: bool = False  # quotes its evidence: the model wrote no supported sentence


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    passages: list[Passage]
    model: str
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    extractive: bool = False  # the text quotes the evidence: the model's reply had no supported sentence
    timeline: list[TimelineEntry] | None = None  # a question about change over time: dated entries
    filters: Filters | None = None  # what the search was restricted to
    compare: list | None = None  # qa.outlets.SideBySide per citation, when asked to compare sources
    periods: list[tuple[str, int]] | None = None  # a timeline's passages without the LLM: (period, how many)

    def to_dict(self) -> dict:
        """The ``qa ask --json`` object (``timeline``, ``filters`` and ``periods`` only when set)."""
        extra = {}
        if self.timeline is not None:
            extra["timeline"] = [asdict(e) for e in self.timeline]
        if self.filters:
            extra["filters"] = self.filters.to_dict()
        if self.periods is not None:
            extra["periods"] = [{"period": period, "passages": n} for period, n in self.periods]
        return {**self._fields(), **extra}

    def _fields(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "passages": [{"article_id": p.article.id, "title": p.article.title, "date": p.article.date,
                          "source": p.article.source, "url": p.article.url, "text": p.text,
                          "score": round(p.score, 4), "also_in": passage_sources(p)} for p in self.passages],
            "model": self.model,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "verification": [asdict(c) for c in self.checks],
            "extractive": self.extractive,
            **({} if self.compare is None else {"compare": [asdict(s) for s in self.compare]}),
        }


@dataclass
class Sources:
    """The passages found, yielded by ``Assistant.stream`` before the model's first word, so a
    user reads titles, dates and outlets while a CPU model takes seconds to read its prompt.
    ``sentences``: per passage, the sentence sharing most words with the question (chosen by
    words alone: encoding them would delay the event). ``retrieve_s``: the stream's start to
    this event."""

    question: str
    passages: list[Passage]
    sentences: list[str]
    retrieve_s: float

    @classmethod
    def found(cls, question: str, passages: list[Passage], retrieve_s: float) -> "Sources":
        return cls(question, passages, [best_sentence(question, p.text, p.article.title) for p in passages],
                   retrieve_s)
