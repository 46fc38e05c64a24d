"""Saved conversations: one SQLite file, ``chats.db`` in the data directory.

A chat is a title, the library and model it was held with, and its turns.
Each turn keeps the question, the answer text, whether it abstained, and the
citations and passages as JSON (the ``qa ask --json`` shapes, plus each
passage's character span in its article), so that a reopened chat shows the
same answers and sources without asking again.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from qa.paths import data_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, library TEXT, model TEXT,
    created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    question TEXT NOT NULL, answer TEXT NOT NULL, abstained INTEGER NOT NULL,
    citations TEXT NOT NULL, passages TEXT NOT NULL, model TEXT, timings TEXT,
    created TEXT NOT NULL, timeline TEXT);
CREATE INDEX IF NOT EXISTS turns_chat ON turns(chat_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Turn:
    """One question and its answer, as the app shows, saves and exports it.

    ``citations``: dicts with n, article_id, title, date, source, url, quote
    (citation n refers to ``passages[n - 1]``). ``passages``: dicts with
    article_id, title, date, source, url, text, score, start, end."""

    question: str
    text: str
    abstained: bool
    citations: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    model: str = ""
    timings: dict = field(default_factory=dict)
    timeline: list[dict] | None = None  # dated entries (period, date, text, citations), for a timeline answer

    @classmethod
    def from_answer(cls, answer) -> "Turn":
        """From a :class:`qa.answering.Answer` (its ``to_dict()`` plus passage spans)."""
        d = answer.to_dict()
        passages = d["passages"]
        for p, pd in zip(answer.passages, passages, strict=True):
            pd["start"], pd["end"] = p.chunk.start, p.chunk.end
        return cls(answer.question, d["answer"], d["abstained"], d["citations"], passages,
                   d["model"], d["timings"], d.get("timeline"))

    def passage(self, n: int) -> dict | None:
        return self.passages[n - 1] if 0 < n <= len(self.passages) else None

    def cited_passages(self) -> list[dict]:
        """What the passages panel and the export list: the cited passages, each with its
        number and quote; for an abstention (or an answer citing nothing) the closest
        passages, numbered in order, without a quote."""
        out = []
        period = {n: e["period"] for e in self.timeline or () for n in e["citations"]}
        if self.citations:
            for c in sorted(self.citations, key=lambda c: c["n"]):
                p = self.passage(c["n"]) or {}
                out.append({**p, **{k: c[k] for k in ("article_id", "title", "date", "source", "url")},
                            "n": c["n"], "quote": c.get("quote") or "", "text": p.get("text", ""),
                            **({"period": period[c["n"]]} if c["n"] in period else {})})
        else:
            for n, p in enumerate(self.passages, 1):
                out.append({**p, "n": n, "quote": ""})
        return out


@dataclass
class ChatSummary:
    id: int
    title: str
    library: str | None
    model: str | None
    created: str
    updated: str
    turns: int


class ChatStore:
    """The saved chats. Use from one thread (the app's)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else data_dir() / "chats.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(turns)")}
        if "timeline" not in columns:  # a chats.db from before timelines
            with self.db:
                self.db.execute("ALTER TABLE turns ADD COLUMN timeline TEXT")

    def close(self) -> None:
        self.db.close()

    def create_chat(self, title: str, library: str | None = None, model: str | None = None) -> int:
        now = _now()
        with self.db:
            cur = self.db.execute("INSERT INTO chats (title, library, model, created, updated) "
                                  "VALUES (?, ?, ?, ?, ?)", (title, library, model, now, now))
        return int(cur.lastrowid)

    def add_turn(self, chat_id: int, turn: Turn) -> None:
        now = _now()
        with self.db:
            self.db.execute(
                "INSERT INTO turns (chat_id, question, answer, abstained, citations, passages, model, "
                "timings, created, timeline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chat_id, turn.question, turn.text, int(turn.abstained), json.dumps(turn.citations),
                 json.dumps(turn.passages), turn.model, json.dumps(turn.timings), now,
                 None if turn.timeline is None else json.dumps(turn.timeline)))
            self.db.execute("UPDATE chats SET updated = ?, model = ? WHERE id = ?", (now, turn.model, chat_id))

    def list_chats(self) -> list[ChatSummary]:
        rows = self.db.execute(
            "SELECT c.id, c.title, c.library, c.model, c.created, c.updated, count(t.id) FROM chats c "
            "LEFT JOIN turns t ON t.chat_id = c.id GROUP BY c.id ORDER BY c.updated DESC, c.id DESC").fetchall()
        return [ChatSummary(*row) for row in rows]

    def chat(self, chat_id: int) -> ChatSummary | None:
        return next((c for c in self.list_chats() if c.id == chat_id), None)

    def turns(self, chat_id: int) -> list[Turn]:
        rows = self.db.execute("SELECT question, answer, abstained, citations, passages, model, timings, "
                               "timeline FROM turns WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()
        return [Turn(q, a, bool(ab), json.loads(c), json.loads(p), m or "", json.loads(t or "{}"),
                     json.loads(tl) if tl else None)
                for q, a, ab, c, p, m, t, tl in rows]

    def delete_chat(self, chat_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))
