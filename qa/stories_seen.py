"""New since you last looked: which articles a user has been shown stories of, per library.

Kept under the user's data directory (``$QA_HOME/stories/``), one file per library, named by a
hash of the library's address. A look marks as new the stories holding an article the previous
look did not see, then records the window's articles as seen. The very first look marks nothing
new: there is no earlier look to be new against. The file is replaced whole (written beside it,
then renamed), so a crash leaves the previous look intact.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from qa.paths import data_dir
from qa.stories import Story


def seen_file(address: str | Path) -> Path:
    """Where the looks at the library at ``address`` are kept."""
    key = str(Path(address).expanduser().resolve()) if "://" not in str(address) else str(address)
    return data_dir() / "stories" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def mark_new(stories: list[Story], address: str | Path, record: bool = True) -> str | None:
    """Set ``Story.new`` against the last look at this library and (``record``) remember this one;
    returns when the last look was (ISO time), or None for a first look."""
    path = seen_file(address)
    try:
        last = json.loads(path.read_text(encoding="utf-8"))
        seen, when = set(last["seen"]), last["when"]
    except (OSError, ValueError, KeyError, TypeError):
        seen, when = None, None
    for story in stories:
        story.new = seen is not None and any(a.id not in seen for a in story.all_articles)
    if record:
        now = {a.id for s in stories for a in s.all_articles}
        _write(path, {"address": str(address), "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      "seen": sorted(now | (seen or set()))})
    return when


def _write(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(value), encoding="utf-8")
    os.replace(part, path)
