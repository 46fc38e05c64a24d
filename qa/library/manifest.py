"""A folder library's ``manifest.json``: its format, its validation, and the embedder check.

The manifest names the current generation's files and says which embedder and
chunking made them. It is the one file a writer replaces to switch generations
(see ``folder/generations.py``), so every field is checked before anything trusts it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from embeddings.encoder import Encoder
from qa.errors import FormatError, LibraryError
from qa.reading.chunking import ChunkParams

FORMAT = 1
MANIFEST = "manifest.json"

# The names of a generation's files; the number is the generation that wrote them.
GENERATION_NAME = {"store": re.compile(r"store-(\d+)\.db"), "index": re.compile(r"index-(\d+)\.faiss"),
                   "bm25": re.compile(r"bm25-(\d+)")}


# The chunking fields a manifest records; one written before #17 lacks title_mix (read as 0).
CHUNKING_KEYS = frozenset(ChunkParams().to_dict())


def doctor_hint(path: Path) -> str:
    return f"run: qa doctor --library {path}"


def is_int(value, low: int = 0, high: int | None = None) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and value >= low
            and (high is None or value <= high))


def new_manifest(encoder: Encoder, params: ChunkParams, generation: int = 0, files: dict | None = None,
                 counts: dict | None = None) -> dict:
    """The manifest of a library made with ``encoder`` and ``params``."""
    return {"format": FORMAT, "generation": generation, "files": files or {},
            "embedder": {"name": encoder.name, "sha256": encoder.sha256, "dim": encoder.dim},
            "chunking": params.to_dict(), "counts": counts or {"articles": 0, "chunks": 0}}


def validate_manifest(manifest, path: Path) -> dict:
    """The manifest if every field has the shape qa wrote; a LibraryError naming the first that does not."""
    where = path / MANIFEST

    def bad(what: str) -> LibraryError:
        return LibraryError(f"library manifest {where} is damaged ({what}); {doctor_hint(path)}")

    if not isinstance(manifest, dict):
        raise bad(f"a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT:
        raise FormatError(f"library {path} has format {manifest.get('format')!r}; this qa reads format {FORMAT}")
    gen = manifest.get("generation")
    if not is_int(gen):
        raise bad("no generation number")
    files = manifest.get("files")
    if not isinstance(files, dict) or (files and set(files) != set(GENERATION_NAME)):
        raise bad("'files' must name a store, an index and a bm25 folder, or nothing")
    for kind, name in files.items():
        m = GENERATION_NAME[kind].fullmatch(name) if isinstance(name, str) else None
        if not m or int(m.group(1)) > gen:
            raise bad(f"unexpected {kind} file name {name!r}")
    embedder = manifest.get("embedder")
    if (not isinstance(embedder, dict) or not isinstance(embedder.get("name"), str)
            or not isinstance(embedder.get("sha256"), str) or not is_int(embedder.get("dim"), 1, 65536)):
        raise bad("'embedder' needs a name, a sha256 and a dimension")
    chunking = manifest.get("chunking")
    if (not isinstance(chunking, dict) or set(chunking) not in (CHUNKING_KEYS, CHUNKING_KEYS - {"title_mix"})
            or not all(is_int(v, 0, 1_000_000) for v in chunking.values())
            or chunking["max_tokens"] < 16 or not 1 <= chunking["target_tokens"]):
        raise bad("'chunking' parameters")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not is_int(counts.get("articles")) or not is_int(counts.get("chunks")):
        raise bad("'counts'")
    if not files and (counts["articles"] or counts["chunks"]):
        raise bad("counts without files")
    return manifest


def read_manifest(path: Path) -> dict:
    try:
        text = (path / MANIFEST).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LibraryError(f"no library at {path} (no {MANIFEST}); create one with: qa ingest PATH --library {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LibraryError(f"unreadable library manifest {path / MANIFEST}: {e}; {doctor_hint(path)}") from None
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise LibraryError(f"library manifest {path / MANIFEST} is damaged (not JSON: {e}); "
                           f"{doctor_hint(path)}") from None
    return validate_manifest(manifest, path)


def check_embedder(manifest: dict, path: Path, encoder: Encoder | None) -> None:
    if encoder is None:
        return
    made = manifest["embedder"]
    if made["name"] != encoder.name or made["sha256"] != encoder.sha256:
        raise LibraryError(f"library {path} was built with embedder {made['name']!r} "
                           f"(sha256 {made['sha256'][:12]}…); this qa uses {encoder.name!r}. "
                           "Re-ingest the articles into a new library.")
