"""Sentence-aware chunks that always fit the embedder's input.

MiniLM reads at most 256 word pieces and silently drops the rest, so a chunk
is built sentence by sentence against the real tokenizer's count (title
included, since the title is embedded with every chunk). Each chunk keeps its
character span in the article so a citation can quote exact sentences.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from embeddings.encoder import TokenCounter

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
# syntok is imported on first use (it and the ``regex`` module it needs take ~20 ms, which a
# question answered without sentences, ``qa ask --no-llm``, skips), one thread at a time:
# CPython 3.11 can fail when two threads compile modules at once (see qa/bm25.py).
_IMPORT = threading.Lock()


@dataclass(frozen=True)
class ChunkParams:
    target_tokens: int = 160      # aim: room for a few sentences, small enough to stay on topic
    max_tokens: int = 256         # the embedder's hard input limit, special tokens included
    overlap_sentences: int = 1    # sentences repeated at the start of the next chunk

    def to_dict(self) -> dict:
        return {"target_tokens": self.target_tokens, "max_tokens": self.max_tokens,
                "overlap_sentences": self.overlap_sentences}


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
    """What the encoder sees for a chunk: the title gives every chunk its topic."""
    return f"{title}\n{text}" if title else text


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
    """Greedy packing of whole sentences up to ``target_tokens``, never past ``max_tokens``."""
    title_tokens = counter.count([title])[0] + 1 if title else 0
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
