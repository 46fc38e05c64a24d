"""qa.loaders: the models qa loads come from the loaders installed with ``loaders.use``, in every
thread, and the previous ones come back when a use ends."""
from __future__ import annotations

import threading

import pytest

import qa.llm
from fakes import FakeEncoder, FakeLLM, loads
from qa import loaders


def test_installed_loaders_are_used_and_hear_the_arguments():
    encoder, judge, asked = FakeEncoder(), object(), []
    llm = FakeLLM()
    with loaders.use(encoder=lambda: encoder, llm=lambda model, progress: asked.append((model, progress)) or llm,
                     judge=lambda: judge):
        assert loaders.encoder() is encoder
        assert loaders.llm("small", print) is llm
        assert loaders.judge() is judge
    assert asked == [("small", print)]


def test_without_an_installed_llm_loader_the_real_one_is_called(monkeypatch):
    calls = []
    monkeypatch.setattr(qa.llm, "load_llm", lambda model=None, progress=None: calls.append(model) or "real")
    assert loaders.llm("small") == "real" and calls == ["small"]
    with loaders.use(llm=loads(FakeLLM())):
        assert isinstance(loaders.llm("small"), FakeLLM)
    assert loaders.llm("other") == "real" and calls == ["small", "other"]


def test_uses_nest_and_a_subset_leaves_the_others_in_place():
    outer_llm, inner_llm, encoder = FakeLLM(), FakeLLM(), FakeEncoder()
    with loaders.use(encoder=lambda: encoder, llm=loads(outer_llm)):
        with loaders.use(llm=loads(inner_llm)):
            assert loaders.llm() is inner_llm
            assert loaders.encoder() is encoder
        assert loaders.llm() is outer_llm
        with pytest.raises(RuntimeError), loaders.use(llm=loads(inner_llm)):
            raise RuntimeError("a failing block")
        assert loaders.llm() is outer_llm  # restored on the way out of an error too


def test_other_threads_see_the_installed_loaders():
    """The chat loads its models on worker threads: they must get what the caller installed."""
    llm, seen = FakeLLM(), []
    with loaders.use(llm=loads(llm)):
        worker = threading.Thread(target=lambda: seen.append(loaders.llm()))
        worker.start()
        worker.join()
    assert seen == [llm]


def test_logic_tests_get_no_judge():
    """conftest's autouse fixture installs a judge loader that gives none, through the hook."""
    assert loaders.judge() is None
