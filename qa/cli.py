"""The ``qa`` command line: ingest articles, ask questions, list a library.

Exit codes: 0 answered or abstained (or all files ingested), 2 bad input
(missing library, unreadable or failed files), 1 any other error.
"""
from __future__ import annotations

import atexit
import gc
import json
from pathlib import Path

import click

from qa import __version__
from qa.cli_assistant import open_assistant, start_encoder
from qa.cli_common import (PathOrURL, filter_options, filters_from, library_option, model_option, progress_bar,
                           stderr_console)
from qa.errors import EXIT_BAD_INPUT, BadInput, LibraryError



# ``qa ask`` and ``qa timeline`` run with the garbage collector off: a cold question creates some
# 500,000 objects while it imports and opens, next to no garbage, and CPython's collector would
# walk them over and over (~0.1 s of a 0.7 s answer on 2 cores), then again at exit (~0.1 s).
# One question, then the process ends; every other command collects as usual.
QUESTION_COMMANDS = ("ask", "timeline")


def _collect() -> None:
    """Work that makes garbage is next (a command other than a question, indexing): collect."""
    gc.enable()


class _Commands(click.Group):
    """The group, with the commands of other modules imported only when one is run or listed:
    ``qa ask`` does not pay for the HTTP server's, the MCP server's or the maintenance imports.
    A question's command runs with the garbage collector off (``QUESTION_COMMANDS``)."""

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

    lazy = {"remove": ("qa.maintenance", "remove"), "doctor": ("qa.maintenance", "doctor"),
            "info": ("qa.info", "info"), "serve": ("qa.serve", "serve"), "mcp": ("qa.mcp_server", "mcp_command"),
            "libraries": ("qa.libraries", "libraries"), "stories": ("qa.cli_stories", "stories_command")}

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LibraryError as e:  # damage met after the library opened (a text that no longer reads): exit 2
            raise BadInput(str(e)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in QUESTION_COMMANDS:  # any other command runs with the collector on
            _collect()
        if name not in self.commands and name in self.lazy:
            import importlib

            module, attr = self.lazy[name]
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


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


@main.command()
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
    from qa.cli_ingest import run_ingest
    from qa.embedder import load_encoder
    from qa.paths import default_library_dir
    from qa.reading import web

    try:
        every_s = web.parse_every(every)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--every") from None
    encoder = load_encoder()
    if ray_address:
        from embeddings.ray_encoder import RayEncoder

        try:
            encoder = RayEncoder(encoder, ray_address, ray_actors, load=load_encoder)
        except RuntimeError as e:
            raise click.ClickException(str(e)) from None
    run_ingest(paths, library or default_library_dir(), encoder, watch, every_s)


@main.command()
@click.argument("question")
@library_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="Passages to retrieve.")
@model_option
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]),
              help="The date relative phrases in the question refer to (\"last week\"); default: today.")
@filter_options
@click.option("--timeline/--no-timeline", default=None,
              help="Answer as dated entries, one per period (default: when the question asks how something "
                   "changed, \"over the years\", \"from 2003 to 2024\", \"since 2013\").")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (answer, citations, passages, timings).")
@click.option("--no-llm", is_flag=True,
              help="Retrieval only: print the passages the model would read (in about a second), no answer.")
@click.option("--compare-sources", is_flag=True,
              help="Where other outlets carry a cited story, show each outlet's version of the cited sentence.")
def ask(question: str, library: Path | str | None, k: int, model: str | None, today, since: str | None,
        until: str | None, sources: tuple[str, ...], include_undated: bool, timeline: bool | None, as_json: bool,
        no_llm: bool, compare_sources: bool) -> None:
    """Answer QUESTION from the library's articles, citing passages as [n].

    When the articles don't answer it, says so and shows the closest passages.
    A question about change over time gets a timeline: one cited entry per
    period the library covers, oldest first.

    \b
    Filtered:
        qa ask "What did Lavrov say?" --since 2010 --until 2014
        qa ask "Who reported the talks?" --source voanews.com --source "Press Association"
    """
    where = filters_from(since, until, sources, include_undated)
    encoder = start_encoder()
    _answer(question, library, model, k, today.date() if today else None, where, timeline, as_json, no_llm,
            compare_sources, encoder)


