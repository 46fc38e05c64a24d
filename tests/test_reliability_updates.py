"""Updates: a changed file replaces its articles, an unchanged one is skipped by hash,
`qa remove` deletes and renumbers, and `qa doctor` finds and repairs disagreements between
the store, the vectors and the keyword index."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa import cli
from qa.library import FolderLibrary, LibraryError, doctor
from qa.reading import files as reading
from qa.reading.chunking import chunk_vectors
from qa.retrieval import Retriever

from conftest import SEEDS
from fakes import FakeEncoder

SEED_FILES = sorted(SEEDS.glob("*.txt"))
V1 = "The harbour bridge reopened on Tuesday after eight months of repairs to its cables."
V2 = "The harbour bridge closed again on Friday because engineers found cracked bolts."


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def assert_consistent(lib: FolderLibrary, encoder) -> None:
    """Row i of the index and of BM25 is chunk i of the store: check every vector."""
    lib = FolderLibrary.open(lib.path, encoder)
    texts = lib.chunk_texts()
    n = lib.counts["chunks"]
    assert len(texts) == n == len(lib.index) == lib.keyword_index.size
    assert lib.counts["articles"] == len(lib.articles())
    if n:
        stored = lib.chunks(range(n))
        made = chunk_vectors(encoder, [(c.article.title, c.text) for c in stored], lib.params)
        assert np.allclose(lib.index.vectors(list(range(n))), made, atol=1e-6)
        assert [c.row for c in stored] == list(range(n))


def words_found(lib: FolderLibrary, encoder, query: str) -> set[str]:
    lib = FolderLibrary.open(lib.path, encoder)
    _, rows = lib.keyword_index.search(query, 10)
    return {c.article.text for c in lib.chunks(rows)}


def test_a_changed_file_replaces_its_article(tmp_path, fake_encoder):
    src = tmp_path / "src"
    src.mkdir()
    story = src / "story.txt"
    story.write_text(V1)
    shutil.copy(SEED_FILES[0], src)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    first = lib.add([src], fake_encoder)
    old_id = next(a.id for a in first.added if a.text == V1)
    story.write_text(V2)
    report = lib.add([src], fake_encoder)
    assert [a.text for a in report.added] == [V2] and report.removed == [old_id]
    assert report.unchanged == [str(src / SEED_FILES[0].name)]
    assert "1 replaced by a changed file" in report.summary()
    texts = {a.text for a in lib.articles()}
    assert V2 in texts and V1 not in texts and lib.counts["articles"] == 2
    assert lib.sources(report.added[0].id) == [str(story.resolve())]
    assert words_found(lib, fake_encoder, "cracked bolts") == {V2}
    assert words_found(lib, fake_encoder, "cables") == set()
    assert_consistent(lib, fake_encoder)


def test_unchanged_files_are_skipped_by_hash_without_a_new_generation(tmp_path, fake_encoder, monkeypatch):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    generation = lib.manifest["generation"]
    monkeypatch.setattr(reading, "read_file", lambda path: pytest.fail(f"{path} was read again"))
    monkeypatch.setattr("qa.library.ingest.read_file", reading.read_file)
    # Nothing is encoded or written either: only each file's hash is computed.
    monkeypatch.setattr(fake_encoder, "encode", lambda texts, *a, **kw: pytest.fail(f"encoded again: {texts}"))
    monkeypatch.setattr("qa.library.folder.generations.CHECKPOINT", lambda step: pytest.fail(f"a write started ({step})"))
    report = lib.add([SEEDS], fake_encoder)
    assert len(report.unchanged) == 4 and report.added == [] and len(report.duplicates) == 4
    assert lib.manifest["generation"] == generation


def test_a_changed_jsonl_record_is_replaced_and_the_others_stay(tmp_path, fake_encoder):
    feed = tmp_path / "feed.jsonl"
    records = [{"text": V1, "title": "Bridge"}, {"text": "Parliament passed the budget after a debate."},
               {"text": "The city zoo welcomed a baby giraffe on Sunday morning."}]
    feed.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([feed], fake_encoder)
    records[0]["text"] = V2
    records.insert(0, records.pop())  # reordered lines are not changes
    feed.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = lib.add([feed], fake_encoder)
    assert [a.text for a in report.added] == [V2] and len(report.removed) == 1 and len(report.duplicates) == 2
    assert {a.text for a in lib.articles()} == {r["text"] for r in records}
    assert_consistent(lib, fake_encoder)


def test_text_still_held_by_another_file_is_kept(tmp_path, fake_encoder):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(V1)
    b.write_text(V1)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([a, b], fake_encoder)
    a.write_text(V2)
    report = lib.add([a], fake_encoder)
    assert report.removed == [] and {x.text for x in lib.articles()} == {V1, V2}


def test_a_file_that_cannot_be_read_again_keeps_its_articles(tmp_path, fake_encoder, monkeypatch):
    story = tmp_path / "story.txt"
    story.write_text(V1)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([story], fake_encoder)
    story.write_bytes(b"\x00\x01binary now")
    report = lib.add([story], fake_encoder)
    assert report.errors and report.removed == [] and [a.text for a in lib.articles()] == [V1]


def test_remove_by_id_path_folder_and_url_renumbers_rows(tmp_path, fake_encoder):
    src = tmp_path / "src"
    (src / "more").mkdir(parents=True)
    for f in SEED_FILES[:2]:
        shutil.copy(f, src)
    for f in SEED_FILES[2:]:
        shutil.copy(f, src / "more")
    feed = src / "feed.jsonl"
    feed.write_text(json.dumps({"text": V1, "url": "https://news.example/bridge"}) + "\n")
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([src], fake_encoder)
    ids = {a.source: a.id for a in lib.articles()}
    assert lib.counts["articles"] == 5

    first = lib.remove([ids[SEED_FILES[0].name]])  # by id: the first rows go, the rest move down
    assert [a.id for a in first.removed] == [ids[SEED_FILES[0].name]] and first.chunks > 0
    assert_consistent(lib, fake_encoder)
    lib.remove(["https://news.example/bridge"])  # by URL
    lib.remove([str(src / "more")])  # by folder: both files in it
    assert [a.source for a in lib.articles()] == [SEED_FILES[1].name]
    assert_consistent(lib, fake_encoder)
    hits = Retriever(FolderLibrary.open(lib.path, fake_encoder), fake_encoder).search("anything Russia", 3)
    assert {h.article.source for h in hits} == {SEED_FILES[1].name}

    with pytest.raises(LibraryError, match="nothing in library .* matches: no-such-id"):
        lib.remove([str(src / SEED_FILES[1].name), "no-such-id"])
    assert lib.counts["articles"] == 1  # nothing removed
    lib.remove([str(src / SEED_FILES[1].name)])  # by path: the library may become empty
    assert lib.counts == {"articles": 0, "chunks": 0}
    assert_consistent(lib, fake_encoder)
    # a removed file comes back when ingested again (its hash was forgotten)
    report = lib.add([src], fake_encoder)
    assert len(report.added) == 5 and report.unchanged == []
    assert_consistent(lib, fake_encoder)


def test_cli_remove(tmp_path, fakes, fake_encoder):
    path = tmp_path / "lib"
    FolderLibrary.create(path, fake_encoder).add(SEED_FILES[:2], fake_encoder)
    victim = next(a for a in FolderLibrary.open(path).articles() if a.source == SEED_FILES[0].name)
    result = run("remove", victim.id, "--library", str(path))
    assert result.exit_code == 0, result.output
    assert f"removed {victim.id}" in result.output and "1 articles removed" in result.output
    assert "holds 1 articles" in result.output
    result = run("remove", "nope", "--library", str(path))
    assert result.exit_code == 2 and "nothing in library" in result.output and "nope" in result.output
    assert run("remove", "x", "--library", str(tmp_path / "absent")).exit_code == 2
    assert FolderLibrary.open(path).counts["articles"] == 1


# --- doctor -----------------------------------------------------------------------------------------


@pytest.fixture
def lib(tmp_path, fake_encoder) -> FolderLibrary:
    library = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    library.add(SEED_FILES, fake_encoder)
    return library


def no_encoder():
    raise AssertionError("this repair must not load the encoder")


def file_of(library: FolderLibrary, kind: str) -> Path:
    return library.path / FolderLibrary.open(library.path).manifest["files"][kind]


def test_doctor_on_a_healthy_library(lib, fakes):
    report = doctor(lib.path, get_encoder=no_encoder)
    assert report.healthy and not report.repaired and len(report.checked) == 4
    result = run("doctor", "--library", str(lib.path))
    assert result.exit_code == 0 and "is healthy" in result.output


def test_doctor_rebuilds_the_keyword_index_from_the_store_without_the_encoder(lib, fake_encoder):
    shutil.rmtree(file_of(lib, "bm25"))
    with pytest.raises(LibraryError, match="bm25-1 is missing"):
        FolderLibrary.open(lib.path)
    report = doctor(lib.path, get_encoder=no_encoder)
    assert any("keyword index bm25-1 is missing" in p for p in report.problems)
    assert any("rebuilt the keyword index" in r for r in report.repaired) and not report.unrepaired
    assert_consistent(lib, fake_encoder)


@pytest.mark.parametrize("damage", ["truncate", "delete", "wrong-count"])
def test_doctor_remakes_vectors_with_the_encoder_only_when_needed(lib, fake_encoder, damage):
    index = file_of(lib, "index")
    if damage == "truncate":
        index.write_bytes(index.read_bytes()[:1000])
    elif damage == "delete":
        index.unlink()
    else:
        from embeddings.index import VectorIndex

        short = VectorIndex(fake_encoder.dim)
        short.add(fake_encoder.encode(["one vector too few"]))
        short.save(index)
    assert not doctor(lib.path, repair=False).healthy
    loads = []
    report = doctor(lib.path, get_encoder=lambda: loads.append(1) or FakeEncoder())
    assert loads == [1] and any("re-made" in r for r in report.repaired) and not report.unrepaired
    assert_consistent(lib, fake_encoder)


def test_doctor_refuses_to_remake_vectors_with_another_embedder(lib):
    file_of(lib, "index").unlink()
    other = FakeEncoder()
    other.name = "another-model"
    report = doctor(lib.path, get_encoder=lambda: other)
    assert report.unrepaired and "not usable" in report.unrepaired[0]
    with pytest.raises(LibraryError):
        FolderLibrary.open(lib.path)


def test_doctor_drops_orphan_and_broken_chunks_and_fixes_counts(lib, fake_encoder):
    path = lib.path
    before = FolderLibrary.open(path).counts
    store = file_of(lib, "store")
    db = sqlite3.connect(store)  # tamper with the store the way a bug or a bad disk might
    db.execute("DELETE FROM articles WHERE id = (SELECT article_id FROM chunks WHERE row = 0)")
    db.execute("UPDATE chunks SET end = 1000000000 WHERE row = (SELECT max(row) FROM chunks)")
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match="damaged"):
        FolderLibrary.open(path)
    report = doctor(path, get_encoder=no_encoder)
    assert any("belong to no stored article" in p for p in report.problems)
    assert any("outside their article's text" in p for p in report.problems)
    assert any("counts" in p for p in report.problems)
    assert not report.unrepaired, report
    after = FolderLibrary.open(path).counts
    assert after["articles"] == before["articles"] - 1 and after["chunks"] < before["chunks"] - 1
    assert_consistent(lib, fake_encoder)
    assert doctor(path, get_encoder=no_encoder).healthy


def test_doctor_deletes_leftovers_and_rebuilds_a_lost_manifest(lib, fake_encoder):
    path = lib.path
    (path / "store-7.db").write_bytes(b"half-written")
    (path / "bm25-7").mkdir()
    (path / "manifest.json.123.tmp").write_text("{")
    (path / "notes.txt").write_text("not ours: never deleted")
    report = doctor(path, get_encoder=no_encoder)
    assert report.repaired == ["deleted 3 leftover files"]
    assert sorted(p.name for p in path.iterdir()) == [".ingest.lock", "bm25-1", "index-1.faiss",
                                                     "manifest.json", "notes.txt", "store-1.db"]
    (path / "manifest.json").write_text('{"format": 1, "generation": ')
    report = doctor(path, get_encoder=FakeEncoder)
    assert any("rebuilt manifest.json from store-1.db" in r for r in report.repaired), report
    assert FolderLibrary.open(path, fake_encoder).counts["articles"] == 4
    assert_consistent(lib, fake_encoder)


def test_doctor_cannot_repair_a_lost_store(lib, fakes):
    file_of(lib, "store").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    result = run("doctor", "--library", str(lib.path))
    assert result.exit_code == 1
    assert "found   store store-1.db cannot be read" in result.output and "NOT FIXED" in result.output
    assert "Traceback" not in result.output


def test_cli_doctor_check_only_changes_nothing(lib, fakes):
    shutil.rmtree(file_of(lib, "bm25"))
    listing = sorted(p.name for p in lib.path.iterdir())
    result = run("doctor", "--check", "--library", str(lib.path))
    assert result.exit_code == 1 and "found   keyword index bm25-1 is missing" in result.output
    assert sorted(p.name for p in lib.path.iterdir()) == listing
    result = run("doctor", "--library", str(lib.path))
    assert result.exit_code == 0 and "fixed   rebuilt the keyword index" in result.output
    assert "was repaired" in result.output
    assert run("doctor", "--library", str(lib.path.parent / "absent")).exit_code == 2


def test_a_library_from_before_file_tracking_is_migrated(tmp_path, fake_encoder):
    """Stores written before `sources`/`files` existed: their files are known by the url."""
    story = tmp_path / "story.txt"
    story.write_text(V1)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([story, SEED_FILES[0]], fake_encoder)
    db = sqlite3.connect(file_of(lib, "store"))
    db.executescript("DROP TABLE sources; DROP TABLE files;")
    db.close()
    lib = FolderLibrary.open(lib.path, fake_encoder)
    assert lib.sources(lib.articles()[0].id) == []
    story.write_text(V2)
    report = lib.add([story, SEED_FILES[0]], fake_encoder)
    assert [a.text for a in report.added] == [V2] and len(report.removed) == 1
    assert {a.text for a in lib.articles()} >= {V2} and V1 not in {a.text for a in lib.articles()}
    lib.remove([str(SEED_FILES[0])])
    assert [a.text for a in lib.articles()] == [V2]
    assert_consistent(lib, fake_encoder)
