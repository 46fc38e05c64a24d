"""Ingest keeps what is good: bad names are skipped, a failing disk leaves the library as it was,
a typo makes no library, the bar and the summary count alike, and a long ingest commits in steps."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli
from qa.library import FolderLibrary, LibraryError
from qa.library import ingest as ingest_module

from conftest import REPO

STORIES = [
    "The harbour bridge reopened on Tuesday after eight months of repairs, city officials said.",
    "Parliament passed the budget on Thursday after a long debate about school funding.",
    "The central bank held interest rates steady, citing slower growth in the second quarter.",
    "Flooding closed the coastal road for two days before crews cleared the debris on Sunday.",
    "The national orchestra announced a winter tour of twelve cities, starting in December.",
]


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def folder_of(tmp_path: Path, n: int = len(STORIES)) -> Path:
    src = tmp_path / "news"
    src.mkdir()
    for i, text in enumerate(STORIES[:n]):
        (src / f"story{i}.txt").write_text(f"Story {i}\n\n{text}\n")
    return src


def files_in(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def test_a_symlink_loop_and_a_name_that_is_not_utf8_are_named_and_skipped(tmp_path, fakes):
    src = folder_of(tmp_path, 2)
    (src / "x.txt").symlink_to(src / "b.txt")
    (src / "b.txt").symlink_to(src / "x.txt")
    with open(os.fsencode(src) + b"/caf\xe9.txt", "wb") as f:
        f.write(STORIES[3].encode())
    lib = tmp_path / "lib"
    result = run("ingest", str(src), "--library", str(lib))
    assert result.exit_code == 2, result.output
    flat = "".join(result.output.split())
    assert f"{src}/x.txt:cannotreadfile:symlinkloop" in flat
    assert f"{src}/b.txt:cannotreadfile:symlinkloop" in flat
    assert f"{src}/caf\\xe9.txt:filenameisnotvalidUTF-8" in flat
    assert "2 articles added" in " ".join(result.output.split())
    assert FolderLibrary.open(lib).counts["articles"] == 2
    assert not any(name.startswith("store-") and name != "store-1.db" for name in files_in(lib))
    assert run("doctor", "--check", "--library", str(lib)).exit_code == 0


def test_a_failed_commit_leaves_no_files_of_its_generation(tmp_path, fake_encoder, monkeypatch):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([folder_of(tmp_path, 2)], fake_encoder)
    before = files_in(lib.path)

    def broken(db, change):
        raise UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed")

    monkeypatch.setattr("qa.library.folder.generations.write_change", broken)
    more = tmp_path / "more"
    more.mkdir()
    (more / "c.txt").write_text(STORIES[4])
    with pytest.raises(UnicodeEncodeError):
        lib.add([more], fake_encoder)
    assert files_in(lib.path) == before
    assert FolderLibrary.open(lib.path).counts["articles"] == 2


def full_disk(monkeypatch) -> None:
    """The vectors' file gets half written, then the disk is full (what numpy meets on a real one)."""
    from embeddings.index import VectorIndex

    def save(self, path):
        Path(path).write_bytes(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(VectorIndex, "save", save)


def test_a_full_disk_is_one_line_exit_2_and_nothing_left_behind(tmp_path, fakes, monkeypatch):
    lib = tmp_path / "lib"
    assert run("ingest", str(folder_of(tmp_path, 2)), "--library", str(lib)).exit_code == 0
    before = files_in(lib)
    more = tmp_path / "more"
    more.mkdir()
    (more / "c.txt").write_text(STORIES[4])
    full_disk(monkeypatch)
    result = run("ingest", str(more), "--library", str(lib))
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert error == [f"Error: cannot write to library {lib}: No space left on device; "
                     "the library is as it was before this write"], result.output
    assert "Traceback" not in result.output
    assert files_in(lib) == before
    assert FolderLibrary.open(lib).counts["articles"] == 2


def test_a_read_only_library_folder_is_one_line_and_exit_2(tmp_path, fakes, monkeypatch):
    lib = tmp_path / "lib"
    assert run("ingest", str(folder_of(tmp_path, 2)), "--library", str(lib)).exit_code == 0
    before = files_in(lib)
    real_copy = shutil.copyfile

    def read_only(src, dst, *args, **kwargs):
        if Path(dst).parent == lib:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr("qa.library.folder.generations.shutil.copyfile", read_only)
    more = tmp_path / "more"
    more.mkdir()
    (more / "c.txt").write_text(STORIES[4])
    result = run("ingest", str(more), "--library", str(lib))
    assert result.exit_code == 2
    assert f"Error: cannot write to library {lib}: Read-only file system;" in result.output
    assert "Traceback" not in result.output
    assert files_in(lib) == before


def test_a_lock_that_cannot_be_made_is_one_line(tmp_path, fakes, monkeypatch):
    """A new library in a folder qa may not write: the lock file is the first thing it makes."""
    import filelock

    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.lock_file)

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    result = run("ingest", str(folder_of(tmp_path, 1)), "--library", str(tmp_path / "lib"))
    assert result.exit_code == 2
    assert f"Error: cannot write to library {tmp_path / 'lib'}: Permission denied" in result.output


