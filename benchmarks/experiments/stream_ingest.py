"""Does a ``--ray`` ingest into Milvus Lite write its vectors while it runs? Rows under the pending
generation over time, and the driver's peak RSS.

    python benchmarks/experiments/stream_ingest.py ../shared/eval/rtqa-2025 --articles 100 [--queue-batch 512]

Why: before streaming, the driver held every vector until one commit at the end; with
``Library.stage`` each encoded batch goes into the store (invisible until the switch). The
first ``--articles`` articles of the corpus go into a fresh Milvus Lite library through
``RayEncoder`` (``--ray auto``: a local Ray, ``--actors`` actors); a thread counts the chunk
rows above the library's generation every second. ``--queue-batch`` sets the texts per Ray
job (16,384 by default, smaller here so that a small corpus makes several batches).
Run it with PYTHONPATH pointing at the tree to measure (this one, or an older checkout).
"""
from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import describe  # noqa: E402

from qa.embedder import load_encoder  # noqa: E402
from embeddings.ray_encoder import RayEncoder  # noqa: E402
from qa.library import create_library  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--queue-batch", type=int, default=RayEncoder.queue_batch)
    ap.add_argument("--actors", type=int, default=2)
    a = ap.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp_dir, gzip.open(a.dataset / "corpus.jsonl.gz", "rt") as corpus:
        tmp = Path(tmp_dir)
        source = tmp / "articles.jsonl"
        source.write_text("".join(line for _, line in zip(range(a.articles), corpus)), encoding="utf-8")
        encoder = RayEncoder(load_encoder(), "auto", a.actors, load=load_encoder)
        encoder.queue_batch = a.queue_batch
        library = create_library(f"milvus://{tmp}/news.db/news", encoder)
        generation = library.manifest["generation"]
        samples: list[tuple[float, int]] = []
        done = threading.Event()
        start = time.perf_counter()

        def watch() -> None:
            while not done.wait(1.0):
                samples.append((time.perf_counter() - start,
                                library._count(library._chunks_c, f"added > {generation}")))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        report = library.add([source], encoder)
        done.set()
        watcher.join()
        wall = time.perf_counter() - start
    staged = [(t, n) for t, n in samples if n]
    print(json.dumps({"articles": len(report.added), "chunks": report.chunks, "wall_s": round(wall, 1),
                      "queue_batch": a.queue_batch,
                      "first_pending_rows_at_s": round(staged[0][0], 1) if staged else None,
                      "pending_rows_seen": [n for _, n in samples][::max(1, len(samples) // 12)],
                      "driver_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
