"""Reading files into articles: every format, and bad input reported as ReadError, never raised."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qa.reading import files as reading
from qa.reading import Article, ReadError, iter_files, read_file, read_paths

SEEDS = Path(__file__).parent.parent / "qa" / "seeds"
EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"

PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Harbour bridge reopens after repairs | Coastal Herald</title>
<meta property="og:site_name" content="Coastal Herald">
<meta property="article:published_time" content="2024-03-05T08:30:00Z">
<style>body { font-family: STYLE_RULE; }</style>
<script>var tracking = "SCRIPT_TOKEN";</script>
</head><body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. Accept all cookies</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World NAV_LINK</a></li></ul></nav>
<header><a href="#main">Skip to content</a></header>
<main><article>
<h1>Harbour bridge reopens after repairs</h1>
<p>The harbour bridge reopened to traffic on Tuesday after eight months of repairs to its corroded steel cables,
city officials said.</p>
<p>Engineers replaced 42 cables and repainted the main span, at a cost of 31 million dollars,
according to the transport department.</p>
<div class="ad">Advertisement</div>
<p>Commuters had faced detours of up to forty minutes while the bridge was closed,
and local businesses reported a drop in trade.</p>
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/x">ASIDE_LINK celebrity gossip</a></li></ul></aside>
<footer><p>FOOTER_TEXT Copyright 2024 Coastal Herald. All rights reserved.</p></footer>
<script>console.log("SCRIPT_TWO")</script>
</body></html>
"""
PAGE_SENTENCES = [
    "The harbour bridge reopened to traffic on Tuesday",
    "Engineers replaced 42 cables",
    "Commuters had faced detours of up to forty minutes",
]
PAGE_FURNITURE = [
    "SCRIPT_TOKEN", "SCRIPT_TWO", "STYLE_RULE", "NAV_LINK", "ASIDE_LINK", "FOOTER_TEXT",
    "cookies", "Skip to content", "Advertisement",
]


def only(items: list[Article | ReadError]) -> Article | ReadError:
    assert len(items) == 1, items
    return items[0]


def articles(items: list[Article | ReadError]) -> list[Article]:
    assert all(isinstance(item, Article) for item in items), items
    return items  # type: ignore[return-value]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record(**fields: object) -> str:
    return json.dumps({"text": "A council approved the harbour budget on Monday.", **fields})


# --- seeds -------------------------------------------------------------------------------------

SEED_EXPECTED = {
    "000_8e1adf5baa08f22c": ("Russia warns against stoking N.Korea tensions", "2013-04-10"),
    "001_3f185c6f7e430aff": ("LONDON — Foreign Minister Sergei Lavrov said Wednesday", None),
    "003_c13b77ec0b5e076f": ("Russia Urges Washington, Pyongyang to Reduce Tensions Over N. Korea Nuclear Program", "2003-04-08"),
    "004_4bc43c88d9c50f08": ("Russian diplomat accuses US, South Korea of preparing for war with North Korea", None),
}


@pytest.fixture(scope="module")
def seed_articles() -> dict[str, Article]:
    items = articles(list(read_paths([SEEDS])))
    return {Path(article.url).stem: article for article in items}


def test_seeds_read_in_order(seed_articles: dict[str, Article]) -> None:
    assert list(seed_articles) == sorted(SEED_EXPECTED)



def test_an_article_as_json_has_every_field_but_its_hash(seed_articles: dict[str, Article]) -> None:
    article = next(iter(seed_articles.values()))
    listed, whole = article.to_dict(text=False), article.to_dict()
    assert list(listed) == ["id", "title", "date", "date_source", "source", "url"]
    assert whole == {**listed, "text": article.text}
    assert {k: getattr(article, k) for k in listed} == listed and "content_hash" not in whole


