"""Opening the Assistant a command works with: ``qa ask``, ``qa timeline``, ``qa list``, ``qa serve``
and ``qa mcp`` all start here, so each turns a missing model or library into the same error."""
from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.cli.output import progress_bar
from qa.errors import BadInput

if TYPE_CHECKING:
    from qa.api import Assistant


def start_sessions():
    """The question encoder, its ONNX session already loading in a thread (~0.1 s of CPU), or None
    where it cannot load (``open_assistant`` says why); the judge's session starts loading too
    (~0.1 s; the Assistant gets the same judge). A command calls this first, so that the sessions
    build while numpy, FAISS, bm25s and the library are imported and opened: started after the
    library, the judge's kept a cold ``qa ask --no-llm`` waiting ~0.1 s."""
    from qa import loaders
    from qa.models import ModelError

    try:
        encoder = loaders.encoder()
        encoder.warm_up()
    except ModelError:
        return None
    try:
        loaders.judge()
    except ModelError:
        pass  # the Assistant loads it again and says why
    return encoder


def open_assistant(library: Path | str | None, model: str | None = None, k: int = 5, encoder=None) -> Assistant:
    """The Assistant over ``library`` (None: the default library, made from the bundled sample
    articles on first use, with a progress bar); a model that cannot load is a ClickException,
    a library that cannot open is bad input (exit 2)."""
    from qa.models import ModelError

    try:
        if encoder is None:
            from qa import loaders

            encoder = loaders.encoder()
            encoder.warm_up()
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    from qa.api import Assistant
    from qa.library import LibraryError, library_exists
    from qa.paths import default_library_dir

    try:
        if library is not None or library_exists(default_library_dir()):
            return Assistant(library, model=model, k=k, encoder=encoder)
        gc.enable()  # indexing the bundled sample articles is work: collect as usual
        bar, update = progress_bar()  # the first run indexes the bundled sample articles
        with bar:
            return Assistant(library, model=model, k=k, encoder=encoder, progress=update)
    except LibraryError as e:
        raise BadInput(str(e)) from None
    except ModelError as e:
        raise click.ClickException(str(e)) from None
