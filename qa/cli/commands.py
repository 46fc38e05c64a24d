"""The ``qa`` group and its one command table: every command's name, the module that holds it, the
``config.toml`` table its defaults come from, and whether it is a question.

Exit codes: 0 answered or abstained (or all files ingested), 2 bad input
(missing library, unreadable or failed files), 1 any other error.
"""
from __future__ import annotations

import atexit
import gc
from typing import NamedTuple

import click

from qa import __version__
from qa.errors import BadInput, LibraryError


class Command(NamedTuple):
    """Where a command lives: ``module``'s ``attr``, imported only when the command is run or listed."""

    module: str
    attr: str
    defaults: str | None = None  # "common" or "serve": the config.toml settings it takes (qa/settings.py)
    question: bool = False  # runs with the garbage collector off (see _Commands)


COMMANDS = {
    "ask": Command("qa.cli.ask", "ask", "common", question=True),
    "timeline": Command("qa.cli.ask", "timeline_command", "common", question=True),
    "chat": Command("qa.cli.ask", "chat", "common"),
    "ingest": Command("qa.cli.ingest", "ingest", "common"),
    "list": Command("qa.cli.library", "list_articles", "common"),
    "remove": Command("qa.cli.library", "remove", "common"),
    "doctor": Command("qa.cli.library", "doctor", "common"),
    "libraries": Command("qa.cli.library", "libraries"),
    "stories": Command("qa.cli.stories", "stories_command", "common"),
    "eval": Command("qa.cli.evaluate", "evaluate"),
    "info": Command("qa.cli.info", "info"),
    "serve": Command("qa.cli.serve", "serve", "serve"),
    "mcp": Command("qa.cli.serve", "mcp_command", "common"),
}


class _Commands(click.Group):
    """The group, with each command's module imported only when it is run or listed: ``qa ask``
    does not pay for the HTTP server's, the MCP server's or the maintenance imports.

    A question runs with the garbage collector off: a cold one creates some 500,000 objects
    while it imports and opens, next to no garbage, and CPython's collector would walk them
    over and over (~0.1 s of a 0.7 s answer on 2 cores), then again at exit (~0.1 s). One
    question, then the process ends; every other command collects as usual."""

    def main(self, args=None, *rest, **options):
        was_on = gc.isenabled()
        gc.disable()
        try:
            return super().main(args, *rest, **options)
        finally:
            # A caller in this process (args given: tests, an embedding app) gets it back as it
            # was. A process that runs qa (args from sys.argv) is ending: a question leaves it
            # off, and its objects are frozen at exit so that shutdown does not walk them all.
            if args is not None and was_on:
                gc.enable()
            elif not gc.isenabled():
                atexit.register(gc.freeze)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LibraryError as e:  # damage met after the library opened (a text that no longer reads): exit 2
            raise BadInput(str(e)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = COMMANDS.get(name)
        if command is None:
            return None
        if not command.question:  # work that makes garbage is next: collect
            gc.enable()
        if name not in self.commands:
            import importlib

            self.add_command(getattr(importlib.import_module(command.module), command.attr), name)
        return self.commands[name]


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qa")
def main() -> None:
    """Ask questions about your news articles, offline, with cited answers.

    \b
    First run (uses the bundled sample articles):
        qa ask "What did Russia propose in 2003?"
    Your own articles:
        qa ingest ~/news --library ~/news-lib
        qa ask --library ~/news-lib "What happened in April 2013?"

    Libraries and caches live in the user data directory; set QA_HOME to move them.
    """


def _register_settings() -> None:
    from qa.settings import Defaults

    # $QA_HOME/config.toml, read when a command starts
    main.context_settings["default_map"] = Defaults({name: c.defaults for name, c in COMMANDS.items() if c.defaults})


_register_settings()
