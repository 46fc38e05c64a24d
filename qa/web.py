"""Web pages and RSS/Atom feeds for ``qa ingest URL...``, and ``qa ingest --watch``.

News arrives as pages and feeds, not folders of files. A page is fetched and read as local
HTML is (trafilatura: main text, title, date, outlet); a feed (feedparser) stands for its
entries' pages, each dated by the feed and named after it. Each fetched article is kept as
one JSON record in the cache (``$QA_CACHE/web``) and ingested like any ``.json`` file, so the
library's usual rules hold: the same text goes in once, a page whose text changed replaces
its article, an unchanged one is skipped by hash.

Fetching is polite and bounded: a user agent that says what it is, robots.txt obeyed at
every hop of a redirect, at most MAX_REDIRECTS redirects, TIMEOUT_S per read and DEADLINE_S
for all of a URL, MAX_PAGE_BYTES per response, MAX_FEED_ENTRIES per feed (saying so when a
feed lists more) and MAX_TITLE characters of a title. A page is decoded in the charset it
declares. A URL that fails is reported like a bad file (``URL: why``) and the others still go in.
"""
from __future__ import annotations

import codecs
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.robotparser import RobotFileParser

from qa import __version__
from qa.reading import ReadError

USER_AGENT = f"qa-news/{__version__} (offline news question answering; fetches only what its user asked for)"
TIMEOUT_S = 20.0  # for each read
DEADLINE_S = 60.0  # for all of one URL, redirects included: a page that drips in slowly is given up
MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_FEED_ENTRIES = 200
MAX_TITLE = 500  # characters of a title or an outlet's name
_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(r"<meta[^>]+" + _CHARSET.pattern, re.IGNORECASE)


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


class FetchError(Exception):
    """Why one URL could not be read (its message names no URL: the caller does)."""


@dataclass
class Fetcher:
    """HTTP GETs under the rules above; robots.txt is read once per host (scheme, host and port)
    and asked at every hop of a redirect."""

    client: object = None
    robots: dict[str, RobotFileParser] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import httpx

        self.client = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT_S, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def allowed(self, url: str) -> bool:
        parts = urlparse(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.robots:
            parser = RobotFileParser()
            try:
                status, body, _, _ = self._follow(f"{origin}/robots.txt", robots=False)
                parser.parse(body.decode("utf-8", "replace").splitlines() if status < 400 else [])
            except FetchError:
                parser.parse([])  # no robots.txt to be had: nothing is disallowed
            self.robots[origin] = parser
        return self.robots[origin].can_fetch(USER_AGENT, url)

    def get(self, url: str) -> tuple[bytes, str, str]:
        """The body, its content type and the final URL (after redirects)."""
        status, body, kind, final = self._follow(url)
        if status >= 400:
            raise FetchError(f"HTTP {status}")
        return body, kind, final

    def _follow(self, url: str, robots: bool = True) -> tuple[int, bytes, str, str]:
        """``url``'s response after up to MAX_REDIRECTS redirects, each hop's URL asked of its
        own host's robots.txt (a redirect may lead to another host or port)."""
        start, deadline = url, time.monotonic() + DEADLINE_S
        for _ in range(MAX_REDIRECTS + 1):
            if robots and not self.allowed(url):
                hop = "" if url == start else f"it redirects to {url}, which "
                raise FetchError(f"{hop}robots.txt of {urlparse(url).netloc} disallows fetching it")
            status, body, kind, location = self._get(url, deadline)
            if status not in (301, 302, 303, 307, 308) or not location:
                return status, body, kind, url
            url = urljoin(url, location)
            if not is_url(url):
                raise FetchError(f"a redirect to {url!r}, which is not http(s)")
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _get(self, url: str, deadline: float) -> tuple[int, bytes, str, str]:
        """One GET: the status, the body, its content type, and the Location a redirect names."""
        import httpx

        late = FetchError(f"not whole within {DEADLINE_S:g} s (the server sends it too slowly)")
        try:
            with self.client.stream("GET", url, timeout=max(0.01, min(TIMEOUT_S, deadline - time.monotonic()))) \
                    as response:
                declared = int(response.headers.get("content-length") or 0)
                if declared > MAX_PAGE_BYTES:
                    raise FetchError(f"response too large ({declared:,} bytes; the limit is {MAX_PAGE_BYTES:,})")
                body = bytearray()
                for block in response.iter_bytes():
                    body += block
                    if len(body) > MAX_PAGE_BYTES:
                        raise FetchError(f"response too large (over {MAX_PAGE_BYTES:,} bytes)")
                    if time.monotonic() > deadline:
                        raise late
                return (response.status_code, bytes(body), response.headers.get("content-type", ""),
                        response.headers.get("location", ""))
        except httpx.TimeoutException:
            raise (late if time.monotonic() >= deadline else FetchError(f"no answer within {TIMEOUT_S:g} s")) from None
        except httpx.HTTPError as e:
            raise FetchError(f"cannot fetch: {e}") from None


def _looks_like_feed(body: bytes, kind: str) -> bool:
    head = body[:512].lstrip().lower()
    return any(k in kind for k in ("rss", "atom", "/xml")) or head.startswith((b"<?xml", b"<rss", b"<feed"))


def _entry_date(entry) -> str | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", stamp) if stamp else None


def page_record(html: str, url: str) -> dict:
    """What trafilatura finds in a page, as a qa JSON record (the fields ``qa ingest`` reads)."""
    import trafilatura

    from qa.reading import _host, _visible_text

    metadata = trafilatura.extract_metadata(html)
    text = trafilatura.extract(html, include_comments=False, favor_precision=True) or _visible_text(html)
    return {"id": _slug_url(url), "url": url, "text": text,
            "title": one_line(metadata.title if metadata else ""),
            "date": metadata.date if metadata and metadata.date else None,
            "source": one_line(metadata.sitename if metadata and metadata.sitename else _host(url))}


def one_line(text: str | None) -> str:
    """A title or outlet name as one line of at most MAX_TITLE characters: a page or feed may
    put anything there (a 60,000-character feed title was once stored whole)."""
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE - 1].rstrip() + "…"