@pytest.mark.parametrize("stem", sorted(SEED_EXPECTED))
def test_seed_article_fields(seed_articles: dict[str, Article], stem: str) -> None:
    article = seed_articles[stem]
    title_start, date = SEED_EXPECTED[stem]
    assert article.title.startswith(title_start)
    assert article.date == date
    assert re.fullmatch(rf"{stem}-[0-9a-f]{{12}}", article.id)
    assert article.content_hash == hashlib.sha256(article.text.encode("utf-8")).hexdigest()
    assert article.id.endswith(article.content_hash[:12])
    assert article.source == f"{stem}.txt"
    assert article.url == str((SEEDS / f"{stem}.txt").resolve())


def test_seed_texts_are_cleaned(seed_articles: dict[str, Article]) -> None:
    assert "Accessibility links" not in seed_articles["003_c13b77ec0b5e076f"].text
    assert "six-sided discussions involving the United States, North Korea, Russia, China, South Korea and Japan" in (
        seed_articles["003_c13b77ec0b5e076f"].text
    )
    moscow = seed_articles["001_3f185c6f7e430aff"].text
    assert "A Message from The Moscow Times" not in moscow and "Remind me later" not in moscow
    assert moscow.endswith("sexual violence in war zones.")


def test_long_first_line_title_is_shortened(seed_articles: dict[str, Article]) -> None:
    title = seed_articles["001_3f185c6f7e430aff"].title
    assert len(title) <= 151 and title.endswith("…")


# --- text, markdown, html ------------------------------------------------------------------------


def test_markdown_title_loses_heading_marks(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Bridge reopens\n\nPublished Jan. 5, 2025\n\nThe bridge reopened.\n", encoding="utf-8")
    article = only(list(read_file(path)))
    assert isinstance(article, Article)
    assert article.title == "Bridge reopens"
    assert article.date == "2025-01-05"
    assert article.id.startswith("note-")


def assert_main_text_only(text: str) -> None:
    """The page's article sentences are all there and none of its furniture is."""
    for sentence in PAGE_SENTENCES:
        assert sentence in text
    for furniture in PAGE_FURNITURE:
        assert furniture not in text


def test_html_keeps_main_text_and_drops_furniture(tmp_path: Path) -> None:
    path = tmp_path / "bridge.html"
    path.write_text(PAGE, encoding="utf-8")
    article = only(list(read_file(path)))
    assert isinstance(article, Article)
    assert_main_text_only(article.text)
    assert article.title == "Harbour bridge reopens after repairs"
    assert article.date == "2024-03-05"
    assert article.source == "Coastal Herald"
    assert article.id.startswith("bridge-")


def test_html_fallback_when_extractor_finds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda *args, **kwargs: None)
    path = tmp_path / "bridge.htm"
    path.write_text(PAGE, encoding="utf-8")
    article = only(list(read_file(path)))
    assert isinstance(article, Article)
    assert_main_text_only(article.text)


def test_html_without_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.html"
    path.write_text("<html><head><script>x = 1</script></head><body></body></html>", encoding="utf-8")
    assert isinstance(only(list(read_file(path))), ReadError)


# --- json and jsonl -----------------------------------------------------------------------------


def test_jsonl_malformed_line_is_reported_and_reading_continues(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [record(id="a"), '{"text": ', "", record(id="c"), "[1, 2]"])
    items = list(read_file(path))
    assert [type(item) for item in items] == [Article, ReadError, Article, ReadError]
    error = items[1]
    assert isinstance(error, ReadError) and error.line == 2
    assert error.message.startswith("invalid JSON")
    assert str(error) == f"{path}:2: {error.message}"
    assert isinstance(items[3], ReadError) and items[3].line == 5
    assert [item.id.split("-")[0] for item in items if isinstance(item, Article)] == ["a", "c"]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"title": "No text"}', 'record has no "text" field'),
        ('{"text": 42}', 'record has a non-string "text" field'),
        ('{"text": "Advertisement"}', "no article text left after removing page furniture"),
    ],
)
def test_jsonl_bad_records(tmp_path: Path, line: str, message: str) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [line])
    assert only(list(read_file(path))) == ReadError(str(path), 1, message)


@pytest.mark.parametrize("line", ["[" * 100_000, '{"text": "Story.", "id": ' + "1" * 5000 + "}"])
def test_json_too_deep_or_too_big_is_an_error(tmp_path: Path, line: str) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [line, record()])
    error, article = read_file(path)
    assert isinstance(error, ReadError) and error.line == 1 and error.message.startswith("invalid JSON")
    assert isinstance(article, Article)


