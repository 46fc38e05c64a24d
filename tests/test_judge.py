"""The judge: the shipped model tells an answering sentence from one that only shares the topic;
reranking moves the article whose sentence answers ahead of one that is only about the question."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import FakeEncoder
from qa.judge import judge_spec, load_judge
from qa.library import StoredChunk
from qa.models import model_path
from qa.reading import Article
from qa.rerank import rerank


class KeywordJudge:
    """A judge that knows one answer word: enough to test what reranking does with verdicts."""

    name = "keyword"

    def __init__(self, answer: str, miss: float = 0.1) -> None:
        self.answer, self.miss = answer, miss
        self.asked: list[str] = []

    def scores(self, question: str, sentences) -> np.ndarray:
        self.asked += list(sentences)
        return np.array([0.9 if self.answer in s else self.miss for s in sentences], np.float32)


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


def test_a_question_command_starts_the_judge_with_the_encoder():
    """``qa ask`` starts the judge loading before the library opens (its session then builds while
    the imports run); a judge that cannot load leaves the encoder started, for the Assistant to say why."""
    from qa import loaders
    from qa.cli.assistant import start_sessions
    from qa.models import ModelError

    encoder, started = FakeEncoder(), []
    with loaders.use(encoder=lambda: encoder, judge=lambda: started.append("judge")):
        assert start_sessions() is encoder and started == ["judge"]

    def missing():
        raise ModelError("model qa-judge: missing")

    with loaders.use(encoder=lambda: encoder, judge=missing):
        assert start_sessions() is encoder


@pytest.mark.slow
def test_shipped_judge_is_pinned_and_tells_answer_from_topic():
    spec = judge_spec()
    assert spec is not None, "models.txt pins no judge"
    assert model_path(spec).stat().st_size == spec.size
    judge = load_judge()
    cases = {
        "Which comedian made history as the Golden Globes' first solo female host?": [
            "Nikki Glaser made history on Sunday as the first woman to host the Golden Globes solo.",
            "The Golden Globes ceremony was held at the Beverly Hilton in Beverly Hills.",
            "Venice charged day-trippers 5 euros during its 2024 pilot."],
        "Which Russian deputy foreign minister called the standoff extremely dangerous?": [
            "Russia's deputy foreign minister, Alexander Losyukov, says the standoff between Washington and "
            "Pyongyang over North Korea's nuclear program is \"extremely dangerous.\"",
            "Russia has again called on the United States and North Korea to take urgent steps to defuse tensions.",
            "The weather was mild for the season."],
    }
    for question, (answer, topic, off) in cases.items():
        p_answer, p_topic, p_off = judge.scores(question, [answer, topic, off])
        assert p_answer > p_topic > p_off, question
        assert p_answer > 0.3 and p_off < 0.05, question


def test_the_abstain_mark_never_reaches_the_stream():
    from qa.answering.stream import without_mark

    for pieces, shown in ((["NOT", " IN", " ART", "ICLES"], ""), ([" NOT IN ARTICLES."], ""),
                          (["Joe", " Biden", " [4]."], "Joe Biden [4]."), (["NOT", " a", " problem"], "NOT a problem")):
        raw: list[str] = []
        assert "".join(without_mark(iter(pieces), raw)) == shown
        assert "".join(raw) == "".join(pieces)


def _passages(*texts: str):
    from qa.retrieval import Passage

    return [Passage(_chunk(i, f"art{i}", t), 0.9) for i, t in enumerate(texts)]


def test_evidence_follows_the_judge_and_it_decides_not_in_the_articles():
    from qa.answering import answer_stream, select_evidence
    from fakes import FakeLLM

    passages = _passages(TOPIC, ANSWER)
    evidence = select_evidence("Who did Lavrov meet in London?", passages, judge=KeywordJudge("Kerry"), limit=1)
    assert [s for ev in evidence for s in ev.sentences] == ["Secretary of State John Kerry met Lavrov in London."]
    assert evidence[0].answers == [pytest.approx(0.9)]
    llm = FakeLLM("John Kerry [2].")
    *pieces, answer = answer_stream("Who did Lavrov meet in London?", passages, llm, judge=KeywordJudge("Nobody", miss=0.01))
    assert answer.abstained and not llm.prompts and "NOT IN ARTICLES" not in "".join(pieces)


def test_a_citation_the_judge_rejects_is_dropped():
    from qa.answering import answer_stream

    class Doubting(KeywordJudge):
        def scores(self, question, sentences):
            return np.array([0.06 if "Kerry" in s else 0.001 for s in sentences], np.float32)

    from fakes import FakeLLM

    passages = _passages(TOPIC, ANSWER)
    *_, kept = answer_stream("Who did Lavrov meet in London?", passages, FakeLLM("John Kerry met Lavrov [2]."),
                             judge=Doubting("Kerry"))
    assert kept.citations and kept.citations[0].quote.startswith("Secretary of State John Kerry")
    *_, dropped = answer_stream("Who did Lavrov meet in London?", passages,
                                FakeLLM("The talks on Syria lasted three hours [1]."), judge=Doubting("Kerry"))
    assert all("Syria lasted" not in c.quote for c in dropped.citations)
