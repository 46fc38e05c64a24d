"""Answering: from the passages retrieval found to an answer whose every [n] marker points at a
shown passage and quotes the sentence behind it.

Modules, bottom up (each imports only those above it in this list):
``words`` (content words, sentences), ``answer`` (Answer, Citation, Evidence, Check,
TimelineEntry, Sources and their JSON), ``settings`` (ReaderSettings), ``evidence`` (which
sentences the model reads), ``prompt`` (the chat), ``verify`` (the reply checked and cited),
``stream`` (one answer as it is written), ``timeline`` (a question about change over time).
"""
from qa.answering.answer import (
    ABSTAIN_TEXT,
    CITATION_MARK,
    Answer,
    Check,
    Citation,
    Evidence,
    Sources,
    TimelineEntry,
    passage_sources,
)
from qa.answering.evidence import MAX_PASSAGES_IN_PROMPT, MIN_SCORE, close_enough, select_evidence
from qa.answering.prompt import ABSTAIN_MARK, CHOICE_SYSTEM, CHOICE_TOKENS, SYSTEM, build_messages, without_chat_tokens
from qa.answering.settings import (
    CANDIDATE_SENTENCES,
    CHOICE_SENTENCES,
    EVIDENCE_SENTENCES,
    PROMPT_SENTENCES,
    RANK_PRIOR,
    SHIPPED,
    ReaderSettings,
)
from qa.answering.stream import answer_stream
from qa.answering.timeline import (
    UNDATED,
    Period,
    is_timeline_question,
    period_passages,
    question_scope,
    subject,
    timeline_stream,
)
from qa.answering.verify import (
    EXTRACTIVE_LEAD,
    QUOTED_SENTENCES,
    finish,
    finish_choice,
    missing_names,
    quote_evidence,
)
from qa.answering.words import STOPWORDS, WORD, best_sentence, content_words, overlap

__all__ = [
    "ABSTAIN_MARK", "ABSTAIN_TEXT", "CANDIDATE_SENTENCES", "CHOICE_SENTENCES", "CHOICE_SYSTEM", "CHOICE_TOKENS",
    "CITATION_MARK", "EVIDENCE_SENTENCES", "EXTRACTIVE_LEAD", "MAX_PASSAGES_IN_PROMPT", "MIN_SCORE",
    "PROMPT_SENTENCES", "QUOTED_SENTENCES", "RANK_PRIOR", "SHIPPED", "STOPWORDS", "SYSTEM", "UNDATED", "WORD",
    "Answer", "Check", "Citation", "Evidence", "Period", "ReaderSettings", "Sources", "TimelineEntry",
    "answer_stream", "best_sentence", "build_messages", "close_enough", "content_words", "finish",
    "finish_choice", "is_timeline_question", "missing_names", "overlap", "passage_sources", "period_passages",
    "question_scope", "quote_evidence", "select_evidence", "subject", "timeline_stream", "without_chat_tokens",
]