def test_record_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "feed.jsonl",
        [
            record(id="wire/2024 story#1", title="Budget passes", url="https://www.example.com/2024/01/17/budget"),
            record(source="Coastal Herald", date="March 3, 2024", url="https://news.example.org/x"),
            record(),
        ],
    )
    first, second, third = articles(list(read_file(path)))
    assert first.id.startswith("wire-2024-story-1-")
    assert (first.title, first.source, first.url, first.date) == (
        "Budget passes", "example.com", "https://www.example.com/2024/01/17/budget", "2024-01-17"
    )
    assert (second.source, second.date) == ("Coastal Herald", "2024-03-03")
    assert third.id.startswith("feed-3-")
    assert third.title == "A council approved the harbour budget on Monday."
    assert (third.source, third.url, third.date) == ("feed.jsonl", str(path.resolve()), None)
    assert [a.date_source for a in (first, second, third)] == ["url", "field", None]


def test_seed_dates_say_how_they_were_found(seed_articles: dict[str, Article]) -> None:
    found = {stem[:3]: (a.date, a.date_source) for stem, a in seed_articles.items()}
    assert found == {"000": ("2013-04-10", "dateline"), "001": (None, None),
                     "003": ("2003-04-08", "title"), "004": (None, None)}


def test_long_record_id_is_cut_to_60_characters(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [record(id="x" * 100)])
    article = only(list(read_file(path)))
    assert isinstance(article, Article)
    assert article.id == "x" * 60 + "-" + article.content_hash[:12]


def test_same_text_gets_same_hash_across_formats(tmp_path: Path) -> None:
    text_file = tmp_path / "story.txt"
    text_file.write_text("A council approved the harbour budget on Monday.\n", encoding="utf-8")
    json_file = write_jsonl(tmp_path / "feed.jsonl", [record()])
    from_text, from_json = articles(list(read_paths([text_file, json_file])))
    assert from_text.content_hash == from_json.content_hash


def test_json_list_and_single_object(tmp_path: Path) -> None:
    many = tmp_path / "many.json"
    many.write_text(json.dumps([json.loads(record(id="one")), {"title": "broken"}, json.loads(record())]), encoding="utf-8")
    items = list(read_file(many))
    assert [type(item) for item in items] == [Article, ReadError, Article]
    assert items[1].message == 'record 2: record has no "text" field'
    assert items[2].id.startswith("many-3-")
    single = tmp_path / "single.json"
    single.write_text(record(title="Single"), encoding="utf-8")
    assert only(articles(list(read_file(single)))).title == "Single"


def test_malformed_json_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n{"text": "ok"},\n{"text": oops}\n]', encoding="utf-8")
    error = only(list(read_file(path)))
    assert isinstance(error, ReadError) and error.line == 3 and error.message.startswith("invalid JSON")


# --- gzip ---------------------------------------------------------------------------------------


def test_gzipped_jsonl_and_text(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl.gz"
    with gzip.open(feed, "wt", encoding="utf-8") as stream:
        stream.write(record(id="a") + "\nnot json\n" + record(id="b") + "\n")
    items = list(read_file(feed))
    assert [type(item) for item in items] == [Article, ReadError, Article]
    assert items[1].line == 2
    story = tmp_path / "story.txt.gz"
    story.write_bytes(gzip.compress(b"Bridge reopens\n\nThe bridge reopened."))
    article = only(list(read_file(story)))
    assert isinstance(article, Article) and article.id.startswith("story-") and article.title == "Bridge reopens"


@pytest.mark.parametrize("name", ["feed.jsonl.gz", "story.txt.gz"])
def test_corrupt_gzip_is_an_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not gzip data at all")
    error = only(list(read_file(path)))
    assert isinstance(error, ReadError) and "gzip" in error.message


# --- bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.jsonl", "empty.json", "empty.html"])
@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_empty_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert only(list(read_file(path))) == ReadError(str(path), None, "empty file")


@pytest.mark.parametrize("name", ["image.txt", "image.jsonl", "image.html"])
def test_binary_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    error = only(list(read_file(path)))
    assert isinstance(error, ReadError) and error.message.startswith("binary file")


def test_undecodable_bytes_without_nul_are_binary(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(128, 256)) * 20)
    error = only(list(read_file(path)))
    assert isinstance(error, ReadError) and error.message.startswith("binary file")


