"""Chunks fit the embedder, keep exact spans, survive any text; the title is mixed into each chunk's
vector (or, in libraries made before #17, encoded with every chunk, which overlap by a sentence)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from embeddings.encoder import TokenCounter
import numpy as np

from qa.models import embedder_spec, model_path
from qa.reading.chunking import (LEGACY, ChunkParams, TitleMixer, chunk_text, chunk_vectors, embed_text,
                                 encoder_texts, sentence_spans)

from conftest import SEEDS


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(model_path(embedder_spec()).parent)


def _tokens(counter, title, chunk, params=ChunkParams()):
    """Word pieces the encoder reads for the chunk (its title too where it is encoded with it)."""
    return counter.count(encoder_texts(title, [chunk.text], params)[-1:])[0] + 2


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
    # each word is encoded once: the chunks follow each other without overlapping
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:]))
    # the chunking of libraries made before #17: title with every chunk, a sentence of overlap
    legacy = chunk_text("a1", title, text, counter, LEGACY)
    assert all(_tokens(counter, title, c, LEGACY) <= 256 for c in legacy)
    assert all(b.start < a.end for a, b in zip(legacy, legacy[1:]))
    read = sum(_tokens(counter, title, c) for c in chunks) + counter.count([title])[0] + 2
    assert read < sum(_tokens(counter, title, c, LEGACY) for c in legacy)


def test_the_title_is_encoded_once_per_article_and_mixed_into_each_chunk(counter):
    from fakes import FakeEncoder

    encoder = FakeEncoder()
    pairs = [("Russia urges talks", "Lavrov met Hague in London."), ("Russia urges talks", "He spoke of Korea."),
             ("", "An untitled note on harbours."), ("Floods in Valencia", "Rain fell for days.")]
    assert encoder_texts("T", ["a", "b"], ChunkParams()) == ["T", "a", "b"]
    assert encoder_texts("", ["a"], ChunkParams()) == ["a"]
    assert encoder_texts("T", ["a", "b"], LEGACY) == ["T\na", "T\nb"] and encoder_texts("", ["a"], LEGACY) == ["a"]
    got = chunk_vectors(encoder, pairs, ChunkParams())
    want = []
    for title, text in pairs:
        v = encoder.encode([text])[0] + (0.5 * encoder.encode([title])[0] if title else 0)
        want.append(v / np.linalg.norm(v))
    assert np.allclose(got, np.array(want), atol=1e-6)
    assert np.allclose(chunk_vectors(encoder, pairs, LEGACY), encoder.encode([embed_text(t, x) for t, x in pairs]))
    # a one-line note whose title is its text: encoded once, its vector is the title's too
    note = "Council met on Monday."
    assert encoder_texts(note, [note], ChunkParams()) == [note]
    assert np.allclose(chunk_vectors(encoder, [(note, note), (note, "It approved the budget.")], ChunkParams()),
                       chunk_vectors(encoder, [("", note)], ChunkParams()).tolist()
                       + [(lambda v: v / np.linalg.norm(v))(encoder.encode(["It approved the budget."])[0]
                                                            + 0.5 * encoder.encode([note])[0])], atol=1e-6)
    # a queue hands the rows over in batches that may end on a title: the same vectors come out
    rows = encoder.encode(["Russia urges talks", *[x for _, x in pairs[:2]], pairs[2][1], "Floods in Valencia",
                           pairs[3][1]])
    for cut in range(len(rows) + 1):
        mixer = TitleMixer(ChunkParams())
        for title, texts in (("Russia urges talks", [x for _, x in pairs[:2]]), ("", [pairs[2][1]]),
                             ("Floods in Valencia", [pairs[3][1]])):
            mixer.expect(title, texts)
        assert np.allclose(np.vstack([mixer(rows[:cut]), mixer(rows[cut:])]), got, atol=1e-6)


def test_params_of_a_manifest_from_before_title_mix_mean_the_old_chunking():
    old = {"target_tokens": 160, "max_tokens": 256, "overlap_sentences": 1}
    assert ChunkParams.from_dict(old) == LEGACY
    assert ChunkParams.from_dict(ChunkParams().to_dict()) == ChunkParams()
    assert ChunkParams().overlap_sentences == 0 and ChunkParams().title_mix == 50 and ChunkParams().target_tokens == 240


def test_a_sentence_longer_than_the_limit_is_cut_not_truncated(counter):
    text = " ".join(f"word{i}" for i in range(600)) + "."
    for params in (ChunkParams(), ChunkParams(overlap_sentences=0, title_mix=0)):
        chunks = chunk_text("long", "Title", text, counter, params)
        assert len(chunks) > 1
        assert all(_tokens(counter, "Title", c, params) <= 256 for c in chunks)
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
