"""The vector index picks exact or IVF search by size (embeddings/index.py); the library keeps
checking, memory-mapping and rebuilding it. Small thresholds stand in for the real 50,000 rows."""
from __future__ import annotations

import numpy as np
import pytest

from embeddings.index import VectorIndex, ivf_lists, ivf_probes
from qa.library import FolderLibrary, LibraryError, doctor
from qa.library.folder.checks import Damaged, check_index_file

from conftest import SEEDS

DIM = 384


def clustered(n: int, seed: int = 0, centres: int = 50) -> np.ndarray:
    """Unit vectors around ``centres`` random directions, like topics in news chunks."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(centres, DIM)).astype(np.float32)
    x = centre[rng.integers(0, centres, n)] + rng.normal(0, 0.6, (n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(VectorIndex, "exact_max_rows", 1000)


def test_the_index_is_exact_up_to_the_threshold_and_ivf_above(small_threshold):
    index = VectorIndex(DIM)
    index.add(clustered(1000))
    assert index.kind == "flat" and index.nprobe is None
    index.add(clustered(1, seed=1))
    assert index.kind == f"IVF{ivf_lists(1001)},Flat" and index.nprobe == ivf_probes(ivf_lists(1001))
    assert len(index) == 1001


def test_cells_grow_with_the_square_root_and_always_have_enough_to_train_on():
    assert ivf_lists(100_000) == 256 and ivf_lists(1_000_000) == 1024
    assert ivf_lists(3000) * 40 <= 3000
    assert ivf_probes(256) == 16 and ivf_probes(1024) == 32


@pytest.mark.parametrize("rows", [500, 3000])
def test_vectors_of_rows_are_the_stored_vectors_for_both_kinds(small_threshold, rows):
    x = clustered(rows)
    index = VectorIndex(DIM)
    index.add(x)
    picked = [0, rows - 1, rows // 2, 7]
    np.testing.assert_array_equal(index.vectors(picked), x[picked])
    np.testing.assert_array_equal(index.search(x[picked], 1)[1][:, 0], picked)


@pytest.mark.parametrize("rows, threshold", [(3000, 1000), (3000, 100)])
def test_a_search_within_some_rows_returns_the_exact_best_k_of_them(monkeypatch, rows, threshold):
    """Flat: an id selector; IVF: a scan of the allowed rows while they are few (threshold 1000),
    the cells through the selector when they are many (threshold 100)."""
    monkeypatch.setattr(VectorIndex, "exact_max_rows", 100)
    x, query = clustered(rows), clustered(1, seed=3)
    index = VectorIndex(DIM)
    index.add(x)
    monkeypatch.setattr(VectorIndex, "exact_max_rows", threshold)
    allowed = np.arange(1, rows, 7)
    best = allowed[np.argsort(-(x[allowed] @ query[0]), kind="stable")[:10]]
    scores, found = index.search(query, 10, within=allowed)
    assert len(found[0]) == 10 and set(found[0]) <= set(allowed)
    if threshold == 1000:
        np.testing.assert_array_equal(found[0], best)
        np.testing.assert_allclose(scores[0], x[best] @ query[0], rtol=1e-5)
    else:
        assert len(set(found[0]) & set(best)) >= 8  # approximate: the probed cells
    flat = VectorIndex(DIM)
    flat.add(x[:500])
    few = np.array([3, 99, 250])
    assert sorted(flat.search(query, 10, within=few)[1][0]) == [3, 99, 250]
    assert flat.search(query, 10, within=np.array([], np.int64))[1].shape == (1, 0)


@pytest.mark.parametrize("mapped", [False, True])
def test_save_and_load_keep_search_results_and_nprobe(small_threshold, tmp_path, mapped):
    x, queries = clustered(3000), clustered(20, seed=2)
    index = VectorIndex(DIM)
    index.add(x)
    index.nprobe = 5
    before = index.search(queries, 10)
    index.save(tmp_path / "index.faiss")
    loaded = VectorIndex.load(tmp_path / "index.faiss", mapped=mapped)
    assert loaded.kind == index.kind and loaded.nprobe == 5
    for a, b in zip(before, loaded.search(queries, 10)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.vectors([3, 2999]), x[[3, 2999]])
    if mapped:
        with pytest.raises(ValueError, match="read-only"):
            loaded.add(x[:1])


def test_ivf_recall_at_10_against_exact_search_is_at_least_095(small_threshold):
    x, queries = clustered(5000), clustered(200, seed=3)
    index = VectorIndex(DIM)
    index.add(x)
    assert index.kind.startswith("IVF")
    exact = VectorIndex(DIM)
    exact._index.add(x)  # the exact baseline, whatever the threshold
    found, truth = index.search(queries, 10)[1], exact.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.95


def test_emptied_ivf_keeps_its_cells_and_shrinking_below_the_threshold_makes_it_exact(small_threshold):
    index = VectorIndex(DIM)
    index.add(clustered(3000))
    again = index.empty_like()
    again.add(index.vectors(list(range(2900))))  # still 64 cells
    assert again.kind == index.kind and again.nprobe == index.nprobe
    small = index.empty_like()
    small.add(index.vectors(list(range(900))))
    assert small.kind == "flat"
    np.testing.assert_array_equal(small.vectors([899]), index.vectors([899]))


def test_ivf_files_are_checked_and_damage_is_refused(small_threshold, tmp_path):
    index = VectorIndex(DIM)
    index.add(clustered(3000))
    path = tmp_path / "index.faiss"
    index.save(path)
    with open(path, "rb") as f:
        assert check_index_file(f, DIM, 3000) == 3000
        with pytest.raises(Damaged, match="3000 vectors for 2999 chunks"):
            check_index_file(f, DIM, 2999)
        with pytest.raises(Damaged, match="dimensions"):
            check_index_file(f, 128, None)
    data = path.read_bytes()
    damaged = {
        "truncated": data[:-1],
        "half": data[: len(data) // 2],
        "longer": data + b"\0",
        # an IVF file ends with the int64 row ids of its last non-empty list
        "last id out of range": data[:-8] + np.int64(10**9).tobytes(),
        "last id swapped": data[:-8] + np.int64(0).tobytes(),
    }
    for how, content in damaged.items():
        path.write_bytes(content)
        with open(path, "rb") as f, pytest.raises(Damaged):
            check_index_file(f, DIM, None)


def test_a_large_library_is_stored_as_ivf_and_survives_removal_and_reopening(tmp_path, fake_encoder,
                                                                              monkeypatch):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    rows = lib.counts["chunks"]
    monkeypatch.setattr(VectorIndex, "exact_max_rows", rows - 2)
    lib.add([SEEDS / "000_8e1adf5baa08f22c.txt"], fake_encoder)  # unchanged: no new generation
    assert FolderLibrary.open(tmp_path / "lib", fake_encoder).index.kind == "flat"
    monkeypatch.setattr(VectorIndex, "exact_max_rows", 1)
    first = sorted(a.id for a in lib.articles())[0]
    lib.remove([first])
    reopened = FolderLibrary.open(tmp_path / "lib", fake_encoder)
    assert reopened.index.kind.startswith("IVF") and len(reopened.index) == reopened.counts["chunks"]
    texts = reopened.chunk_texts()
    scores, found = reopened.index.search(fake_encoder.encode(texts[:3]), 1)
    assert list(found[:, 0]) == [0, 1, 2]
    assert doctor(tmp_path / "lib", repair=False).healthy


def test_a_damaged_ivf_library_file_is_a_library_error(tmp_path, fake_encoder, monkeypatch):
    monkeypatch.setattr(VectorIndex, "exact_max_rows", 1)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([SEEDS], fake_encoder)
    index_file = tmp_path / "lib" / lib.manifest["files"]["index"]
    assert index_file.read_bytes()[:4] == b"IwFl"
    index_file.write_bytes(index_file.read_bytes()[:-3])
    with pytest.raises(LibraryError, match="damaged"):
        FolderLibrary.open(tmp_path / "lib", fake_encoder)
