"""The words and sentences answering compares: stemmed content words, the sentences an
article can never answer with, and the sentence of a passage closest to a question.

The floor of ``qa.answering``: it imports no other module of the package.
"""
from __future__ import annotations

import re

from qa.chunking import sentence_spans
from qa.words import STOPWORDS, WORD, content_words, overlap

__all__ = ["ADDRESSED", "ASKING", "STOPWORDS", "WORD", "best_sentence", "content_words", "overlap",
           "split_sentences"]

# Sentences addressed to the assistant rather than reporting news: an article can't
# instruct the model, and such a sentence can never support (or be quoted for) an answer.
ADDRESSED = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules)\b|^\s*(system|assistant|user)\s*:|"
    r"\b(answer|reply|respond|say)\b.{0,30}\bto (every|all|any) questions?\b|\b(do not|don't|never) cite\b|"
    r"\bdrop (the )?citations\b", re.I | re.M)
# A sentence that asks ("Who spoke at Jimmy Carter's funeral?"): an article's own question restates
# the reader's, so it scores high, but it never holds the answer.
ASKING = re.compile(r"\?[\s\"'’”)]*$")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, as ``qa.chunking`` cuts them."""
    return [text[s:e] for s, e in sentence_spans(text)]


def best_sentence(question: str, text: str, title: str = "") -> str:
    """The sentence of ``text`` sharing most content words with ``question`` (the first on a tie),
    other than the ``title`` (shown beside it already; a chunk often starts with it)."""
    flat_title = " ".join(title.split())
    sentences = [" ".join(s.split()) for s in split_sentences(text) if not ADDRESSED.search(s)]
    if flat_title:
        sentences = [s.removeprefix(flat_title).strip() for s in sentences]
    return max([s for s in sentences if s] or [" ".join(text.split())], key=lambda s: overlap(question, s))