@main.command("timeline")
@click.argument("topic")
@library_option
@model_option
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, with \"timeline\": the dated entries.")
@click.option("--no-llm", is_flag=True, help="Retrieval only: each period's passages, no entries written.")
def timeline_command(topic: str, library: Path | str | None, model: str | None, since: str | None,
                     until: str | None, sources: tuple[str, ...], include_undated: bool, as_json: bool,
                     no_llm: bool) -> None:
    """How TOPIC developed: dated entries, oldest first, each from its own period's articles.

    Each period the library holds for the topic (its years; months within one
    year) is searched on its own, so a busy year does not hide a quiet one.
    Every entry cites an article of its period and is checked against it;
    undated articles come last, as "date unknown".

    \b
        qa timeline "Russia's stance on North Korea"
        qa timeline "six-party talks" --since 2003 --until 2013 --json
    """
    where = filters_from(since, until, sources, include_undated)
    encoder = start_encoder()
    _answer(topic, library, model, 5, None, where, True, as_json, no_llm, encoder=encoder)


def _answer(question: str, library, model, k: int, today, where, timeline: bool | None, as_json: bool,
            no_llm: bool, compare_sources: bool = False, encoder=None) -> None:
    from qa.answering import Answer, Sources
    from qa.cli_stream import StreamedText, Waiting, is_terminal, print_sources
    from qa.models import ModelError

    assistant = open_assistant(library, model, k, encoder)
    if no_llm:
        _print_passages(assistant, question, today, where, timeline, as_json)
        return
    waiting, streamed = Waiting(), StreamedText()
    assistant.progress = waiting.progress
    try:
        answer = None
        for item in assistant.stream(question, today=today, where=where, timeline=timeline,
                                     compare_sources=compare_sources):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, Sources):
                if not as_json:
                    print_sources(item, getattr(assistant.encoder, "abstain_below", 0.0))
                    waiting.say("the model is reading the passages…")
            else:
                waiting.stop()
                if not as_json and is_terminal():
                    streamed.add(item)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise BadInput(str(e)) from None
    finally:
        waiting.stop()
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    _print_answer(answer, text_shown=streamed.settle(answer.text))


def _print_passages(assistant, question: str, today, where, timeline: bool | None, as_json: bool) -> None:
    try:
        answer = assistant.retrieve_only(question, today=today, where=where, timeline=timeline)
    except ValueError as e:
        raise BadInput(str(e)) from None
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    from rich.console import Console

    console = Console()
    if answer.abstained:
        console.print(f"[bold yellow]{answer.text}[/]\n")
    if answer.periods:
        n = 0
        for period, count in answer.periods:
            _print_passage_list(console, answer.passages[n:n + count], period, first=n + 1)
            n += count
    else:
        _print_passage_list(console, answer.passages, "Closest passages" if answer.abstained else "Passages")
    console.print(f"[dim]retrieve {answer.timings['retrieve_s']:.1f}s[/]")


def _print_passage_list(console, passages, heading: str, first: int = 1) -> None:
    from rich.markup import escape

    if not passages:
        return
    console.print(f"[bold]{escape(heading)}[/]")
    for i, p in enumerate(passages, first):
        a = p.article
        meta = " · ".join(x for x in (a.date, a.source, f"score {p.score:.2f}") if x)
        console.print(f"[bold]{i}.[/] {escape(a.title)} [dim]({escape(meta)})[/]", highlight=False)
        snippet = " ".join(p.text.split())
        console.print(f"    {escape(snippet[:300])}{'…' if len(snippet) > 300 else ''}", highlight=False)


def _print_answer(answer, text_shown: bool = False) -> None:
    """The answer (unless ``text_shown``: it streamed as it is), its sources, its timings."""
    from rich.console import Console
    from rich.markup import escape

    from qa.cli_outlets import print_also_reported, print_side_by_side

    console = Console()
    if not text_shown:
        if answer.abstained:
            console.print(f"[bold yellow]{escape(answer.text)}[/]")
        elif answer.timeline:
            for entry in answer.timeline:
                day = f" [dim]({entry.date})[/]" if entry.date and entry.date[:len(entry.period)] == entry.period \
                    and entry.date != entry.period else ""
                console.print(f"[bold]{escape(entry.period)}[/]{day}  {escape(entry.text)}", highlight=False)
        else:
            console.print(escape(answer.text), highlight=False)
    console.print()
    shown = answer.citations if answer.citations else None
    if shown:
        console.print("[bold]Sources[/]")
        for c in shown:
            meta = " · ".join(x for x in (c.date, c.source) if x)
            console.print(f"[bold][{c.n}][/] {escape(c.title)} [dim]({escape(meta)})[/]", highlight=False)
            console.print(f"    “{escape(c.quote)}”", highlight=False)
            print_also_reported(console, c)
    else:
        _print_passage_list(console, answer.passages[:3], "Closest passages")
    if answer.compare is not None:
        print_side_by_side(console, answer.compare)
    t = answer.timings
    console.print(f"[dim]{answer.model} · retrieve {t.get('retrieve_s', 0):.1f}s · "
                  f"generate {t.get('generate_s', 0):.1f}s · total {t.get('total_s', 0):.1f}s[/]")