def test_a_typo_makes_no_library(tmp_path, fakes, monkeypatch):
    monkeypatch.setenv("QA_HOME", str(tmp_path / "home"))
    result = run("ingest", str(tmp_path / "no-such.jsonl"), "--library", "brandnew")
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "no such file or folder" in said and "no library was made" in said
    listed = run("libraries", "--json")
    assert "brandnew" not in listed.output
    assert not (tmp_path / "home" / "libraries" / "brandnew").exists()
    # a folder that already was there stays, empty; a library that held articles is kept as it was
    kept = tmp_path / "mine"
    kept.mkdir()
    assert run("ingest", str(tmp_path / "nope.txt"), "--library", str(kept)).exit_code == 2
    assert kept.is_dir() and files_in(kept) == set()
    lib = tmp_path / "lib"
    run("ingest", str(folder_of(tmp_path, 1)), "--library", str(lib))
    assert run("ingest", str(tmp_path / "nope.txt"), "--library", str(lib)).exit_code == 2
    assert FolderLibrary.open(lib).counts["articles"] == 1


def test_the_progress_bar_counts_the_chunks_the_summary_gives(tmp_path, fake_encoder, monkeypatch):
    encoded = []
    real_encode = fake_encoder.encode
    monkeypatch.setattr(fake_encoder, "encode", lambda texts, **kw: (encoded.extend(texts), real_encode(texts, **kw))[1])
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    calls = []
    report = lib.add([folder_of(tmp_path)], fake_encoder, lambda stage, done, total: calls.append((stage, done, total)))
    embed = [(done, total) for stage, done, total in calls if stage == "embed"]
    assert len(encoded) > report.chunks  # the titles were embedded too: rows are not chunks
    assert embed[-1] == (report.chunks, report.chunks) == (5, 5)
    assert all(done <= total for done, total in embed)


def test_a_long_ingest_commits_in_steps_and_a_killed_one_goes_on_where_it_stopped(tmp_path, fake_encoder, monkeypatch):
    monkeypatch.setattr(ingest_module, "STEP_S", 0.0)  # a step after every article
    src = folder_of(tmp_path)
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    seen_by_readers = []
    real_commit = FolderLibrary.commit

    def commit(self, change, encoder=None):
        real_commit(self, change, encoder)
        seen_by_readers.append(FolderLibrary.open(self.path).counts["articles"])

    monkeypatch.setattr(FolderLibrary, "commit", commit)
    real_read = ingest_module.read_file

    def killed_at_the_fourth(path):
        if path.name == "story3.txt":
            raise KeyboardInterrupt
        return real_read(path)

    monkeypatch.setattr(ingest_module, "read_file", killed_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        lib.add([src], fake_encoder)
    assert FolderLibrary.open(lib.path).counts["articles"] == 3  # the steps before the kill are kept
    assert seen_by_readers[-1] == 3 and sorted(set(seen_by_readers)) == [1, 2, 3]

    monkeypatch.setattr(ingest_module, "read_file", real_read)
    encoded = []
    real_encode = fake_encoder.encode
    monkeypatch.setattr(fake_encoder, "encode", lambda texts, **kw: (encoded.extend(texts), real_encode(texts, **kw))[1])
    report = lib.add([src], fake_encoder)
    assert len(report.added) == 2 and len(report.unchanged) == 3  # the rest, nothing read twice
    assert not any(STORIES[i] in " ".join(encoded) for i in range(3))
    again = FolderLibrary.open(lib.path)
    assert again.counts["articles"] == 5
    assert sorted(len(again.sources(a.id)) for a in again.articles()) == [1] * 5


def test_one_commit_when_the_ingest_is_short(tmp_path, fake_encoder, monkeypatch):
    commits = []
    real_commit = FolderLibrary.commit
    monkeypatch.setattr(FolderLibrary, "commit", lambda self, change, encoder=None: (
        commits.append(len(change.articles)), real_commit(self, change, encoder)))
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add([folder_of(tmp_path)], fake_encoder)
    assert commits == [5]


def test_a_library_that_cannot_be_created_is_a_library_error(tmp_path, fake_encoder, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("qa.library.folder.generations.json.dump", full)
    with pytest.raises(LibraryError, match="No space left on device"):
        FolderLibrary.create(tmp_path / "lib", fake_encoder)
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "lib").iterdir())


DRIVER = """
import sys
sys.path[:0] = sys.argv[1:3]
from fakes import FakeEncoder
from qa import loaders
from qa.cli import main
with loaders.use(encoder=FakeEncoder):
    main(sys.argv[3:])
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_really_read_only_folder(tmp_path, fakes):
    """The same as a user meets it: qa run without the capability that lets root write anywhere."""
    lib = tmp_path / "lib"
    assert run("ingest", str(folder_of(tmp_path, 2)), "--library", str(lib)).exit_code == 0
    before = files_in(lib)
    more = tmp_path / "more"
    more.mkdir()
    (more / "c.txt").write_text(STORIES[4])
    lib.chmod(0o555)
    try:
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all",
                               sys.executable, "-c", DRIVER, str(REPO), str(REPO / "tests"),
                               "ingest", str(more), "--library", str(lib)],
                              capture_output=True, text=True, timeout=120)
    finally:
        lib.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert f"Error: cannot write to library {lib}: Permission denied;" in done.stderr
    assert "Traceback" not in done.stderr
    assert files_in(lib) == before
