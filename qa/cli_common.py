"""What the command modules share: the ``--library`` option, which takes a folder or a Milvus URI."""
from __future__ import annotations

from pathlib import Path

import click


class LibraryAddress(click.ParamType):
    """A library folder (a Path), or a URI such as ``milvus://HOST:PORT/NAME`` (kept as text)."""

    name = "DIR|URI"

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or "://" not in str(value):
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                self.fail(f"{path} is a file, not a library folder", param, ctx)
            return path
        return str(value)


library_option = click.option(
    "--library", "-l", "library", type=LibraryAddress(),
    help="Library folder, or milvus://HOST:PORT/NAME (a Milvus server; milvuss:// for TLS, "
         "QA_MILVUS_TOKEN for auth) or milvus:///PATH.db/NAME (Milvus Lite). Default: the bundled "
         "sample articles, in the data dir (QA_HOME moves it).")
