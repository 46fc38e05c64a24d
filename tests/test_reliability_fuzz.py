"""Fuzzing what the existing property tests leave out: every reader format (gzipped or not) on
arbitrary bytes and on HTML tag soup, JSONL line accounting, whole folders of random files
through the library, the date finder on arbitrary text, and the chunker with other parameters."""
from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from embeddings.encoder import TokenCounter
from qa.library import FolderLibrary
from qa.models import embedder_spec, model_path
from qa.reading import Article, ReadError, read_file
from qa.reading.chunking import ChunkParams, chunk_text, embed_text, sentence_spans
from qa.reading.cleaning import clean_text
from qa.reading.dates import find_publication_date, is_dateline, question_time_range

from fakes import FakeEncoder

NAMES = ["a.htm", "a.HTML", "a.json.gz", "a.md.gz", "a.html.gz", "a.htm.gz", "a.JSONL", "a.jsonl.gz",
         "a.txt", "a.json"]
TAGS = ["p", "div", "script", "style", "nav", "article", "main", "h1", "br", "li", "table", "td", "a",
        "title", "meta", "svg", "template", "!--", "![CDATA["]
WORDS = st.sampled_from(["Harbour", "bridge", "reopened", "on", "Tuesday,", "2024-03-05", "&amp;", "&#0;",
                         "&#x110000;", "<", ">", "\"", "'", "\x00", "\ufeff", "é", "中文", "\n", "Cookies",
                         "Advertisement", "<|im_start|>", "March 5, 2024"])
SOUP = st.lists(st.one_of(WORDS, st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
                          st.sampled_from(TAGS).map(lambda t: f"</{t}>"), st.text(max_size=8)),
                max_size=80).map(" ".join)


def items(path: Path) -> list[Article | ReadError]:
    found = list(read_file(path))
    assert found, "read_file must yield at least one Article or ReadError"
    for item in found:
        assert isinstance(item, (Article, ReadError))
        if isinstance(item, Article):
            assert item.text.strip() and item.id and len(item.content_hash) == 64
            assert "<|" not in item.text and "<|" not in item.title
            assert item.date is None or date.fromisoformat(item.date)
        else:
            assert item.path == str(path) and item.message
    return found


@settings(max_examples=80, deadline=None)
@given(content=st.one_of(st.binary(max_size=400), SOUP.map(str.encode),
                         st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))),
       name=st.sampled_from(NAMES), compress=st.booleans())
@example(content=b"\x1f\x8b\x08\x00\x00\x00", name="a.md.gz", compress=False)  # a gzip header, cut short
@example(content=b"<html><body><p>\xff\xfe text</p>", name="a.htm", compress=False)
def test_every_format_yields_only_articles_or_errors(content, name, compress):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.compress(content) if compress and name.lower().endswith(".gz") else content)
        items(path)


@settings(max_examples=40, deadline=None)
@given(html=SOUP)
def test_html_tag_soup(html):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "page.html"
        path.write_text(f"<html><head><title>T</title></head><body>{html}</body></html>", encoding="utf-8")
        items(path)


LINE = st.one_of(
    st.builds(lambda text, title: json.dumps({"text": text, "title": title}),
              st.text(min_size=1, max_size=60), st.text(max_size=20)),
    st.text(max_size=40).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
    st.just(""), st.just("   "), st.just("[1, 2]"), st.just('{"text": 5}'))


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(LINE, max_size=12), gz=st.booleans())
def test_jsonl_accounts_for_every_line(lines, gz):
    """Each non-blank line gives exactly one Article or one ReadError naming that line."""
    raw = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("feed.jsonl.gz" if gz else "feed.jsonl")
        path.write_bytes(gzip.compress(raw) if gz else raw)
        found = items(path)
    if b"\x00" in raw:
        return  # refused whole as binary
    nonblank = [i for i, line in enumerate(raw.split(b"\n")[:-1], 1) if line.strip()]
    if not nonblank:
        assert [f.message for f in found] == ["empty file"]
        return
    lines_seen = [f.line for f in found if isinstance(f, ReadError)]
    articles = [f for f in found if isinstance(f, Article)]
    assert len(lines_seen) + len(articles) == len(nonblank)
    assert set(lines_seen) <= set(nonblank)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # bm25s on texts without a keyword
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.tuples(st.sampled_from(NAMES + ["b.txt", "c.pdf", "d.md"]),
                                st.one_of(st.binary(max_size=200), SOUP.map(str.encode),
                                          st.sampled_from([b"The council approved the harbour budget on Monday.",
                                                           b"Parliament passed the budget."]))),
                      min_size=1, max_size=8))
