"""Sentence-aware chunks that always fit the embedder's input.

MiniLM reads at most 256 word pieces and silently drops the rest, so a chunk
is built sentence by sentence against the real tokenizer's count. Each chunk keeps its
character span in the article so a citation can quote exact sentences.

The encoder reads every word of an article once: chunks do not overlap, and the title is
encoded once per article and mixed into each chunk's vector (``ChunkParams.title_mix``).
Libraries made before that (``LEGACY``) keep their own way: the title before every chunk's
text and one sentence of overlap.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from embeddings.encoder import TokenCounter

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
# syntok is imported on first use (it and the ``regex`` module it needs take ~20 ms, which a
# question answered without sentences, ``qa ask --no-llm``, skips), one thread at a time:
# CPython 3.11 can fail when two threads compile modules at once (see qa/bm25.py).
_IMPORT = threading.Lock()


@dataclass(frozen=True)
class ChunkParams:
    """How a library's articles are cut and embedded; its manifest records them, and a library
    keeps the ones it was made with (``from_dict``: a manifest from before ``title_mix`` is
    read as ``LEGACY``)."""

    # Aim: room for a few sentences, small enough to stay on topic (160 before #17). Longer
    # chunks are fewer texts for the encoder, which reads a text's tokens faster in longer texts;
    # on the full rtqa-2025 library, 200 lost 0.015 of recall@5 and 240 kept it (docs/benchmarks.md).
    target_tokens: int = 240
    max_tokens: int = 256         # the embedder's hard input limit, special tokens included
    overlap_sentences: int = 0    # sentences repeated at the start of the next chunk
    # The title's topic in every chunk's vector: the title is encoded once per article and added
    # to each chunk's vector at this weight, in percent (normalize(v_chunk + w/100 * v_title)).
    # 0: the title is prefixed to every chunk's text and encoded with it (libraries before #17:
    # with a one-sentence overlap, 32% more word pieces for the encoder than the text holds).
    title_mix: int = 50

    def to_dict(self) -> dict:
        return {"target_tokens": self.target_tokens, "max_tokens": self.max_tokens,
                "overlap_sentences": self.overlap_sentences, "title_mix": self.title_mix}

    @classmethod
    def from_dict(cls, values: dict) -> "ChunkParams":
        """The params a manifest records; one written before ``title_mix`` existed means 0."""
        return cls(**{"title_mix": 0, **values})


LEGACY = ChunkParams(target_tokens=160, overlap_sentences=1, title_mix=0)  # every library made before #17


@dataclass(frozen=True)
class Chunk:
    article_id: str
    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (syntok: rule based, no downloads).

    Each paragraph is tokenised from offset 0 and shifted back: syntok's own
    ``analyze`` pads every paragraph with its offset in spaces, which makes long
    articles quadratic (53 s for 1 MB instead of 1.3 s)."""
    with _IMPORT:
        import syntok.segmenter as segmenter
        from syntok.tokenizer import Tokenizer
    tokenizer = Tokenizer(replace_not_contraction=False)
    spans = []
    for offset, paragraph in segmenter.preprocess_with_offsets(text):
        for sentence in segmenter.segment(tokenizer.tokenize(paragraph, 0)):
            tokens = [t for t in sentence if t.value]
            if tokens:
                spans.append((offset + tokens[0].offset, offset + tokens[-1].offset + len(tokens[-1].value)))
    return spans


def embed_text(title: str, text: str) -> str:
    """A chunk with its title: what the keyword index reads (a title word matches every chunk of
    its article), and what the encoder reads where the title is not mixed in (``title_mix`` 0)."""
    return f"{title}\n{text}" if title else text


def _title_row(title: str, texts: Sequence[str], params: ChunkParams) -> bool:
    """Whether the title is encoded on its own: not where it is not mixed in, and not where it is
    the article's first chunk word for word (a one-line note): that chunk's vector is the title's."""
    return bool(params.title_mix and title and (not texts or texts[0] != title))


def encoder_texts(title: str, texts: Sequence[str], params: ChunkParams) -> list[str]:
    """What the encoder reads for one article's chunks: the title first (if any), then each chunk;
    or, with ``title_mix`` 0, each chunk with its title before it."""
    if not params.title_mix:
        return [embed_text(title, t) for t in texts]
    return ([title] if _title_row(title, texts, params) else []) + list(texts)


