"""What committing a long ingest in steps costs against one commit at the end.

    python benchmarks/suite/step_commits.py [--dataset ../shared/eval/rtqa-2025] [--articles N]
                                      [--article-s 0.9] [--step-s 300]

Why: an ingest commits every ``qa.library.ingest.STEP_S`` seconds (300), so that a kill loses
at most that much work; each step is a whole commit (the store copied, the vectors and the
keyword index written again, synced, switched). The corpus's articles (the first
``--articles``; default all) go into a fresh folder library twice, once with one commit (the baseline: STEP_S
infinite) and once in steps. The encoder is replaced by one that returns hashed vectors at
once (the real one's token counter, so the same chunks), so that the difference between the
two runs is the steps' commits, not the encoder's noise; the clock the steps are timed by
advances ``--article-s`` seconds per article read (0.9 s: the 2,009-article ingest that took
~30 min on 2 cores), so steps fall where they would in a real ingest. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe  # noqa: E402

from embeddings.encoder import Encoder  # noqa: E402
from qa.embedder import load_encoder  # noqa: E402
from qa.library import FolderLibrary  # noqa: E402
from qa.library import ingest as ingest_module  # noqa: E402


class InstantEncoder(Encoder):
    """The real encoder's name, size and token counter; vectors from a hash of each text, at once."""

    def __init__(self, real: Encoder) -> None:
        self.name, self.sha256, self.dim = real.name, real.sha256, real.dim
        self.max_tokens, self.abstain_below = real.max_tokens, real.abstain_below
        self._counter = real.token_counter()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress=None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        if progress:
            progress(len(texts))
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def token_counter(self):
        return self._counter


class ArticleClock:
    """The ingest's clock: ``article_s`` seconds per article read so far."""

    def __init__(self, article_s: float) -> None:
        self.article_s, self.read = article_s, 0

    def monotonic(self) -> float:
        return self.read * self.article_s

    def progress(self, stage: str, done: int, total: int) -> None:
        if stage == "read":
            self.read = done


class TimedLibrary(FolderLibrary):
    """A folder library that notes how long each commit takes."""

    commits: list[float] = []

    def commit(self, change, enc=None):
        start = time.perf_counter()
        super().commit(change, enc)
        self.commits.append(time.perf_counter() - start)


def one_run(source: Path, encoder: Encoder, step_s: float, article_s: float) -> dict:
    clock = ArticleClock(article_s)
    with tempfile.TemporaryDirectory() as tmp:
        lib = TimedLibrary.create(Path(tmp) / "lib", encoder)
        lib.commits = []
        start = time.perf_counter()
        with lib.writing(encoder):
            report = ingest_module.ingest(lib, [source], encoder, clock.progress, None, step_s, clock.monotonic)
        total = time.perf_counter() - start
    return {"total": total, "commits": lib.commits, "articles": len(report.added), "chunks": report.chunks}


STEP_S = ingest_module.STEP_S


def run(articles: int | None = None, article_s: float = 0.9, step_s: float = STEP_S, dataset: Path = DATASET) -> str:
    encoder = InstantEncoder(load_encoder())
    with tempfile.TemporaryDirectory() as tmp, gzip.open(dataset / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        source = Path(tmp) / "articles.jsonl"
        source.write_text("".join(line for i, line in enumerate(f) if articles is None or i < articles), encoding="utf-8")
        one = one_run(source, encoder, float("inf"), article_s)
        steps = one_run(source, encoder, step_s, article_s)
    real_s = one["articles"] * article_s
    extra = sum(steps["commits"]) - sum(one["commits"])
    rows = [
        "| run | commits | time in commits s | each commit s | whole ingest s (encoder instant) |",
        "|---|---|---|---|---|",
        f"| one commit (baseline) | 1 | {sum(one['commits']):.1f} | {one['commits'][0]:.1f} | {one['total']:.1f} |",
        f"| a step every {step_s:g} s | {len(steps['commits'])} | {sum(steps['commits']):.1f} | "
        f"{', '.join(f'{c:.1f}' for c in steps['commits'])} | {steps['total']:.1f} |",
    ]
    return "\n".join([
        "## Step commits: a long ingest commits every few minutes",
        "",
        f"`python benchmarks/suite/step_commits.py{f' --articles {articles}' if articles else ''} --article-s {article_s:g} "
        f"--step-s {step_s:g}`: "
        f"{one['articles']} articles of {dataset.name} ({one['chunks']} chunks) into a fresh folder library, "
        "with an encoder that answers at once (so the runs differ only in their commits), steps timed "
        f"by a clock of {article_s:g} s per article (the real ingest's pace on 2 cores).",
        "",
        *rows,
        "",
        f"The steps cost {extra:+.1f} s of commits; the real ingest these articles stand for takes about "
        f"{real_s / 60:.0f} min, so {100 * extra / real_s:.2f}% more, and a kill loses at most "
        f"{step_s / 60:g} min of it instead of all of it.",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--articles", type=int, help="Only the first N articles (default: all).")
    ap.add_argument("--article-s", type=float, default=0.9)
    ap.add_argument("--step-s", type=float, default=STEP_S)
    a = ap.parse_args()
    print(describe())
    print(run(a.articles, a.article_s, a.step_s, a.dataset))


if __name__ == "__main__":
    main()
