"""Snapshots of the chat app (pytest-textual-snapshot): an answer with its sources on a
wide and a narrow terminal, and an abstention.

The pictures must change only when the app's look changes, so the assistant here is
scripted: fixed articles, passages and reply, no retrieval or model (those are tested
in test_tui.py and the qa tests). Timings are hidden and the cursor does not blink.
After a deliberate change of the look: ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from qa.answering import ABSTAIN_TEXT, Answer, Citation
from qa.api import Conversation
from qa.library import StoredChunk
from qa.reading import Article
from qa.retrieval import Passage

from test_tui import ABSTAIN_Q, Q2003, REPLY, ask

RUSSIA = Article(
    id="003_c13b77ec0b5e076f-c21168684e69", content_hash="0" * 16,
    title="Russia Urges Washington, Pyongyang to Reduce Tensions Over N. Korea Nuclear Program - 2003-04-08",
    text=("Russia Urges Washington, Pyongyang to Reduce Tensions Over N. Korea Nuclear Program - 2003-04-08\n\n"
          "Russia has again called on the United States and North Korea to take urgent steps to defuse "
          "tensions over North Korea's nuclear program.\n\n"
          "A little more than a week ago, Mr. Losyukov said Moscow was ready to mediate a solution to the "
          "standoff, but only after officials in Washington and Pyongyang began talking.\n\n"
          "He said Russia was now advancing a plan that calls for six-sided discussions involving the "
          "United States, North Korea, Russia, China, South Korea and Japan.\n\n"
          "A senior U.S. diplomat said Moscow and Washington agree on the goal, securing peace on the "
          "Korean Peninsula, but continue to disagree over the tactics."),
    source="003_c13b77ec0b5e076f.txt", url="https://example.org/2003/russia-urges", date="2003-04-08")
LAVROV = Article(
    id="001_3f185c6f7e430aff-23ed28dbdb97", content_hash="1" * 16,
    title="Lavrov: Moscow agrees with Washington's stance on North Korea",
    text=("Lavrov: Moscow agrees with Washington's stance on North Korea\n\n"
          "LONDON — Foreign Minister Sergei Lavrov said Wednesday that Moscow agrees with Washington's stance "
          "on North Korea but warned that any military moves could hamper chances to calm tensions.\n\n"
          "Russia said Tuesday that the G8 was in agreement in rejecting North Korea's provocative behavior "
          "and urged all sides to pursue diplomacy."),
    source="001_3f185c6f7e430aff.txt", url="https://example.org/lavrov", date=None)


def _passage(article: Article, first: str, last: str, score: float) -> Passage:
    start = article.text.index(first)
    end = article.text.index(last) + len(last)
    return Passage(StoredChunk(0, article, start, end), score)


QUOTE = ("He said Russia was now advancing a plan that calls for six-sided discussions involving the "
         "United States, North Korea, Russia, China, South Korea and Japan.")
ANSWERED = Answer(
    Q2003, REPLY, False,
    [Citation(1, RUSSIA.id, RUSSIA.title, RUSSIA.date, RUSSIA.source, RUSSIA.url, QUOTE)],
    [_passage(RUSSIA, "A little more", "over the tactics.", 0.62),
     _passage(LAVROV, "LONDON", "calm tensions.", 0.41)],
    "fake", {"retrieve_s": 0.01, "generate_s": 0.02, "total_s": 0.03})
ABSTAINED = Answer(
    ABSTAIN_Q, ABSTAIN_TEXT, True, [],
    [_passage(LAVROV, "LONDON", "calm tensions.", 0.21),
     _passage(LAVROV, "Russia said Tuesday", "pursue diplomacy.", 0.18),
     _passage(RUSSIA, "Russia has again", "nuclear program.", 0.12)],
    "fake", {"retrieve_s": 0.01, "generate_s": 0.0, "total_s": 0.01})


class ScriptedAssistant:
    """What the app uses of an Assistant, answering from ``answers`` by question."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = {a.question: a for a in answers}
        articles = {a.id: a for a in (RUSSIA, LAVROV)}
        self.library = SimpleNamespace(address=Path("lib"), name="lib", counts={"articles": 4, "chunks": 21},
                                       article=articles.get)
        self.encoder = SimpleNamespace(encode=lambda texts: None)
        self.llm = SimpleNamespace(name="fake")
        self.retriever = SimpleNamespace(search=lambda question, *a, **kw: self.answers[question].passages)

    def chat(self, history=()) -> Conversation:
        return Conversation.from_history(self, history)

    def stream(self, question: str, k=None, today=None, context: str = "", **options) -> Iterator[str | Answer]:
        self.retriever.search(question)
        answer = self.answers[question]
        words = answer.text.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
        yield answer


def _app():
    from tui.app import QAApp

    return QAApp(ScriptedAssistant(ANSWERED, ABSTAINED), show_timings=False, stories=False)


def _asking(question: str):
    async def run_before(pilot) -> None:
        pilot.app.prompt.cursor_blink = False
        await ask(pilot, question)
    return run_before


def test_answer_with_sources(snap_compare):
    assert snap_compare(_app(), terminal_size=(100, 30), run_before=_asking(Q2003))


def test_answer_with_sources_narrow(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_asking(Q2003))


def test_abstention(snap_compare):
    assert snap_compare(_app(), terminal_size=(100, 30), run_before=_asking(ABSTAIN_Q))
