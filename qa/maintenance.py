"""Library maintenance commands: ``qa remove`` and ``qa doctor``.

Both write a new generation of the library under its lock, like ``qa ingest``,
so an interrupted run leaves the library as it was.
"""
from __future__ import annotations

from pathlib import Path

import click

from qa.cli_common import library_option
from qa.errors import BadInput



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
