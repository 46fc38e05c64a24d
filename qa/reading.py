"""Read article files (plain text, Markdown, HTML, JSON, JSON Lines, any of them gzipped) into
Article records.

A bulk import must not stop at one bad file or line, so problems are yielded as ReadError values
alongside the articles instead of being raised. JSON Lines files are streamed line by line so
large corpora never sit in memory whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from qa.dates import dated_by, is_dateline

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
GZIP_SUFFIX = ".gz"
MAX_PREFIX_CHARS = 60
MAX_TITLE_CHARS = 150
BINARY_SNIFF_BYTES = 8192
MAX_UNDECODABLE_SHARE = 0.05
# Limits that keep one odd file from exhausting memory or time. Whole-file formats are refused
# unread above MAX_FILE_BYTES (counted after decompression, so a gzip bomb stops there too); a
# JSON Lines file may be any size, but one line may not exceed MAX_LINE_BYTES; and an article
# whose cleaned text is longer than MAX_ARTICLE_CHARS (a book, not a news story) is refused
# rather than chunked for minutes.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_ARTICLE_CHARS = 500_000
_READ_BLOCK = 1 << 20

# qa.cleaning (its ~25 patterns compiled at import) is loaded by the first article read, not
# by every module that names an Article; one thread at a time (CPython 3.11, see qa/bm25.py).
_IMPORT = threading.Lock()

_UNSAFE_ID_CHARS_RE = re.compile(r"[^A-Za-z0-9_.-]+")
# Chat-template control tokens ("<|im_start|>", "<|eot_id|>", ...): llama.cpp parses them even inside
# a user message, so an article carrying them could open a fake system turn. No news text needs them.
_CHAT_TOKEN_RE = re.compile(r"<\|[^<>|\n]{0,40}\|>")
_MARKDOWN_HEADING_RE = re.compile(r"^#+\s*")
_CONTROL_CHARS = frozenset(chr(code) for code in range(32)) - set("\t\n\r\f")
_HTML_DROPPED_TAGS = (
    "script", "style", "noscript", "template", "svg", "title", "nav", "header", "footer", "aside", "form",
)
_HTML_BLOCK_TAGS = (
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
)
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class Article:
    """One article ready for indexing; `text` is cleaned and `content_hash` identifies duplicates."""

    id: str
    content_hash: str
    title: str
    text: str
    source: str
    url: str
    date: str | None
    # How ``date`` was found: one of qa.dates.DATE_SOURCES, or None (undated, or stored before
    # qa recorded it). A default, so code that builds Articles without it keeps working.
    date_source: str | None = None

    def to_dict(self, text: bool = True) -> dict:
        """The article as JSON (``qa list --json`` without ``text``, the server's and MCP's article):
        every field but ``content_hash``, which only ingest compares."""
        return {"id": self.id, "title": self.title, "date": self.date, "date_source": self.date_source,
                "source": self.source, "url": self.url, **({"text": self.text} if text else {})}


@dataclass(frozen=True)
class ReadError:
    """A file or record that could not be read, reported instead of raised."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class _NotText(ValueError):
    """Raised internally when bytes are binary rather than (mostly) UTF-8 text."""


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield the files named, and the supported files inside the folders named.

    Folders are walked recursively in sorted order, skipping hidden entries and symlinked folders
    (which could loop). Every path is checked before anything is yielded, so a typo fails fast.
    """
    checked = [Path(path) for path in paths]
    for path in checked:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
    for path in checked:
        yield from _walk(path) if path.is_dir() else [path]


def walk_paths(paths: Iterable[str | Path], ignored: list[str] | None = None) -> Iterator[Path | ReadError]:
    """Like :func:`iter_files`, for a bulk import that must not stop at one bad name: a path that
    does not exist, or a folder that cannot be listed, is a ReadError and the others still come.
    Files of unsupported types inside folders are skipped and, if ``ignored`` is given, listed there
    (a file named explicitly is yielded whatever its type; reading it says why it is refused)."""
    for path in (Path(p) for p in paths):
        if not path.exists():
            yield ReadError(str(path), None, "no such file or folder")
        elif path.is_dir():
            yield from _walk(path, errors=True, ignored=ignored)
        else:
            yield path


def read_paths(paths: Iterable[str | Path]) -> Iterator[Article | ReadError]:
    """Read every article in the files and folders named."""
    for path in iter_files(paths):
        yield from read_file(path)


def is_supported(path: str | Path) -> bool:
    """Whether the name says a format qa reads (looking through ".gz")."""
    return _format_suffix(Path(path)) in SUPPORTED_SUFFIXES


def file_digest(path: Path) -> tuple[str, int]:
    """sha256 and size of a file's bytes as stored (read in blocks, any size)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while block := stream.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def read_file(path: Path) -> Iterator[Article | ReadError]:
    """Yield the articles in one file, and a ReadError for each part that cannot be read."""
    path = Path(path)
    suffix = _format_suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        kind = "".join(path.suffixes) or path.name
        yield ReadError(str(path), None, f"unsupported file type {kind!r}")
        return
    try:
        if not path.is_file():  # a folder, a FIFO or a device would block or fail on open
            yield ReadError(str(path), None, "not a regular file")
            return
        if suffix == ".jsonl":
            yield from _read_jsonl(path)
        else:
            yield from _read_whole(path, suffix)
    except OSError as error:
        yield ReadError(str(path), None, f"cannot read file: {error.strerror or error}")


