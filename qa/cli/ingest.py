"""``qa ingest``: fetch the URLs, add the files with a progress bar, print one summary, and leave
no library behind when nothing went in; with ``--watch``, again and again."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from qa.cli.options import PathOrURL, library_option
from qa.errors import EXIT_BAD_INPUT, BadInput


@click.command()
@click.argument("paths", nargs=-1, required=True, type=PathOrURL())
@library_option
@click.option("--ray", "ray_address", metavar="auto|ray://HEAD:10001",
              help="Embed on a Ray cluster (Ray Data actors, one model each): 'auto' starts a local Ray; "
                   "needs pip install 'qa-news[cluster]'.")
@click.option("--ray-actors", type=click.IntRange(1), help="Encoder actors (default: one per CPU Ray has).")
@click.option("--watch", is_flag=True,
              help="Keep going: ingest again every --every (new and changed files and feed entries only) until Ctrl+C.")
@click.option("--every", default="15m", show_default=True, metavar="90s|15m|2h",
              help="The pause between two --watch passes.")
def ingest(paths: tuple[Path | str, ...], library: Path | str | None, ray_address: str | None,
           ray_actors: int | None, watch: bool, every: str) -> None:
    """Add articles to a library (created if missing).

    PATHS are files or folders (searched recursively) of .txt, .md, .html/.htm,
    .json and .jsonl records ({"text", "title", "url", "date", "source"}), each
    optionally gzipped, or http(s) URLs of article pages or RSS/Atom feeds (each
    entry's page, dated by the feed). Duplicates (same text) go in once; a bad
    file or URL is named and skipped, and the good ones still go in. A long
    ingest is saved every 5 minutes: run it again after a stop and it goes on.

    \b
    A feed, kept current:
        qa ingest https://example.org/news/rss.xml --library news --watch --every 15m

    \b
    Into Milvus, embedding spread over Ray:
        qa ingest ~/archive --library milvus://HOST:19530/news --ray ray://HEAD:10001
    """
    from qa import loaders
    from qa.paths import default_library_dir
    from qa.reading import web

    try:
        every_s = web.parse_every(every)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--every") from None
    encoder = loaders.encoder()
    if ray_address:
        from embeddings.ray_encoder import RayEncoder

        try:
            encoder = RayEncoder(encoder, ray_address, ray_actors, load=loaders.encoder)
        except RuntimeError as e:
            raise click.ClickException(str(e)) from None
    run_ingest(paths, library or default_library_dir(), encoder, watch, every_s)


def run_ingest(paths: tuple[Path | str, ...], target: Path | str, encoder, watch: bool, every_s: float) -> None:
    """One pass (or, with ``watch``, one every ``every_s`` seconds); exit code 2 when a file failed."""
    from qa.cli.output import progress_bar, stderr_console
    from qa.reading import web

    console = stderr_console()

    def one_pass():
        def skipped(err) -> None:
            console.print(f"[yellow]skipped[/] {err}", markup=True, highlight=False)
        fetch_errors = []
        files = web.fetch(paths, lambda err: (fetch_errors.append(err), skipped(err)),
                          say=lambda line: console.print(line, highlight=False))
        bar, update = progress_bar()
        report, articles = _add(target, files, encoder, bar, update)
        report.errors[:0] = fetch_errors
        where = f"library {target} holds {articles} articles" if articles is not None else \
            f"no library was made at {target}"
        console.print(f"{report.summary()}; {where}.", highlight=False)
        return report

    if watch:
        web.watch(one_pass, every_s)
        return
    if one_pass().errors:
        sys.exit(EXIT_BAD_INPUT)


def _add(target: Path | str, files: list[Path | str], encoder, bar, update):
    """The report of adding ``files``, and the articles the library holds after (None: the library
    did not exist before and nothing went in, so it was not kept: a typo'd path makes none)."""
    from qa.library import FolderLibrary, LibraryError, create_library, library_exists
    from qa.library.folder.generations import remove_new_library

    new = not library_exists(target)
    made_folder = isinstance(target, Path) and not target.exists()
    try:
        lib = create_library(target, encoder)
        with bar:
            report = lib.add(files, encoder, update,
                             on_error=lambda err: bar.console.print(f"[yellow]skipped[/] {err}", markup=True,
                                                                    highlight=False))
    except LibraryError as e:
        raise BadInput(str(e)) from None
    if new and not lib.counts["articles"] and isinstance(lib, FolderLibrary):
        lib.close()
        remove_new_library(lib.path, made_folder)
        return report, None
    return report, lib.counts["articles"]
