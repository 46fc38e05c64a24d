"""The question commands: ``qa ask``, ``qa timeline`` (one question, printed as it is answered) and
``qa chat`` (the full-screen chat over the same Assistant)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from qa.cli.assistant import open_assistant, start_sessions
from qa.cli.options import filter_options, filters_from, library_option, model_option
from qa.errors import BadInput


@click.command()
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
    encoder = start_sessions()
    _answer(question, library, model, k, today.date() if today else None, where, timeline, as_json, no_llm,
            compare_sources, encoder)


@click.command("timeline")
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
    encoder = start_sessions()
    _answer(topic, library, model, 5, None, where, True, as_json, no_llm, encoder=encoder)


def _answer(question: str, library, model, k: int, today, where, timeline: bool | None, as_json: bool,
            no_llm: bool, compare_sources: bool = False, encoder=None) -> None:
    """Open the Assistant and print what it finds: the passages (``no_llm``), or the passages at once,
    the answer as it is written and then checked; with ``as_json`` one object only."""
    from qa.answering import Answer, Sources
    from qa.cli.stream import StreamedText, Waiting, is_terminal, print_sources
    from qa.models import ModelError

    assistant = open_assistant(library, model, k, encoder)
    if no_llm:
        try:
            found = assistant.retrieve_only(question, today=today, where=where, timeline=timeline)
        except ValueError as e:
            raise BadInput(str(e)) from None
        if as_json:
            click.echo(json.dumps(found.to_dict(), ensure_ascii=False))
        else:
            from qa.cli.output import print_passages

            print_passages(found)
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
    from qa.cli.output import print_answer

    print_answer(answer, text_shown=streamed.settle(answer.text))


@click.command()
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
