"""Concurrency: readers see one consistent generation while ingests switch the library under
them; a second writer stops with a clear message; a lock left by a killed process does not block."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from click.testing import CliRunner

from qa.library import manifest as manifests
from qa.library.folder import generations
from qa import cli
from qa.library import FolderLibrary, LibraryError
from qa.retrieval import Retriever

from conftest import SEEDS
from fakes import FakeEncoder

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def ingest_one(path, encoder, name):
    FolderLibrary.open(path, encoder).add([SEEDS / name], encoder)


@pytest.fixture
def lib_with_two(tmp_path, fake_encoder):
    lib = FolderLibrary.create(tmp_path / "lib", fake_encoder)
    lib.add(SEED_FILES[:2], fake_encoder)
    return lib


def test_an_open_reader_keeps_working_after_its_files_are_deleted(lib_with_two, fake_encoder):
    path = lib_with_two.path
    reader = FolderLibrary.open(path, fake_encoder)  # pins generation 1; nothing loaded lazily yet
    old_files = set(reader.manifest["files"].values())
    FolderLibrary.open(path, fake_encoder).add(SEED_FILES[2:], fake_encoder)  # generation 2
    assert not old_files & {p.name for p in path.iterdir()}  # generation 1 is gone from the disk
    assert reader.counts == {"articles": 2, "chunks": len(reader.index)}  # the index loads now, from gen 1
    hits = Retriever(reader, fake_encoder).search("Russia warns against stoking tensions", 3)
    assert hits and {h.article.id for h in hits} <= {a.id for a in reader.articles()}
    assert len(reader.articles()) == 2 and len(reader.chunk_texts()) == reader.counts["chunks"]
    assert reader.refresh(fake_encoder) is True and reader.counts["articles"] == 4
    assert len(reader.index) == reader.counts["chunks"]


def test_open_rereads_the_manifest_when_the_generation_switches_before_the_files_open(
        lib_with_two, fake_encoder, monkeypatch):
    path = lib_with_two.path
    switched = []

    def ingest_in_between(step):
        if step == "manifest-read" and not switched:
            switched.append(step)
            writer = FolderLibrary(path, manifests.read_manifest(path))  # a writer that does not open
            writer.add(SEED_FILES[2:], fake_encoder)

    monkeypatch.setattr(generations, "CHECKPOINT", ingest_in_between)
    lib = FolderLibrary.open(path, fake_encoder)  # read gen 1's manifest, gen 1's files vanished: retry
    assert switched and lib.manifest["generation"] == 2 and lib.counts["articles"] == 4
    assert len(lib.index) == lib.counts["chunks"]


def test_files_missing_without_a_switch_are_a_clear_error(lib_with_two, fake_encoder):
    (lib_with_two.path / lib_with_two.manifest["files"]["index"]).unlink()
    with pytest.raises(LibraryError, match=r"index-1\.faiss is missing; run: qa doctor"):
        FolderLibrary.open(lib_with_two.path, fake_encoder)


def test_readers_during_repeated_ingests_always_see_a_consistent_library(tmp_path, fake_encoder):
    path = tmp_path / "lib"
    FolderLibrary.create(path, fake_encoder).add([SEED_FILES[0]], fake_encoder)
    src = tmp_path / "src"
    src.mkdir()
    stop, seen, failures = threading.Event(), set(), []

    def read() -> None:
        while not stop.is_set():
            try:
                lib = FolderLibrary.open(path, fake_encoder)
                n = lib.counts["chunks"]
                assert len(lib.index) == n == len(lib.chunk_texts()) == lib.keyword_index.size
                assert len(lib.articles()) == lib.counts["articles"]
                assert Retriever(lib, fake_encoder).search("Russia Korea talks", 3)
                seen.add(lib.manifest["generation"])
                lib.close()
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(e))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(6):  # add, replace (changed file), and remove, again and again
            (src / "story.txt").write_text(f"Version {i}: the harbour bridge reopened after {i + 2} months.\n")
            writer = FolderLibrary.open(path, fake_encoder)
            writer.add([src, SEED_FILES[1 + i % 3]], fake_encoder)
            if i % 2:
                writer.remove([str(SEED_FILES[1 + i % 3])])
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(seen) >= 2  # the reader really ran across switches


def test_a_second_writer_stops_with_a_clear_message(lib_with_two, fake_encoder, use_loaders):
    path = lib_with_two.path
    with lib_with_two.lock():  # another `qa ingest` is writing
        with pytest.raises(LibraryError, match="another qa command .* is writing to"):
            FolderLibrary.open(path, fake_encoder).add(SEED_FILES[2:], fake_encoder)
        use_loaders(encoder=FakeEncoder)
        result = CliRunner().invoke(cli.main, ["ingest", str(SEED_FILES[3]), "--library", str(path)])
        assert result.exit_code == 2 and "is writing to" in result.output
        result = CliRunner().invoke(cli.main, ["remove", SEED_FILES[0].stem, "--library", str(path)])
        assert result.exit_code == 2 and "is writing to" in result.output
        assert FolderLibrary.open(path, fake_encoder).counts["articles"] == 2  # readers are not blocked


HOLDER = textwrap.dedent("""
    import sys
    from filelock import FileLock
    lock = FileLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()  # holds the lock until it is killed (or the test's end of the pipe closes)
""")


def test_a_lock_left_by_a_killed_ingest_does_not_block(lib_with_two, fake_encoder):
    path = lib_with_two.path
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path / generations.LOCK)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LibraryError, match="is writing to"):
            FolderLibrary.open(path, fake_encoder).add(SEED_FILES[2:], fake_encoder)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    assert holder.returncode == -signal.SIGKILL
    assert (path / generations.LOCK).exists()  # the lock file stays behind; the kernel dropped the lock
    # Free at once: taken without waiting (timeout 0 fails at once on a held lock, as above),
    # not once a dead holder's lock has gone stale.
    free = FolderLibrary.open(path, fake_encoder).lock(timeout=0)
    free.acquire()
    free.release()
    report = FolderLibrary.open(path, fake_encoder).add(SEED_FILES[2:], fake_encoder)
    assert len(report.added) == 2


def test_two_processes_creating_the_same_library_both_succeed(tmp_path, fake_encoder):
    path = tmp_path / "new"
    errors = []

    def create():
        try:
            FolderLibrary.create(path, FakeEncoder())
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and FolderLibrary.open(path, fake_encoder).counts == {"articles": 0, "chunks": 0}
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]
    shutil.rmtree(path)


def test_a_closed_library_reopens_on_use(lib_with_two, fake_encoder):
    lib = FolderLibrary.open(lib_with_two.path, fake_encoder)
    lib.close()
    assert len(lib.articles()) == 2 and len(lib.index) == lib.counts["chunks"]
    lib.close()
    FolderLibrary.open(lib.path, fake_encoder).add(SEED_FILES[2:], fake_encoder)  # its files are gone now
    assert len(lib.articles()) == 4 and len(lib.index) == lib.counts["chunks"]
