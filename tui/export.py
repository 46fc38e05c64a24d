"""A conversation as a Markdown file: each question, its answer, and a Sources list
(title, date, source, url and the quoted sentence) per answer."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from tui.store import Turn

ABSTAIN_LINE = "The articles don't say — closest passages:"
EXCERPT = 240


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _excerpt(text: str, limit: int = EXCERPT) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit] + "…"


def _source_line(src: dict) -> str:
    meta = " · ".join(str(x) for x in (src.get("date"), src.get("source")) if x)
    line = f"- [{src['n']}] **{_one_line(src.get('title') or 'Untitled')}**"
    if meta:
        line += f" — {meta}"
    if src.get("url"):
        line += f" — <{src['url']}>"
    return line


def chat_markdown(turns: list[Turn], title: str | None = None, library: str | None = None,
                  model: str | None = None, when: datetime | None = None) -> str:
    """The Markdown text of a conversation."""
    when = when or datetime.now()
    lines = [f"# {_one_line(title or (turns[0].question if turns else 'qa chat'))}", ""]
    meta = [f"Exported {when:%Y-%m-%d %H:%M}"]
    if library:
        meta.append(f"library `{library}`")
    if model:
        meta.append(f"model `{model}`")
    lines += [" · ".join(meta), ""]
    for i, turn in enumerate(turns, 1):
        lines += [f"## {i}. {_one_line(turn.question)}", ""]
        if turn.abstained:
            lines += [f"*{ABSTAIN_LINE}*", ""]
        else:
            lines += [turn.text.strip(), ""]
        cited = turn.cited_passages()
        if cited:
            if not turn.abstained:
                lines += ["Sources:" if turn.citations else "Passages (none cited):", ""]
            for src in cited:
                lines.append(_source_line(src))
                quote = src.get("quote") or _excerpt(src.get("text", ""))
                if quote:
                    lines.append(f"  > {_one_line(quote)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def default_export_name(title: str, when: datetime | None = None) -> str:
    """``qa-chat-YYYYmmdd-HHMMSS-first-words.md``."""
    when = when or datetime.now()
    slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:6])[:48].strip("-") or "chat"
    return f"qa-chat-{when:%Y%m%d-%H%M%S}-{slug}.md"


def export_chat(turns: list[Turn], path: str | Path | None = None, *, title: str | None = None,
                library: str | None = None, model: str | None = None) -> Path:
    """Write the conversation to ``path`` (a file, or a folder for the default name; default:
    the current directory) and return the absolute path written."""
    when = datetime.now()
    title = title or (turns[0].question if turns else "qa chat")
    target = Path(path).expanduser() if path else Path.cwd()
    if target.is_dir():
        target = target / default_export_name(title, when)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(chat_markdown(turns, title, library, model, when), encoding="utf-8")
    return target.resolve()
