"""``qa eval``: a dataset's questions asked over its corpus, scored as shared/eval/score.py scores them."""
from __future__ import annotations

import json
from pathlib import Path

import click

from qa.cli.options import filter_options, filters_from, library_option, model_option
from qa.cli.output import progress_bar
from qa.errors import BadInput


@click.command("eval")
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
    from qa import evaluation, loaders
    from qa.api import Assistant
    from qa.library import create_library, library_exists
    from qa.paths import data_dir

    try:
        corpus = evaluation.corpus_path(dataset)
    except FileNotFoundError as e:
        raise BadInput(str(e)) from None
    target = library or data_dir() / "libraries" / f"eval-{dataset.resolve().name}"
    encoder = loaders.encoder()
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
