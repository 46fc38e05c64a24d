"""`qa ingest URL...`: article pages and RSS feeds from a local HTTP server on 127.0.0.1 that
the test starts (never the internet): main text, title, date and outlet; the feed's dates and
name; robots.txt, redirect and size limits, failed URLs named; re-ingest skips what is
unchanged; `--watch` takes only new entries."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from qa import cli, web

from conftest import SEEDS

LAVROV = (SEEDS / "000_8e1adf5baa08f22c.txt").read_text(encoding="utf-8").split("tensions", 1)[1]
LOSYUKOV = (SEEDS / "003_c13b77ec0b5e076f.txt").read_text(encoding="utf-8").split("2003-04-08", 1)[1]


def page(title: str, body: str, day: str) -> bytes:
    paragraphs = "".join(f"<p>{p.strip()}</p>" for p in body.split("\n") if p.strip())
    return (f'<html><head><title>{title}</title><meta property="og:site_name" content="Wire Daily">'
            f'<meta property="article:published_time" content="{day}"></head><body><nav>Home | World</nav>'
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>Copyright</footer></body></html>").encode()


def rss(items: list[tuple[str, str, str]]) -> bytes:
    entries = "".join(f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate><guid>{link}</guid></item>"
                      for t, link, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>World Wire Feed</title>'
            f"<link>http://example.invalid/</link>{entries}</channel></rss>").encode()


def start_site(pages: dict[str, tuple[int, str, bytes]]) -> tuple[str, ThreadingHTTPServer]:
    """A server on a loopback port answering ``pages`` (path: status, content type, body; a
    redirect's body is its Location)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, kind, body = pages.get(self.path, (404, "text/plain", b"not found"))
            self.send_response(status)
            if status in (301, 302):
                self.send_header("Location", body.decode())
                body = b""
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def site():
    """A small news site on a loopback port: two articles, a feed, a disallowed page, a redirect loop."""
    pages: dict[str, tuple[int, str, bytes]] = {}
    base, server = start_site(pages)
    pages.update({
        "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /private/\n"),
        "/news/lavrov.html": (200, "text/html", page("Lavrov warns on Korea", LAVROV, "2013-04-10")),
        "/news/losyukov.html": (200, "text/html", page("Russia urges restraint", LOSYUKOV, "2003-04-08")),
        "/private/secret.html": (200, "text/html", page("Secret", LAVROV, "2013-04-10")),
        "/loop": (302, "text/plain", b"/loop"),
        "/feed.xml": (200, "application/rss+xml", rss([
            ("Lavrov warns (feed title)", f"{base}/news/lavrov.html", "Thu, 11 Apr 2013 08:00:00 GMT"),
            ("Gone", f"{base}/news/gone.html", "Fri, 12 Apr 2013 08:00:00 GMT")])),
    })
    yield base, pages
    server.shutdown()
    server.server_close()


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def web_cache() -> list[dict]:
    """The records fetched pages left in the web cache (QA_CACHE, which a test points at its tmp_path)."""
    from qa.paths import cache_dir

    return [json.loads(p.read_text(encoding="utf-8")) for p in (cache_dir() / "web").glob("*.json")]


def listed(library: str) -> list[dict]:
    return [json.loads(line) for line in run("list", "--library", library, "--json").stdout.splitlines()]


def test_pages_are_read_like_local_html_and_failures_are_named(fakes, site):
    base, _ = site
    result = run("ingest", f"{base}/news/lavrov.html", f"{base}/private/secret.html", f"{base}/loop",
                 f"{base}/nothing.html", "--library", "web")
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{base}/private/secret.html: robots.txt of 127.0.0.1" in out and "disallows" in out
    assert f"{base}/loop: more than 5 redirects" in out and f"{base}/nothing.html: HTTP 404" in out
    assert "1 articles added" in out and "3 failed" in out
    (article,) = listed("web")
    assert article["title"] == "Lavrov warns on Korea" and article["date"] == "2013-04-10"
    assert article["source"] == "Wire Daily" and article["url"] == f"{base}/news/lavrov.html"

    again = run("ingest", f"{base}/news/lavrov.html", "--library", "web")
    assert again.exit_code == 0 and "0 articles added" in again.output and "1 unchanged files skipped" in again.output