def _walk(folder: Path, errors: bool = False, ignored: list[str] | None = None) -> Iterator[Path | ReadError]:
    try:
        children = sorted(folder.iterdir())
    except OSError as error:
        if not errors:
            raise
        yield ReadError(str(folder), None, f"cannot list folder: {error.strerror or error}")
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if not child.is_symlink():
                yield from _walk(child, errors, ignored)
        elif _format_suffix(child) in SUPPORTED_SUFFIXES:
            yield child
        elif ignored is not None:
            ignored.append(str(child))


def _format_suffix(path: Path) -> str:
    """The suffix that decides the format, looking through a trailing ".gz"."""
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIX):
        name = name[: -len(GZIP_SUFFIX)]
    return Path(name).suffix


def _stem(path: Path) -> str:
    name = path.name[: -len(GZIP_SUFFIX)] if path.name.lower().endswith(GZIP_SUFFIX) else path.name
    return Path(name).stem


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.lower().endswith(GZIP_SUFFIX) else open(path, "rb")


def _decode(data: bytes) -> str:
    """Decode UTF-8, tolerating a few bad bytes in otherwise textual data (e.g. stray Latin-1)."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise _NotText("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
        sample = text[:BINARY_SNIFF_BYTES]  # valid UTF-8 can still be control bytes
        if sum(char in _CONTROL_CHARS for char in sample) > MAX_UNDECODABLE_SHARE * len(sample):
            raise _NotText("binary file (control characters)")
        return text
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
    bad = text.count("\ufffd") + sum(char in _CONTROL_CHARS for char in text)
    if bad > MAX_UNDECODABLE_SHARE * len(text):
        raise _NotText("binary file (not UTF-8 text)")
    return text


def _too_large(size: int, limit: int, what: str) -> str:
    return f"{what} too large ({size:,} bytes; the limit is {limit:,})"


def _read_whole(path: Path, suffix: str) -> Iterator[Article | ReadError]:
    advice = "; put one record per line in a .jsonl file" if suffix == ".json" else "; split it into smaller files"
    try:
        with _open_binary(path) as stream:
            if isinstance(stream, gzip.GzipFile):
                data = stream.read(MAX_FILE_BYTES + 1)  # never inflate more than the limit
                if len(data) > MAX_FILE_BYTES:
                    yield ReadError(str(path), None, f"file too large (over the limit of {MAX_FILE_BYTES:,} "
                                                     f"bytes uncompressed){advice}")
                    return
            else:
                size = os.fstat(stream.fileno()).st_size
                if size > MAX_FILE_BYTES:
                    yield ReadError(str(path), None, _too_large(size, MAX_FILE_BYTES, "file") + advice)
                    return
                data = stream.read(MAX_FILE_BYTES + 1)
            text = _decode(data)
            del data
    except _GZIP_ERRORS as error:
        yield ReadError(str(path), None, f"corrupt gzip data: {error}")
        return
    except _NotText as error:
        yield ReadError(str(path), None, str(error))
        return
    if not text.strip():
        yield ReadError(str(path), None, "empty file")
    elif suffix == ".json":
        yield from _read_json(path, text)
    elif suffix in (".html", ".htm"):
        yield _html_article(path, text)
    else:
        yield _text_file_article(path, text)


def _read_json(path: Path, text: str) -> Iterator[Article | ReadError]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        yield _json_error(path, getattr(error, "lineno", None), error)
        return
    records = data if isinstance(data, list) else [data]
    if not records:
        yield ReadError(str(path), None, "no records (empty JSON list)")
    for number, record in enumerate(records, 1):
        result = _record_article(path, record, f"{_stem(path)}-{number}", None)
        if isinstance(result, ReadError) and len(records) > 1:
            result = ReadError(result.path, None, f"record {number}: {result.message}")
        yield result


def _read_jsonl(path: Path) -> Iterator[Article | ReadError]:
    found_record = False
    line_number = 0
    try:
        with _open_binary(path) as stream:
            if b"\x00" in stream.peek(BINARY_SNIFF_BYTES)[:BINARY_SNIFF_BYTES]:
                yield ReadError(str(path), None, "binary file (contains NUL bytes)")
                return
            while raw := stream.readline(MAX_LINE_BYTES + 1):  # a bounded read, however long the line
                line_number += 1
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    size = len(raw) + _skip_line(stream)
                    found_record = True
                    yield ReadError(str(path), line_number, _too_large(size, MAX_LINE_BYTES, "line") +
                                    "; split the record")
                    continue
                if not raw.strip():
                    continue
                found_record = True
                yield _jsonl_record(path, raw, line_number)
    except _GZIP_ERRORS as error:
        yield ReadError(str(path), None, f"corrupt gzip data after line {line_number}: {error}")
        return
    if not found_record:
        yield ReadError(str(path), None, "empty file")


def _skip_line(stream: IO[bytes]) -> int:
    """Read past the rest of an over-long line in bounded blocks; the bytes skipped."""
    skipped = 0
    while block := stream.readline(_READ_BLOCK):
        skipped += len(block)
        if block.endswith(b"\n"):
            break
    return skipped


def _jsonl_record(path: Path, raw: bytes, line_number: int) -> Article | ReadError:
    try:
        record = json.loads(_decode(raw))
    except _NotText as error:
        return ReadError(str(path), line_number, str(error))
    except (ValueError, RecursionError) as error:
        return _json_error(path, line_number, error)
    return _record_article(path, record, f"{_stem(path)}-{line_number}", line_number)


def _json_error(path: Path, line: int | None, error: Exception) -> ReadError:
    """Describe a parse failure; huge integers and deep nesting fail without a JSONDecodeError."""
    if isinstance(error, json.JSONDecodeError):
        return ReadError(str(path), line, f"invalid JSON: {error.msg} at column {error.colno}")
    return ReadError(str(path), line, f"invalid JSON: {error}")


def _record_article(
    path: Path, record: Any, fallback_prefix: str, line: int | None
) -> Article | ReadError:
    if not isinstance(record, dict):
        return ReadError(str(path), line, f"record is a JSON {type(record).__name__}, not an object")
    if not isinstance(record.get("text"), str):
        problem = "has no" if record.get("text") is None else "has a non-string"
        return ReadError(str(path), line, f'record {problem} "text" field')
    url = _field(record, "url")
    return _make_article(
        path,
        line,
        prefix=_field(record, "id") or fallback_prefix,
        raw_text=record["text"],
        title=_field(record, "title"),
        source=_field(record, "source") or _host(url) or path.name,
        url=url or str(path.resolve()),
        declared_date=_field(record, "date"),
        date_url=url,
    )


def _field(record: dict[str, Any], name: str) -> str:
    """A record's optional scalar field as stripped text ("" when absent or not a scalar)."""
    value = record.get(name)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return " ".join(str(value).split())
    return ""


