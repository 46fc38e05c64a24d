"""The embedder models.txt lists, as an ``embeddings`` encoder: qa finds its files (verified
by sha256, remembered per file so a start does not re-hash them) and names its ONNX cache
folder; ``embeddings`` only reads what it is given."""
from __future__ import annotations

from pathlib import Path

from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.files import ModelFiles
from qa.models import ModelSpec, embedder_spec, model_path, verify
from qa.paths import cache_dir


def embedder_files(spec: ModelSpec | None = None) -> ModelFiles:
    """The verified files of ``spec`` (models.txt's embedder by default), its export kept under
    the cache folder's ``onnx/``, checked as every model file is (``qa.models.verify``)."""
    spec = spec or embedder_spec()

    def check(path: Path, size: int, sha256: str) -> None:
        verify(path, ModelSpec("embedder-onnx", f"{spec.name} (ONNX export)", spec.packages, path.name,
                               size, sha256, spec.license))

    return ModelFiles(spec.name, spec.sha256, model_path(spec).parent, cache_dir() / "onnx", check)


def load_encoder() -> Encoder:
    """The embedder listed in models.txt."""
    return SentenceTransformerEncoder(embedder_files())
