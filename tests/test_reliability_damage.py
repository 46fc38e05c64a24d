"""The library knows when it is damaged: a byte changed inside an article's stored text is found by
`qa doctor` (each text against its content hash), `qa list` says so in one line, and doctor says
"repaired" only when it changed something."""
from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from qa import cli
from qa.library import FolderLibrary, doctor

from conftest import SEEDS, FakeEncoder

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


@pytest.fixture
def lib(tmp_path, fake_encoder) -> FolderLibrary:
    library = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    library.add(SEED_FILES, fake_encoder)
    return library


def flip_a_byte(library: FolderLibrary, which: int, mask: int) -> str:
    """Change one byte of the ``which``-th article's text (by title) in the store file, as a bad
    disk would; returns the article's id."""
    store = library.path / library.manifest["files"]["store"]
    db = sqlite3.connect(store)
    aid, text = db.execute("SELECT id, text FROM articles ORDER BY title").fetchall()[which]
    db.close()
    data = bytearray(store.read_bytes())
    at = data.find(text[100:140].encode())
    assert at > 0 and data.find(text[100:140].encode(), at + 1) < 0
    data[at + 7] ^= mask
    store.write_bytes(bytes(data))
    return aid


@pytest.mark.parametrize("mask", [0x01, 0x80], ids=["another-letter", "not-utf8"])
def test_doctor_finds_an_article_whose_text_changed_and_removes_it(lib, fakes, mask):
    victim = flip_a_byte(lib, 2, mask)
    result = run("doctor", "--check", "--library", str(lib.path))
    assert result.exit_code == 1, result.output
    assert f"found   1 articles' stored text does not match its content hash (damaged): {victim}" in result.output
    assert "is healthy" not in result.output and "was repaired" not in result.output
    result = run("doctor", "--library", str(lib.path))
    assert result.exit_code == 0, result.output
    assert "fixed   removed 1 damaged articles; ingest their files again to bring them back:" in result.output
    assert "was repaired" in result.output
    repaired = FolderLibrary.open(lib.path)
    assert victim not in {a.id for a in repaired.articles()} and repaired.counts["articles"] == 3
    assert doctor(lib.path).healthy
    assert len(repaired.add(SEED_FILES, FakeEncoder()).added) == 1  # the file is read again


def test_list_says_in_one_line_that_the_store_is_damaged(lib, fakes):
    flip_a_byte(lib, 2, 0x80)
    result = run("list", "--library", str(lib.path))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "damaged" in errors[0] and "qa doctor" in errors[0], result.output
    assert result.output.rstrip().endswith(errors[0])


def test_doctor_check_does_not_say_repaired_when_it_changed_nothing(tmp_path, fakes):
    lib = FolderLibrary.create(tmp_path / "lib", FakeEncoder())
    (lib.path / "store-1.db").write_bytes(b"left by a write that failed")
    result = run("doctor", "--check", "--library", str(lib.path))
    assert "found   files left by an interrupted write: store-1.db" in result.output
    assert "was repaired" not in result.output and result.exit_code == 1
    assert (lib.path / "store-1.db").exists()
    result = run("doctor", "--library", str(lib.path))
    assert result.exit_code == 0 and "fixed   deleted 1 leftover files" in result.output
    assert "was repaired" in result.output and not (lib.path / "store-1.db").exists()
