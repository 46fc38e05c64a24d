"""``qa stories``: what happened in a window of the library, as ranked stories (see ``qa.stories``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.cli.options import Day, include_undated_option, library_option, model_option, source_option
from qa.errors import BadInput

if TYPE_CHECKING:
    from rich.console import Console

    from qa.stories import Story


class Since(click.ParamType):
    """A span back from the newest article ("7d", "2w") or a day (YYYY[-MM[-DD]])."""

    name = "7d|2w|YYYY[-MM[-DD]]"

    def convert(self, value, param, ctx):
        from qa.stories import window

        try:
            window(value, None)
        except ValueError:
            self.fail(f"{value!r} is neither a span (7d, 2w) nor a date (YYYY, YYYY-MM, YYYY-MM-DD)", param, ctx)
        return value


@click.command("stories")
@library_option
@click.option("--since", default="7d", show_default=True, type=Since(), metavar="7d|2w|YYYY[-MM[-DD]]",
              help="Window start: a span back from the newest article (7d, 2w), or a day (2025-01-03).")
@click.option("--until", type=Day(), help="Window end: a day (2025-01-10 or 2025-01, its last day).")
@source_option
@include_undated_option("Let articles without a date into the window.")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(0),
              help="Stories to show, best covered first (0: all).")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object: {"stories": [{"text", "citations", "articles", "outlets", "first_date", '
                   '"last_date", "new", "event"}], "window": {...}}. "event": the rank (1 = first) of the '
                   'best-ranked piece of the story\'s event, the same for all its pieces; null for a story alone.')
@click.option("--no-llm", is_flag=True,
              help="Quote each story's most central article (title or lead) instead of writing a line: seconds, "
                   "not a model call per story.")
@model_option
def stories_command(library: Path | str | None, since: str, until: str | None, sources: tuple[str, ...],
                    include_undated: bool, limit: int, as_json: bool, no_llm: bool, model: str | None) -> None:
    """What happened: the window's articles grouped into stories, ranked by coverage.

    A story is the articles about one event or development, from any outlet;
    a syndicated copy counts once. Stories rank by how many outlets reported
    them, then how many articles, then how recent. Each gets one line, cited
    [n] to its own articles and checked like an answer, its outlets and its
    first and last days. Stories with articles you have not seen in an earlier
    `qa stories` on this library are marked new.

    A large event can come as several stories of a few articles each (one
    story stays small unless its articles are near-identical); stories whose
    centres are very close are pieces of one event, printed together under
    its best-ranked piece ("also 12.").

    \b
        qa stories                          # the last 7 days of the library
        qa stories --since 2025-01-01 --until 2025-01-31 --no-llm
        qa stories --source apnews.com --limit 5 --json
    """
    from qa.cli.assistant import open_assistant, start_sessions
    from qa.models import ModelError

    assistant = open_assistant(library, model, encoder=start_sessions())
    try:
        found = assistant.stories(since, until, sources, limit=limit or None, write=not no_llm,
                                  include_undated=include_undated)
    except ValueError as e:
        raise BadInput(str(e)) from None
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    _print(found)


def _print(found) -> None:
    from rich.console import Console
    from rich.markup import escape

    from qa.stories import by_event

    console = Console()
    span = found.where.describe() or "the whole library"
    if not found.stories:
        console.print(f"No articles in {escape(span)}.", highlight=False)
        return
    console.print(f"[bold]{len(found.stories)} stories[/] from {found.articles} articles ({escape(span)})",
                  highlight=False)
    for (i, story), *pieces in by_event(found.stories):
        console.print()
        _print_story(console, f"[bold]{i}.[/]", story, "   ")
        for n, piece in pieces:
            _print_story(console, f"   [bold]also {n}.[/]", piece, "      ")


def _print_story(console: Console, head: str, story: Story, indent: str) -> None:
    from rich.markup import escape

    new = " [bold green]new[/]" if story.new else ""
    console.print(f"{head}{new} {escape(story.text)}", highlight=False)
    meta = f"{len(story.all_articles)} articles · {len(story.outlets)} outlets"
    meta += f" · {story.days}" if story.days else ""
    console.print(f"{indent}[dim]{escape(meta)}: {escape(', '.join(story.outlets[:6]))}[/]", highlight=False)
    for c in story.citations:
        console.print(f"{indent}[bold][{c.n}][/] {escape(c.title)} [dim]({escape(c.source)}, {c.date or 'undated'})[/]",
                      highlight=False)
