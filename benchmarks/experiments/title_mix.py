"""A proxy for chunking designs that encode fewer tokens (#17 item 4), before the full check.

    python benchmarks/experiments/title_mix.py [--dataset ../shared/eval/rtqa-2025] [--articles 50]
        [--designs legacy,prefix,160:50,200:50] [--cosine 0.3,0.5,0.7,1.0]

On a sample of the dataset (the articles that hold the answers of its first questions, in
corpus order, two per question, until ``--articles``; answers found in more than six articles
are skipped) each design is a real folder library, made by ``Library.add`` with its chunking
params, and searched by the real retriever (dense + BM25, dates, widening): recall@1/5/10 on
the questions whose answer text is in the sample, and the word pieces encoded per article.

Designs: ``legacy`` (libraries before #17: "title\nchunk", one sentence of overlap), ``prefix``
("title\nchunk", no overlap), ``T:M`` (no overlap, chunks of T target tokens, the title encoded
once per article and mixed in at M percent: today's default is 160:50).

``--cosine A,B``: also how close, on the legacy chunks, ``normalize(v_chunk + a * v_title)`` is to
the ``title\nchunk`` vector, for each ``a`` (0 too). Every distinct text is encoded once a run.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.common import DATASET, describe  # noqa: E402


class Cached:
    """An encoder that encodes each distinct text once for the whole run."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.cache: dict[str, np.ndarray] = {}
        self.tokens = 0

    def vectors(self, texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            counts = self.inner.token_counter().count(todo)
            self.tokens += sum(min(n + 2, self.inner.max_tokens) for n in counts)
            for t, v in zip(todo, self.inner.encode(todo)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.inner.dim), np.float32)


class Design:
    """The Encoder a design's library gets: the cached one, counting what it is made to read
    (the questions' texts are not counted: the library's own texts come first, in ``read``)."""

    def __init__(self, cached: Cached) -> None:
        self.cached = cached
        inner = cached.inner
        self.name, self.sha256, self.dim = inner.name, inner.sha256, inner.dim
        self.max_tokens, self.abstain_below = inner.max_tokens, inner.abstain_below
        self.read: list[str] = []
        self.reading = True

    def token_counter(self):
        return self.cached.inner.token_counter()

    def warm_up(self) -> None:
        pass

    def prepare_bulk(self) -> None:
        pass

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:
        if self.reading:
            self.read += list(texts)
        out = self.cached.vectors(list(texts))
        if progress:
            progress(len(texts))
        return out.astype(np.float32)


def sample(dataset: Path, n_articles: int, folder: Path) -> tuple[Path, list[dict], list[str]]:
    """The first articles that hold answers (two per question at most), as a corpus file."""
    from qa import evaluation

    with gzip.open(evaluation.corpus_path(dataset), "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    questions = evaluation.read_jsonl(dataset / "questions.jsonl")
    chosen: dict[str, dict] = {}
    for q in questions:
        holding = [r for r in records if evaluation.contains(r["text"], q["answer"])]
        if len(holding) > 6:  # an answer so common ("Yes") that it says nothing about retrieval
            continue
        for r in holding[:2]:
            chosen.setdefault(r["id"], r)
        if len(chosen) >= n_articles:
            break
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in chosen.values()), encoding="utf-8")
    texts = [r["text"] for r in chosen.values()]
    asked = [q for q in questions if any(evaluation.contains(t, q["answer"]) for t in texts)]
    return corpus, asked, texts


def params_of(design: str):
    from qa.reading.chunking import LEGACY, ChunkParams

    if design == "legacy":
        return "legacy: title\\nchunk, overlap 1", LEGACY
    if design == "prefix":
        return "title\\nchunk, overlap 0", ChunkParams(overlap_sentences=0, title_mix=0)
    target, mix = (int(x) for x in design.split(":"))
    return f"target {target}, title mixed at {mix / 100}, overlap 0", ChunkParams(target_tokens=target, title_mix=mix)


def run(dataset: Path, n_articles: int, designs: list[str], alphas: list[float]) -> str:
    from qa.embedder import load_encoder
    from qa import evaluation
    from qa.api import Assistant
    from qa.reading.chunking import LEGACY, chunk_text, embed_text
    from qa.library import FolderLibrary

    inner = load_encoder()
    inner.prepare_bulk()
    cached = Cached(inner)
    tmp = Path(tempfile.mkdtemp(prefix="qa-titlemix-"))
    corpus, questions, texts = sample(dataset, n_articles, tmp)
    print(f"{n_articles} articles, {len(questions)} questions with their answer in them", flush=True)

    rows = ["| design | chunks | word pieces/article | recall@1 | recall@5 | recall@10 |", "|---|---|---|---|---|---|"]
    for design in designs:
        label, params = params_of(design)
        start = time.perf_counter()
        enc = Design(cached)  # the library mixes the titles in itself (qa.reading.chunking.TitleMixer)
        where = tmp / f"lib{len(rows)}"
        lib = FolderLibrary.create(where, enc, params)
        report = lib.add([corpus], enc)
        enc.reading = False
        read_tokens = sum(min(n + 2, inner.max_tokens) for n in inner.token_counter().count(enc.read))
        predictions, _ = evaluation.run(Assistant(where, encoder=enc, k=10), questions, retrieval_only=True)
        s = evaluation.score(questions, texts, predictions)
        rows.append(f"| {label} | {lib.counts['chunks']} | {read_tokens / len(report.added):.0f} | "
                    f"{s['recall@1']:.3f} | {s['recall@5']:.3f} | {s['recall@10']:.3f} |")
        print(rows[-1], f"({len(enc.read)} texts, {time.perf_counter() - start:.0f}s)", flush=True)

    cos_rows = []
    if alphas:  # on the legacy chunks: the mixed vector against the title\nchunk one
        from qa.reading import read_file

        counter = inner.token_counter()
        pairs = [(a.title, c.text) for a in read_file(corpus) if hasattr(a, "content_hash")
                 for c in chunk_text(a.id, a.title, a.text, counter, LEGACY)]
        whole = cached.vectors([embed_text(t, x) for t, x in pairs])
        body = cached.vectors([x for _, x in pairs])
        title = cached.vectors([t or x for t, x in pairs])
        cos_rows = ["| a | mean cosine to title\\nchunk | p10 | min |", "|---|---|---|---|"]
        for a in [0.0, *alphas]:
            v = body + a * title
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            c = np.sum(v * whole, axis=1)
            cos_rows.append(f"| {a} | {c.mean():.3f} | {np.percentile(c, 10):.3f} | {c.min():.3f} |")
            print(cos_rows[-1], flush=True)
    return "\n".join([f"`python benchmarks/experiments/title_mix.py --articles {n_articles} --designs {','.join(designs)}` on "
                      f"{dataset.name} ({len(questions)} questions); {describe()}.", "", *rows, "", *cos_rows]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--articles", type=int, default=50)
    ap.add_argument("--designs", default="legacy,prefix,160:50", help="Comma-separated: legacy, prefix, T:M.")
    ap.add_argument("--cosine", default="", help="Comma-separated title weights for the cosine table.")
    args = ap.parse_args()
    print(run(args.dataset, args.articles, args.designs.split(","), [float(a) for a in args.cosine.split(",") if a]))


if __name__ == "__main__":
    main()
