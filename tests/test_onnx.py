"""The ONNX question encoder: same vectors as sentence-transformers, checked before use,
and a question answered (retrieval) without importing torch (slow: real embedder)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from conftest import EVAL, REPO
from embeddings.onnx import MIN_COSINE, PROBES, OnnxEncoder, data_path, export, exported, onnx_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def st_model(encoder):
    return encoder._load()


def test_export_matches_sentence_transformers_on_the_dev_questions(encoder, st_model):
    questions = [json.loads(line)["question"] for line in
                 (EVAL / "rtqa-2025" / "questions.jsonl").read_text().splitlines() if line.strip()]
    assert len(questions) >= 100
    onnx = OnnxEncoder.load(encoder.files, encoder.max_tokens)
    assert onnx is not None, "loading sentence-transformers must leave a verified export behind"
    reference = st_model.encode(questions, normalize_embeddings=True, convert_to_numpy=True)
    got = onnx.encode(questions)
    assert got.shape == reference.shape == (len(questions), 384)
    assert float((reference * got).sum(1).min()) >= MIN_COSINE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_small_batches_use_the_export_and_bulk_uses_torch(encoder, st_model, monkeypatch):
    calls = []
    monkeypatch.setattr(type(st_model), "encode", lambda self, texts, **kw: calls.append(len(texts)) or
                        np.ones((len(texts), 384), np.float32) / np.sqrt(384))
    fresh = type(encoder)(encoder.files)
    vec = fresh.encode(["What did Russia propose in 2003?"])
    assert not calls and fresh._model is None and vec.shape == (1, 384)
    fresh._model = st_model
    fresh.encode(["a news sentence"] * 300)
    assert sum(calls) == 300


@pytest.mark.parametrize("part", ["graph", "weights"])
def test_a_tampered_export_is_refused_and_removed(encoder, st_model, tmp_path, monkeypatch, part):
    monkeypatch.setenv("QA_CACHE", str(tmp_path))  # the verified-file stamps too
    files = replace(encoder.files, cache=tmp_path / "onnx")
    path = export(st_model, files)
    assert path == onnx_path(files) and path.parent == tmp_path / "onnx"
    assert path.is_file() and exported(files) is not None
    assert data_path(path).stat().st_size > 50 * path.stat().st_size, "the weights are kept beside the graph"
    assert exported(files, "data_")[0] == data_path(path).stat().st_size
    assert OnnxEncoder.load(files, 256) is not None
    target = path if part == "graph" else data_path(path)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    assert OnnxEncoder.load(files, 256) is None
    assert not path.exists() and not data_path(path).exists() and exported(files) is None


def test_an_export_holding_its_weights_is_split_once_with_the_same_vectors(encoder, st_model, tmp_path, monkeypatch):
    """Exports made before the weights were kept apart load too: verified, then split once."""
    import onnx

    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    files = replace(encoder.files, cache=tmp_path / "onnx")
    path = export(st_model, files)
    split = OnnxEncoder.load(files, 256).encode(list(PROBES))
    whole = onnx.load(str(path))  # back to one file, recorded as an older qa did
    data_path(path).unlink()
    onnx.save_model(whole, str(path))
    record = json.loads(path.with_suffix(".json").read_text())
    record = {k: v for k, v in record.items() if not k.startswith("data_")}
    record.update(size=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    path.with_suffix(".json").write_text(json.dumps(record))
    assert exported(files, "data_") is None
    again = OnnxEncoder.load(files, 256)
    assert again is not None and data_path(path).is_file() and exported(files, "data_") is not None
    np.testing.assert_array_equal(again.encode(list(PROBES)), split)


# What one question does not need: the bulk encoder and the LLM, and the modules of ingest
# (cleaning, sentences, date parsing, the write lock), of the other commands and of printing.
NOT_FOR_A_QUESTION = ("torch", "sentence_transformers", "llama_cpp", "rich", "syntok", "regex", "dateutil",
                      "dateparser", "trafilatura", "filelock", "tomllib", "multiprocessing", "pydantic", "fastapi",
                      "starlette", "mcp", "pymilvus", "qa.reading.cleaning", "qa.server", "qa.cli.serve",
                      "qa.cli.library", "qa.cli.ingest", "qa.cli.stories", "qa.cli.evaluate", "qa.cli.info",
                      "qa.reading.web")


def test_a_question_is_retrieved_without_importing_torch(seed_library, encoder, tmp_path):
    encoder.warm_up()  # makes sure the export exists in the shared cache
    code = (
        "import json, sys\n"
        "from qa.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        f"    print(json.dumps(sorted(m for m in {NOT_FOR_A_QUESTION!r} if m in sys.modules)),"
        " file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, "ask", "--no-llm", "--json", "--library", str(seed_library),
                           "What did Russia propose in 2003?"], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**os.environ, "QA_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    assert result["passages"][0]["article_id"].startswith("003_c13b77ec0b5e076f")
    assert result["abstained"] is False and result["answer"] == ""
