"""Named libraries: ``--library NAME`` is ``$QA_HOME/libraries/NAME``, and ``qa libraries``
lists and deletes them.

People keep several collections (one per beat, one per project) and should not have to
remember where each folder is. A name has no slash and no scheme, so it can never be
mistaken for a path (``./news`` is the folder ``news`` here) or a Milvus URI.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from qa.errors import BadInput

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


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@click.group("libraries", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per library, one per line.")
@click.pass_context
def libraries(ctx: click.Context, as_json: bool) -> None:
    """List the named libraries: name, articles, chunks, embedder, size on disk, last ingest.

    A library made with `--library NAME` (no slash) lives in $QA_HOME/libraries/NAME,
    and any command takes the name again: qa ask --library news "…".

    \b
        qa ingest ~/news --library news
        qa libraries
        qa libraries rm news
    """
    if ctx.invoked_subcommand is not None:
        return
    found = list_libraries()
    if as_json:
        for info in found:
            click.echo(json.dumps(asdict(info), ensure_ascii=False))
        return
    if not found:
        click.echo(f"no libraries in {libraries_dir()} yet; make one with: qa ingest PATH --library NAME", err=True)
        return
    click.echo(f"{'name':20} {'articles':>8} {'chunks':>7}  {'embedder':18} {'size':>9}  last ingest")
    for i in found:
        if i.problem:
            click.echo(f"{i.name:20} {i.problem}")
            continue
        click.echo(f"{i.name:20} {i.articles:>8} {i.chunks:>7}  {i.embedder or '-':18} {_size(i.size_bytes):>9}  "
                   f"{(i.last_ingest or '-')[:19].replace('T', ' ')}")


@libraries.command("rm")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
def rm(name: str, yes: bool) -> None:
    """Delete the library NAME (its folder under $QA_HOME/libraries) and everything in it."""
    from qa.errors import LibraryError

    try:
        path = named_library(name)
        if not (path / "manifest.json").is_file():
            raise ValueError(f"no library named {name!r} in {libraries_dir()}; see: qa libraries")
        if not yes:
            info = describe(path)
            click.confirm(f"Delete the library {name!r} ({info.articles if info.articles is not None else '?'} "
                          f"articles, {_size(info.size_bytes)}) at {path}?", abort=True, err=True)
        remove_library(name)
    except (ValueError, LibraryError) as e:
        raise BadInput(str(e)) from None
    click.echo(f"deleted {path}", err=True)
