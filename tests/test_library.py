"""The library store: ingest, de-duplication, errors, refusal of foreign libraries."""
from __future__ import annotations

import json

import pytest

from qa.library import FolderLibrary, LibraryError

from conftest import SEEDS
from fakes import FakeEncoder


def test_ingest_seeds_stores_articles_chunks_and_vectors(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    report = lib.add([SEEDS], fake_encoder)
    assert len(report.added) == 4 and not report.errors
    reopened = FolderLibrary.open(tmp_path / "lib", fake_encoder)
    assert reopened.counts == {"articles": 4, "chunks": report.chunks}
    assert len(reopened.index) == report.chunks
    ids = [a.id for a in reopened.articles()]
    assert any("003_c13b77ec0b5e076f" in i for i in ids)
    chunk = reopened.chunks([0])[0]
    assert chunk.text == chunk.article.text[chunk.start:chunk.end] and chunk.text


def test_duplicates_go_in_once(tmp_path, fake_encoder):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "again.txt").write_text((SEEDS / "003_c13b77ec0b5e076f.txt").read_text())
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    report = lib.add([SEEDS, copy], fake_encoder)
    assert report.added == [] and len(report.duplicates) == 5
    assert lib.counts["articles"] == 4


def test_bad_lines_are_reported_and_good_records_still_go_in(tmp_path, fake_encoder):
    f = tmp_path / "news.jsonl"
    f.write_text('{"text": "Parliament passed the budget on Tuesday after a long debate.", "title": "Budget"}\n'
                 "{not json\n"
                 '{"title": "no text field"}\n')
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    report = lib.add([f], fake_encoder)
    assert len(report.added) == 1
    assert sorted(e.line for e in report.errors) == [2, 3]
    assert all(str(f) in str(e) for e in report.errors)


def test_a_new_generation_replaces_the_old_files(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS / "000_8e1adf5baa08f22c.txt"], fake_encoder)
    lib.add([SEEDS / "003_c13b77ec0b5e076f.txt"], fake_encoder)
    files = sorted(p.name for p in (tmp_path / "lib").iterdir() if not p.name.startswith("."))
    assert files == ["bm25-2", "index-2.faiss", "manifest.json", "store-2.db"]
    assert FolderLibrary.open(tmp_path / "lib", fake_encoder).counts["articles"] == 2


def test_library_made_with_another_embedder_is_refused(tmp_path, fake_encoder):
    FolderLibrary.create(tmp_path / "lib", fake_encoder).add([SEEDS], fake_encoder)
    other = FakeEncoder()
    other.name = "another-model"
    with pytest.raises(LibraryError, match="built with embedder 'fake-bow'"):
        FolderLibrary.open(tmp_path / "lib", other)


def test_other_format_and_missing_library_are_refused(tmp_path, fake_encoder):
    with pytest.raises(LibraryError, match="no library at"):
        FolderLibrary.open(tmp_path / "nothing", fake_encoder)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    manifest = json.loads((lib.path / "manifest.json").read_text())
    (lib.path / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(LibraryError, match="format 99"):
        FolderLibrary.open(lib.path, fake_encoder)


def test_keywords_loaded_with_the_checked_vocabulary_search_as_bm25s_loads_them(tmp_path):
    """An open parses the vocabulary once (for its check) and hands it to bm25s."""
    from qa.bm25 import KeywordIndex
    from qa.library.folder.checks import load_keywords

    texts = ["Russia proposed six-sided talks on Korea", "The harbour reopened after repairs", "Talks in London"]
    KeywordIndex.build(texts).save(tmp_path / "bm25")
    theirs, ours = KeywordIndex.load(tmp_path / "bm25", 3), load_keywords(tmp_path / "bm25", 3)
    assert ours._bm25.vocab_dict == theirs._bm25.vocab_dict
    assert ours._bm25.unique_token_ids_set == theirs._bm25.unique_token_ids_set
    for query in ("six-sided talks", "harbour repairs", "London talks Korea"):
        for a, b in zip(ours.search(query, 3), theirs.search(query, 3)):
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("query", ["What did Russia propose in 2003?", "the a of", "", "x y z", "U.S.-led talks' 2003",
                                   "Naïve ÉTÉ running runners ran", "東京 tōkyō"])
def test_a_query_is_tokenised_as_bm25s_tokenises_the_chunks(query):
    from qa.bm25 import _tokens, query_tokens

    assert query_tokens(query) == _tokens([query])[0]


def test_keyword_search_ranks_as_bm25s_retrieve_does_with_and_without_a_filter():
    """KeywordIndex.search scores and takes the top k itself (no thread pool, no progress bar):
    the same rows and scores, in the same order, as bm25s's own retrieve."""
    import numpy as np

    from qa.bm25 import KeywordIndex, query_tokens

    texts = [f"Russia talks {i % 7} harbour {'Korea ' * (i % 3)} repairs {i} London {'six-sided ' * (i % 5)}"
             for i in range(60)]
    index = KeywordIndex.build(texts)
    for query in ("six-sided talks in Korea", "harbour repairs London", "Russia 3"):
        tokens = [t for t in query_tokens(query) if t in index._bm25.vocab_dict]
        for within in (None, np.arange(0, 60, 4)):
            mask = None
            if within is not None:
                mask = np.zeros(60, np.float32)
                mask[within] = 1
            rows, scores = index._bm25.retrieve([tokens], k=10, show_progress=False, weight_mask=mask)
            keep = scores[0] > 0
            got_scores, got_rows = index.search(query, 10, within)
            assert got_rows.tolist() == rows[0][keep].tolist()
            assert np.allclose(got_scores, scores[0][keep])
            assert within is None or set(got_rows.tolist()) <= set(within.tolist())
