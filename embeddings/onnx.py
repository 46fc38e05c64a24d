"""The embedder as an ONNX graph run by ONNX Runtime, so that a question never waits for torch.

Importing torch and sentence-transformers takes ~15 s on a 2-core machine, while a
question is one short text. ONNX Runtime and ``tokenizers`` load in ~0.3 s and
encode a question in ~10 ms. The graph is exported once, locally, from the same
verified safetensors weights (mean pooling and L2 normalisation included), the
first time sentence-transformers is loaded anyway (e.g. at ingest). It is kept
only if its vectors match sentence-transformers on fixed probe texts (cosine
≥ :data:`MIN_COSINE`), and its sha256 is recorded and checked before each load,
like every other model file.

The weights are kept beside the graph (ONNX external data, ``….onnx.data``): ONNX Runtime then
maps them instead of parsing 90 MB of protobuf, which halves the session's start (~0.32 → ~0.16 s
on 2 cores), and a cold question pays that on its critical path. An export made before holds
them inside the graph and is split once, on its first load after it is verified.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# ONNX Runtime 1.29+ sends telemetry from Linux too: a thread resolves and posts to
# mobile.events.data.microsoft.com, and a device id is written under ~/.cache/Microsoft.
# Its documented opt-out must be set before the runtime starts (onnxruntime.disable_telemetry_events()
# comes too late): with it nothing is created or sent (verified with strace, tests/test_safety_network.py).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from embeddings.files import ModelFiles, file_sha256

MIN_COSINE = 0.9999
# ONNX Runtime's worker threads spin after each run, waiting for more work. A question runs two
# sessions (this one, then the judge's, qa/judge.py), each with its own threads, on cores an LLM
# or other programs share: the idle pool's spinning took the CPU the working one needed. Without
# it a cold `qa ask --no-llm` searched in 0.48 s instead of 0.91 s (medians of 8, 2 shared cores,
# load ~5), and a warm question (encode, judge 40 pairs) took 0.45 s instead of 0.70 s.
SPINNING = "session.intra_op.allow_spinning"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = (
    "What did Russia propose in 2003?",
    "Who won the election in the state last week, and by how many votes?",
    "MOSCOW, April 10 (Reuters) - Russian Foreign Minister Sergei Lavrov warned on Wednesday against "
    "stoking tensions with North Korea, saying a military solution would be unacceptable. " * 3,
    "ok",
)


def onnx_path(files: ModelFiles) -> Path:
    """Where the export of ``files`` lives: their cache folder, named by the source weights' sha256."""
    return files.cache / f"{files.name}-{files.sha256[:16]}.onnx"


def _record_path(path: Path) -> Path:
    return path.with_suffix(".json")


def data_path(path: Path) -> Path:
    """The weights of the graph at ``path`` (its external data)."""
    return path.with_name(path.name + ".data")


