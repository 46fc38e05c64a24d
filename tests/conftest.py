"""Shared fixtures: an isolated data dir per test, the real encoder once per session,
and the fakes (tests/fakes.py) for fast logic tests (the real LLM is tested separately)."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fakes import FakeEncoder, FakeLLM, loads
from qa import loaders

# In CI (CI=true) Hypothesis draws the same examples every run and never times data generation,
# so a landing cannot fail on a case drawn by chance or on a slow machine; developers' runs draw
# new examples, and a failure found there becomes an @example.
settings.register_profile("ci", derandomize=True, suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "qa" / "seeds"
WIRE = Path(__file__).parent / "fixtures" / "wire_copy.jsonl"  # the 2003 VOA article as an undated wire copy
EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def qa_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("qa_home")
    monkeypatch.setenv("QA_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def encoder():
    from qa.embedder import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def week_library(tmp_path_factory, encoder) -> Path:
    """One real week of news (../shared/eval/rtqa-2025-week, 130 articles) ingested once with the
    real embedder, for the slow tests that read it (several minutes on 2 cores: not once per test)."""
    week = EVAL / "rtqa-2025-week"
    if not week.is_dir():
        pytest.skip("needs ../shared/eval/rtqa-2025-week")
    from qa.library import create_library

    path = tmp_path_factory.mktemp("weeklib") / "week"
    create_library(path, encoder).add([week / "corpus.jsonl.gz"], encoder)
    return path


@pytest.fixture(scope="session")
def seed_library(tmp_path_factory, encoder):
    """The four sample articles, ingested once with the real embedder."""
    from qa.library import FolderLibrary

    path = tmp_path_factory.mktemp("seedlib")
    old = os.environ.get("QA_HOME")
    os.environ["QA_HOME"] = str(tmp_path_factory.mktemp("seed_home"))
    try:
        library = FolderLibrary.create(path, encoder)
        library.add([SEEDS], encoder)
    finally:
        if old is None:
            os.environ.pop("QA_HOME")
        else:
            os.environ["QA_HOME"] = old
    return path


@pytest.fixture(autouse=True)
def no_judge_in_logic_tests(request) -> Iterator[None]:
    """Fast logic tests run on fakes, so the Assistant gets no judge there; the shipped judge, a
    real model, answers in the slow tests (and in tests/test_judge.py)."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    with loaders.use(judge=lambda: None):
        yield


@pytest.fixture
def fakes() -> Iterator[FakeLLM]:
    """The CLI and API load the fake encoder and this fake LLM (queue its replies)."""
    llm = FakeLLM()
    with loaders.use(encoder=FakeEncoder, llm=loads(llm)):
        yield llm


@pytest.fixture
def use_loaders() -> Iterator[Callable[..., None]]:
    """``use_loaders(llm=…)``: ``loaders.use(…)`` from there until the test ends, for a test that
    changes a loader part way through (or on top of ``fakes``)."""
    with ExitStack() as stack:
        yield lambda **given: stack.enter_context(loaders.use(**given))


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def outlets_library(fakes, tmp_path) -> Path:
    """The seeds and the Wire Digest copy of the 2003 VOA article (undated: it takes VOA's date),
    ingested with the fakes."""
    from click.testing import CliRunner

    from qa import cli

    lib = tmp_path / "lib"
    result = CliRunner().invoke(cli.main, ["ingest", str(SEEDS), str(WIRE), "--library", str(lib)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    return lib
