"""The storage seam's contract: every backend behind ``qa.library.Library`` must pass these.

Parametrized over the backends (``BACKENDS``: a name and a function giving a fresh
address under a temporary folder). A new backend adds itself there and runs this file.
"""
from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from conftest import SEEDS
from qa.library import Filters, Library, create_library, library_exists, open_library
from qa.reading.chunking import ChunkParams, chunk_vectors
from qa.retrieval import Retriever

BACKENDS = {"folder": lambda tmp: tmp / "lib",
            "milvus-lite": lambda tmp: f"milvus://{tmp}/lib.db/lib"}  # the real engine, in a local file

OUTLETS = ["Harbour Times", "Valley Post", "Coast Herald"]


@pytest.fixture(params=sorted(BACKENDS))
def address(request, tmp_path):
    if request.param.startswith("milvus"):
        pytest.importorskip("pymilvus", reason="pip install 'qa-news[milvus]'")
        from qa.library.milvus import disconnect_all

        request.addfinalizer(disconnect_all)  # stops this test's Milvus Lite engine
    return BACKENDS[request.param](tmp_path)


def articles_file(path: Path, n: int = 12) -> Path:
    """``n`` one-chunk articles about the same harbour story, one a month in 2020 from three
    outlets in turn, each with a word of its own."""
    lines = [json.dumps({"id": f"a{i:02d}", "title": f"Harbour report {i}", "source": OUTLETS[i % 3],
                         "date": f"2020-{i + 1:02d}-15", "url": f"https://www.{OUTLETS[i % 3].split()[0].lower()}.test/{i}",
                         "text": f"The harbour bridge repair went on in month {i}. Crews fixed cable{i} "
                                 f"and the council met about tolls and ferries."})
             for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def numbers(library: Library, hits) -> list[int]:
    """The ``articles_file`` number of each hit's article."""
    return [int(c.article.title.split()[-1]) for c in library.chunks([row for row, _ in hits])]


def article_id(library: Library, number: int) -> str:
    return next(a.id for a in library.articles() if a.title == f"Harbour report {number}")


def test_a_new_library_exists_after_create_and_opens_empty(address, fake_encoder):
    assert not library_exists(address)
    create_library(address, fake_encoder)
    assert library_exists(address)
    lib = open_library(address, fake_encoder)
    assert lib.counts == {"articles": 0, "chunks": 0} and lib.articles() == []
    assert lib.dense_search(fake_encoder.encode(["harbour"])[0], 5) == []
    assert lib.keyword_search("harbour", 5) == []


@pytest.mark.slow
def test_the_seed_articles_go_in_and_the_2003_question_finds_the_2003_article_first(address, encoder):
    lib = create_library(address, encoder)
    report = lib.add([SEEDS], encoder)
    assert len(report.added) == 4 and lib.counts["articles"] == 4
    assert lib.counts["chunks"] == len(lib.chunk_texts()) == report.chunks
    passages = Retriever(open_library(address, encoder), encoder).search("What did Russia propose in 2003?", 3)
    assert passages[0].article.date.startswith("2003")
    assert "six" in passages[0].text.lower()  # the six-party talks


def test_chunks_vectors_and_article_chunks_agree(address, fake_encoder, tmp_path):
    lib = create_library(address, fake_encoder)
    lib.add([articles_file(tmp_path / "feed.jsonl")], fake_encoder)
    rows = sorted(c.row for a in lib.articles() for c in lib.article_chunks(a.id))
    assert len(rows) == lib.counts["chunks"] == 12
    chunks = lib.chunks(rows)
    assert [c.row for c in chunks] == rows
    made = chunk_vectors(fake_encoder, [(c.article.title, c.text) for c in chunks], ChunkParams.from_dict(lib.chunking))
    assert (lib.vectors(rows) @ made.T).diagonal() == pytest.approx(1, abs=1e-5)
    third = article_id(lib, 3)
    article = lib.article(third)
    assert article is not None and article.source == OUTLETS[0] and article.date == "2020-04-15"
    assert [c.text for c in lib.article_chunks(third)] == [c.text for c in chunks if c.article.id == third]
    assert lib.article("nope") is None and lib.article_chunks("nope") == []


def test_window_vectors_are_the_stored_vectors_of_the_window_articles_chunks(address, fake_encoder, tmp_path):
    lib = create_library(address, fake_encoder)
    lib.add([articles_file(tmp_path / "feed.jsonl")], fake_encoder)
    owners, vectors = lib.window_vectors(Filters(since=date(2020, 3, 1), until=date(2020, 5, 31)))
    assert sorted(owners) == sorted(article_id(lib, n) for n in (2, 3, 4))
    rows = [c.row for aid in owners for c in lib.article_chunks(aid)]
    assert np.allclose(vectors, lib.vectors(rows), atol=1e-6)
    everything, _ = lib.window_vectors(None)
    assert len(everything) == lib.counts["chunks"] == 12
    coast, _ = lib.window_vectors(Filters(sources=("coast herald",)))
    assert len(coast) == 4


@pytest.mark.parametrize("search", ["dense", "keyword"])
def test_filters_are_applied_inside_the_search_and_still_give_k_hits(address, fake_encoder, tmp_path, search):
    lib = create_library(address, fake_encoder)
    lib.add([articles_file(tmp_path / "feed.jsonl")], fake_encoder)

    def run(where, k=3):
        query = "cable0 harbour bridge repair month 0"  # closest to a00, from January
        if search == "dense":
            return lib.dense_search(fake_encoder.encode([query])[0], k, where)
        return lib.keyword_search(query, k, where)

    assert numbers(lib, run(None, 1)) == [0]
    late = run(Filters(since=date(2020, 9, 1)))  # the 3 best of the 4 from September on, not none
    assert len(late) == 3 and set(numbers(lib, late)) <= {8, 9, 10, 11}
    spring = run(Filters(since=date(2020, 3, 1), until=date(2020, 5, 15)), k=10)
    assert sorted(numbers(lib, spring)) == [2, 3, 4]  # both ends inclusive
    coast = run(Filters(sources=("coast herald",)), k=10)
    assert sorted(numbers(lib, coast)) == [2, 5, 8, 11]
    both = run(Filters(until=date(2020, 6, 30), sources=("Valley Post",)), k=10)
    assert sorted(numbers(lib, both)) == [1, 4]
    by_domain = run(Filters(sources=("coast.test", "Harbour Times")), k=10)  # a domain or an outlet
    assert sorted(numbers(lib, by_domain)) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert run(Filters(sources=("herald.test",)), k=10) == []  # not a suffix of another domain
    assert run(Filters(since=date(2021, 1, 1))) == []


def test_an_undated_article_passes_a_date_filter_only_when_asked(address, fake_encoder, tmp_path):
    lib = create_library(address, fake_encoder)
    feed = articles_file(tmp_path / "feed.jsonl", n=3)
    undated = {"id": "u", "title": "Harbour report 99", "source": "Coast Herald", "url": "",
               "text": "The harbour bridge repair went on undated. Crews fixed cable99 and the council met."}
    feed.write_text(feed.read_text() + json.dumps(undated) + "\n")
    lib.add([feed], fake_encoder)
    vector = fake_encoder.encode(["harbour bridge repair cable99"])[0]
    spring = Filters(since=date(2020, 2, 1))
    assert sorted(numbers(lib, lib.dense_search(vector, 10, spring))) == [1, 2]
    with_undated = Filters(since=date(2020, 2, 1), include_undated=True)
    assert sorted(numbers(lib, lib.dense_search(vector, 10, with_undated))) == [1, 2, 99]
    assert sorted(numbers(lib, lib.keyword_search("cable99 harbour", 10, with_undated))) == [1, 2, 99]


def test_the_date_range_runs_from_the_first_to_the_last_dated_article(address, fake_encoder, tmp_path):
    lib = create_library(address, fake_encoder)
    assert lib.date_range() is None
    feed = articles_file(tmp_path / "feed.jsonl", n=3)
    undated = {"id": "u", "title": "Harbour report 99", "text": "The harbour bridge repair went on undated."}
    feed.write_text(feed.read_text() + json.dumps(undated) + "\n")
    lib.add([feed], fake_encoder)
    assert lib.date_range() == (date(2020, 1, 15), date(2020, 3, 15))
    lib.remove([article_id(lib, 2)])
    assert lib.date_range() == (date(2020, 1, 15), date(2020, 2, 15))


def test_a_changed_file_replaces_its_articles_and_remove_takes_them_out(address, fake_encoder, tmp_path):
    feed = articles_file(tmp_path / "feed.jsonl", 3)
    lib = create_library(address, fake_encoder)
    lib.add([feed], fake_encoder)
    records = [json.loads(line) for line in feed.read_text().splitlines()]
    records[1]["text"] = "The lighthouse keeper retired after forty years of service."
    feed.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    report = lib.add([feed], fake_encoder)
    assert len(report.added) == 1 and len(report.removed) == 1 and lib.counts["articles"] == 3
    hits = lib.keyword_search("lighthouse keeper", 5)
    assert len(hits) == 1 and "lighthouse" in lib.chunks([hits[0][0]])[0].text
    assert not any("cable1" in t for t in lib.chunk_texts())

    gone = lib.remove([report.added[0].id])
    assert [a.id for a in gone.removed] == [report.added[0].id] and gone.chunks == 1
    reopened = open_library(address, fake_encoder)
    assert reopened.counts == {"articles": 2, "chunks": 2} and reopened.keyword_search("lighthouse", 5) == []
    assert sorted(a.title for a in reopened.articles()) == ["Harbour report 0", "Harbour report 2"]
    rows = [c.row for a in reopened.articles() for c in reopened.article_chunks(a.id)]
    assert len(reopened.chunks(rows)) == len(reopened.vectors(rows)) == 2


def test_ingesting_the_same_files_again_changes_nothing(address, fake_encoder, tmp_path):
    feed = articles_file(tmp_path / "feed.jsonl")
    lib = create_library(address, fake_encoder)
    lib.add([feed], fake_encoder)
    before = (lib.counts, lib.chunk_texts(), [a.id for a in lib.articles()])
    again = lib.add([feed], fake_encoder)
    assert again.added == [] and again.unchanged == [str(feed)] and len(again.duplicates) == 12
    assert (lib.counts, lib.chunk_texts(), [a.id for a in lib.articles()]) == before


def test_a_long_ingest_in_steps_keeps_each_step_and_ends_as_one_commit_would(address, fake_encoder, tmp_path,
                                                                              monkeypatch):
    from qa.library import ingest

    feed = articles_file(tmp_path / "feed.jsonl")
    whole = create_library(tmp_path / "one-commit", fake_encoder)
    whole.add([feed], fake_encoder)
    monkeypatch.setattr(ingest, "STEP_S", 0.0)  # a step after every article
    stepped = create_library(address, fake_encoder)
    generation = stepped.manifest["generation"]
    report = stepped.add([feed], fake_encoder)
    assert stepped.manifest["generation"] - generation == 13  # 12 articles, then the file's hash
    assert len(report.added) == 12 and report.chunks == stepped.counts["chunks"] == whole.counts["chunks"]
    def vectors_by_chunk(library):
        chunks = [c for a in library.articles() for c in library.article_chunks(a.id)]
        vectors = library.vectors([c.row for c in chunks])
        return {(c.article.title, c.start, c.end): v.tobytes() for c, v in zip(chunks, vectors)}

    assert sorted(stepped.chunk_texts()) == sorted(whole.chunk_texts())
    assert vectors_by_chunk(stepped) == vectors_by_chunk(whole) and len(vectors_by_chunk(whole)) == 12
    assert [len(stepped.sources(a.id)) for a in stepped.articles()] == [1] * 12
    assert stepped.add([feed], fake_encoder).unchanged == [str(feed)]


def test_a_reader_during_a_write_sees_the_library_before_or_after_it(address, fake_encoder, tmp_path):
    lib = create_library(address, fake_encoder)
    lib.add([articles_file(tmp_path / "first.jsonl", 4)], fake_encoder)
    more = tmp_path / "more"
    more.mkdir()
    for i in range(6):
        path = more / f"{i}.txt"
        path.write_text(f"Story {i}\n\nThe ferry timetable changed for route{i} this spring.", encoding="utf-8")
    states: set[tuple[int, int, int, int]] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while True:
            finished = done.is_set()
            try:
                reader = open_library(address, fake_encoder)
                rows = [c.row for a in reader.articles() for c in reader.article_chunks(a.id)]
                states.add((reader.counts["articles"], reader.counts["chunks"], len(reader.chunk_texts()),
                            len(reader.vectors(rows))))
                reader.close()
            except BaseException as e:  # noqa: BLE001 - reported by the test thread
                errors.append(e)
                return
            if finished:
                return

    thread = threading.Thread(target=read)
    thread.start()
    try:
        lib.add([more], fake_encoder)
    finally:
        done.set()
        thread.join()
    assert not errors
    assert (10, 10, 10, 10) in states and states <= {(4, 4, 4, 4), (10, 10, 10, 10)}


def test_how_each_date_was_found_is_kept_and_a_twins_date_reaches_its_chunks(address, fake_encoder, tmp_path):
    story = ("The harbour bridge reopened after two years of repairs, the council said on Monday. "
             "Crews replaced 14 cables and the tolls stay at 3 euros. Ferries stop on Friday.")
    feed = tmp_path / "dates.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in [
        {"title": "Declared", "text": story, "date": "2021-05-03", "source": "Harbour Times"},
        {"title": "In its url", "text": "The valley fair opened with 40 stalls and a brass band.",
         "url": "https://valley.test/2021/06/01/fair", "source": "Valley Post"},
        {"title": "Copy", "text": story.replace("14 cables", "15 cables"), "source": "Coast Herald"},
        {"title": "Undated", "text": "A lighthouse keeper retired after forty years.", "source": "Coast Herald"},
    ]) + "\n", encoding="utf-8")
    create_library(address, fake_encoder).add([feed], fake_encoder)
    lib = open_library(address, fake_encoder)
    assert {a.title: (a.date, a.date_source) for a in lib.articles()} == {
        "Declared": ("2021-05-03", "field"), "In its url": ("2021-06-01", "url"),
        "Copy": ("2021-05-03", "twin"), "Undated": (None, None)}
    copy = next(a for a in lib.articles() if a.title == "Copy")
    assert lib.article(copy.id).date_source == "twin"
    day = Filters(since=date(2021, 5, 3), until=date(2021, 5, 3))
    hits = lib.dense_search(fake_encoder.encode(["harbour bridge cables"])[0], 5, day)
    assert {c.article.title for c in lib.chunks([r for r, _ in hits])} == {"Declared", "Copy"}
