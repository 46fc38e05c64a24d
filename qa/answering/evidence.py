"""Evidence: whether the passages found are close enough to answer from, and which of their
sentences the model reads. Keeping the prompt to a few sentences (not whole passages) is what
makes a CPU answer fast.
"""
from __future__ import annotations

from qa.answering.answer import Evidence
from qa.answering.settings import SHIPPED, ReaderSettings
from qa.answering.words import ADDRESSED, ASKING, overlap, split_sentences
from qa.retrieval import Passage

MIN_SCORE = 0.30            # no passage this close (cosine): abstain without asking the LLM,
                            # unless the encoder brings its own calibrated ``abstain_below``
MAX_PASSAGES_IN_PROMPT = 4


def close_enough(passages: list[Passage], encoder=None) -> bool:
    """Whether the best passage is close enough to the question to try answering: the
    encoder's calibrated ``abstain_below``, or MIN_SCORE without one."""
    return bool(passages) and max(p.score for p in passages) >= getattr(encoder, "abstain_below", MIN_SCORE)


def select_evidence(question: str, passages: list[Passage], encoder=None, limit: int | None = None,
                    settings: ReaderSettings = SHIPPED) -> list[Evidence]:
    """The ``limit`` (``settings.prompt_sentences``) sentences of the top passages that bear most on
    the question (at most ``settings.evidence_sentences`` from one passage), grouped by passage in
    text order; passages left without one are not shown to the model. Sentences that ask a
    question are left out (``words.ASKING``). A sentence's score is its cosine to the question
    plus half its share of the question's words, less ``settings.rank_prior`` per place its
    passage ranks below the first: retrieval judged the whole article, the sentence score sees
    one sentence."""
    split = [_most_lexical(question, [s for s in (split_sentences(p.text) or [p.text])
                                      if not ADDRESSED.search(s) and not ASKING.search(s)] or [""],
                           settings.candidate_sentences)
             for p in passages[:MAX_PASSAGES_IN_PROMPT]]
    flat = [s for found in split for s, _ in found]
    if encoder is not None and flat:
        vecs = encoder.encode([question] + flat)
        sims, vectors = (vecs[1:] @ vecs[0]).tolist(), vecs[1:]
    else:
        sims, vectors = [0.0] * len(flat), None
    lexical = [shared for found in split for _, shared in found]
    owner = [n for n, found in enumerate(split) for _ in found]
    scores = [sim + 0.5 * shared - settings.rank_prior * n for sim, shared, n in zip(sims, lexical, owner)]
    chosen: list[int] = []
    per_passage = [0] * len(split)
    for i in sorted(range(len(flat)), key=lambda i: -scores[i]):
        if per_passage[owner[i]] < settings.evidence_sentences and len(chosen) < (limit or settings.prompt_sentences):
            chosen.append(i)
            per_passage[owner[i]] += 1
    evidence = []
    for n, passage in enumerate(passages[:len(split)]):
        mine = sorted(i for i in chosen if owner[i] == n)
        if mine:
            evidence.append(Evidence(n + 1, passage, [flat[i] for i in mine],
                                     None if vectors is None else vectors[mine], [scores[i] for i in mine]))
    return evidence


def _most_lexical(question: str, sentences: list[str], candidates: int) -> list[tuple[str, float]]:
    """The ``candidates`` sharing most words with the question, in text order, each with its
    share of the question's words: encoding every sentence of four long passages would cost
    seconds on a CPU."""
    shares = [overlap(question, s) for s in sentences]
    keep = sorted(sorted(range(len(sentences)), key=lambda i: -shares[i])[:candidates])
    return [(sentences[i], shares[i]) for i in keep]