def _host(url: str) -> str:
    try:
        host = urlparse(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _text_file_article(path: Path, text: str) -> Article | ReadError:
    return _make_article(
        path,
        None,
        prefix=_stem(path),
        raw_text=text,
        title="",
        source=path.name,
        url=str(path.resolve()),
        declared_date=None,
        date_url="",
    )


def _html_article(path: Path, html: str) -> Article | ReadError:
    """Main text and metadata via trafilatura, with a plain visible-text fallback."""
    import trafilatura

    metadata = trafilatura.extract_metadata(html)
    text = trafilatura.extract(html, include_comments=False, favor_precision=True) or _visible_text(html)
    return _make_article(
        path,
        None,
        prefix=_stem(path),
        raw_text=text,
        title=" ".join((metadata.title or "").split()) if metadata else "",
        source=(metadata.sitename if metadata and metadata.sitename else path.name),
        url=str(path.resolve()),
        declared_date=metadata.date if metadata else None,
        date_url=(metadata.url or "") if metadata else "",
    )


_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _visible_text(html: str) -> str:
    """Text a reader would see, minus scripts, styles and page chrome elements."""
    import lxml.html
    from lxml.etree import ParserError

    html = _XML_INCOMPATIBLE.sub(" ", html)  # lxml refuses control characters anywhere in the tree
    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return ""
    for element in list(root.iter(*_HTML_DROPPED_TAGS)):
        element.drop_tree()
    for element in root.iter(*_HTML_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return root.text_content()


def _make_article(
    path: Path,
    line: int | None,
    *,
    prefix: str,
    raw_text: str,
    title: str,
    source: str,
    url: str,
    declared_date: str | None,
    date_url: str,
) -> Article | ReadError:
    raw_text, title, source = _defuse(raw_text), _defuse(title), _defuse(source)
    if len(raw_text) > 4 * MAX_ARTICLE_CHARS:  # not a news article whatever cleaning removes: skip the work
        return ReadError(str(path), line, f"article text too long ({len(raw_text):,} characters; the limit is "
                                          f"{MAX_ARTICLE_CHARS:,}); split it into several articles")
    with _IMPORT:
        from qa.cleaning import clean_text
    text = clean_text(raw_text)
    if not any(char.isalnum() for char in text):
        return ReadError(str(path), line, "no article text left after removing page furniture")
    if len(text) > MAX_ARTICLE_CHARS:
        return ReadError(str(path), line, f"article text too long ({len(text):,} characters; the limit is "
                                          f"{MAX_ARTICLE_CHARS:,}); split it into several articles")
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    title = title or _first_title_line(text, markdown=_format_suffix(path) == ".md")
    date, date_source = dated_by(text, title=title, url=date_url, declared=declared_date)
    return Article(
        id=f"{_slug(prefix)}-{content_hash[:12]}",
        content_hash=content_hash,
        title=title,
        text=text,
        source=source,
        url=url,
        date=date,
        date_source=date_source,
    )


def _defuse(text: str) -> str:
    return _CHAT_TOKEN_RE.sub(" ", text) if "<|" in text else text


def _first_title_line(text: str, markdown: bool) -> str:
    """The first line with words that is not a bare dateline, shortened to a headline's length."""
    for line in text.split("\n"):
        candidate = _MARKDOWN_HEADING_RE.sub("", line) if markdown else line
        if any(char.isalpha() for char in candidate) and not is_dateline(candidate):
            return _shorten(candidate)
    return ""


def _shorten(line: str) -> str:
    if len(line) <= MAX_TITLE_CHARS:
        return line
    return line[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _slug(value: str) -> str:
    slug = _UNSAFE_ID_CHARS_RE.sub("-", value).strip("-")[:MAX_PREFIX_CHARS].strip("-")
    return slug or "article"
