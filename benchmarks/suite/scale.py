"""Vector and keyword search at library scale: build time, memory, query latency, recall@10.

    python benchmarks/suite/scale.py --sizes 100000,1000000 [--library LIB] [--quick]

Why: qa's retrieval must stay interactive as a library grows from thousands of chunks to a
million. This measures, for each size, (1) the exact baseline ``IndexFlatIP``; (2) the index
``VectorIndex`` picks for that size (exact up to ``VectorIndex.exact_max_rows`` rows, IVF
above), saved, checked (``qa.library.folder.checks.check_index_file``, done on every open) and opened
memory-mapped the way ``qa ask`` opens it; (3) BM25 (``qa.bm25.KeywordIndex``).

Data: the real all-MiniLM-L6-v2 vectors of a library's chunks (``--library``, default
the rtqa-2025 library ``qa eval`` builds), 1,000 of them held out as queries; the rest repeated to the size, every copy
after the first with Gaussian noise (sigma 0.02 a dimension, about 0.4 of the unit norm)
and re-normalised. Queries are the held-out vectors with the same noise, searched one at a
time (like ``qa ask``). Recall@10 is against exact search over the same vectors. BM25
texts are the library's chunk texts repeated; queries are 12-word openings of chunks.

Each measurement runs in a fresh process, so its peak RSS is its own; "RSS added" is the
peak minus the RSS before building (the data itself is excluded).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import describe, dev_library  # noqa: E402

DEFAULT_LIBRARY = dev_library()
HELD_OUT = 1000
NOISE = 0.02
TIMED_QUERIES = 300  # single queries timed per index (exact search at 1M takes ~0.2 s each)
BM25_QUERIES = 200


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _real_vectors(library: Path) -> np.ndarray:
    from qa.library import open_library

    lib = open_library(library)
    index = faiss.read_index(str(library / lib.manifest["files"]["index"]))
    return index.reconstruct_n(0, index.ntotal)


def scale_vectors(library: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(base vectors of ``size`` rows, query vectors), the same for every process."""
    rng = np.random.default_rng(0)
    real = _real_vectors(library)
    order = rng.permutation(len(real))
    held, base = real[order[:HELD_OUT]], real[order[HELD_OUT:]]
    x = np.empty((size, real.shape[1]), np.float32)
    for start in range(0, size, len(base)):
        part = base[: size - start].copy()
        if start:
            part += rng.normal(0, NOISE, part.shape).astype(np.float32)
        x[start:start + len(part)] = part
    queries = held + rng.normal(0, NOISE, held.shape).astype(np.float32)
    faiss.normalize_L2(x)
    faiss.normalize_L2(queries)
    return x, queries


def latency_ms(search: Callable[[Any], object], queries: Sequence) -> tuple[float, float]:
    """p50 and p99 of ``search(q)``, one query at a time."""
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def _exact(library: Path, size: int) -> dict:
    x, queries = scale_vectors(library, size)
    before = _rss_mib()
    start = time.perf_counter()
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    build = time.perf_counter() - start
    p50, p99 = latency_ms(lambda q: index.search(q[None], 10), queries[:TIMED_QUERIES])
    truth = index.search(queries, 10)[1]
    return dict(kind="IndexFlatIP (exact baseline)", build_s=build, bytes=index.ntotal * index.d * 4,
                rss_added=_peak_rss_mib() - before, p50=p50, p99=p99, recall=1.0, truth=truth)


def _chosen(library: Path, size: int, truth: np.ndarray) -> dict:
    from embeddings.index import VectorIndex
    from qa.library.folder.checks import check_index_file, read_index

    x, queries = scale_vectors(library, size)
    before = _rss_mib()
    start = time.perf_counter()
    built = VectorIndex(x.shape[1])
    built.add(x)
    build = time.perf_counter() - start
    kind, nprobe = built.kind, built.nprobe
    del x
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index-1.faiss"
        built.save(path)
        del built
        with open(path, "rb") as stream:
            start = time.perf_counter()
            check_index_file(stream, queries.shape[1], size)
            check = time.perf_counter() - start
            start = time.perf_counter()
            index = read_index(stream, queries.shape[1], mapped=True)
            load = time.perf_counter() - start
            p50, p99 = latency_ms(lambda q: index.search(q[None], 10), queries[:TIMED_QUERIES])
            found = index.search(queries, 10)[1]
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        return dict(kind=f"VectorIndex: {kind}" + (f", nprobe {nprobe}" if nprobe else ""), build_s=build,
                    bytes=path.stat().st_size, rss_added=_peak_rss_mib() - before, p50=p50, p99=p99,
                    recall=recall, check_ms=check * 1e3, load_ms=load * 1e3)


