"""Encoding in a worker while ingest goes on reading: same vectors, same order, progress counted."""
from __future__ import annotations

import threading

import numpy as np

from embeddings.encoder import EncodingQueue
from qa.api import SEEDS
from qa.library import FolderLibrary

from fakes import FakeEncoder


class RecordingEncoder(FakeEncoder):
    """A fake that notes which thread encoded each call, and whether bulk loading came first."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.prepared = False

    def prepare_bulk(self) -> None:
        assert threading.current_thread() is threading.main_thread()
        self.prepared = True

    def encode(self, texts, batch_size=32, progress=None):
        self.threads.append(threading.current_thread().name)
        return super().encode(texts, batch_size, progress)


def test_queue_keeps_order_and_counts_progress(monkeypatch):
    monkeypatch.setattr(EncodingQueue, "batch", 4)
    encoder, seen = RecordingEncoder(), []
    texts = [f"article {i} about harbour number {i * 7}" for i in range(11)]
    with EncodingQueue(encoder, lambda done, total: seen.append((done, total))) as queue:
        for i in range(0, len(texts), 3):
            queue.add(texts[i:i + 3])
        vectors = queue.result()
    np.testing.assert_array_equal(vectors, FakeEncoder().encode(texts))
    assert encoder.prepared and all(name.startswith("qa-encode") for name in encoder.threads)
    assert seen[-1] == (11, 11) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_small_job_is_encoded_in_the_callers_thread():
    encoder = RecordingEncoder()
    with EncodingQueue(encoder) as queue:
        queue.add(["one short text"])
        assert queue.result().shape == (1, 384)
    assert encoder.threads == [threading.current_thread().name] and not encoder.prepared


def test_progress_is_heard_before_the_first_encode(monkeypatch):
    """A first ingest loads the model inside the first encode: the bar must be up before it."""
    seen: list[tuple[int, int]] = []

    class Slow(RecordingEncoder):
        def encode(self, texts, batch_size=32, progress=None):
            assert seen == [(0, len(texts))], seen
            return super().encode(texts, batch_size, progress)

    for batch in (100, 2):
        seen.clear()
        monkeypatch.setattr(EncodingQueue, "batch", batch)
        with EncodingQueue(Slow(), lambda done, total: seen.append((done, total))) as queue:
            queue.add(["one short text", "another"])
            queue.result()
        assert seen[-1] == (2, 2)


def test_ingest_through_the_worker_gives_the_same_library(monkeypatch, tmp_path):
    direct = FolderLibrary.create(tmp_path / "direct", FakeEncoder())
    direct.add([SEEDS], FakeEncoder())
    monkeypatch.setattr(EncodingQueue, "batch", 5)
    encoder = RecordingEncoder()
    queued = FolderLibrary.create(tmp_path / "queued", encoder)
    queued.add([SEEDS], encoder)
    assert any(name.startswith("qa-encode") for name in encoder.threads)
    assert queued.counts == direct.counts
    rows = list(range(direct.counts["chunks"]))
    np.testing.assert_array_equal(queued.index.vectors(rows), direct.index.vectors(rows))
    assert queued.chunk_texts() == direct.chunk_texts()


def test_batches_done_before_the_last_add_are_kept_for_the_result(monkeypatch):
    """A batch finished while texts were still being added is handed over at that add; result()
    must still hold it (it used to be dropped when the queue had no on_vectors)."""
    monkeypatch.setattr(EncodingQueue, "batch", 4)
    texts = [f"harbour text {i}" for i in range(5)]
    with EncodingQueue(RecordingEncoder()) as queue:
        queue.add(texts[:4])  # submits the first batch (handed over here already if it is done)
        for part in list(queue._parts):
            part.result()  # the worker has finished it
        queue.add(texts[4:])  # hands it over, if the first add did not
        vectors = queue.result()
    np.testing.assert_array_equal(vectors, FakeEncoder().encode(texts))


def test_the_encoder_starts_on_the_first_bulk_sized_batch_then_takes_larger_ones():
    """The first batch is handed to the worker as soon as it is large enough for the bulk engine
    (so reading the first articles is hidden behind the encoder too); later ones are full size."""
    sizes: list[int] = []

    class Sizes(RecordingEncoder):
        def encode(self, texts, batch_size=32, progress=None):
            sizes.append(len(texts))
            return super().encode(texts, batch_size, progress)

    encoder = Sizes()
    texts = [f"chunk {i} of a long archive about harbours" for i in range(2500)]
    with EncodingQueue(encoder) as queue:
        for i in range(0, len(texts), 10):
            queue.add(texts[i:i + 10])
        vectors = queue.result()
    assert sizes[0] == 260 > 256  # adds of 10 texts: the first add past 256
    assert len(sizes) == 4 and all(EncodingQueue.batch <= n < EncodingQueue.batch + 10 for n in sizes[1:-1])
    assert sum(sizes) == 2500 and encoder.threads[0].startswith("qa-encode")
    np.testing.assert_array_equal(vectors, FakeEncoder().encode(texts))
