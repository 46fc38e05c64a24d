"""Crash safety: `qa ingest` killed with SIGKILL at any moment leaves the library exactly as
before or exactly as after the ingest, never half-written, and the next ingest works.

One driver subprocess imports qa once and forks a child per scenario (forking before any
thread starts); each child runs the real `qa ingest` command with a fake encoder and is
killed either by itself at a named step of the write (generations.CHECKPOINT) or by the driver
after a delay while a slow encoder and a slow commit are running.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa.library import FolderLibrary, doctor
from qa.retrieval import Retriever

from conftest import REPO, SEEDS
from fakes import FakeEncoder

STEPS = ["commit-start", "store-copied", "store-written", "index-saved", "bm25-saved", "synced",
         "manifest-written", "manifest-replaced", "old-removed"]
FRACTIONS = [0.5, 0.85, 0.95]  # of an uninterrupted slow ingest's duration

DRIVER = textwrap.dedent(r"""
    import json, os, signal, sys, time, traceback
    sys.path[:0] = [sys.argv[1], os.path.join(sys.argv[1], "tests")]
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import qa.library.folder.generations as generations
    from qa import cli, loaders
    from fakes import FakeEncoder

    class SlowEncoder(FakeEncoder):
        def encode(self, texts, batch_size=32, progress=None):
            time.sleep(0.3)
            return super().encode(texts, batch_size, progress)

    def child(scenario):
        if scenario.get("step"):
            def die(step):
                if step == scenario["step"]:
                    os.kill(os.getpid(), signal.SIGKILL)
            generations.CHECKPOINT = die
        else:
            generations.CHECKPOINT = lambda step: time.sleep(0.05)  # a slow commit: kills land inside it
        try:
            with loaders.use(encoder=SlowEncoder if scenario.get("slow") else FakeEncoder):
                cli.main(["ingest", scenario["src"], "--library", scenario["lib"]], standalone_mode=False)
        except SystemExit as e:
            os._exit(e.code or 0)
        except BaseException:
            traceback.print_exc()
            os._exit(3)
        os._exit(0)

    results = []
    duration = None
    for scenario in json.loads(sys.argv[2]):
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            child(scenario)
        if scenario.get("kill_at"):
            time.sleep(scenario["kill_at"] * duration)
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if scenario.get("calibrate"):
            duration = time.perf_counter() - start
        results.append({"killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL,
                        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                        "seconds": round(time.perf_counter() - start, 2)})
    print(json.dumps(results))
""")


def state(path: Path, encoder) -> tuple[dict, list[str]]:
    lib = FolderLibrary.open(path, encoder)  # must never raise
    try:
        ids = sorted(a.id for a in lib.articles())
        assert len(lib.index) == lib.counts["chunks"] == len(lib.chunk_texts())
        hits = Retriever(lib, encoder).search("harbour bridge repairs Lavrov", 3)
        assert hits and all(h.text for h in hits)
        return dict(lib.counts), ids
    finally:
        lib.close()


def current_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A library holding two seed articles, and a folder whose ingest adds two, skips one
    unchanged, and replaces one (a changed file): the write adds and removes rows."""
    root = tmp_path_factory.mktemp("crash")
    encoder = FakeEncoder()
    src = root / "src"
    src.mkdir()
    for name in ("000_8e1adf5baa08f22c.txt", "001_3f185c6f7e430aff.txt"):
        shutil.copy(SEEDS / name, src / name)
    before = root / "before"
    FolderLibrary.create(before, encoder).add([src], encoder)
    for name in ("003_c13b77ec0b5e076f.txt", "004_4bc43c88d9c50f08.txt"):
        shutil.copy(SEEDS / name, src / name)
    changed = src / "001_3f185c6f7e430aff.txt"
    changed.write_text(changed.read_text() + "\nThe harbour bridge repairs were finished on Friday.\n")
    after = root / "after"
    shutil.copytree(before, after)
    report = FolderLibrary.open(after, encoder).add([src], encoder)
    assert len(report.added) == 3 and len(report.removed) == 1 and len(report.unchanged) == 1
    return root, src, before, after, encoder


def test_sigkill_at_every_step_and_at_random_moments_leaves_before_or_after(setup):
    root, src, before, after, encoder = setup
    want = {"before": state(before, encoder), "after": state(after, encoder)}
    assert want["before"] != want["after"]
    scenarios = ([{"step": step} for step in STEPS] + [{"calibrate": True, "slow": True}]
                 + [{"kill_at": f, "slow": True} for f in FRACTIONS])
    for i, scenario in enumerate(scenarios):
        scenario.update(src=str(src), lib=str(root / f"run{i}"))
        shutil.copytree(before, scenario["lib"])
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(REPO), json.dumps(scenarios)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    outcomes = []
    for scenario, result in zip(scenarios, results):
        lib = Path(scenario["lib"])
        assert result["killed"] or result["code"] == 0, (scenario, result, proc.stderr[-2000:])
        got = state(lib, encoder)
        assert got in want.values(), scenario
        outcome = "before" if got == want["before"] else "after"
        point = scenario.get("step") or (f"{scenario['kill_at']:.0%} of {results[len(STEPS)]['seconds']} s"
                                         if "kill_at" in scenario else "uninterrupted")
        outcomes.append((point, result["killed"], outcome))
        if scenario.get("step"):  # the switch is the manifest rename: before it, before; after it, after
            expected = "after" if STEPS.index(scenario["step"]) >= STEPS.index("manifest-replaced") else "before"
            assert outcome == expected, scenario
        # doctor finds nothing wrong beyond leftovers, and the next ingest (no stale lock) completes
        # and cleans up whatever the killed one left
        report = doctor(lib, repair=False, get_encoder=lambda: pytest.fail("doctor must not need the encoder"))
        assert all(p.startswith("files left by an interrupted write") for p in report.problems), report
        FolderLibrary.open(lib, encoder).add([src], encoder)
        assert state(lib, encoder) == want["after"]
        assert current_files(lib) == current_files(after)
    print("\n" + "\n".join(f"{point:18} killed={killed!s:5} -> {outcome}" for point, killed, outcome in outcomes))
    assert {o for _, _, o in outcomes} == {"before", "after"}


def test_every_new_file_is_on_disk_before_the_manifest_points_at_it(tmp_path, monkeypatch):
    """The order that makes the switch safe against power loss, not only SIGKILL."""
    import qa.library.folder.generations as generations

    encoder = FakeEncoder()
    lib = FolderLibrary.create(tmp_path / "lib", encoder)
    lib.add([SEEDS / "000_8e1adf5baa08f22c.txt"], encoder)
    events: list[tuple[str, str]] = []
    real_sync, real_fsync, real_replace = generations.fsync, os.fsync, os.replace
    monkeypatch.setattr(generations, "fsync", lambda p: events.append(
        ("sync", Path(p).name + ("/" if Path(p).is_dir() else ""))) or real_sync(p))
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("sync", "fd")) or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", Path(b).name)) or real_replace(a, b))
    lib.add([SEEDS / "003_c13b77ec0b5e076f.txt"], encoder)
    switch = events.index(("replace", "manifest.json"))
    before = {name for kind, name in events[:switch] if kind == "sync"}
    bm25 = sorted(p.name for p in (lib.path / "bm25-2").iterdir())
    assert {"store-2.db", "index-2.faiss", "bm25-2/", "lib/", "fd", *bm25} <= before
    assert ("sync", "lib/") in events[switch:]  # the rename itself is made durable
    assert sorted(p.name for p in lib.path.iterdir() if not p.name.startswith(".")) == [
        "bm25-2", "index-2.faiss", "manifest.json", "store-2.db"]