def test_a_folder_of_random_files_goes_in_consistently(files):
    encoder = FakeEncoder()
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "src"
        src.mkdir()
        for i, (name, content) in enumerate(files):
            (src / f"{i}{name}").write_bytes(content)
        lib = FolderLibrary.create(Path(folder) / "lib", encoder)
        report = lib.add([src], encoder)
        again = lib.add([src], encoder)  # unchanged files skipped, the rest read again: nothing new
        assert again.added == [] and again.removed == []
        lib = FolderLibrary.open(lib.path, encoder)
        assert lib.counts["articles"] == len(report.added) == len(lib.articles())
        assert len(lib.index) == lib.counts["chunks"] == len(lib.chunk_texts()) == report.chunks
        shutil.rmtree(src)


# --- dates ----------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)  # dateparser is slow: ~50-200 ms an example
@given(text=st.text(max_size=200), title=st.text(max_size=60), url=st.text(max_size=60),
       declared=st.one_of(st.none(), st.text(max_size=30)))
@example(text="", title="", url="http://x/2024/02/30/", declared="0000-00-00")
@example(text="MOSCOW, April 31, 2013 —", title="", url="", declared="2013-04-31T25:61:00Z")
def test_find_publication_date_on_arbitrary_text(text, title, url, declared):
    found = find_publication_date(text, title=title, url=url, declared=declared)
    assert found is None or 1900 <= date.fromisoformat(found).year <= 2100


@settings(max_examples=150, deadline=None)
@given(line=st.text(max_size=120))
def test_is_dateline_on_arbitrary_text(line):
    assert is_dateline(line) in (True, False)


@settings(max_examples=100, deadline=None)
@given(question=st.text(max_size=120), today=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
@example(question="What happened last week?", today=date(1, 1, 3))
@example(question="What happened next year in the 9990s?", today=date(9999, 12, 31))
def test_question_time_range_at_the_ends_of_the_calendar(question, today):
    span = question_time_range(question, today)
    assert span is None or span[0] <= span[1]


# --- cleaning and chunking ------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=500))
def test_clean_text_is_idempotent_and_never_raises(text):
    once = clean_text(text)
    assert clean_text(once) == once


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(model_path(embedder_spec()).parent)


SPACED = st.lists(st.one_of(st.text(min_size=1, max_size=12), st.sampled_from([".", "!", "?", "\n\n", "Mr.", "U.S."])),
                  max_size=300).map(" ".join)
PARAMS = st.builds(ChunkParams, target_tokens=st.integers(8, 200), max_tokens=st.integers(24, 256),
                   overlap_sentences=st.integers(0, 3), title_mix=st.sampled_from([0, 50]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(title=st.text(max_size=40), text=SPACED, params=PARAMS)
def test_chunks_with_any_parameters_fit_quote_exactly_and_lose_no_sentence(counter, title, text, params):
    chunks = chunk_text("x", title, text, counter, params)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text) and c.text == text[c.start:c.end]
        assert counter.count([c.text])[0] + 2 <= params.max_tokens
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for s, e in sentence_spans(text):
        assert all(i in covered or text[i].isspace() for i in range(s, e))
    # where the title is encoded before every chunk (not mixed in), title and chunk fit together
    if not params.title_mix and title and chunks and counter.count([title])[0] + 1 <= params.max_tokens - 2 - 16:
        assert all(counter.count([embed_text(title, c.text)])[0] + 2 <= params.max_tokens for c in chunks)


@pytest.mark.parametrize("text", ["中" * 600, "a-" * 400, "1," * 500], ids=["cjk", "dashes", "commas"])
def test_runs_without_spaces_are_cut_to_fit(counter, text):
    chunks = chunk_text("x", "", text, counter)
    assert all(counter.count([c.text])[0] + 2 <= 256 for c in chunks)