def test_mostly_text_with_a_bad_byte_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("The caf\xe9 on the harbour reopened on Monday after repairs.".encode("latin-1"))
    article = only(list(read_file(path)))
    assert isinstance(article, Article)
    assert article.text == "The caf\ufffd on the harbour reopened on Monday after repairs."


def test_unsupported_suffix_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    error = only(list(read_file(path)))
    assert isinstance(error, ReadError) and "unsupported" in error.message
    assert str(error) == f"{path}: {error.message}"


def test_unreadable_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("Hidden story.", encoding="utf-8")
    if os.geteuid() == 0:  # root reads any file, so simulate the refusal

        def deny(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(reading, "open", deny, raising=False)
    else:
        path.chmod(0)
    error = only(list(read_file(path)))
    path.chmod(0o600)
    assert error == ReadError(str(path), None, "cannot read file: Permission denied")


def test_folder_given_to_read_file_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert isinstance(only(list(read_file(folder))), ReadError)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from(["http://[::1", "2024-01-17"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
RECORDS = st.fixed_dictionaries(
    {"text": st.text(max_size=80) | JSON_VALUES},
    optional={field: JSON_VALUES for field in ["title", "url", "date", "id", "source"]},
)
CONTENT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(st.one_of(RECORDS, JSON_VALUES).map(json.dumps), max_size=4).map(lambda lines: "\n".join(lines).encode()),
)


@settings(max_examples=120, deadline=None)
@given(
    content=CONTENT,
    name=st.sampled_from(["a.txt", "a.md", "a.html", "a.json", "a.jsonl", "a.jsonl.gz", "a.txt.gz"]),
    compress=st.booleans(),
)
@example(content=b'{"text": "Story.", "url": "http://[::1"}', name="a.jsonl", compress=False)
def test_read_file_never_raises_on_arbitrary_content(content: bytes, name: str, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.compress(content) if compress and name.endswith(".gz") else content)
        for item in read_file(path):
            assert isinstance(item, (Article, ReadError))
            if isinstance(item, Article):
                assert item.text and item.id and item.content_hash


# --- iter_files ---------------------------------------------------------------------------------


def test_iter_files_walks_folders_sorted_and_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    for name in ["b.txt", "a.jsonl.gz", "notes.pdf", ".hidden.txt", "sub/c.md", "sub/d.html", ".git/e.txt", "z.JSON"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = [path.relative_to(tmp_path).as_posix() for path in iter_files([tmp_path])]
    assert found == ["a.jsonl.gz", "b.txt", "sub/c.md", "sub/d.html", "z.JSON"]


def test_iter_files_yields_named_files_as_given(tmp_path: Path) -> None:
    named = tmp_path / "notes.pdf"
    named.write_text("x", encoding="utf-8")
    assert list(iter_files([str(named)])) == [named]


def test_iter_files_missing_path_raises_before_yielding(tmp_path: Path) -> None:
    present = tmp_path / "a.txt"
    present.write_text("x", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    files = iter_files([present, missing])
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        next(files)


# --- real corpus --------------------------------------------------------------------------------


@pytest.mark.skipif(not (EVAL / "rtqa-2025-week" / "corpus.jsonl.gz").exists(), reason="eval corpus absent")
def test_reads_rtqa_week_corpus() -> None:
    items = articles(list(read_paths([EVAL / "rtqa-2025-week" / "corpus.jsonl.gz"])))
    assert len(items) == 130
    assert len({item.id for item in items}) == 130
    assert all(item.text and item.title and item.source for item in items)
    assert sum(item.date is not None for item in items) >= 120
    assert not any("Play the USA TODAY Daily Crossword Puzzle" in item.text for item in items)
