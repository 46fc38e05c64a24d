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
JUDGE_CANDIDATES = 12       # per passage, offered to the judge (it reads ~40 pairs in 0.1 s)
JUDGE_WEIGHT = 3.0          # times the judge's probability, added to a sentence's score (cosine, plus half
                            # the shared words): at 9 the judge alone led, which lost the sample articles'
                            # "What did Russia propose in 2003?" (docs/quality.md)
ANSWERS_BELOW = 0.03        # no evidence sentence the judge gives this: the articles don't answer (the
                            # highest line that declines no answerable tuning-half question cosine keeps)


def close_enough(passages: list[Passage], encoder=None) -> bool:
    """Whether the best passage is close enough to the question to try answering: the
    encoder's calibrated ``abstain_below``, or MIN_SCORE without one."""
    return bool(passages) and max(p.score for p in passages) >= getattr(encoder, "abstain_below", MIN_SCORE)


def answered(evidence: list[Evidence]) -> bool:
    """Whether the judge found a sentence that may answer (True where no judge scored them)."""
    probs = [p for ev in evidence for p in ev.answers]
    return not probs or max(probs) >= ANSWERS_BELOW


def select_evidence(question: str, passages: list[Passage], encoder=None, limit: int | None = None,
                    settings: ReaderSettings = SHIPPED, judge=None) -> list[Evidence]:
    """The ``limit`` (``settings.prompt_sentences``) sentences of the top passages that bear most on
    the question (at most ``settings.evidence_sentences`` from one passage), grouped by passage in
    text order; passages left without one are not shown to the model. Sentences that ask a
    question are left out (``words.ASKING``). A sentence's score is its cosine to the question
    plus half its share of the question's words, less ``settings.rank_prior`` per place its
    passage ranks below the first: retrieval judged the whole article, the sentence score sees
    one sentence. With a ``judge`` (``qa.judge``), JUDGE_WEIGHT times its probability that the
    sentence answers is added, among JUDGE_CANDIDATES per passage."""
    split = [_most_lexical(question, [s for s in (split_sentences(p.text) or [p.text])
                                      if not ADDRESSED.search(s) and not ASKING.search(s)] or [""],
                           JUDGE_CANDIDATES if judge is not None else settings.candidate_sentences)
             for p in passages[:MAX_PASSAGES_IN_PROMPT]]
    flat = [s for found in split for s, _ in found]
    lexical = [shared for found in split for _, shared in found]
    owner = [n for n, found in enumerate(split) for _ in found]
    answers = judge.scores(question, flat).tolist() if judge is not None and flat else []
    if encoder is not None and flat:
        vecs = encoder.encode([question] + flat)
        sims, vectors = (vecs[1:] @ vecs[0]).tolist(), vecs[1:]
    else:
        sims, vectors = [0.0] * len(flat), None
    judged = answers or [0.0] * len(flat)
    scores = [sentence_score(sim, shared, p, n, settings) for sim, shared, p, n in zip(sims, lexical, judged, owner)]
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
                                     None if vectors is None else vectors[mine], [scores[i] for i in mine],
                                     [answers[i] for i in mine] if answers else []))
    return evidence


def sentence_score(cosine: float, shared: float, judged: float = 0.0, place: int = 0,
                   settings: ReaderSettings = SHIPPED) -> float:
    """How much a sentence bears on a question: its ``cosine`` to it, plus half its ``shared`` words,
    plus JUDGE_WEIGHT times the judge's probability that it answers (``judged``; 0 without a judge),
    less ``settings.rank_prior`` per ``place`` its passage ranks below the first. One formula for
    the places qa picks sentences (an answer's evidence, a timeline entry's amount), so a weight
    tuned once holds for all."""
    return cosine + 0.5 * shared + JUDGE_WEIGHT * judged - settings.rank_prior * place


def _most_lexical(question: str, sentences: list[str], candidates: int) -> list[tuple[str, float]]:
    """The ``candidates`` sharing most words with the question, in text order, each with its
    share of the question's words: encoding every sentence of four long passages would cost
    seconds on a CPU."""
    shares = [overlap(question, s) for s in sentences]
    keep = sorted(sorted(range(len(sentences)), key=lambda i: -shares[i])[:candidates])
    return [(sentences[i], shares[i]) for i in keep]
