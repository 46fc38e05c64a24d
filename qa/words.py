"""Content words: the stemmed words of a text that carry meaning, and how many two texts share.

The lexical judgments (which sentences a reranker offers the judge, whether a quote repeats a
claim's words) all count words this way, so it lives below every module that does.
"""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
STOPWORDS = frozenset("""a an the and or but of to in on at for by with from as is are was were be been being
this that these those it its he she they them his her their we you i what which who whom whose when where why
how did do does done has have had not no yes so than then there here about into over after before said says
say also will would can could should may might must up out if""".split())


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning ("proposed" and "propose" are one word)."""
    words = [w.lower() for w in WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w not in STOPWORDS]))


def overlap(sentence: str, evidence: str) -> float:
    """Share of the sentence's content words that the evidence contains."""
    words = content_words(sentence)
    return len(words & content_words(evidence)) / len(words) if words else 0.0
