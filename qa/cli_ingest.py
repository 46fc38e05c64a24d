"""What ``qa ingest`` does after its options are read: fetch the URLs, add the files with a
progress bar, print one summary, and leave no library behind when nothing went in."""
from __future__ import annotations

import sys
from pathlib import Path

from qa.errors import EXIT_BAD_INPUT, BadInput


def run_ingest(paths: tuple[Path | str, ...], target: Path | str, encoder, watch: bool, every_s: float) -> None:
    """One pass (or, with ``watch``, one every ``every_s`` seconds); exit code 2 when a file failed."""
    from qa.cli_common import progress_bar, stderr_console
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
