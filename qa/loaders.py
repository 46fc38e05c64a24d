"""Where the package gets its models: the embedder, the LLM and the judge.

Every part of qa that loads a model calls ``encoder()``, ``llm()`` or ``judge()`` here, which
load the shipped models (``qa.embedder``, ``qa.llm``, ``qa.judge``) unless other loaders were
installed with ``use``. Tests and applications embedding qa choose their models this way
(fakes for fast logic tests, a model of their own) instead of patching import paths by string,
which breaks silently whenever a module imports a loader differently:

    with loaders.use(encoder=FakeEncoder, llm=lambda model=None, progress=None: my_llm):
        Assistant(path).ask("…")

The installed loaders are one module-level value under a lock, not a ContextVar: the chat's
worker threads and ``qa serve``'s threads load models too, and must see what the caller installed.
The real loaders are imported on first use only, so that a cold ``qa ask --no-llm`` imports no
more than it needs.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embeddings.encoder import Encoder
    from qa.judge import Judge
    from qa.llm import LLM, LoadProgress

_lock = threading.Lock()
_installed: dict[str, Callable] = {}


def _loader(kind: str) -> Callable | None:
    with _lock:
        return _installed.get(kind)


def encoder() -> Encoder:
    """The embedder (default: the one listed in models.txt)."""
    load = _loader("encoder")
    if load is None:
        from qa.embedder import load_encoder as load
    return load()


def llm(model: str | None = None, progress: LoadProgress | None = None) -> LLM:
    """The LLM ``model`` names (default: the manifest's default LLM); ``progress`` as for
    ``qa.llm.load_llm``."""
    load = _loader("llm")
    if load is None:
        from qa.llm import load_llm as load
    return load(model, progress)


def judge() -> Judge | None:
    """The judge (default: the shipped one; None where models.txt lists none)."""
    load = _loader("judge")
    if load is None:
        from qa.judge import load_judge as load
    return load()


@contextmanager
def use(*, encoder: Callable[[], Encoder] | None = None,
        llm: Callable[[str | None, LoadProgress | None], LLM] | None = None,
        judge: Callable[[], Judge | None] | None = None) -> Iterator[None]:
    """Within the block, load models with the given loaders (any subset; the others stay as they
    were), in every thread; on exit the previous loaders come back, so uses nest."""
    given = {kind: load for kind, load in (("encoder", encoder), ("llm", llm), ("judge", judge))
             if load is not None}
    with _lock:
        previous = {kind: _installed.get(kind) for kind in given}
        _installed.update(given)
    try:
        yield
    finally:
        with _lock:
            for kind, load in previous.items():
                if load is None:
                    _installed.pop(kind, None)
                else:
                    _installed[kind] = load