def test_a_feed_brings_its_entries_pages_with_the_feeds_dates(fakes, site):
    base, _ = site
    result = run("ingest", f"{base}/feed.xml", "--library", "feed")
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert f"{base}/news/gone.html: HTTP 404 (an entry of the feed {base}/feed.xml)" in out
    (article,) = listed("feed")
    assert article["date"] == "2013-04-11" and article["source"] == "World Wire Feed"
    assert article["title"] == "Lavrov warns (feed title)" and article["url"] == f"{base}/news/lavrov.html"


def test_robots_txt_is_asked_at_every_hop_of_a_redirect(fakes, site, tmp_path, monkeypatch):
    base, pages = site
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    other_pages = {"/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /closed/\n"),
                   "/closed/page.html": (200, "text/html", page("Closed", LOSYUKOV, "2003-04-08"))}
    other, server = start_site(other_pages)
    try:
        pages["/to-other"] = (302, "text/plain", f"{other}/closed/page.html".encode())
        pages["/to-private"] = (301, "text/plain", b"/private/secret.html")
        result = run("ingest", f"{base}/to-other", f"{base}/to-private", "--library", "hops")
    finally:
        server.shutdown()
        server.server_close()
    out = " ".join(result.output.split())
    assert result.exit_code == 2, out
    assert (f"{base}/to-other: it redirects to {other}/closed/page.html, which robots.txt of "
            f"{other.removeprefix('http://')} disallows fetching it") in out
    assert f"{base}/to-private: it redirects to {base}/private/secret.html, which robots.txt" in out
    assert not any(record["title"] in ("Closed", "Secret") for record in web_cache())


RUSSIAN = "\n".join(f"Министр иностранных дел России Сергей Лавров в {n}-й раз предупредил, что военные "
                    "учения у Корейского полуострова могут обострить кризис, и призвал стороны к переговорам."
                    for n in range(8))


