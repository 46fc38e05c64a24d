"""How `qa ask` shows the outlets that carry a cited story (see ``qa.outlets``): a line under each
source naming them, and with ``--compare-sources`` every outlet's version of the cited sentence."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from qa.answering import Citation
from qa.outlets import SideBySide, also_reported
from qa.reading.dates import is_inferred


def print_also_reported(console: Console, citation: Citation) -> None:
    """"also reported by …" under a source, when other outlets carry its story."""
    line = also_reported(citation.source, (a["source"] for a in citation.also_in))
    if line:
        console.print(f"    [dim]{escape(line)}[/]", highlight=False)


def print_side_by_side(console: Console, compare: list[SideBySide]) -> None:
    """Each outlet's version of each cited sentence, with what it adds to and lacks from the
    cited one (numbers and names)."""
    console.print()
    if not compare:
        console.print("[bold]Side by side[/]: no other outlet in the library carries the cited passages.")
        return
    console.print("[bold]Side by side[/]")
    for entry in compare:
        for i, v in enumerate(entry.versions):
            lead = f"[bold][{entry.citation}][/]" if i == 0 else " " * (len(str(entry.citation)) + 2)
            day = f"{v.date}~ ({v.date_source})" if v.date and is_inferred(v.date_source) else v.date or "undated"
            meta = " · ".join(x for x in (v.source, day, v.url) if x)
            console.print(f"{lead} [dim]{escape(meta)}[/]", highlight=False)
            if v.quote is None:
                console.print(f"    [italic]no matching sentence (closest: {v.similarity:.0f}% alike)[/]")
                continue
            console.print(f"    “{escape(v.quote)}”", highlight=False)
            differs = "; ".join(x for x in (
                f"has {', '.join(v.adds)}" if v.adds else "",
                f"lacks {', '.join(v.lacks)}" if v.lacks else "") if x)
            if differs:
                console.print(f"    [yellow]differs from [{entry.citation}]: {escape(differs)}[/]", highlight=False)
            elif i:
                console.print("    [dim]same numbers and names[/]")
