"""Ingest throughput against bare ``SentenceTransformer.encode``: on the same chunk texts, and
on the encoder's floor (every word of the articles read once).

    python benchmarks/suite/ingest.py [--dataset ../shared/eval/rtqa-2025] [--articles 150]

Takes the first N articles of the dataset's corpus and, in one run: ingests them
into a new library (reading, cleaning, dates, chunking, embedding, SQLite, FAISS
and BM25: everything ``qa ingest`` does), then encodes exactly the texts that
were embedded (each title once and the chunks, or "title\nchunk" in a library of the old
chunking) with a bare ``SentenceTransformer.encode`` (batch 32), then the floor:
the same articles' text cut into 150-word windows, no overlap, no titles. The model is
loaded before each clock starts, so the rates are steady-state. Each runs in its own
process, so each peak RSS is its own. Tokens per article: the word pieces the model
reads (its 256-token cut and [CLS]/[SEP] included), so an overlap between chunks or a
title before each one would show up as tokens read twice.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, REPO, describe  # noqa: E402

FLOOR_WORDS = 150


def _ingest(corpus: Path, library: Path) -> dict:
    from qa.embedder import load_encoder
    from qa.library import create_library

    encoder = load_encoder()
    encoder._load()  # model load is not ingest work: both sides start with a loaded model
    start = time.perf_counter()
    lib = create_library(library, encoder)
    report = lib.add([corpus], encoder)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "articles": len(report.added), "chunks": lib.counts["chunks"]}


def _bare(library: Path) -> dict:
    """The texts ingest gave the encoder, in its order: per article its title (where the library
    mixes titles in) and its chunks, or each chunk with its title before it (``title_mix`` 0)."""
    from qa.reading.chunking import ChunkParams, encoder_texts
    from qa.library import open_library

    lib = open_library(library)
    params = ChunkParams.from_dict(lib.chunking)
    stored = lib.chunks(range(lib.counts["chunks"]))
    texts, i = [], 0
    while i < len(stored):
        j = i
        while j < len(stored) and stored[j].article.id == stored[i].article.id:
            j += 1
        texts += encoder_texts(stored[i].article.title, [c.text for c in stored[i:j]], params)
        i = j
    return _encode(texts)


def _floor(library: Path) -> dict:
    from qa.library import open_library

    texts = []
    for article in open_library(library).articles():
        words = article.text.split()
        texts += [" ".join(words[i:i + FLOOR_WORDS]) for i in range(0, len(words), FLOOR_WORDS)]
    return _encode(texts)


def _encode(texts: list[str]) -> dict:
    from qa.embedder import load_encoder

    encoder = load_encoder()
    model = encoder._load()
    tokens = sum(min(n + 2, encoder.max_tokens) for n in encoder.token_counter().count(texts))
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    return {"seconds": time.perf_counter() - start, "chunks": len(texts), "tokens": tokens}


def _child(kind: str, *args: str) -> dict:
    """Run one side in a fresh process; returns its figures plus its peak RSS."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(REPO)!r}); "
            f"from benchmarks.suite import ingest; r = ingest._{kind}(*map(ingest.Path, sys.argv[1:])); "
            "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _subset(dataset: Path, n: int, folder: Path) -> Path:
    from qa.evaluation import corpus_path

    source = corpus_path(dataset)
    opener = gzip.open if source.suffix == ".gz" else open
    target = folder / "corpus.jsonl"
    with opener(source, "rt", encoding="utf-8") as f, open(target, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i >= n:
                break
            out.write(line)
    return target


def run(dataset: Path = DATASET, articles: int = 150) -> str:
    """Markdown section with the figures; also printed as it goes."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = _subset(dataset, articles, Path(tmp))
        ingest = _child("ingest", str(corpus), str(Path(tmp) / "lib"))
        print(f"ingest: {ingest}", flush=True)
        bare = _child("bare", str(Path(tmp) / "lib"))
        print(f"bare encode: {bare}", flush=True)
        floor = _child("floor", str(Path(tmp) / "lib"))
        print(f"floor: {floor}", flush=True)
    ingest_rate, bare_rate = ingest["chunks"] / ingest["seconds"], bare["chunks"] / bare["seconds"]
    n = ingest["articles"]
    return "\n".join([
        "## Ingest throughput",
        "",
        f"`python benchmarks/suite/ingest.py --articles {articles}`: the first {articles} articles of "
        f"{dataset.name}'s corpus; {describe()}.",
        "",
        "| what | seconds | articles/s | chunks/s | tokens/article | peak RSS MB | vs bare | vs floor |",
        "|---|---|---|---|---|---|---|---|",
        f"| floor: bare encode of the articles in {FLOOR_WORDS}-word windows, no overlap, no titles "
        f"({floor['chunks']} texts) | {floor['seconds']:.1f} | {n / floor['seconds']:.2f} | | "
        f"{floor['tokens'] / n:.0f} | {floor['peak_rss_mb']:.0f} | | 1.00 |",
        f"| baseline: bare `SentenceTransformer.encode` of the same {bare['chunks']} texts (titles and chunks) | {bare['seconds']:.1f} "
        f"| {n / bare['seconds']:.2f} | {bare_rate:.1f} | {bare['tokens'] / n:.0f} | {bare['peak_rss_mb']:.0f} | 1.00 "
        f"| {floor['seconds'] / bare['seconds']:.2f} |",
        f"| `Library.add` (read, clean, chunk, embed, store, FAISS, BM25) | {ingest['seconds']:.1f} | "
        f"{n / ingest['seconds']:.2f} | {ingest_rate:.1f} | {bare['tokens'] / n:.0f} | {ingest['peak_rss_mb']:.0f} "
        f"| {bare['seconds'] / ingest['seconds']:.2f} | {floor['seconds'] / ingest['seconds']:.2f} |",
        "",
        "Target: ≥ 0.95 of the floor's speed (articles/s).",
    ]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--articles", type=int, default=150, help="How many of the corpus's articles to ingest.")
    print(run(**vars(ap.parse_args())))


if __name__ == "__main__":
    main()
