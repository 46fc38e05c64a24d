"""An embedder's files, as the caller found them: embeddings reads a model from the folder it is
given and keeps its ONNX export in the cache folder it is given, so the package stands without
the application above it (qa finds, verifies and names the files: ``qa/embedder.py``)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 22  # bytes hashed at a time

# Raises (OSError, ValueError or RuntimeError) unless the file has this size and sha256.
Check = Callable[[Path, int, str], None]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, size: int, sha256: str) -> None:
    """Hash the file every time: a caller that remembers verified files passes its own ``Check``."""
    if path.stat().st_size != size or file_sha256(path) != sha256:
        raise ValueError(f"{path} does not match its recorded size and sha256")


@dataclass(frozen=True)
class ModelFiles:
    """``name`` and ``sha256`` (of the source weights) are the model's identity, recorded by the
    libraries made with it; ``folder`` holds its verified weights and tokenizer.json; ``cache``
    is where its ONNX export is made once and checked (``check``) before every load."""

    name: str
    sha256: str
    folder: Path
    cache: Path
    check: Check = check_file