@main.command()
@library_option
@model_option
def chat(library: Path | str | None, model: str | None) -> None:
    """Open the full-screen chat: streaming answers, a sources panel, saved conversations.

    Enter sends, Esc cancels a running answer, F2 moves to the sources, F1 lists the
    keys; Ctrl+P opens the command palette (new chat, open chat, export, switch library or model).
    """
    from qa.library import library_exists

    if library is not None and not library_exists(library):  # as qa ask: no window over no library
        raise BadInput(f"no library at {library}; create one with: qa ingest PATH --library {library}")
    from tui.app import run_app

    run_app(library=library, model=model)


@main.command("list")
@library_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_articles(library: Path | str | None, as_json: bool) -> None:
    """List the articles in a library: id, date, title.

    A date marked ~ (2013-04-10~) was found by qa, not declared by the publisher: read from
    the URL, the title or a dateline, or taken from a dated copy of the same story ("twin").
    --json says how in "date_source" ("field", "url", "title", "dateline", "twin"; null:
    undated, or stored before qa recorded it).
    """
    from qa.reading.dates import is_inferred

    lib = open_assistant(library).library
    for a in lib.articles():
        if as_json:
            click.echo(json.dumps(a.to_dict(text=False), ensure_ascii=False))
        else:
            shown = f"{a.date}~" if a.date and is_inferred(a.date_source) else (a.date or "-")
            click.echo(f"{a.id}\t{shown:11}\t{a.title}")


@main.command("eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@library_option
@click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A questions file other than DATASET/questions.jsonl (same JSONL shape).")
@click.option("--limit", type=click.IntRange(1), help="Ask only the first N questions.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write predictions here (the format of shared/eval/score.py).")
@model_option
@click.option("--no-llm", is_flag=True, help="Retrieval only: recall figures without generating answers.")
@filter_options
@click.option("--window-days", type=click.IntRange(0), metavar="N",
              help="Ask each question over the N days up to its own date only (7: a reader asking \"this week\").")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def evaluate(dataset: Path, library: Path | str | None, questions: Path | None, limit: int | None, out: Path | None,
             model: str | None, no_llm: bool, since: str | None, until: str | None, sources: tuple[str, ...],
             include_undated: bool, window_days: int | None, as_json: bool) -> None:
    """Ask a dataset's questions and print recall@1/5/10, accuracy, abstained and answer times.

    DATASET is a folder with corpus.jsonl[.gz] and questions.jsonl (see
    shared/eval/README.md). Without --library the corpus is ingested once
    into a library named after the dataset and reused on later runs.
    """
    from qa.embedder import load_encoder
    from qa import evaluation
    from qa.api import Assistant
    from qa.library import create_library, library_exists
    from qa.paths import data_dir

    try:
        corpus = evaluation.corpus_path(dataset)
    except FileNotFoundError as e:
        raise BadInput(str(e)) from None
    target = library or data_dir() / "libraries" / f"eval-{dataset.resolve().name}"
    encoder = load_encoder()
    if not library_exists(target):
        bar, update = progress_bar()
        with bar:
            create_library(target, encoder).add([corpus], encoder, update)
    qs = evaluation.read_jsonl(questions or dataset / "questions.jsonl")[:limit]
    assistant = Assistant(target, model=model, encoder=encoder, k=10)
    bar, update = progress_bar()
    with bar:
        predictions, times = evaluation.run(assistant, qs, out, retrieval_only=no_llm,
                                            progress=lambda done: update("ask", done, len(qs)),
                                            where=filters_from(since, until, sources, include_undated),
                                            window_days=window_days)
    texts = [a["text"] for a in evaluation.read_jsonl(corpus)]
    result = {**evaluation.score(qs, texts, predictions), **evaluation.timing_summary(times)}
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:12} {value}")


def _register_settings() -> None:
    from qa.settings import Defaults

    main.context_settings["default_map"] = Defaults()  # $QA_HOME/config.toml, read when a command starts


_register_settings()
