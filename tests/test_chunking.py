"""Chunks fit the embedder, keep exact spans, overlap, and survive any text."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from embeddings.encoder import TokenCounter
from qa.chunking import ChunkParams, chunk_text, embed_text, sentence_spans
from qa.models import embedder_spec, model_path

from conftest import SEEDS


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(model_path(embedder_spec()).parent)


def _tokens(counter, title, chunk):
    return counter.count([embed_text(title, chunk.text)])[0] + 2


def test_sentence_spans_are_exact():
    text = "Mr. Losyukov spoke on Monday. He said talks were urgent!\n\nU.S. officials agreed."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Mr. Losyukov spoke on Monday.", "He said talks were urgent!", "U.S. officials agreed."]


def test_seed_chunks_fit_and_quote_the_article(counter):
    text = (SEEDS / "003_c13b77ec0b5e076f.txt").read_text()
    title = "Russia Urges Washington, Pyongyang to Reduce Tensions"
    chunks = chunk_text("a1", title, text, counter)
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert _tokens(counter, title, c) <= 256
    assert any("six-sided discussions" in c.text for c in chunks)
    # consecutive chunks share a sentence, so an answer is never cut in two
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))


def test_a_sentence_longer_than_the_limit_is_cut_not_truncated(counter):
    text = " ".join(f"word{i}" for i in range(600)) + "."
    chunks = chunk_text("long", "Title", text, counter, ChunkParams(overlap_sentences=0))
    assert len(chunks) > 1
    assert all(_tokens(counter, "Title", c) <= 256 for c in chunks)
    covered = " ".join(c.text for c in chunks)
    assert covered.split() == text.split()


def test_empty_text_has_no_chunks(counter):
    assert chunk_text("e", "T", "", counter) == []
    assert chunk_text("e", "T", "   \n\n ", counter) == []


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=80), text=st.text(max_size=3000))
def test_any_text_gives_chunks_inside_the_text_and_the_limit(counter, title, text):
    for c in chunk_text("x", title, text, counter):
        assert 0 <= c.start < c.end <= len(text)
        assert c.text == text[c.start:c.end]
        assert counter.count([c.text])[0] + 2 <= 256
