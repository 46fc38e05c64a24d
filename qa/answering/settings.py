"""How much the reader shows the model: one frozen value passed to answering, so a benchmark
tries a variant by passing other settings instead of changing the package while it runs.

The defaults are the shipped reader; the figures behind each are in docs/quality.md.
"""
from __future__ import annotations

from dataclasses import dataclass

EVIDENCE_SENTENCES = 3      # at most, per passage
PROMPT_SENTENCES = 5        # in all: each sentence (~28 tokens) costs the 1.5B model ~0.8 s on 2 cores;
                            # 5 held accuracy and cut the median answer to 7.2 s (docs/quality.md)
CANDIDATE_SENTENCES = 10    # per passage, chosen by shared words, that the encoder then ranks
RANK_PRIOR = 0.03           # taken off a sentence's score per place its passage is ranked below the first
CHOICE_SENTENCES = 5        # evidence sentences for choosing an answer's span


@dataclass(frozen=True)
class ReaderSettings:
    """The evidence the model reads: ``prompt_sentences`` in all for a sentence answer,
    ``choice_sentences`` when the model copies a span, at most ``evidence_sentences`` from one
    passage, picked among ``candidate_sentences`` per passage; ``rank_prior`` is taken off a
    sentence's score per place its passage ranks below the first."""

    prompt_sentences: int = PROMPT_SENTENCES
    evidence_sentences: int = EVIDENCE_SENTENCES
    candidate_sentences: int = CANDIDATE_SENTENCES
    rank_prior: float = RANK_PRIOR
    choice_sentences: int = CHOICE_SENTENCES


SHIPPED = ReaderSettings()
