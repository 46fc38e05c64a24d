"""Filtered retrieval beside unfiltered: what ``--since``/``--until``/``--source`` cost a question.

    python benchmarks/experiments/filters.py [--library LIB] [--repeats 3]

Runs every rtqa-2025 question through one warm Retriever (k=10) four ways, interleaved so
that the machine's load falls on all of them alike:
  * none: no filter (the baseline);
  * week: ``--since`` its date minus 7 days, ``--until`` its date (a reader asking "this week");
  * year: the year of its date;
  * outlet: ``--source`` the outlet of the article that holds its answer best (a selective filter).
Prints p50/p99 milliseconds of each, their ratio to the baseline, and how many of the k
passages came back (a filter is applied inside the search, so k come back whenever k match).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from benchmarks.common import DATASET, describe, dev_library  # noqa: E402
from qa.embedder import load_encoder  # noqa: E402
from qa import evaluation  # noqa: E402
from qa.library import Filters, open_library  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

K = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", default=str(dev_library()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    encoder = load_encoder()
    library = open_library(args.library if "://" in args.library else Path(args.library), encoder)
    retriever = Retriever(library, encoder)
    questions = [q for q in evaluation.read_jsonl(DATASET / "questions.jsonl") if evaluation.question_date(q)]
    outlets = Counter(a.source for a in library.articles() if a.source)
    common = outlets.most_common(1)[0][0]
    ways = {
        "none": lambda day: None,
        "week": lambda day: Filters(day - timedelta(days=7), day),
        "year": lambda day: Filters(date(day.year, 1, 1), date(day.year, 12, 31)),
        "outlet": lambda day: Filters(sources=(common,)),
    }
    times: dict[str, list[float]] = {w: [] for w in ways}
    returned: dict[str, list[int]] = {w: [] for w in ways}
    for q in questions[:3]:  # warm caches and the encoder
        retriever.search(q["question"], K, today=evaluation.question_date(q))
    for _ in range(args.repeats):
        for q in questions:
            day = evaluation.question_date(q)
            for way, make in ways.items():
                start = time.perf_counter()
                passages = retriever.search(q["question"], K, today=day, where=make(day))
                times[way].append(time.perf_counter() - start)
                returned[way].append(len(passages))
    print(describe())
    print(f"library {args.library}: {library.counts['articles']} articles, {library.counts['chunks']} chunks; "
          f"{len(questions)} questions x {args.repeats}; outlet filter: {common!r} "
          f"({outlets[common]} articles)")
    base = statistics.median(times["none"])
    print(f"{'filter':8} {'p50 ms':>8} {'p99 ms':>8} {'p50 / none':>11} {'passages (mean of k=10)':>24}")
    for way in ways:
        t = np.asarray(times[way]) * 1e3
        print(f"{way:8} {np.percentile(t, 50):8.1f} {np.percentile(t, 99):8.1f} "
              f"{statistics.median(times[way]) / base:11.2f} {statistics.mean(returned[way]):24.2f}")


if __name__ == "__main__":
    main()
