"""Which stretch of an article retrieval shows."""
from __future__ import annotations

import pytest

from qa.library import FolderLibrary
from qa.reading.chunking import ChunkParams
from qa.retrieval import Retriever

QUESTION = "How much will the harbour bridge repairs cost?"
FILLER = ["Fishermen sold mackerel at the market on Sunday morning.",
          "Gulls circled the old lighthouse all afternoon.",
          "A school choir sang carols in the town square.",
          "Volunteers planted oak trees along the canal path.",
          "The bakery on Quay Street won a regional prize."]
# One chunk repeats the question's words; the five chunks that tell the story each share
# only one or two of them, and the last of those holds the answer.
STRONG = "Harbour bridge repairs cost much debate, and harbour bridge repairs divide the town."
STORY = ["Inspectors examined the bridge on Monday.",
         "They reported that repairs cannot wait.",
         "The harbour authority approved the plan.",
         "Engineers said the cost was rising fast.",
         "The council put the repair cost at 40 million dollars."]


def _one_article_library(tmp_path, encoder, paragraphs: list[str]) -> FolderLibrary:
    """A library of one article titled "Town news", chunked about one paragraph a chunk."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "story.txt").write_text("\n\n".join(["Town news", *paragraphs]) + "\n", encoding="utf-8")
    lib = FolderLibrary.create(tmp_path / "lib", encoder, ChunkParams(target_tokens=8, max_tokens=64, overlap_sentences=0))
    lib.add([tmp_path / "in"], encoder)
    return FolderLibrary.open(tmp_path / "lib", encoder)


@pytest.fixture
def long_article(tmp_path, fake_encoder):
    return _one_article_library(tmp_path, fake_encoder, [STRONG, *FILLER, *STORY])


def test_a_passage_is_the_run_of_chunks_closest_to_the_question(long_article, fake_encoder):
    chunks = long_article.article_chunks(long_article.articles()[0].id)
    assert [c.text for c in chunks[-11:]] == [STRONG, *FILLER, *STORY], "one chunk per paragraph"
    vectors = long_article.index.vectors([c.row for c in chunks]) @ fake_encoder.encode([QUESTION])[0]
    assert chunks[int(vectors.argmax())].text == STRONG, "the single closest chunk repeats the question"

    [passage] = Retriever(long_article, fake_encoder, window=2).search(QUESTION, 5)
    assert passage.text.startswith(STORY[0]) and passage.text.endswith(STORY[-1])
    assert "40 million dollars" in passage.text and STRONG not in passage.text
    assert passage.score == pytest.approx(max(vectors[-5:]), abs=1e-6), "score: the best chunk shown"


def test_a_short_article_is_shown_whole(tmp_path, fake_encoder):
    lib = _one_article_library(tmp_path, fake_encoder, [STORY[0], STORY[-1]])
    [passage] = Retriever(lib, fake_encoder).search(QUESTION, 5)
    assert len(lib.article_chunks(passage.article.id)) == 3
    assert passage.text.strip() == passage.article.text.strip()

