"""The commands that look after libraries: ``qa list`` (one library's articles), ``qa remove`` and
``qa doctor``, and ``qa libraries`` (the named ones, and ``rm``).

Remove and doctor write a new generation of the library under its lock, like ``qa ingest``,
so an interrupted run leaves the library as it was.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from qa.cli.options import library_option
from qa.errors import BadInput
from qa.libraries import describe, libraries_dir, list_libraries, named_library, remove_library


def _target(library: Path | str | None) -> Path | str:
    from qa.paths import default_library_dir

    return library or default_library_dir()


@click.command()
@click.argument("targets", nargs=-1, required=True)
@library_option
def remove(targets: tuple[str, ...], library: Path | str | None) -> None:
    """Remove articles by ARTICLE_ID (see `qa list`), URL, or the file or folder they came from.

    The vectors and the keyword index are rebuilt without them. Every target
    must match something, or nothing is removed.
    """
    from qa.library import LibraryError, open_library

    path = _target(library)
    try:
        lib = open_library(path)
        report = lib.remove(targets)
    except LibraryError as e:
        raise BadInput(str(e)) from None
    for article in report.removed:
        click.echo(f"removed {article.id}\t{article.title}")
    click.echo(f"{len(report.removed)} articles removed ({report.chunks} chunks); "
               f"library {path} holds {lib.counts['articles']} articles.", err=True)


@click.command()
@library_option
@click.option("--check", "check_only", is_flag=True, help="Only report; change nothing.")
def doctor(library: Path | str | None, check_only: bool) -> None:
    """Check that a library's store, vectors and keyword index agree, and repair them.

    The keyword index and the counts are rebuilt from the article store; broken
    chunks are dropped; vectors are re-made with the embedder only when they
    must be; files left by an interrupted write are deleted. Exit code 1 when
    something could not be repaired.
    """
    from qa.library import LibraryError, doctor as run_doctor

    path = _target(library)
    try:
        report = run_doctor(path, repair=not check_only)
    except LibraryError as e:
        raise BadInput(str(e)) from None
    for line in report.checked:
        click.echo(f"ok      {line}")
    for line in report.problems:
        click.echo(f"found   {line}")
    for line in report.repaired:
        click.echo(f"fixed   {line}")
    for line in report.unrepaired:
        click.echo(f"NOT FIXED  {line}")
    if report.unrepaired:
        raise click.ClickException(f"library {path} has problems that were not repaired")
    if report.healthy:
        click.echo(f"library {path} is healthy")
    elif report.repaired:
        click.echo(f"library {path} was repaired")


@click.command("list")
@library_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_articles(library: Path | str | None, as_json: bool) -> None:
    """List the articles in a library: id, date, title.

    A date marked ~ (2013-04-10~) was found by qa, not declared by the publisher: read from
    the URL, the title or a dateline, or taken from a dated copy of the same story ("twin").
    --json says how in "date_source" ("field", "url", "title", "dateline", "twin"; null:
    undated, or stored before qa recorded it).
    """
    from qa.cli.assistant import open_assistant
    from qa.reading.dates import is_inferred

    lib = open_assistant(library).library
    for a in lib.articles():
        if as_json:
            click.echo(json.dumps(a.to_dict(text=False), ensure_ascii=False))
        else:
            shown = f"{a.date}~" if a.date and is_inferred(a.date_source) else (a.date or "-")
            click.echo(f"{a.id}\t{shown:11}\t{a.title}")


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
