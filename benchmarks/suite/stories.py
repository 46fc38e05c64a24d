"""Grouping a window's articles into stories at scale: ``qa.stories`` beside an all-pairs baseline.

    python benchmarks/suite/stories.py [--n 100000] [--baseline-n 100000] [--ivf-baseline-n 100000] [--dim 384]

Synthetic article vectors (unit, ``--dim``), clustered as news is: stories of 2-60 articles
(sizes drawn from a Zipf law) within TOPICS topics (``planted``), and a third of the articles alone. Times the steps of
``qa.stories`` (k-NN by FAISS, average link over the k-NN graph, a loose link making small stories only,
then the events: a k-NN over the stories' centroids linking a large event's pieces) and, in the same run, the plain
baseline every all-pairs method pays at least: the exact similarity of every pair (FAISS
``IndexFlatIP`` top-k over all n² products), with no clustering on top, and FAISS's own search of
the inverted file that ``qa.stories`` searches list by list (``qa.knn.inverted_file``). Prints wall and CPU seconds (CPU: both threads' together, what the work costs whatever else
shares the cores; on an idle 2-core machine wall is about half of it). Also prints how well the
stories match the planted ones (share of planted stories of 3+ articles recovered whole by one
story at 0.8 purity), so speed is not bought with wrong groups: as shipped, and by plain average
link over the same k-NN graph (no size limit; the figure the k-NN's recall moves, as a planted
story's articles sit at cosine ~0.6, under FIRM_CUT, so the size limit cuts the large ones up).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import describe  # noqa: E402
from qa.stories import EXACT_UP_TO, NEIGHBOURS, PROBES, average_link, event_firsts, neighbours  # noqa: E402

TOPICS = 300


def planted(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors and their planted story (-1: an article alone). News vectors are not
    spread evenly over the sphere: stories share topics (politics, sport, weather). So each story's
    centre is one of TOPICS topic directions plus noise (two stories of a topic at cosine ~0.35,
    of two topics ~0), and each article its story's centre plus noise (~0.6 within a story)."""
    rng = np.random.default_rng(seed)
    labels = np.full(n, -1, np.int64)
    at, story = 0, 0
    while at < n * 2 // 3:
        size = min(int(rng.zipf(1.6)) + 1, 60, n * 2 // 3 - at)
        labels[at:at + size] = story
        at, story = at + size, story + 1
    topics = _unit(rng.standard_normal((TOPICS, dim)).astype(np.float32))
    centres = _unit(topics[rng.integers(0, TOPICS, story)] + 1.2 * _unit(rng.standard_normal((story, dim))))
    topic_of_loner = topics[rng.integers(0, TOPICS, n)]
    noise = _unit(rng.standard_normal((n, dim)).astype(np.float32))
    loners = _unit(topic_of_loner + 1.2 * noise)
    vectors = np.where(labels[:, None] >= 0, centres[np.maximum(labels, 0)] + 0.8 * noise, loners)
    order = rng.permutation(n)
    return _unit(vectors[order]), labels[order]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recovered(labels: np.ndarray, found: np.ndarray) -> float:
    """Share of planted stories of 3+ articles that one found story holds whole at 0.8 purity."""
    sizes = np.bincount(found)
    hits = total = 0
    for story in np.unique(labels[labels >= 0]):
        members = found[labels == story]
        if len(members) < 3:
            continue
        total += 1
        group = np.bincount(members).argmax()
        held = int((members == group).sum())
        hits += held == len(members) and held / sizes[group] >= 0.8
    return hits / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--baseline-n", type=int, default=100_000, help="articles for the all-pairs baseline (0: skip)")
    parser.add_argument("--ivf-baseline-n", type=int, default=100_000,
                        help="articles for FAISS's own IndexIVFFlat search, the same lists and probes (0: skip)")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    print(describe())
    print(f"faiss threads: {faiss.omp_get_max_threads()}")
    vectors, labels = planted(args.n, args.dim)
    clocks = [(time.perf_counter(), time.process_time())]
    scores, found = neighbours(vectors, NEIGHBOURS)
    clocks.append((time.perf_counter(), time.process_time()))
    groups = average_link(vectors, scores, found)
    clocks.append((time.perf_counter(), time.process_time()))
    numbers, inverse = np.unique(groups, return_inverse=True)
    centres = np.zeros((len(numbers), args.dim), np.float32)
    np.add.at(centres, inverse, vectors)
    first = event_firsts(_unit(centres))
    clocks.append((time.perf_counter(), time.process_time()))
    steps = ", ".join(f"{name} {end[0] - begin[0]:.1f} s (CPU {end[1] - begin[1]:.1f})" for name, begin, end
                      in zip(("k-NN", "average link", "events"), clocks, clocks[1:]))
    events = np.bincount(first)
    plain = average_link(vectors, scores, found, loose_max=None)
    print(f"qa.stories: {args.n:,} articles → {len(numbers):,} stories ({int((events > 1).sum()):,} events of "
          f"{int(events[events > 1].sum()):,} stories) in "
          f"{clocks[-1][0] - clocks[0][0]:.1f} s (CPU {clocks[-1][1] - clocks[0][1]:.1f} s; {steps}); "
          f"planted stories recovered {recovered(labels, groups):.3f} (plain average link: {recovered(labels, plain):.3f})")
    if args.baseline_n:
        base = vectors[:args.baseline_n]
        start, cpu = time.perf_counter(), time.process_time()
        index = faiss.IndexFlatIP(args.dim)
        index.add(base)
        index.search(base, NEIGHBOURS + 1)
        base_s, base_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"baseline, all pairs: exact similarity of {len(base):,} articles (top {NEIGHBOURS} of "
              f"{len(base) ** 2:,} products), no clustering: {base_s:.1f} s (CPU {base_cpu:.1f} s)")
    if args.ivf_baseline_n:
        base = vectors[:args.ivf_baseline_n]
        start, cpu = time.perf_counter(), time.process_time()
        lists = int(np.sqrt(len(base)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(args.dim), args.dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(base[np.random.default_rng(0).choice(len(base), min(len(base), 40 * lists), replace=False)])
        index.add(base)
        index.nprobe = PROBES
        index.search(base, NEIGHBOURS + 1)
        base_s, base_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"baseline, FAISS IndexIVFFlat's search ({lists} lists, {PROBES} probes, as qa.stories' k-NN "
              f"above {EXACT_UP_TO:,}) of {len(base):,} articles: {base_s:.1f} s (CPU {base_cpu:.1f} s)")
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
