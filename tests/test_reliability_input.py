"""Bad input: every odd file is named and skipped, the good ones still go in, and nothing
(a 100 MB article, a gzip bomb, 10,000 tiny files) blows memory or hangs."""
from __future__ import annotations

import builtins
import gzip
import io
import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli
from qa.library import FolderLibrary
from qa.reading import files as reading
from qa.reading import MAX_ARTICLE_CHARS, MAX_FILE_BYTES, MAX_LINE_BYTES

from fakes import FakeEncoder

GOOD = "The harbour bridge reopened on Tuesday after eight months of repairs, city officials said."
OTHER = "Parliament passed the budget on Thursday after a long debate about school funding."
MB = 1024 * 1024


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def deny_reading(monkeypatch, path: Path) -> None:
    """Tests run as root, which reads any file: make ``path`` unreadable the way open() would."""
    real_open = open

    def guarded(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(reading, "open", guarded, raising=False)


@pytest.fixture
def messy(tmp_path, monkeypatch) -> dict[str, Path]:
    """A folder with one good file and one of every kind of bad one."""
    src = tmp_path / "news"
    src.mkdir()
    files = {
        "good": src / "good.txt",
        "dup": src / "copy-of-good.md",
        "empty": src / "empty.txt",
        "blank": src / "blank.html",
        "binary": src / "photo.txt",
        "noise": src / "noise.md",
        "jsonl": src / "feed.jsonl",
        "secret": src / "secret.txt",
        "badgz": src / "broken.txt.gz",
        "pdf": src / "report.pdf",
    }
    files["good"].write_text(GOOD + "\n")
    files["dup"].write_text(GOOD + "\n")
    files["empty"].write_bytes(b"")
    files["blank"].write_text("   \n\t\n")
    files["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    files["noise"].write_bytes(bytes(range(128, 256)) * 16)  # invalid UTF-8, no NUL bytes
    files["jsonl"].write_text(json.dumps({"text": OTHER, "title": "Budget"}) + "\n"
                              "{not json at all\n"
                              + json.dumps({"title": "a record without text"}) + "\n"
                              + json.dumps(["not", "an", "object"]) + "\n"
                              + json.dumps({"text": GOOD}) + "\n")
    files["secret"].write_text("A secret story about the harbour that nobody may read.")
    files["badgz"].write_bytes(b"\x1f\x8b\x08\x00 definitely not deflate data")
    files["pdf"].write_bytes(b"%PDF-1.4 not a news article")
    deny_reading(monkeypatch, files["secret"])
    return files


def test_every_bad_file_is_named_and_the_good_ones_go_in(tmp_path, messy, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    seen = []
    report = lib.add([messy["good"].parent, messy["pdf"], tmp_path / "absent.txt"], fake_encoder,
                     on_error=seen.append)
    assert sorted(a.title for a in report.added) == ["Budget", GOOD[:150].rstrip()] or len(report.added) == 2
    assert {a.text for a in report.added} == {GOOD, OTHER}
    assert len(report.duplicates) == 2  # the .md copy, and the JSONL record repeating the good text
    assert seen == report.errors
    why = {(Path(e.path).name, e.line): e.message for e in report.errors}
    assert why[("empty.txt", None)] == "empty file"
    assert why[("blank.html", None)] == "empty file"
    assert why[("photo.txt", None)].startswith("binary file")
    assert why[("noise.md", None)].startswith("binary file")
    assert why[("secret.txt", None)] == "cannot read file: Permission denied"
    assert "gzip" in why[("broken.txt.gz", None)]
    assert "unsupported file type '.pdf'" in why[("report.pdf", None)]
    assert why[("absent.txt", None)] == "no such file or folder"
    assert why[("feed.jsonl", 2)].startswith("invalid JSON")
    assert why[("feed.jsonl", 3)] == 'record has no "text" field'
    assert why[("feed.jsonl", 4)] == "record is a JSON list, not an object"
    assert len(report.errors) == 11
    assert all(str(e).startswith(e.path) for e in report.errors)  # "path[:line]: why"
    assert FolderLibrary.open(lib.path, fake_encoder).counts["articles"] == 2


def test_cli_summary_and_exit_codes(tmp_path, messy, fakes):
    lib = tmp_path / "lib"
    result = run("ingest", str(messy["good"].parent), "--library", str(lib))
    assert result.exit_code == 2  # some failed
    out = " ".join(result.output.split())
    assert "2 articles added" in out and "2 duplicates skipped" in out and "9 failed" in out
    flat = "".join(result.output.split())  # rich wraps long lines, even inside a path
    for name in ("empty.txt", "photo.txt", "noise.md", "secret.txt", "broken.txt.gz"):
        assert str(messy["good"].parent / name) in flat, name
    assert f"{messy['jsonl']}:2:invalidJSON" in flat
    # all good: exit 0, and the same files again are only duplicates
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "a.txt").write_text(GOOD)
    (clean / "b.txt").write_text(GOOD)  # a duplicate is not a failure
    result = run("ingest", str(clean), "--library", str(tmp_path / "lib2"))
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "1 articles added" in out and "1 duplicates skipped" in out
    # a path that does not exist is named
    result = run("ingest", str(clean), str(tmp_path / "nowhere.txt"), "--library", str(tmp_path / "lib2"))
    assert result.exit_code == 2 and str(tmp_path / "nowhere.txt") in "".join(result.output.split())


def test_duplicates_by_content_go_in_once(tmp_path, fake_encoder):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text(GOOD)
    (src / "sub" / "b.txt").write_text(GOOD + "\n\n")            # same text after cleaning
    (src / "c.json").write_text(json.dumps({"text": GOOD, "title": "Same text, other title"}))
    with gzip.open(src / "d.txt.gz", "wt") as f:
        f.write(GOOD)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    report = lib.add([src, src / "a.txt"], fake_encoder)
    assert len(report.added) == 1 and len(report.duplicates) == 3 + 1
    again = lib.add([src], fake_encoder)
    assert again.added == [] and lib.counts == {"articles": 1, "chunks": report.chunks}


def test_unsupported_files_in_folders_are_listed_not_failed(tmp_path, fake_encoder):
    src = tmp_path / "src"
    src.mkdir()
    (src / "story.txt").write_text(GOOD)
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (src / ".DS_Store").write_bytes(b"\x00\x01")
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    report = lib.add([src], fake_encoder)
    assert len(report.added) == 1 and report.errors == []
    assert report.ignored == [str(src / "photo.jpg")]
    assert "1 files of other types ignored" in report.summary()


def test_special_files_do_not_block(tmp_path, fake_encoder):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # opening a FIFO for reading would wait forever for a writer
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    report = lib.add([fifo], fake_encoder)
    assert [e.message for e in report.errors] == ["not a regular file"]


# --- size -------------------------------------------------------------------------------------------


def write_big(path: Path, size: int, opener=open, prefix: bytes = b"", suffix: bytes = b"") -> None:
    """About ``size`` bytes of sentences, written a megabyte at a time."""
    block = (GOOD.encode() + b" ") * (MB // (len(GOOD) + 1))
    with opener(path, "wb") as f:
        f.write(prefix)
        for _ in range(size // len(block)):
            f.write(block)
        f.write(suffix)


class _CountingFile(io.FileIO):
    """A file opened for reading that adds each byte it reads from the disk to ``counts``."""

    def __init__(self, path, counts: Counter) -> None:
        super().__init__(path, "rb")
        self._counts, self._name = counts, Path(path).name

    def _count(self, data):
        self._counts[self._name] += len(data or b"")
        return data

    def readinto(self, buffer):
        n = super().readinto(buffer)
        self._counts[self._name] += n or 0
        return n

    def read(self, size=-1):
        return self._count(super().read(size))

    def readall(self):
        return self._count(super().readall())


def count_reads(monkeypatch, folder: Path) -> tuple[Counter, Counter]:
    """Bytes read from each file in ``folder`` from now on, by name: as stored on the disk
    (``raw``), and for a gzip file also as inflated for the reader (``inflated``)."""
    raw, inflated = Counter(), Counter()
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        if mode == "rb" and not args and not kwargs and isinstance(file, (str, Path)) \
                and Path(file).parent == folder:
            return io.BufferedReader(_CountingFile(file, raw))
        return real_open(file, mode, *args, **kwargs)

    class CountingGzip(gzip.GzipFile):
        def read(self, size=-1):
            data = super().read(size)
            inflated[Path(self.name).name] += len(data)
            return data

        def readline(self, size=-1):
            data = super().readline(size)
            inflated[Path(self.name).name] += len(data)
            return data

    monkeypatch.setattr(builtins, "open", counting_open)  # gzip opens its file with builtins.open
    monkeypatch.setattr(reading.gzip, "open", lambda path, mode="rb": CountingGzip(path, mode))
    return raw, inflated


def measured(fn):
    """(result, seconds, peak bytes allocated by Python while running fn)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = fn()
        return result, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_100_mb_article_is_refused_without_reading_it_into_memory(tmp_path, fake_encoder, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    write_big(src / "huge.txt", 100 * MB)
    (src / "small.txt").write_text(GOOD)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    raw, _ = count_reads(monkeypatch, src)
    report, seconds, peak = measured(lambda: lib.add([src], fake_encoder))
    print(f"\n100 MB .txt: {seconds:.2f} s, peak Python memory {peak / MB:.1f} MB")
    assert [a.text for a in report.added] == [GOOD]
    [error] = report.errors
    assert error.path == str(src / "huge.txt") and error.message.startswith("file too large (")
    assert f"the limit is {MAX_FILE_BYTES:,}" in error.message
    assert peak < 32 * MB
    # Its bytes go through once, in blocks, for the file's hash; the reader refuses it by its size.
    assert 0 < raw["huge.txt"] <= (src / "huge.txt").stat().st_size


def test_a_100_mb_jsonl_line_and_a_gzip_bomb_are_refused_in_bounded_memory(tmp_path, fake_encoder, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    write_big(src / "feed.jsonl", 100 * MB, prefix=b'{"title": "Huge", "text": "',
              suffix=b'"}\n' + json.dumps({"text": OTHER}).encode() + b"\n")
    write_big(src / "bomb.txt.gz", 100 * MB, opener=lambda p, m: gzip.open(p, m, compresslevel=1))
    assert (src / "bomb.txt.gz").stat().st_size < 5 * MB
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    raw, inflated = count_reads(monkeypatch, src)
    report, seconds, peak = measured(lambda: lib.add([src], fake_encoder))
    print(f"\n100 MB JSONL line + 100 MB gzip bomb: {seconds:.2f} s, peak Python memory {peak / MB:.1f} MB")
    assert [a.text for a in report.added] == [OTHER]  # the good line after the huge one still goes in
    why = {(Path(e.path).name, e.line): e.message for e in report.errors}
    assert why[("feed.jsonl", 1)].startswith("line too large (") and f"{MAX_LINE_BYTES:,}" in why[("feed.jsonl", 1)]
    assert why[("bomb.txt.gz", None)].startswith("file too large (over")
    assert peak < 3 * max(MAX_FILE_BYTES, MAX_LINE_BYTES)
    # Each byte of the feed is read at most twice (its hash, then the reader skipping the line in
    # blocks), and the bomb is inflated no further than the limit.
    assert 0 < raw["feed.jsonl"] <= 2 * (src / "feed.jsonl").stat().st_size
    assert 0 < inflated["bomb.txt.gz"] <= MAX_FILE_BYTES + 1


def test_an_article_longer_than_the_limit_is_refused_and_a_long_one_goes_in(tmp_path, fake_encoder):
    src = tmp_path / "src"
    src.mkdir()
    sentence = GOOD + " "
    (src / "book.txt").write_text(sentence * (MAX_ARTICLE_CHARS // len(sentence) + 10))
    (src / "long.txt").write_text("\n\n".join(f"Paragraph {i}. " + sentence * 3 for i in range(300)))  # ~90 KB
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    start = time.perf_counter()
    report = lib.add([src], fake_encoder)
    print(f"\n~90 KB article ingested and {MAX_ARTICLE_CHARS:,}+ character one refused in "
          f"{time.perf_counter() - start:.2f} s")
    [error] = report.errors
    assert error.path.endswith("book.txt") and error.message.startswith("article text too long")
    assert len(report.added) == 1 and report.chunks > 50


def test_ten_thousand_tiny_files(tmp_path, monkeypatch):
    encoder = FakeEncoder()
    src = tmp_path / "src"
    for i in range(10_000):
        folder = src / f"{i // 1000:02d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"n{i:05d}.txt").write_text(f"Council {i} met on Monday and approved budget {i * 7} for roads.")
    lib = FolderLibrary.create(tmp_path / "lib", encoder)
    # The work, counted: files read and texts encoded (in the encoder's thread), generations written.
    reads, encoded = Counter(), []
    real_read, real_encode = reading.read_file, encoder.encode

    def read_file(path):
        reads[path] += 1
        return real_read(path)

    def encode(texts, *args, **kwargs):
        encoded.append(len(texts))
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr("qa.library.ingest.read_file", read_file)
    monkeypatch.setattr(encoder, "encode", encode)
    generation = lib.manifest["generation"]
    start = time.perf_counter()
    report = lib.add([src], encoder)
    first = time.perf_counter() - start
    assert len(reads) == 10_000 and set(reads.values()) == {1}, "each file is read once"
    assert sum(encoded) == 10_000, "each chunk is encoded once"
    assert lib.manifest["generation"] == generation + 1, "in one write"
    reads.clear()
    encoded.clear()
    start = time.perf_counter()
    again = lib.add([src], encoder)
    second = time.perf_counter() - start
    print(f"\n10,000 tiny files: ingest {first:.1f} s, unchanged re-ingest {second:.1f} s")
    assert len(report.added) == 10_000 and report.errors == []
    assert len(again.unchanged) == 10_000 and again.added == []
    assert not reads and not encoded and lib.manifest["generation"] == generation + 1, \
        "an unchanged re-ingest only hashes the files"
    assert lib.counts == {"articles": 10_000, "chunks": 10_000} and len(lib.index) == 10_000


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # bm25s divides by a zero average length
def test_articles_without_a_keyword_do_not_break_the_keyword_index(tmp_path, fake_encoder):
    """bm25s cannot index texts without a single keyword; such a library still builds and grows."""
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    only_stopwords = tmp_path / "a.txt"
    only_stopwords.write_text("The and of it.")
    assert len(lib.add([only_stopwords], fake_encoder).added) == 1
    (tmp_path / "b.txt").write_text(GOOD)
    assert len(lib.add([tmp_path / "b.txt"], fake_encoder).added) == 1
    lib = FolderLibrary.open(lib.path, fake_encoder)
    _, rows = lib.keyword_index.search("harbour bridge", 5)
    assert [c.article.text for c in lib.chunks(rows)] == [GOOD]
    symbols = tmp_path / "c.txt"
    symbols.write_text("!!! ... ???")
    assert [e.message for e in lib.add([symbols], fake_encoder).errors] == [
        "no article text left after removing page furniture"]


def test_a_library_inside_the_folder_being_ingested_is_not_read(tmp_path, fake_encoder):
    (tmp_path / "story.txt").write_text(GOOD)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([tmp_path], fake_encoder)
    (tmp_path / "other.txt").write_text(OTHER)
    report = lib.add([tmp_path], fake_encoder)  # lib/manifest.json, lib/bm25-1/*.json are not articles
    assert report.errors == [] and [a.text for a in report.added] == [OTHER]