def exported(files: ModelFiles, part: str = "") -> tuple[int, str] | None:
    """The export's size and sha256 (recorded at export), or None if there is no export;
    ``part="data_"``: its weights file's, None for an export that holds them inside the graph."""
    try:
        record = json.loads(_record_path(onnx_path(files)).read_text())
        if record["source_sha256"] != files.sha256 or (part and f"{part}sha256" not in record):
            return None
        return int(record[f"{part}size"]), str(record[f"{part}sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check(files: ModelFiles, path: Path, part: str = "") -> None:
    recorded = exported(files, part)
    if recorded is None:
        raise ValueError(f"{path}: no record of its size and sha256")
    files.check(path, *recorded)


def _install(graph: Path, files: ModelFiles, min_cosine: float) -> Path:
    """Write the model at ``graph`` (one file, checked) as the export of ``files``: the graph with
    its weights beside it, then the record naming both sha256s. Each file goes in by rename;
    processes doing this at once write the same bytes."""
    import onnx

    path = onnx_path(files)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        onnx.save_model(onnx.load(str(graph)), str(staged), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data_path(path).name, size_threshold=1024)
        record = {"source_sha256": files.sha256, "size": staged.stat().st_size, "sha256": file_sha256(staged),
                  "data_size": data_path(staged).stat().st_size, "data_sha256": file_sha256(data_path(staged)),
                  "min_cosine": min_cosine}
        os.replace(data_path(staged), data_path(path))
        os.replace(staged, path)
    _record_path(path).write_text(json.dumps(record))
    return path


def _remove(files: ModelFiles) -> None:
    path = onnx_path(files)
    for file in (path, data_path(path), _record_path(path)):
        file.unlink(missing_ok=True)


class OnnxEncoder:
    """Runs the exported graph: word pieces from the model's tokenizer.json, vectors out.

    The session (~0.3 s of reading and preparing weights, with the GIL released) is
    built in a background thread, so that opening the library and loading its
    indexes overlap with it; the first :meth:`encode` waits for it, and so does the
    interpreter's exit (not a daemon: a process that ends while ONNX Runtime starts its
    threads aborts, "terminate called without an active exception")."""

    def __init__(self, path: Path, model_dir: Path, max_tokens: int) -> None:
        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.enable_truncation(max_tokens)
        self._tok.enable_padding()
        self._session: ort.InferenceSession | None = None
        self._error: BaseException | None = None
        self._loading = threading.Thread(target=self._open, args=(path,), name="onnx-session")
        self._loading.start()

    def _open(self, path: Path) -> None:
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3
            # Prepacking reorders the weights for the matrix kernels at load: ~0.05 s of a cold
            # start, which one question (+0.014 s to encode unpacked) never earns back, and
            # batches of 32 encode as fast without it.
            options.add_session_config_entry("session.disable_prepacking", "1")
            options.add_session_config_entry(SPINNING, "0")
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread by session()
            self._error = e

    def session(self) -> ort.InferenceSession:
        self._loading.join()
        if self._session is None:
            raise RuntimeError(f"ONNX Runtime could not load the embedder: {self._error}") from self._error
        return self._session

    @classmethod
    def load(cls, files: ModelFiles, max_tokens: int) -> "OnnxEncoder | None":
        """The verified export of ``files``; None when there is none yet. A file that fails its
        checksum is removed (it is rebuilt at the next export) and None is returned."""
        if exported(files) is None:
            return None
        path = onnx_path(files)
        try:
            _check(files, path)
            if exported(files, "data_") is None:  # weights inside the graph: split them out, once
                record = json.loads(_record_path(path).read_text())
                _install(path, files, float(record.get("min_cosine", MIN_COSINE)))
                _check(files, path)
            _check(files, data_path(path), "data_")
        except (RuntimeError, OSError, ValueError, TypeError):
            _remove(files)
            return None
        return cls(path, files.folder, max_tokens)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Normalised vectors, one row per text (batched by length, so padding stays small)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), int(self.session().get_outputs()[0].shape[-1])), np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = self._tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            out[idx] = self.session().run(None, dict(zip(_INPUTS, (ids, mask, np.zeros_like(ids)))))[0]
        return out


def export(st_model, files: ModelFiles) -> Path | None:
    """Export a loaded SentenceTransformer (BERT + mean pooling + normalise) to ONNX.

    Returns the path, or None when the export fails or does not match (the caller
    keeps using sentence-transformers; nothing else depends on the export)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    path = onnx_path(files)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        module = Pooled(st_model[0].auto_model).eval()
        dummy = torch.ones((2, 8), dtype=torch.long)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (dummy, torch.ones_like(dummy), torch.zeros_like(dummy)), str(tmp),
                              input_names=list(_INPUTS), output_names=["embedding"], opset_version=17,
                              dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in _INPUTS},
                                            "embedding": {0: "batch"}}, dynamo=False)
        reference = st_model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        got = OnnxEncoder(tmp, files.folder, st_model.max_seq_length).encode(list(PROBES))
        cosine = float((reference * got).sum(1).min())
        if cosine < MIN_COSINE:
            return None
        return _install(tmp, files, cosine)
    except Exception:  # noqa: BLE001 - any exporter failure just means "no fast path"
        return None
    finally:
        tmp.unlink(missing_ok=True)
