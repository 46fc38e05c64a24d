"""The rows of a Milvus library's generations: what a write adds under generation N+1.

Every chunk and article row carries the generation that ``added`` it and the one that
``removed`` it (0: live); each generation's manifest is a row of its own. Chunk ids are
derived from the article id and the chunk's span, so re-ingesting upserts the same rows
instead of adding duplicates. An article's text is kept in parts of at most ``TEXT_PART``
characters (a Milvus string holds 64 KiB).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np

from qa.library.change import Change
from qa.library.milvus.expressions import month
from qa.reading import Article
from qa.reading.chunking import Chunk, embed_text

TEXT_PART = 16_000   # characters per article-text row (UTF-8 at most 4 bytes each: under 64 KiB)
ARTICLE_FIELDS = ["article_id", "part", "content_hash", "title", "source", "url", "date", "text"]


def manifest_key(generation: int) -> str:
    """Each generation's manifest is a row of its own: a reader during the switch finds the old
    row or both (and takes the newest), never none, as it could while one row was upserted (an
    upsert is a delete and an insert, and a reader can fall between them)."""
    return f"manifest/{generation:012d}"


def chunk_id(article_id: str, start: int, end: int) -> int:
    """A chunk's id: the same article text always gives the same ids (re-ingest upserts)."""
    digest = hashlib.blake2b(f"{article_id}:{start}:{end}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2 ** 63 - 1)


def chunk_rows(chunks: list[Chunk], vectors: np.ndarray, articles: Mapping[str, Article], generation: int,
               with_month: bool) -> list[dict]:
    """The chunk rows ``generation`` adds; ``with_month`` where the collection has that field."""
    rows = []
    for c, v in zip(chunks, vectors):
        a = articles[c.article_id]
        row = {"id": chunk_id(c.article_id, c.start, c.end), "vector": v.tolist(),
               "text": embed_text(a.title, c.text), "article_id": c.article_id, "start": c.start,
               "end": c.end, "added": generation, "removed": 0, "date": a.date or "",
               "source_key": (a.source or "").lower()}
        if with_month:
            row["month"] = month(a.date)
        rows.append(row)
    return rows


def article_rows(articles: Iterable[Article], generation: int, with_date_source: bool) -> list[dict]:
    """The article rows (one per text part) ``generation`` adds; ``with_date_source`` where the
    collection has that field (one made before it cannot be given it)."""
    return [{"key": f"{a.id}/{i}", "article_id": a.id, "part": i, "content_hash": a.content_hash,
             "title": a.title or "", "source": a.source or "", "url": a.url or "", "date": a.date or "",
             "text": a.text[i * TEXT_PART:(i + 1) * TEXT_PART], "added": generation, "removed": 0,
             "v": [0.0, 0.0], **({"date_source": a.date_source or ""} if with_date_source else {})}
            for a in articles for i in range(max(1, -(-len(a.text) // TEXT_PART)))]


def articles_from(rows: list[dict]) -> dict[str, Article]:
    """Articles from their text-part rows (in any order), by id."""
    grouped: dict[str, list[dict]] = {}
    for r in rows:
        grouped.setdefault(r["article_id"], []).append(r)
    found = {}
    for aid, parts in grouped.items():
        parts.sort(key=lambda r: r["part"])
        first = parts[0]
        found[aid] = Article(id=aid, content_hash=first["content_hash"], title=first["title"],
                             text="".join(p["text"] for p in parts), source=first["source"],
                             url=first["url"], date=first["date"] or None,
                             date_source=first.get("date_source") or None)
    return found


def file_key(path: str) -> str:
    """The NAME_meta key of the file record of ``path``."""
    return "file:" + hashlib.sha1(path.encode()).hexdigest()


def apply_to_files(records: dict[str, dict], change: Change) -> set[str]:
    """Apply the change's file links and hashes to the file ``records`` (by path, in place);
    the paths whose record changed."""
    touched = {p for p, _ in change.links | change.unlinks} | set(change.files)
    for path, rec in records.items():
        if change.remove & set(rec["articles"]):
            rec["articles"] = sorted(set(rec["articles"]) - change.remove)
            rec["sha256"] = ""  # read it again next time: what it gave is gone
            touched.add(path)
    for path in touched:
        rec = records.setdefault(path, {"path": path, "sha256": "", "size": 0, "articles": []})
        held = (set(rec["articles"]) - {a for p, a in change.unlinks if p == path}) | {
            a for p, a in change.links if p == path}
        rec["articles"] = sorted(held)
        if path in change.files:
            rec["sha256"], rec["size"] = change.files[path]
    return touched
