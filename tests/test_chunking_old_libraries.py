"""Libraries made before #17 (the title encoded with every chunk, a sentence of overlap; their
manifest has no ``title_mix``) keep their chunking: they open, take new articles the old way,
and doctor re-makes their vectors, and a lost manifest, the old way too."""
from __future__ import annotations

import json

import numpy as np

from conftest import SEEDS
from qa.library import FolderLibrary, doctor, open_library
from qa.reading.chunking import LEGACY, ChunkParams, embed_text

VOA = SEEDS / "003_c13b77ec0b5e076f.txt"
OTHERS = [SEEDS / "000_8e1adf5baa08f22c.txt", SEEDS / "001_3f185c6f7e430aff.txt"]


def old_library(path, encoder) -> FolderLibrary:
    """A library as qa wrote it before #17: LEGACY chunks, and a manifest without title_mix."""
    FolderLibrary.create(path, encoder, LEGACY).add([VOA], encoder)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["chunking"]["title_mix"]
    assert manifest["chunking"] == {"target_tokens": 160, "max_tokens": 256, "overlap_sentences": 1}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return open_library(path, encoder)


def encoded_the_old_way(lib, encoder) -> None:
    """Every vector is the encoding of "title\\nchunk", and chunks of an article overlap."""
    n = lib.counts["chunks"]
    stored = lib.chunks(range(n))
    assert np.allclose(lib.vectors(list(range(n))), encoder.encode([embed_text(c.article.title, c.text)
                                                                    for c in stored]), atol=1e-6)
    assert any(b.article.id == a.article.id and b.start < a.end for a, b in zip(stored, stored[1:]))


def test_an_old_library_opens_and_takes_new_articles_its_own_way(fake_encoder, tmp_path):
    lib = old_library(tmp_path / "lib", fake_encoder)
    assert ChunkParams.from_dict(lib.chunking) == LEGACY
    lib.add(OTHERS, fake_encoder)
    lib = open_library(tmp_path / "lib", fake_encoder)
    assert lib.counts["articles"] == 3
    encoded_the_old_way(lib, fake_encoder)
    assert not FolderLibrary.doctor(tmp_path / "lib", repair=False).problems


def test_doctor_remakes_an_old_librarys_vectors_and_manifest_the_old_way(fake_encoder, tmp_path):
    path = tmp_path / "lib"
    old_library(path, fake_encoder).add(OTHERS, fake_encoder)
    manifest = json.loads((path / "manifest.json").read_text())
    (path / manifest["files"]["index"]).unlink()
    report = doctor(path, get_encoder=lambda: fake_encoder)
    assert any("re-made" in r for r in report.repaired), report
    encoded_the_old_way(open_library(path, fake_encoder), fake_encoder)
    (path / "manifest.json").write_text("{")  # lost: rebuilt from the store, whose chunks overlap
    report = doctor(path, get_encoder=lambda: fake_encoder)
    assert any("rebuilt manifest.json" in r for r in report.repaired), report
    lib = open_library(path, fake_encoder)
    assert ChunkParams.from_dict(lib.chunking) == LEGACY
    encoded_the_old_way(lib, fake_encoder)


def test_a_new_library_records_its_chunking_and_mixes_the_title_in(fake_encoder, tmp_path):
    path = tmp_path / "lib"
    FolderLibrary.create(path, fake_encoder).add([VOA, *OTHERS], fake_encoder)
    assert json.loads((path / "manifest.json").read_text())["chunking"] == {
        "target_tokens": 240, "max_tokens": 256, "overlap_sentences": 0, "title_mix": 50}
    lib = open_library(path, fake_encoder)
    stored = lib.chunks(range(lib.counts["chunks"]))
    assert all(b.start >= a.end for a, b in zip(stored, stored[1:]) if a.article.id == b.article.id)
    for c, v in zip(stored, lib.vectors([c.row for c in stored])):
        want = fake_encoder.encode([c.text])[0] + 0.5 * fake_encoder.encode([c.article.title])[0]
        assert np.allclose(v, want / np.linalg.norm(want), atol=1e-6)
    (path / "manifest.json").write_text("{")  # a lost manifest of a new library: its chunking again
    doctor(path, get_encoder=lambda: fake_encoder)
    assert ChunkParams.from_dict(open_library(path, fake_encoder).chunking) == ChunkParams()
