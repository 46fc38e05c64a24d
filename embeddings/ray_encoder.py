"""Bulk encoding spread over a Ray cluster: Ray Data ``map_batches`` with a pool of encoder actors.

Each actor loads the embedder once (with ``load``: qa passes its loader, which finds models.txt's
embedder on the node and checks its sha256) and
encodes batches of chunk texts; the vectors stream back to the driver in order,
and each finished batch of ``queue_batch`` texts goes on into the store (``Library.stage``:
Milvus writes it under the pending generation), so the driver holds one or two batches'
vectors, not the archive's; the commit's switch makes them all live at once. The driver keeps reading and
chunking (the ingest's encoding queue hands texts over in large batches, so an
actor pool starts once per batch of ``queue_batch`` texts, not per article).

``address="auto"`` starts a local Ray (a smoke run, or all cores of one machine);
``ray://HEAD:10001`` joins a cluster whose nodes have qa-news installed.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder, Progress, SentenceTransformerEncoder, TokenCounter


def _ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise RuntimeError("ingest with --ray needs the cluster extra: pip install 'qa-news[cluster]'") from None
    return ray


class _EmbedActor:
    """One model per actor, loaded when the pool starts."""

    def __init__(self, load: Callable[[], Encoder]) -> None:
        self.encoder = load()

    def __call__(self, batch: dict) -> dict:
        return {"i": batch["i"], "vector": self.encoder.encode(list(batch["text"]), batch_size=64)}


class RayEncoder(Encoder):
    """The local embedder's identity (name, sha256, dimension, tokenizer), its work done by Ray actors."""

    queue_batch = 16_384  # texts per encode() call: one actor pool each

    def __init__(self, local: Encoder, address: str = "auto", actors: int | None = None,
                 batch_size: int = 256, load: Callable[[], Encoder] | None = None) -> None:
        """``load``: how an actor makes its own encoder on its node (default: ``local``'s files,
        where every node has them at the driver's paths)."""
        self.name, self.sha256, self.dim = local.name, local.sha256, local.dim
        self.max_tokens, self.abstain_below = local.max_tokens, local.abstain_below
        self._local = local
        self._load = load or partial(SentenceTransformerEncoder, local.files)
        self.actors = actors or max(1, (os.cpu_count() or 1))
        self.batch_size = batch_size
        ray = _ray()
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        if not ray.is_initialized():
            # Workers import qa from where the driver does (a checkout, or site-packages).
            code = str(Path(__file__).resolve().parents[1])
            env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (code, os.environ.get("PYTHONPATH")) if p),
                                "RAY_BACKEND_LOG_LEVEL": "fatal"}}
            options = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                           runtime_env=env)
            if address == "auto":
                ray.init(num_cpus=self.actors, **options)
            else:
                ray.init(address=address, **options)
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.preserve_order = True

    def token_counter(self) -> TokenCounter:
        return self._local.token_counter()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None) -> np.ndarray:
        ray = _ray()
        vectors = np.zeros((len(texts), self.dim), np.float32)
        if not len(texts):
            return vectors
        data = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
        pool = ray.data.ActorPoolStrategy(size=min(self.actors, -(-len(texts) // self.batch_size)))
        out = data.map_batches(_EmbedActor, batch_size=self.batch_size, batch_format="numpy", num_cpus=1,
                               compute=pool, fn_constructor_kwargs={"load": self._load})
        for batch in out.iter_batches(batch_size=self.batch_size, batch_format="numpy"):
            vectors[batch["i"]] = batch["vector"]
            if progress:
                progress(len(batch["i"]))
        return vectors