class TitleMixer:
    """Turns the vectors of ``encoder_texts`` (given in order, in batches of any size, as an
    encoding queue hands them over) into one vector per chunk. ``expect`` each article first."""

    def __init__(self, params: ChunkParams) -> None:
        self.params = params
        self.weight = params.title_mix / 100
        # Per article, in order: "row" (a title row comes first), "first" (the first chunk is the
        # title) or "" (no title to mix in), and its number of chunks.
        self._layout: list[tuple[str, int]] = []
        self._next = 0
        self._title: np.ndarray | None = None
        self._left = 0  # chunk rows still to come for the current article

    def expect(self, title: str, texts: Sequence[str]) -> None:
        """The next article: its title and its chunks' texts."""
        mode = "row" if _title_row(title, texts, self.params) else "first" if title and self.weight else ""
        self._layout.append((mode, len(texts)))

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        if not self.weight:
            return vectors
        out = []
        for v in vectors:
            if not self._left:
                mode, self._left = self._layout[self._next]
                self._layout[self._next] = ("", 0)
                self._next += 1
                self._title = None
                if mode == "row":
                    self._title = self.weight * v
                    continue
                if mode == "first":
                    self._title = self.weight * v
            out.append(v if self._title is None else v + self._title)
            self._left -= 1
        if not out:
            return np.zeros((0, vectors.shape[1]), np.float32)
        mixed = np.asarray(out, np.float32)
        return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def chunk_vectors(encoder: "Encoder", pairs: Sequence[tuple[str, str]], params: ChunkParams) -> np.ndarray:
    """The vectors of chunks given as ``(title, chunk text)``, made as ingest makes them with
    ``params`` (doctor's re-made vectors); consecutive chunks of one title share its encoding."""
    mixer, texts, i = TitleMixer(params), [], 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        chunks = [t for _, t in pairs[i:j]]
        texts += encoder_texts(pairs[i][0], chunks, params)
        mixer.expect(pairs[i][0], chunks)
        i = j
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return mixer(encoder.encode(texts))


def _words(text: str, start: int, end: int, budget: int, counter: TokenCounter) -> list[tuple[int, int]]:
    """Spans of the words in ``text[start:end]``; a word that alone exceeds the budget
    (CJK text, "1,2,3,…" runs) is cut into character runs that fit."""
    out, pos = [], start
    for word in text[start:end].split():
        at = text.index(word, pos)
        pos = at + len(word)
        if len(word) <= budget or counter.count([word])[0] <= budget:
            out.append((at, pos))
            continue
        step = max(1, budget // 2)  # a character is at most a couple of word pieces
        while counter.count([text[at:at + step]])[0] > budget and step > 1:
            step //= 2
        out += [(i, min(i + step, pos)) for i in range(at, pos, step)]
    return out


def _split_long(text: str, start: int, end: int, budget: int, counter: TokenCounter) -> list[tuple[int, int]]:
    """Cut a sentence that alone exceeds the budget at word boundaries (or inside a huge word)."""
    words = _words(text, start, end, budget, counter)
    pieces, i = [], 0
    while i < len(words):
        lo, hi = i, len(words)
        while lo < hi:  # the longest run of words from i that fits
            mid = (lo + hi + 1) // 2
            if counter.count([text[words[i][0]:words[mid - 1][1]]])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        j = max(lo, i + 1)
        pieces.append((words[i][0], words[j - 1][1]))
        i = j
    return pieces


def chunk_text(article_id: str, title: str, text: str, counter: TokenCounter,
               params: ChunkParams = ChunkParams()) -> list[Chunk]:
    """Greedy packing of whole sentences up to ``target_tokens``, never past ``max_tokens``
    (the title's word pieces included where it is encoded with each chunk)."""
    title_tokens = counter.count([title])[0] + 1 if title and not params.title_mix else 0
    budget = params.max_tokens - SPECIAL_TOKENS - title_tokens
    if budget < 16:  # an absurd title: keep the chunk, not the title
        budget = params.max_tokens - SPECIAL_TOKENS
    target = min(params.target_tokens, budget)
    spans = sentence_spans(text)
    counts = counter.count([text[s:e] for s, e in spans]) if spans else []
    units: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, counts):
        if n <= budget:
            units.append((s, e, n))
        else:
            units += [(a, b, counter.count([text[a:b]])[0]) for a, b in _split_long(text, s, e, budget, counter)]

    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] + 1 <= target):
            total += units[j][2] + (j > i)
            j += 1
        start, end = units[i][0], units[j - 1][1]
        # Joined sentences can tokenise slightly differently from their sum: check the real count.
        while j - 1 > i and counter.count([text[start:end]])[0] > budget:
            j -= 1
            end = units[j - 1][1]
        chunks.append(Chunk(article_id, start, end, text[start:end]))
        if j >= len(units):
            break
        i = max(i + 1, j - params.overlap_sentences)
    return chunks


def chunk_many(items: Sequence[tuple[str, str, str]], counter: TokenCounter,
               params: ChunkParams = ChunkParams()) -> list[Chunk]:
    """Chunks of several ``(article_id, title, text)`` triples, in order."""
    return [c for aid, title, text in items for c in chunk_text(aid, title, text, counter, params)]
