"""What the commands print with rich: the passages (``qa ask --no-llm``), a finished answer with its
sources, timings and outlets, and on stderr the progress bar and notices. Rich is imported only
when something is printed, not when a command starts (a ``--json`` answer never imports it)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def print_passages(answer) -> None:
    """``qa ask --no-llm``: the passages the model would read (each period's, for a timeline), no answer."""
    from rich.console import Console

    console = Console()
    if answer.abstained:
        console.print(f"[bold yellow]{answer.text}[/]\n")
    if answer.periods:
        n = 0
        for period, count in answer.periods:
            print_passage_list(console, answer.passages[n:n + count], period, first=n + 1)
            n += count
    else:
        print_passage_list(console, answer.passages, "Closest passages" if answer.abstained else "Passages")
    console.print(f"[dim]retrieve {answer.timings['retrieve_s']:.1f}s[/]")


def print_passage_list(console: Console, passages, heading: str, first: int = 1) -> None:
    """Numbered passages under ``heading``: title, date, outlet, score and the start of the text."""
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


def print_answer(answer, text_shown: bool = False) -> None:
    """The answer (unless ``text_shown``: it streamed as it is), its sources, its timings."""
    from rich.console import Console
    from rich.markup import escape

    from qa.cli.outlets import print_also_reported, print_side_by_side

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
        print_passage_list(console, answer.passages[:3], "Closest passages")
    if answer.compare is not None:
        print_side_by_side(console, answer.compare)
    t = answer.timings
    console.print(f"[dim]{answer.model} · retrieve {t.get('retrieve_s', 0):.1f}s · "
                  f"generate {t.get('generate_s', 0):.1f}s · total {t.get('total_s', 0):.1f}s[/]")


def progress_bar() -> tuple[Progress, Callable[[str, int, int], None]]:
    """A rich progress bar driven by the library's (stage, done, total) callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=stderr_console(), transient=False)
    tasks: dict[str, int] = {}
    labels = {"read": "reading articles", "embed": "embedding chunks", "ask": "asking questions"}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(labels.get(stage, stage), total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)
    return bar, update


def stderr_console() -> Console:
    """A rich console on stderr: progress and notices stay out of what a command prints on stdout."""
    from rich.console import Console

    return Console(stderr=True)