def _slug_url(url: str) -> str:
    parts = urlparse(url)
    return re.sub(r"[^a-z0-9]+", "-", f"{parts.netloc}{parts.path}".lower()).strip("-")[:60] or "page"


class WebCache:
    """Fetched articles as JSON records in ``folder``, one file per URL, and the feed entries
    already fetched (so a watched feed fetches only new or updated entries' pages)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, url: str) -> Path:
        return self.folder / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.json"

    def write(self, url: str, record: dict) -> Path:
        path = self.path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        return path

    def read(self, url: str) -> dict | None:
        try:
            return json.loads(self.path(url).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def fetch(inputs: Iterable[str | Path], on_error: Callable[[ReadError], None],
          cache: WebCache | None = None, say: Callable[[str], None] = lambda line: None) -> list[str | Path]:
    """``inputs`` with each URL replaced by the cached record files of what it holds (a page:
    one; a feed: one per entry). Paths pass through untouched."""
    from qa.paths import cache_dir

    cache = cache or WebCache(cache_dir() / "web")
    out: list[str | Path] = []
    fetcher = None
    try:
        for item in inputs:
            if not is_url(str(item)):
                out.append(item)
                continue
            fetcher = fetcher or Fetcher()
            url = str(item)
            try:
                body, kind, final = fetcher.get(url)
            except FetchError as e:
                on_error(ReadError(url, None, str(e)))
                continue
            if _looks_like_feed(body, kind):
                out += _feed_entries(fetcher, cache, url, body, on_error, say)
            else:
                out += _page(cache, url, final, body, kind, on_error)
    finally:
        if fetcher:
            fetcher.close()
    return out


def page_text(body: bytes, kind: str) -> str:
    """A page's text in the charset it declares: a byte order mark, else the Content-Type header,
    else a ``<meta>`` near its top (HTML's order), else UTF-8, as for a local file. A page in
    ISO-8859-1 or windows-1251 is read as such, not refused as binary or garbled."""
    from qa.reading import _decode

    declared = _CHARSET.search(kind) or _META_CHARSET.search(body[:4096].decode("ascii", "replace"))
    charset = declared[1].lower() if declared and not body.startswith(codecs.BOM_UTF8) else ""
    try:
        codec = codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        codec = "utf-8"
    return _decode(body) if codec == "utf-8" else body.decode(codec, errors="replace")


def _page(cache: WebCache, url: str, final: str, body: bytes, kind: str, on_error,
          extra: dict | None = None) -> list[Path]:
    from qa.reading import _NotText

    try:
        record = page_record(page_text(body, kind), final)
    except _NotText as e:
        on_error(ReadError(url, None, str(e)))
        return []
    if not record["text"].strip():
        on_error(ReadError(url, None, "no article text in the page"))
        return []
    for key, value in (extra or {}).items():
        if value:
            record[key] = value
    return [cache.write(url, record)]


def _feed_entries(fetcher: Fetcher, cache: WebCache, url: str, body: bytes, on_error, say) -> list[Path]:
    import feedparser

    feed = feedparser.parse(body)
    if feed.bozo and not feed.entries:
        on_error(ReadError(url, None, f"not a readable RSS or Atom feed: {feed.get('bozo_exception')}"))
        return []
    outlet = one_line(feed.feed.get("title"))
    if len(feed.entries) > MAX_FEED_ENTRIES:
        say(f"{url}: the feed lists {len(feed.entries):,} entries; only its first {MAX_FEED_ENTRIES} are taken")
    out: list[Path] = []
    for entry in feed.entries[:MAX_FEED_ENTRIES]:
        link = entry.get("link")
        if not link:
            continue
        stamp = entry.get("updated") or entry.get("published") or ""
        cached = cache.read(link)
        if cached is not None and cached.get("feed_entry") == stamp and stamp:
            out.append(cache.path(link))  # the entry has not changed since it was fetched
            continue
        try:
            page, kind, final = fetcher.get(link)
        except FetchError as e:
            on_error(ReadError(link, None, f"{e} (an entry of the feed {url})"))
            continue
        say(f"fetched {link}")
        out += _page(cache, link, final, page, kind, on_error,
                     {"date": _entry_date(entry), "source": outlet, "title": one_line(entry.get("title")),
                      "feed_entry": stamp})
    return out


def parse_every(value: str) -> float:
    """``15m``, ``1h``, ``90s`` or a number of seconds: the pause between two watch passes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value or "")
    if not match:
        raise ValueError(f"{value!r} is not an interval: say 90s, 15m, 2h or 1d")
    seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if seconds < 1:
        raise ValueError("the interval must be at least a second")
    return seconds


def watch(run_pass: Callable[[], None], every_s: float, passes: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Call ``run_pass`` now and then every ``every_s`` seconds until interrupted (Ctrl+C) or
    ``passes`` are done (tests)."""
    done = 0
    try:
        while passes is None or done < passes:
            run_pass()
            done += 1
            if passes is None or done < passes:
                sleep(every_s)
    except KeyboardInterrupt:
        pass
