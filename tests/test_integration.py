"""The real embedder end to end: seed retrieval and ingesting real news (slow)."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from qa.library import FolderLibrary
from qa.retrieval import Retriever

from conftest import EVAL

pytestmark = pytest.mark.slow


def test_real_vectors_are_normalised_and_meaningful(encoder):
    v = encoder.encode(["Russia proposed six-party talks on North Korea.",
                        "Moscow suggested multilateral negotiations with Pyongyang.",
                        "The recipe needs two eggs and flour."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_the_2003_question_retrieves_the_2003_voa_article_first(seed_library, encoder):
    retriever = Retriever(FolderLibrary.open(seed_library, encoder), encoder)
    passages = retriever.search("What did Russia propose in 2003?", k=5)
    assert "003_c13b77ec0b5e076f" in passages[0].article.id
    assert passages[0].article.date == "2003-04-08"


def test_off_topic_question_scores_low(seed_library, encoder):
    MIN_SCORE = encoder.abstain_below
    retriever = Retriever(FolderLibrary.open(seed_library, encoder), encoder)
    assert retriever.search("Who won the 2022 World Cup?", k=5)[0].score < MIN_SCORE
    assert retriever.search("What did Lavrov warn about in 2013?", k=5)[0].score > MIN_SCORE


@pytest.mark.skipif(not (EVAL / "rtqa-2025-week").is_dir(), reason="shared eval data not present")
def test_real_news_week_ingests(tmp_path, encoder):
    corpus = EVAL / "rtqa-2025-week" / "corpus.jsonl.gz"
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    lib = FolderLibrary.create(tmp_path / "week", encoder)
    report = lib.add([corpus], encoder)
    assert not report.errors
    assert len(report.added) + len(report.duplicates) == len(records) == 130
    reopened = FolderLibrary.open(tmp_path / "week", encoder)
    assert reopened.counts["chunks"] == len(reopened.index) > 1000
    # every text the encoder reads (a chunk, or a title mixed into its chunks) fits its 256 word pieces
    counter = encoder.token_counter()
    from qa.reading.chunking import ChunkParams, encoder_texts
    params = ChunkParams.from_dict(reopened.chunking)
    assert params.title_mix  # a new library: the title is encoded once, not before every chunk
    sample = reopened.chunks(range(0, len(reopened.index), 7))
    read = [t for c in sample for t in encoder_texts(c.article.title, [c.text], params)]
    assert max(counter.count(read)) + 2 <= 256
    q = records[0]["title"]
    top = Retriever(reopened, encoder).search(q, k=3)
    assert any(p.article.title == q for p in top)
