"""One answer as it is written: evidence sentences → a short prompt → the LLM → a verified Answer.

A weak best passage means "the articles don't say" without asking the model; a question that
asks for a name, place, number or date has the model copy the span of its evidence that answers.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from qa.answering.answer import ABSTAIN_TEXT, Answer, Evidence
from qa.answering.evidence import answered, close_enough, select_evidence
from qa.answering.prompt import ABSTAIN_MARK, CHOICE_TOKENS, build_messages
from qa.answering.settings import SHIPPED, ReaderSettings
from qa.answering.verify import finish, finish_choice
from qa.answering.words import STOPWORDS
from qa.grammar import span_grammar
from qa.llm import LLM
from qa.question_kind import asks_for_entity, asks_for_several, names_around, question_names
from qa.retrieval import Passage


def answer_stream(question: str, passages: list[Passage], llm: LLM, encoder=None, pointer: LLM | None = None,
                  settings: ReaderSettings = SHIPPED,
                  shown: Callable[[list[Evidence]], None] | None = None, judge=None) -> Iterator[str | Answer]:
    """Yields the model's text pieces as they come, then the final Answer. ``pointer``: the
    model that copies an answer's span where the question asks for one (``llm`` if None).
    ``settings``: how much evidence the model reads; ``shown`` is called with that evidence
    (a benchmark notes what the model read). ``judge`` (``qa.judge``) chooses the evidence and
    decides support; where it finds no sentence that may answer, the model is not asked.

    Timings: ``first_token_s`` (start → first piece: evidence selection and the prompt),
    ``generate_s`` (start → last piece) and ``verify_s`` (checking the reply against the
    passages), so that a slow answer says which step was slow; and the LLM's ``usage()``
    (prompt tokens, prompt and generation tokens/s), which says whether the prompt was long
    or the machine slow."""
    start = time.perf_counter()
    choose = (pointer or llm).constrained and asks_for_entity(question)
    if choose:
        llm = pointer or llm
    evidence = (select_evidence(question, passages, encoder, settings.choice_sentences if choose else None,
                                settings, judge) if close_enough(passages, encoder) else [])
    if not evidence or not answered(evidence):
        yield ABSTAIN_TEXT
        yield Answer(question, ABSTAIN_TEXT, True, [], passages, llm.name,
                     {"first_token_s": time.perf_counter() - start, "generate_s": 0.0, "verify_s": 0.0})
        return
    if shown is not None:
        shown(evidence)
    if choose:
        sentences = [s for ev in evidence for s in ev.sentences]
        grammar = span_grammar(sentences, ABSTAIN_MARK, banned=names_around(question_names(question), sentences),
                               no_start=STOPWORDS, joined=asks_for_several(question))
        pieces = llm.stream(build_messages(question, evidence, choose=True), CHOICE_TOKENS, grammar=grammar)
    else:
        pieces = llm.stream(build_messages(question, evidence))
    raw: list[str] = []
    first_token_s = None
    for piece in without_mark(pieces, raw):
        if first_token_s is None:
            first_token_s = time.perf_counter() - start
        yield piece
    generated = time.perf_counter()
    answer = (finish_choice if choose else finish)(question, "".join(raw), evidence, passages, llm.name, encoder)
    answer.timings.update(first_token_s=generated - start if first_token_s is None else first_token_s,
                          generate_s=generated - start, verify_s=time.perf_counter() - generated, **llm.usage())
    yield answer


def without_mark(pieces: Iterator[str], raw: list[str]) -> Iterator[str]:
    """The model's pieces as they come, less the internal ABSTAIN_MARK: text that could still
    become the mark is held back until it can't. Every piece is also appended to ``raw``."""
    held = ""
    mark = ABSTAIN_MARK.lower()
    for piece in pieces:
        raw.append(piece)
        if held is None:
            yield piece
            continue
        held += piece
        if mark.startswith(held.strip().lower()) or held.strip().lower().startswith(mark):
            continue
        yield held
        held = None
