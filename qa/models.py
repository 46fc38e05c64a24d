"""The model manifest (models.txt) and verified, offline model loading.

Every model comes from a PyPI package and is checked against the sha256 in
models.txt before it is loaded, so a truncated install or a swapped file is
refused instead of producing silent nonsense. Weights shipped in parts are
assembled once into the cache directory.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embeddings.files import file_sha256
from qa.paths import cache_dir

MANIFEST = Path(__file__).resolve().parent / "models.txt"
DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct"
_PARTS = re.compile(r"^(?P<stem>.+?)\[(?P<first>\d+)-(?P<last>\d+)\]$")
_CHUNK = 1 << 22

BytesProgress = Callable[[int, int], None]  # (bytes done, bytes in all)


class ModelError(RuntimeError):
    """A model that is not listed, not installed, or fails its checksum."""


@dataclass(frozen=True)
class ModelSpec:
    role: str
    name: str
    packages: tuple[str, ...]
    file: str
    size: int
    sha256: str
    license: str

    @property
    def install_hint(self) -> str:
        if self.packages == ("qa",):  # weights shipped inside qa itself (the judge)
            return "reinstall qa (pip install --force-reinstall --no-deps qa-news)"
        first, last = self.packages[0], self.packages[-1]
        names = first if len(self.packages) == 1 else f"{first} .. {last}"
        return f"reinstall the package(s) {names} (pip install --force-reinstall {' '.join(self.packages)})"


def _expand(packages: str) -> tuple[str, ...]:
    out: list[str] = []
    for item in packages.split(","):
        m = _PARTS.match(item)
        if m:
            out += [f"{m['stem']}{i}" for i in range(int(m["first"]), int(m["last"]) + 1)]
        else:
            out.append(item)
    return tuple(out)


def load_manifest(path: Path = MANIFEST) -> list[ModelSpec]:
    """Parse models.txt: one whitespace-separated line per model, ``#`` comments."""
    specs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cols = line.split()
        if len(cols) != 7:
            raise ModelError(f"{path}:{lineno}: expected 7 columns, found {len(cols)}")
        role, name, packages, file, size, sha, lic = cols
        specs.append(ModelSpec(role, name, _expand(packages), file, int(size), sha.lower(), lic))
    return specs


def get_spec(name: str, role: str | None = None) -> ModelSpec:
    """The manifest entry called ``name`` (case-insensitive)."""
    specs = [s for s in load_manifest() if role is None or s.role == role]
    for spec in specs:
        if spec.name.lower() == name.lower():
            return spec
    listed = ", ".join(s.name for s in specs)
    raise ModelError(f"unknown model {name!r}; models.txt lists: {listed} (or pass a path to a .gguf file)")


def embedder_spec() -> ModelSpec:
    return next(s for s in load_manifest() if s.role == "embedder")


def _package_dir(package: str, spec: ModelSpec) -> Path:
    module = package.replace("-", "_")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"model {spec.name}: package {package} is not installed; {spec.install_hint}")
    return Path(next(iter(found.submodule_search_locations)))


def _stamp_path(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "verified" / f"{key}.json"


def _stamp(path: Path, spec: ModelSpec) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}


def is_verified(path: Path, spec: ModelSpec) -> bool:
    """Whether ``path`` passed a check against ``spec`` before and has not changed since (its
    size and mtime are those checked): a start need not hash it again."""
    try:
        return json.loads(_stamp_path(path).read_text()) == _stamp(path, spec)
    except (OSError, ValueError):
        return False


def _remember(path: Path, spec: ModelSpec) -> None:
    stamp_file = _stamp_path(path)
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(json.dumps(_stamp(path, spec)))


def verify(path: Path, spec: ModelSpec) -> None:
    """Check size and sha256; remembers a success per (path, size, mtime) so that
    the next start does not re-hash a gigabyte, while any change to the file does."""
    if not path.is_file():
        raise ModelError(f"model {spec.name}: {path} is missing; {spec.install_hint}")
    if is_verified(path, spec):
        return
    size = path.stat().st_size
    if size != spec.size:
        raise ModelError(f"model {spec.name}: {path} has {size} bytes, expected {spec.size}; {spec.install_hint}")
    digest = file_sha256(path)
    if digest != spec.sha256:
        raise ModelError(f"model {spec.name}: sha256 mismatch for {path} ({digest}); {spec.install_hint}")
    _remember(path, spec)


def _assemble(spec: ModelSpec, target: Path, progress: BytesProgress | None = None) -> None:
    """Concatenate the parts (``data/partNN.bin`` of each package, in order) into the cache,
    hashing each block as it is copied: one read of a gigabyte, not two. ``progress`` hears the
    bytes written after each block (a minute on a slow disk is no time to print nothing)."""
    parts = []
    for package in spec.packages:
        found = sorted((_package_dir(package, spec) / "data").glob("part*.bin"))
        if not found:
            raise ModelError(f"model {spec.name}: package {package} holds no data/part*.bin; {spec.install_hint}")
        parts += found
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    h = hashlib.sha256()
    done = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_CHUNK):
                        h.update(block)
                        out.write(block)
                        done += len(block)
                        if progress:  # all of it only once it is on disk (the fsync takes seconds)
                            progress(min(done, spec.size - 1), spec.size)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != spec.sha256:
            raise ModelError(f"model {spec.name}: assembled parts have sha256 {h.hexdigest()}, "
                             f"expected {spec.sha256}; {spec.install_hint}")
        os.replace(tmp, target)
        _remember(target, spec)
        if progress:
            progress(spec.size, spec.size)
    finally:
        tmp.unlink(missing_ok=True)


def model_path(spec: ModelSpec, progress: BytesProgress | None = None) -> Path:
    """The verified file of a listed model, assembling parts into the cache on first use
    (reported to ``progress``)."""
    if len(spec.packages) == 1:
        path = _package_dir(spec.packages[0], spec) / spec.file
        verify(path, spec)
        return path
    path = cache_dir() / "models" / spec.file
    if path.exists():
        try:
            verify(path, spec)
            return path
        except ModelError:
            path.unlink()  # a damaged cache copy: rebuild it from the packages
    _assemble(spec, path, progress)
    return path


def resolve_llm(model: str | None, progress: BytesProgress | None = None) -> tuple[str, Path]:
    """``--model`` as given: None for the default, a models.txt name, or a path to a GGUF file;
    ``progress`` hears the bytes of a first assembly."""
    model = model or os.environ.get("QA_MODEL") or DEFAULT_LLM
    candidate = Path(model).expanduser()
    if candidate.suffix.lower() == ".gguf" or os.sep in model:
        if not candidate.is_file():
            raise ModelError(f"no GGUF file at {candidate}")
        return candidate.name, candidate
    spec = get_spec(model, role="llm")
    return spec.name, model_path(spec, progress)
