"""The Python API: ``Assistant`` ties a library, the encoder, retrieval and the LLM together.

    from qa import Assistant
    answer = Assistant().ask("What did Russia propose in 2003?")
    print(answer.text, answer.citations)

The CLI and the terminal app are thin layers over this class, so all three
answer the same way.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path

from embeddings.encoder import Encoder
from qa import loaders, outlets, stories, stories_seen, story_text
from qa.answering import ABSTAIN_TEXT, Answer, Sources, answer_stream, close_enough
from qa.answering.timeline import Period, is_timeline_question, period_passages, question_scope, subject, timeline_stream
from qa.coverage import named_span, outside_library
from qa.library import (Filters, IngestReport, Library, LibraryError, Progress, create_library,
                        library_exists, open_library)
from qa.library.filters import make_filters
from qa.llm import LLM
from qa.paths import default_library_dir
from qa.reading import ReadError
from qa.judge import Judge
from qa.retrieval import Passage, Retriever
from qa.stories import StoryList

SEEDS = Path(__file__).resolve().parent / "seeds"
SHIPPED_JUDGE = object()  # the default for ``Assistant(judge=…)``: load the shipped one


class Assistant:
    """Question answering over one library of articles.

    ``library_dir`` defaults to the bundled sample articles, indexed on first
    use into the user data directory. ``model`` is a models.txt name or a GGUF
    path (default: the manifest's default LLM). ``llm``/``encoder`` inject
    ready-made backends (tests, or sharing one loaded model between objects); ``judge`` likewise
    (default: the shipped judge, ``qa.judge``; None: cosine and shared words alone). ``progress``
    (stage, done, total) hears the slow steps of a first run: indexing the sample articles
    ("read", "embed"), joining and checking the weight parts ("assemble", in bytes) and reading
    them ("load"); it may be set later, before the first answer loads the model.

    Threads may share one Assistant (``qa serve``, the chat's workers): its reads of the library
    take ``reads``, so that no search runs while another thread refreshes the library. The LLM is
    not under it: a search waits for another search at most, never for an answer being written.
    """

    def __init__(self, library_dir: str | Path | None = None, model: str | None = None, *,
                 llm: LLM | None = None, encoder: Encoder | None = None, k: int = 5,
                 progress: Progress | None = None, judge: Judge | None | object = SHIPPED_JUDGE) -> None:
        self.encoder = encoder or loaders.encoder()
        self.k = k
        self._model = model
        self._llm = llm
        self.progress = progress
        self.reads = threading.RLock()
        if library_dir is None:
            self.library = self._default_library(progress)
        else:
            self.library = open_library(library_dir, self.encoder)
        self.judge = loaders.judge() if judge is SHIPPED_JUDGE else judge  # once the library opened
        self.retriever = Retriever(self.library, self.encoder, judge=self.judge)

    def _default_library(self, progress: Progress | None) -> Library:
        path = default_library_dir()
        if library_exists(path):
            return open_library(path, self.encoder)
        library = create_library(path, self.encoder)
        library.add([SEEDS], self.encoder, progress)
        return library

    @classmethod
    def create(cls, library_dir: str | Path, **kwargs) -> "Assistant":
        """An Assistant over a new, empty library at ``library_dir`` (kept if it exists)."""
        encoder = kwargs.pop("encoder", None) or loaders.encoder()
        create_library(library_dir, encoder)
        return cls(library_dir, encoder=encoder, **kwargs)

    @property
    def llm(self) -> LLM:
        """The LLM, loaded on first use so that retrieval-only work never pays for it."""
        if self._llm is None:
            self._llm = loaders.llm(self._model, self.progress)
        return self._llm

    def add(self, paths: Iterable[str | Path] | str | Path, progress: Progress | None = None,
            on_error: Callable[[ReadError], None] | None = None) -> IngestReport:
        """Ingest files or folders; returns what was added, skipped as duplicate, or failed."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return self.library.add(paths, self.encoder, progress, on_error)

    def search(self, question: str, k: int | None = None, today: date | None = None,
               context: str = "", where: Filters | None = None) -> list[Passage]:
        """The passages that would go to the LLM, best first, without loading it; ``where``
        keeps only articles of a date range or outlet."""
        question = question.strip()
        if not question:
            raise ValueError("empty question")
        with self.reads:
            self.library.refresh(self.encoder)  # another process may have ingested since we opened
            return self.retriever.search(question, k or self.k, today=today, context=context, where=where)

    def in_library(self, passages: list[Passage]) -> bool:
        """Whether the best passage is close enough to the question to try answering."""
        return close_enough(passages, self.encoder)

    def stream(self, question: str, k: int | None = None, today: date | None = None, context: str = "",
               *, timeline: bool | None = None, where: Filters | None = None, compare_sources: bool = False,
               **filters) -> Iterator[Sources | str | Answer]:
        """First the passages found (one :class:`~qa.answering.Sources`, as soon as retrieval is
        done), then text pieces of the answer as the model writes them, then the final
        :class:`Answer`. (The first item used to be text: a caller that treats every
        non-Answer item as text must skip the Sources.)

        ``today`` anchors relative dates in the question ("last week"; default: today).
        ``context`` is earlier conversation text that retrieval should take into account.
        ``since``/``until`` (a date, or "YYYY[-MM[-DD]]"), ``sources`` (outlets or domains) and
        ``include_undated`` restrict the search (or ``where``, ready-made). A question about change
        over time ("how did … change", "from 2003 to 2024") is answered as a timeline; ``timeline``
        forces it either way.
        ``compare_sources``: set ``Answer.compare`` to every outlet's version of each cited
        sentence (for citations other outlets carry too; see ``qa.outlets``)."""
        question = question.strip()
        where = where or make_filters(**filters)
        if question and (text := self._outside(question)):
            yield from self._decline_time(question, text, k, today, context, where)
            return
        if timeline or (timeline is None and is_timeline_question(question)):
            yield from self._timeline(question, where, today)
            return
        start = time.perf_counter()
        passages = self.search(question, k, today, context, where)
        retrieve_s = time.perf_counter() - start
        yield Sources.found(question, passages, retrieve_s)
        sources_s = time.perf_counter() - start
        if not passages and where and self.library.counts["chunks"]:
            yield _no_match(question, where, self.llm_name, retrieve_s, sources_s)
            return
        if close_enough(passages, self.encoder):
            items = answer_stream(question, passages, self.llm, self.encoder, judge=self.judge)
        else:  # nothing close enough to try: the model is not loaded to say so
            items = iter([ABSTAIN_TEXT, Answer(question, ABSTAIN_TEXT, True, [], passages, self.llm_name,
                                               {"first_token_s": 0.0, "generate_s": 0.0, "verify_s": 0.0})])
        for item in items:
            if isinstance(item, Answer):
                item.filters = where or None
                if compare_sources:
                    item.compare = outlets.compare_sources(item.citations, item.passages)
                item.timings = {"retrieve_s": retrieve_s, "sources_s": sources_s, **item.timings,
                                "total_s": time.perf_counter() - start}
            yield item

    def retrieve_only(self, question: str, k: int | None = None, today: date | None = None,
                      where: Filters | None = None, timeline: bool | None = False) -> Answer:
        """The passages found, without the LLM (``qa ask --no-llm``, the HTTP and MCP search): an
        Answer with no text when they come close enough to answer, else abstained with
        ABSTAIN_TEXT (or the filters nothing passes, or the time the question names and the library
        does not reach, as :meth:`stream` says it). ``timeline`` (None: when the question asks
        for one): each period's passages, oldest first, counted in ``Answer.periods``."""
        start = time.perf_counter()
        groups = None
        if timeline or (timeline is None and is_timeline_question(question)):
            groups = self.periods(question, today, where)
            passages = [p for _, mine in groups for p in mine]
        else:
            passages = self.search(question, k, today=today, where=where)
        outside = self._outside(question)
        found = self.in_library(passages) and outside is None
        elapsed = time.perf_counter() - start
        text = "" if found else outside or ABSTAIN_TEXT
        if not passages and where:
            text = where.nothing_matches()
        return Answer(question, text, not found, [], passages, "", {"retrieve_s": elapsed, "total_s": elapsed},
                      filters=where or None,
                      periods=None if groups is None else [(period.label, len(mine)) for period, mine in groups])

    def ask(self, question: str, k: int | None = None, today: date | None = None, context: str = "",
            **options) -> Answer:
        """The answer to ``question`` with its citations and the passages it came from
        (``options``: those of :meth:`stream`)."""
        return _last(self.stream(question, k, today, context, **options))

    def timeline(self, topic: str, since: date | str | None = None, until: date | str | None = None,
                 **filters) -> Answer:
        """How ``topic`` developed: ``Answer.timeline`` holds dated entries, oldest first, one per
        period the library covers, each citing an article of its own period."""
        return _last(self.stream(topic, timeline=True, since=since, until=until, **filters))

    def periods(self, topic: str, today: date | None = None, where: Filters | None = None,
                **filters) -> list[tuple[Period, list[Passage]]]:
        """A timeline's passages without the LLM: each period's own, oldest first, undated last."""
        topic = topic.strip()
        if not topic:
            raise ValueError("empty question")
        where = where or make_filters(**filters)
        with self.reads:
            self.library.refresh(self.encoder)
            scope = where if where.dated else replace(question_scope(topic), sources=where.sources)
            return period_passages(subject(topic), scope,
                                   lambda q, k, w: self.retriever.search(q, k, today=today, where=w), self.encoder)

    def _timeline(self, topic: str, where: Filters, today: date | None) -> Iterator[Sources | str | Answer]:
        start = time.perf_counter()
        groups = self.periods(topic, today, where)
        about = subject(topic)
        retrieve_s = time.perf_counter() - start
        if not groups:  # nothing close enough in any period: answer (or abstain) as for any question
            for item in self.stream(topic, today=today, where=where, timeline=False):
                if isinstance(item, Answer):  # the period search is part of this answer's time too
                    item.timings = {**item.timings, "retrieve_s": retrieve_s + item.timings.get("retrieve_s", 0.0),
                                    "total_s": time.perf_counter() - start}
                yield item
            return
        yield Sources.found(topic, [p for _, mine in groups for p in mine], retrieve_s)
        sources_s = time.perf_counter() - start
        for item in timeline_stream(topic, about, groups, self.llm, self.encoder):
            if isinstance(item, Answer):
                item.filters = where or None
                item.timings = {"retrieve_s": retrieve_s, "sources_s": sources_s, **item.timings,
                                "total_s": time.perf_counter() - start}
            yield item

    def _outside(self, question: str) -> str | None:
        """The decline for a question naming a time the library's dated articles do not reach (its date
        range is asked of the store only when the question names a time)."""
        if named_span(question) is None:
            return None
        self.library.refresh(self.encoder)
        return outside_library(question, self.library.date_range())

    def _decline_time(self, question: str, text: str, k: int | None, today: date | None, context: str,
                      where: Filters) -> Iterator[Sources | Answer]:
        """Decline without the model, still showing the closest passages: whatever they say is from
        another time than the one asked about, so neither a written nor a quoted answer would do."""
        start = time.perf_counter()
        passages = self.search(question, k, today, context, where)
        retrieve_s = time.perf_counter() - start
        yield Sources.found(question, passages, retrieve_s)
        sources_s = time.perf_counter() - start
        yield Answer(question, text, True, [], passages, self.llm_name,
                     {"retrieve_s": retrieve_s, "sources_s": sources_s, "first_token_s": 0.0, "generate_s": 0.0,
                      "verify_s": 0.0, "total_s": time.perf_counter() - start},
                     filters=where or None)
    def stories(self, since: str | date | None = "7d", until: str | date | None = None,
                sources: Iterable[str] | str = (), *, limit: int | None = 10, write: bool = True,
                include_undated: bool = False, mark_seen: bool = True, today: date | None = None) -> StoryList:
        """What happened: the window's articles grouped into stories, best covered first (``limit``:
        at most this many; None for all). ``since``: a day, or "7d"/"2w" back from the newest article.
        ``write``: each story's line written by the LLM from its own articles and checked like an
        answer (else, and when the check fails, quoted from its most central article). ``mark_seen``:
        mark stories with articles the last look did not see as ``new`` and remember this look."""
        self.library.refresh(self.encoder)
        newest = max((a.date[:10] for a in self.library.articles() if a.date), default=None)
        where = stories.window(since, until, sources, include_undated,
                               date.fromisoformat(newest) if newest else None, today)
        found = stories.find_stories(self.library, where)
        shown = found if limit is None else found[:limit]
        for story in shown:
            if write:
                story_text.write(story, self.llm, self.encoder)
            else:
                story_text.quote(story)
        last = stories_seen.mark_new(found, self.library.address, record=mark_seen)
        return StoryList(shown, where, sum(len(s.all_articles) for s in found), last)

    @property
    def llm_name(self) -> str:
        """The LLM's name, without loading it."""
        return self._llm.name if self._llm is not None else (self._model or "")

    def chat(self, history: Iterable[str] = ()) -> "Conversation":
        """A conversation: follow-up questions ("what did he say about it?") are
        retrieved together with the earlier turns; ``history``: questions asked before it
        (a saved chat, an HTTP client's messages)."""
        return Conversation.from_history(self, history)


def _no_match(question: str, where: Filters, model: str, retrieve_s: float, sources_s: float) -> Answer:
    """The abstention when no article passes the filters: it names them, so the user sees why."""
    text = where.nothing_matches()
    return Answer(question, text, True, [], [], model,
                  {"retrieve_s": retrieve_s, "sources_s": sources_s, "total_s": sources_s}, filters=where)


def _last(items: Iterator[Sources | str | Answer]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise AssertionError("answer_stream always ends with an Answer")
    return answer


_ANAPHORA = re.compile(r"\b(it|its|this|that|these|those|they|them|their|he|him|his|she|her|there|then|"
                       r"the same|also|else|more)\b", re.I)


class Conversation:
    """Turns with one Assistant. A question that leans on earlier turns (a pronoun, or
    too short to stand alone) is retrieved with the previous questions as context."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.earlier: list[str] = []  # questions asked before this conversation object (from_history)
        self.turns: list[tuple[str, Answer]] = []

    @classmethod
    def from_history(cls, assistant: Assistant, questions: Iterable[str]) -> "Conversation":
        """A conversation that goes on from earlier questions (empty ones are skipped): a follow-up
        is retrieved with them as it would be after turns of its own."""
        conversation = cls(assistant)
        conversation.earlier = [q for q in questions if q]
        return conversation

    def context_for(self, question: str) -> str:
        asked = self.earlier + [q for q, _ in self.turns]
        if not asked:
            return ""
        if _ANAPHORA.search(question) or len(question.split()) < 5:
            return " ".join(asked[-2:])
        return ""

    def stream(self, question: str, k: int | None = None, today: date | None = None,
               **options) -> Iterator[Sources | str | Answer]:
        for item in self.assistant.stream(question, k, today, self.context_for(question), **options):
            if isinstance(item, Answer):
                self.turns.append((question, item))
            yield item

    def ask(self, question: str, k: int | None = None, today: date | None = None, **options) -> Answer:
        return _last(self.stream(question, k, today, **options))

    def forget_last(self, answer: Answer) -> bool:
        """Forget the last turn if its answer is ``answer``; say whether it was forgotten.

        ``stream`` records a turn as soon as it yields the answer, but a front end may drop that
        answer anyway: the chat's user cancelled just as it finished, so it was never shown.
        Follow-up questions must not lean on a turn the user never saw."""
        if self.turns and self.turns[-1][1] is answer:
            self.turns.pop()
            return True
        return False


__all__ = ["Answer", "Assistant", "Conversation", "LibraryError", "Sources", "StoryList"]
