"""The options commands share, each written once: ``--library`` (a name, a folder or a Milvus URI),
``--model``, and the filters (``--since``, ``--until``, ``--source``, ``--include-undated``)."""
from __future__ import annotations

from pathlib import Path

import click


class LibraryAddress(click.ParamType):
    """A library folder (a Path), a name without a slash (``$QA_HOME/libraries/NAME``, see
    qa/libraries.py), or a URI such as ``milvus://HOST:PORT/NAME`` (kept as text)."""

    name = "NAME|DIR|URI"

    def convert(self, value, param, ctx):
        from qa.libraries import is_name, named_library

        if isinstance(value, str) and is_name(value):
            try:
                return named_library(value)
            except ValueError as e:
                self.fail(str(e), param, ctx)
        if isinstance(value, Path) or "://" not in str(value):
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                self.fail(f"{path} is a file, not a library folder", param, ctx)
            return path
        return str(value)


class _ModelOption(click.Option):
    """``--model``, whose help names the LLM used when none is given; qa.models is read only
    when help is shown, not at every start."""

    def get_help_record(self, ctx):
        from qa.models import DEFAULT_LLM

        self.help = ("The LLM: a model name from models.txt or a path to a .gguf file "
                     f"[default: $QA_MODEL, else config.toml's model, else {DEFAULT_LLM}].")
        return super().get_help_record(ctx)


def model_option(command):
    return click.option("--model", "-m", cls=_ModelOption, metavar="NAME|FILE.gguf")(command)


class PathOrURL(click.ParamType):
    """A file or folder (a Path), or an http(s) URL of a page or feed (kept as text)."""

    name = "PATH|URL"

    def convert(self, value, param, ctx):
        text = str(value)
        return text if text.startswith(("http://", "https://")) else Path(text)


library_option = click.option(
    "--library", "-l", "library", type=LibraryAddress(),
    help="A library's name (news: $QA_HOME/libraries/news; see qa libraries), a folder (./news, ~/news-lib), "
         "or milvus://HOST:PORT/NAME (a Milvus server; milvuss:// for TLS, "
         "QA_MILVUS_TOKEN for auth) or milvus:///PATH.db/NAME (Milvus Lite). Default: the bundled "
         "sample articles, in the data dir (QA_HOME moves it).")


class Day(click.ParamType):
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, kept as text: the command decides which end of
    the year or month it means (``--since 2013`` is 1 January, ``--until 2013`` 31 December)."""

    name = "YYYY[-MM[-DD]]"

    def convert(self, value, param, ctx):
        from qa.library.filters import parse_day

        try:
            parse_day(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)
        return value


source_option = click.option("--source", "sources", multiple=True, metavar="NAME",
                             help="Only this outlet, by name or domain (voanews.com); repeat for several.")


def include_undated_option(help: str):
    """``--include-undated``, with the help of the command's window (``--since``/``--until``, ``qa stories``'s)."""
    return click.option("--include-undated", is_flag=True, help=help)


def filter_options(command):
    """``--since``, ``--until``, ``--source`` (repeatable) and ``--include-undated``: the search
    sees only the matching articles, so k passages come back whenever k of them match."""
    for option in reversed([
            click.option("--since", type=Day(), help="Only articles from this day on (2013 means 2013-01-01)."),
            click.option("--until", type=Day(), help="Only articles up to this day (2014 means 2014-12-31)."),
            source_option,
            include_undated_option("Let articles without a date through --since/--until.")]):
        command = option(command)
    return command


def filters_from(since: str | None, until: str | None, sources: tuple[str, ...], include_undated: bool):
    """The options' :class:`~qa.library.Filters`; a range that ends before it starts is bad input."""
    from qa.errors import BadInput
    from qa.library.filters import make_filters

    try:
        return make_filters(since, until, sources, include_undated)
    except ValueError as e:
        raise BadInput(str(e)) from None
