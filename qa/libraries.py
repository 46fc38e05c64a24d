"""Named libraries: ``--library NAME`` is ``$QA_HOME/libraries/NAME``; listed and deleted by
``qa libraries`` (qa/cli/library.py).

People keep several collections (one per beat, one per project) and should not have to
remember where each folder is. A name has no slash and no scheme, so it can never be
mistaken for a path (``./news`` is the folder ``news`` here) or a Milvus URI.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def libraries_dir() -> Path:
    """Where named libraries live (the default library and ``qa eval``'s among them)."""
    from qa.paths import data_dir

    return data_dir() / "libraries"


def is_name(value: str) -> bool:
    """Whether ``--library value`` names a library rather than giving a path or URI."""
    return "/" not in value and "\\" not in value and "://" not in value and value not in (".", "..", "~")


def named_library(name: str) -> Path:
    """The folder of the library called ``name``; a ValueError says what a name may hold."""
    if not NAME.match(name):
        raise ValueError(f"{name!r} is not a library name: letters, digits, '.', '_' and '-' "
                         "(a path needs a slash: ./NAME)")
    return libraries_dir() / name


@dataclass
class LibraryInfo:
    """One row of ``qa libraries``."""

    name: str
    path: str
    articles: int | None
    chunks: int | None
    embedder: str | None
    size_bytes: int
    last_ingest: str | None  # when the library was last written (ingest, remove, doctor)
    problem: str | None = None  # why the manifest could not be read


def describe(path: Path) -> LibraryInfo:
    """A library folder's counts and embedder from its manifest, without opening the library."""
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        counts = manifest.get("counts", {})
        return LibraryInfo(path.name, str(path), counts.get("articles"), counts.get("chunks"),
                           manifest.get("embedder", {}).get("name"), size, manifest.get("updated"))
    except (OSError, ValueError, AttributeError) as e:
        return LibraryInfo(path.name, str(path), None, None, None, size, None, f"unreadable manifest: {e}")


def list_libraries() -> list[LibraryInfo]:
    """Every folder under the libraries directory, by name."""
    root = libraries_dir()
    if not root.is_dir():
        return []
    return [describe(p) for p in sorted(root.iterdir()) if p.is_dir()]


def remove_library(name: str) -> Path:
    """Delete the named library's folder, under its write lock (never under a running ingest)."""
    from qa.library.folder.generations import holding_write_lock

    path = named_library(name)
    if not (path / "manifest.json").is_file():
        raise ValueError(f"no library named {name!r} in {libraries_dir()}; see: qa libraries")
    with holding_write_lock(path, timeout=0):
        shutil.rmtree(path)
    return path