def _bm25(library: Path, size: int) -> dict:
    from qa.bm25 import KeywordIndex
    from qa.library import open_library

    real = open_library(library).chunk_texts()
    texts = (real * (size // len(real) + 1))[:size]
    rng = np.random.default_rng(0)
    queries = [" ".join(real[i].split()[:12]) for i in rng.choice(len(real), BM25_QUERIES, replace=False)]
    before = _rss_mib()
    start = time.perf_counter()
    index = KeywordIndex.build(texts)
    build = time.perf_counter() - start
    rss = _peak_rss_mib() - before
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp) / "bm25")
        size_on_disk = sum(p.stat().st_size for p in (Path(tmp) / "bm25").iterdir())
    p50, p99 = latency_ms(lambda q: index.search(q, 10), queries)
    return dict(kind="BM25 (bm25s)", build_s=build, bytes=size_on_disk, rss_added=rss, p50=p50, p99=p99)


def _in_child(fn, *args):
    """Run ``fn`` in a fresh process, so its peak RSS is its own."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def machine() -> str:
    return f"{describe()}, faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads)"


def run(sizes: tuple[int, ...] = (100_000, 1_000_000), library: Path = DEFAULT_LIBRARY,
        bm25_max: int = 1_000_000) -> str:
    """A markdown section: one table row per size and index, BM25 up to ``bm25_max`` chunks."""
    from embeddings.index import VectorIndex

    rows, notes = [], []
    for size in sizes:
        exact = _in_child(_exact, library, size)
        measured = [exact, _in_child(_chosen, library, size, exact.pop("truth"))]
        if size <= bm25_max:
            measured.append(_in_child(_bm25, library, size))
        else:
            notes.append(f"BM25 at {size:,} chunks not measured (over --bm25-max {bm25_max:,}).")
        for r in measured:
            rows.append((size, r))
            print(size, r, file=sys.stderr, flush=True)  # a long run shows its figures as they come
    lines = [
        "## Scale: vector and keyword search", "",
        f"Machine: {machine()}.", "",
        f"`python benchmarks/suite/scale.py --sizes {','.join(map(str, sizes))}`. Exact search up to "
        f"{VectorIndex.exact_max_rows:,} rows, IVF above. Vectors: real MiniLM chunk vectors repeated "
        f"with noise (sigma {NOISE}); {HELD_OUT} held-out real vectors as queries; latency over "
        f"{TIMED_QUERIES} single queries (BM25: {BM25_QUERIES}), k=10. Memory: file size and peak RSS "
        "added while building (not counting the input data). Check: validating the file, done on every "
        "open; open: memory-mapping it.", "",
        "| chunks | index | build s | file MiB | RSS added MiB | p50 ms | p99 ms | recall@10 | check / open ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in rows:
        extra = f"{r['check_ms']:.0f} / {r['load_ms']:.0f}" if "check_ms" in r else ""
        recall = f"{r['recall']:.3f}" if "recall" in r else ""
        lines.append(f"| {size:,} | {r['kind']} | {r['build_s']:.1f} | {r['bytes'] / 2**20:.0f} | "
                     f"{r['rss_added']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {recall} | {extra} |")
    return "\n".join(lines + [""] + notes) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts")
    ap.add_argument("--library", type=Path, default=DEFAULT_LIBRARY, help="where the real vectors and texts come from")
    ap.add_argument("--bm25-max", type=int, default=1_000_000, help="skip BM25 above this many chunks")
    ap.add_argument("--quick", action="store_true", help="smoke run: 30,000 and 60,000 chunks")
    a = ap.parse_args()
    sizes = (30_000, 60_000) if a.quick else tuple(int(s) for s in a.sizes.split(","))
    print(run(sizes, a.library, a.bm25_max))


if __name__ == "__main__":
    main()