def test_a_page_is_read_in_the_charset_it_declares(fakes, site, tmp_path, monkeypatch):
    base, pages = site
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    latin = LAVROV.replace("Lavrov", "Señor Lavrov")
    pages["/latin.html"] = (200, "text/html; charset=iso-8859-1",
                            page("Café talks", latin, "2013-04-10").decode().encode("iso-8859-1"))
    meta = page("Лавров о Корее", RUSSIAN, "2013-04-10").decode().replace(
        "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">')
    pages["/cyrillic.html"] = (200, "text/html", meta.encode("windows-1251"))
    result = run("ingest", f"{base}/latin.html", f"{base}/cyrillic.html", "--library", "charsets")
    assert result.exit_code == 0, result.output
    records = {r["url"].rsplit("/", 1)[1]: r for r in web_cache()}
    assert records["latin.html"]["title"] == "Café talks" and "Señor Lavrov" in records["latin.html"]["text"]
    assert records["cyrillic.html"]["title"] == "Лавров о Корее"
    assert "Сергей Лавров" in records["cyrillic.html"]["text"]


def test_a_page_that_drips_in_is_given_up_at_the_deadline(fakes, monkeypatch):
    import time

    body = page("Lavrov warns on Korea", LAVROV, "2013-04-10")

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/slow.html":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 8):  # 8 bytes every 20 ms: seconds in all, each read quick
                    self.wfile.write(body[i:i + 8])
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:
                pass  # the client gave up

        def log_message(self, *args):
            pass

    assert len(body) > 8 * 100  # the drip lasts over 2 s
    monkeypatch.setattr(web, "DEADLINE_S", 0.5)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/slow.html"
    try:
        started = time.monotonic()
        result = run("ingest", url, "--library", "drip")
        took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2 and f"{url}: not whole within 0.5 s" in " ".join(result.output.split())
    assert took < 2, took


def test_a_feed_over_the_entry_cap_says_what_it_left_out(fakes, site, monkeypatch):
    base, pages = site
    monkeypatch.setattr(web, "MAX_FEED_ENTRIES", 2)
    pages["/big.xml"] = (200, "application/rss+xml", rss(
        [("Lavrov", f"{base}/news/lavrov.html", "Thu, 11 Apr 2013 08:00:00 GMT"),
         ("Losyukov", f"{base}/news/losyukov.html", "Tue, 08 Apr 2003 08:00:00 GMT")]
        + [(f"Later {n}", f"{base}/news/later-{n}.html", "Fri, 12 Apr 2013 08:00:00 GMT") for n in range(3)]))
    result = run("ingest", f"{base}/big.xml", "--library", "big-feed")
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert f"{base}/big.xml: the feed lists 5 entries; only its first 2 are taken" in out
    assert "2 articles added" in out and "later-" not in out


def test_titles_and_outlet_names_are_capped(fakes, site, tmp_path, monkeypatch):
    base, pages = site
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    huge = "Lavrov warns " + "again " * 10_000
    pages["/huge.xml"] = (200, "application/rss+xml", rss([(huge, f"{base}/news/lavrov.html", "Thu, 11 Apr 2013")])
                          .replace(b"World Wire Feed", huge.encode()))
    pages["/huge.html"] = (200, "text/html", page(huge, LOSYUKOV, "2003-04-08").replace(b"Wire Daily", huge.encode()))
    result = run("ingest", f"{base}/huge.xml", f"{base}/huge.html", "--library", "huge")
    assert result.exit_code == 0, result.output
    records = web_cache()
    assert len(records) == 2 and len(huge) > 60_000
    for record in records:
        for field in ("title", "source"):
            assert record[field].startswith("Lavrov warns again") and len(record[field]) <= web.MAX_TITLE, field
    articles = listed("huge")
    assert len(articles) == 2 and all(len(a["title"]) <= web.MAX_TITLE for a in articles)


def test_a_page_over_the_size_cap_is_refused(fakes, site, monkeypatch):
    base, _ = site
    monkeypatch.setattr(web, "MAX_PAGE_BYTES", 1000)
    out = " ".join(run("ingest", f"{base}/news/lavrov.html", "--library", "big").output.split())
    assert f"{base}/news/lavrov.html: response too large" in out


def test_watch_takes_only_new_entries(fakes, site, monkeypatch):
    base, pages = site
    passes = []

    def two_passes(run_pass, every_s, passes_=None, sleep=None):
        def between(seconds):
            passes.append(seconds)
            pages["/feed.xml"] = (200, "application/rss+xml", rss([
                ("Lavrov warns (feed title)", f"{base}/news/lavrov.html", "Thu, 11 Apr 2013 08:00:00 GMT"),
                ("Russia urges restraint", f"{base}/news/losyukov.html", "Tue, 08 Apr 2003 08:00:00 GMT")]))
        real_watch(run_pass, every_s, passes=2, sleep=between)

    real_watch = web.watch
    monkeypatch.setattr(web, "watch", two_passes)
    result = run("ingest", f"{base}/feed.xml", "--library", "watched", "--watch", "--every", "2m")
    assert result.exit_code == 0 and passes == [120.0]
    out = result.output
    first, second = out.split("library", 1)[0], out.rsplit("fetched", 1)[1]
    assert "1 articles added" in first
    assert "losyukov.html" in second and "1 articles added" in second and "1 unchanged files skipped" in second
    assert out.count(f"fetched {base}/news/lavrov.html") == 1  # the unchanged entry was not fetched again
    assert sorted(a["date"] for a in listed("watched")) == ["2003-04-08", "2013-04-11"]


def test_parse_every():
    assert web.parse_every("15m") == 900 and web.parse_every("90s") == 90 and web.parse_every("2") == 2
    for bad in ("soon", "0s", "-5m"):
        with pytest.raises(ValueError):
            web.parse_every(bad)
    assert run("ingest", "x", "--every", "soon").exit_code == 2
