"""What a write or a check did, as the CLI, the API and the TUI report it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qa.reading import Article, ReadError


@dataclass
class IngestReport:
    added: list[Article] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)   # ids of articles already in the library
    errors: list[ReadError] = field(default_factory=list)
    chunks: int = 0
    removed: list[str] = field(default_factory=list)      # ids replaced because their file changed
    unchanged: list[str] = field(default_factory=list)    # files skipped: same bytes as last time
    ignored: list[str] = field(default_factory=list)      # files of unsupported types inside folders

    def summary(self) -> str:
        parts = [f"{len(self.added)} articles added ({self.chunks} chunks)"]
        if self.removed:
            parts.append(f"{len(self.removed)} replaced by a changed file")
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} unchanged files skipped")
        parts.append(f"{len(self.duplicates)} duplicates skipped")
        if self.ignored:
            parts.append(f"{len(self.ignored)} files of other types ignored")
        parts.append(f"{len(self.errors)} failed")
        return ", ".join(parts)


@dataclass
class RemoveReport:
    removed: list[Article] = field(default_factory=list)
    chunks: int = 0


@dataclass
class DoctorReport:
    """What ``qa doctor`` found (``problems``), fixed (``repaired``) and could not fix."""

    path: Path | str
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

