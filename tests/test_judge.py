"""The judge: the shipped model tells an answering sentence from one that only shares the topic;
reranking moves the article whose sentence answers ahead of one that is only about the question."""
from __future__ import annotations

import numpy as np
import pytest

from qa.judge import judge_spec, load_judge
from qa.library import StoredChunk
from qa.models import model_path
from qa.reading import Article
from qa.rerank import rerank


class KeywordJudge:
    """A judge that knows one answer word: enough to test what reranking does with verdicts."""

    name = "keyword"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def scores(self, question: str, sentences) -> np.ndarray:
        self.asked += list(sentences)
        return np.array([0.9 if self.answer in s else 0.1 for s in sentences], np.float32)


def _chunk(row: int, article_id: str, text: str, date: str | None = None) -> StoredChunk:
    article = Article(article_id, article_id, f"Title {article_id}", text, "outlet", "", date)
    return StoredChunk(row, article, 0, len(text))


TOPIC = "Lavrov met officials in London on Monday. The talks on Syria lasted three hours."
ANSWER = "Secretary of State John Kerry met Lavrov in London. They discussed Syria."


def test_rerank_puts_the_answering_article_first():
    scored = [(_chunk(0, "a", TOPIC), 0.8, 0.03), (_chunk(1, "b", ANSWER), 0.7, 0.02)]
    judge = KeywordJudge("Kerry")
    out = rerank("Who did Lavrov meet in London?", scored, judge)
    assert [c.article.id for c, _, _ in out] == ["b", "a"]
    assert any("Kerry" in s for s in judge.asked)


def test_rerank_keeps_fusion_order_when_the_judge_cannot_tell():
    scored = [(_chunk(0, "a", TOPIC), 0.8, 0.03), (_chunk(1, "b", TOPIC.replace("Monday", "Tuesday")), 0.7, 0.02)]
    out = rerank("Who did Lavrov meet in London?", scored, KeywordJudge("Kerry"))
    assert [c.article.id for c, _, _ in out] == ["a", "b"]


def test_rerank_keeps_the_named_time_first():
    """A question naming a time keeps that time's articles ahead, whatever the judge says."""
    scored = [(_chunk(0, "a", TOPIC, "2013-04-01"), 0.8, 0.03), (_chunk(1, "b", ANSWER, "2020-01-01"), 0.7, 0.02)]
    out = rerank("Who did Lavrov meet in London in 2013?", scored, KeywordJudge("Kerry"),
                 key=lambda c: 0 if c.article.date.startswith("2013") else 2)
    assert [c.article.id for c, _, _ in out] == ["a", "b"]


def test_rerank_leads_with_the_chunk_holding_the_answer():
    scored = [(_chunk(0, "a", TOPIC), 0.8, 0.03), (_chunk(1, "a", ANSWER), 0.6, 0.01)]
    out = rerank("Who did Lavrov meet in London?", scored, KeywordJudge("Kerry"))
    assert [c.row for c, _, _ in out] == [1, 0]


@pytest.mark.slow
def test_shipped_judge_is_pinned_and_tells_answer_from_topic():
    spec = judge_spec()
    assert spec is not None, "models.txt pins no judge"
    assert model_path(spec).stat().st_size == spec.size
    judge = load_judge()
    question = "Who did Russian Foreign Minister Sergei Lavrov meet in London?"
    topic, answer = judge.scores(question, [
        "Russian Foreign Minister Sergei Lavrov arrived in London on Monday for talks.",
        "Lavrov met U.S. Secretary of State John Kerry in London, where the two discussed Syria.",
    ])
    assert answer > topic
    off = judge.scores(question, ["The Venice day-tripper fee will be 5 euros in 2024."])[0]
    assert off < 0.5 and off < answer
